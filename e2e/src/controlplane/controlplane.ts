// A real Kubernetes control plane without nodes: etcd and kube-apiserver on
// free loopback ports, with generated certificates, RBAC authorization and a
// service-account issuer, so TokenRequest and TokenReview work. Everything it
// needs lives in one directory; state.json there lets another process (a jest
// worker, `make controlplane-down`) use or stop it.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { renderKubeconfig } from "./kubeconfig.js";
import { createCertificateAuthority, createSigningKeyPair, loadCertificateAuthority, type KeyPairPem } from "@portcullis/common/pki/pki";
import { freePort, isAlive, spawnDetached, terminate } from "./processes.js";
import { locateTools, type ToolPaths } from "./tools.js";

/** Test control planes are made under this prefix, so orphans can be found and reaped. */
const DIR_PREFIX = "portcullis-cp-";
const ADMIN_USER = "portcullis-admin";
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";
const READY_TIMEOUT_MS = 120_000;

export interface ControlPlaneState {
  dir: string;
  server: string;
  ports: { apiserver: number; etcdClient: number; etcdPeer: number };
  pids: { etcd: number; kubeApiserver: number };
  /** The process whose exit makes this control plane an orphan; absent for one started by `make controlplane-up`. */
  ownerPid?: number;
  adminKubeconfig: string;
  serviceAccountIssuer: string;
  /** An address of this machine pods of a test node reach the API server at (the `kubernetes` Service's endpoint). */
  advertiseAddress?: string;
}

export interface StartOptions {
  /** Directory to use; a new one under the system temp dir when absent. */
  dir?: string;
  ownerPid?: number;
  tools?: ToolPaths;
  /** For a test node's pods: listen on every address and advertise this one; loopback only when absent. */
  advertiseAddress?: string;
}

interface ControlPlaneFiles {
  state: string;
  caCert: string;
  caKey: string;
  servingCert: string;
  servingKey: string;
  saKey: string;
  saPub: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  etcdData: string;
  logs: string;
  users: string;
  auditPolicy: string;
  auditLog: string;
}

const paths = (dir: string): ControlPlaneFiles => ({
  state: join(dir, "state.json"),
  caCert: join(dir, "pki", "ca.crt"),
  caKey: join(dir, "pki", "ca.key"),
  servingCert: join(dir, "pki", "apiserver.crt"),
  servingKey: join(dir, "pki", "apiserver.key"),
  saKey: join(dir, "pki", "sa.key"),
  saPub: join(dir, "pki", "sa.pub"),
  kubeletClientCert: join(dir, "pki", "kubelet-client.crt"),
  kubeletClientKey: join(dir, "pki", "kubelet-client.key"),
  etcdData: join(dir, "etcd"),
  logs: join(dir, "logs"),
  users: join(dir, "users"),
  auditPolicy: join(dir, "audit-policy.yaml"),
  auditLog: join(dir, "logs", "audit.log"),
});

/** Who did what, at Metadata level (user, userAgent, verb, object; no bodies): tests read it to see who the API server thinks acted. */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    nonResourceURLs: ["/readyz*", "/livez*", "/healthz*"]
  - level: Metadata
`;

function writePrivate(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
}

export class ControlPlane {
  private constructor(readonly state: ControlPlaneState) {}

  /** Attaches to a running control plane from its directory. */
  static attach(dir: string): ControlPlane {
    const statePath = paths(dir).state;
    if (!existsSync(statePath)) throw new Error(`no control plane in ${dir} (missing ${statePath})`);
    return new ControlPlane(JSON.parse(readFileSync(statePath, "utf8")) as ControlPlaneState);
  }

  static async start(options: StartOptions = {}): Promise<ControlPlane> {
    const tools = options.tools ?? locateTools();
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), DIR_PREFIX));
    const p = paths(dir);
    for (const sub of ["pki", "logs", "users"]) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });

    const ca = await createCertificateAuthority("portcullis-test-ca");
    const serving = await ca.issue({
      commonName: "kube-apiserver",
      usage: "server",
      dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"],
      ipAddresses: ["127.0.0.1", "10.0.0.1", ...(options.advertiseAddress ? [options.advertiseAddress] : [])],
    });
    const serviceAccountKeys = await createSigningKeyPair();
    // How the API server authenticates to kubelets (kubectl logs, exec) when a test runs a node.
    const kubeletClient = await ca.issue({ commonName: "kube-apiserver-kubelet-client", organizations: ["system:masters"], usage: "client" });
    writeFileSync(p.kubeletClientCert, kubeletClient.certPem);
    writePrivate(p.kubeletClientKey, kubeletClient.keyPem);
    writeFileSync(p.caCert, ca.certPem);
    writePrivate(p.caKey, ca.keyPem);
    writeFileSync(p.servingCert, serving.certPem);
    writeFileSync(p.auditPolicy, AUDIT_POLICY);
    writePrivate(p.servingKey, serving.keyPem);
    writePrivate(p.saKey, serviceAccountKeys.privateKeyPem);
    writeFileSync(p.saPub, serviceAccountKeys.publicKeyPem);

    const ports = { apiserver: await freePort(), etcdClient: await freePort(), etcdPeer: await freePort() };
    const etcdUrl = `http://127.0.0.1:${ports.etcdClient}`;
    const peerUrl = `http://127.0.0.1:${ports.etcdPeer}`;
    const etcdPid = spawnDetached(tools.etcd, join(p.logs, "etcd.log"), [
      "--name=portcullis-test",
      `--data-dir=${p.etcdData}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=portcullis-test=${peerUrl}`,
      // Test data is disposable; skipping fsync keeps etcd fast on a shared disk.
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    const server = `https://127.0.0.1:${ports.apiserver}`;
    const state: ControlPlaneState = {
      dir,
      server,
      ports,
      pids: { etcd: etcdPid, kubeApiserver: 0 },
      ...(options.ownerPid === undefined ? {} : { ownerPid: options.ownerPid }),
      adminKubeconfig: join(dir, "admin.kubeconfig"),
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      ...(options.advertiseAddress ? { advertiseAddress: options.advertiseAddress } : {}),
    };
    // Written before the API server starts, so a failed start can still be cleaned up from the state file.
    writeFileSync(p.state, JSON.stringify(state, null, 2));
    const controlPlane = new ControlPlane(state);
    try {
      state.pids.kubeApiserver = controlPlane.spawnApiServer(tools);
      writeFileSync(p.state, JSON.stringify(state, null, 2));
      const admin = await ca.issue({ commonName: ADMIN_USER, organizations: ["system:masters"], usage: "client" });
      writePrivate(state.adminKubeconfig, renderKubeconfig(server, ca.certPem, ADMIN_USER, admin));
      await controlPlane.waitReady(admin);
      return controlPlane;
    } catch (error) {
      await controlPlane.stop({ keepDir: true });
      throw new Error(`${(error as Error).message}\n${controlPlane.logTails()}\n(logs kept in ${p.logs})`, { cause: error });
    }
  }

  private spawnApiServer(tools: ToolPaths): number {
    const p = paths(this.state.dir);
    return spawnDetached(tools.kubeApiserver, join(p.logs, "kube-apiserver.log"), [
      `--etcd-servers=http://127.0.0.1:${this.state.ports.etcdClient}`,
      `--bind-address=${this.state.advertiseAddress ? "0.0.0.0" : "127.0.0.1"}`,
      `--advertise-address=${this.state.advertiseAddress ?? "127.0.0.1"}`,
      `--secure-port=${this.state.ports.apiserver}`,
      `--cert-dir=${join(this.state.dir, "pki")}`,
      `--tls-cert-file=${p.servingCert}`,
      `--tls-private-key-file=${p.servingKey}`,
      `--client-ca-file=${p.caCert}`,
      // Node: kubelets of a test node act for their own pods only.
      "--authorization-mode=Node,RBAC",
      `--audit-policy-file=${p.auditPolicy}`,
      `--audit-log-path=${p.auditLog}`,
      "--audit-log-mode=blocking",
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${p.saPub}`,
      `--service-account-signing-key-file=${p.saKey}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      `--kubelet-client-certificate=${p.kubeletClientCert}`,
      `--kubelet-client-key=${p.kubeletClientKey}`,
      "--kubelet-preferred-address-types=InternalIP",
      // With a test node the service range is unreachable from this machine (no service packet may leave it,
      // and a local connect fails at the route before kube-proxy's rules could rewrite it): the API server
      // calls webhooks at their endpoints instead of the Service's clusterIP.
      ...(this.state.advertiseAddress ? ["--enable-aggregator-routing=true"] : []),
      "--v=1",
    ]);
  }

  /**
   * Stops kube-apiserver and starts it again on the same port with the same
   * flags and certificates, leaving etcd (and so all objects) in place; for
   * tests of clients that must survive an API server outage.
   */
  async restartApiServer(): Promise<void> {
    const p = paths(this.state.dir);
    // Open watches can hold a graceful shutdown for many seconds; an outage is what the tests want, not a clean exit.
    await terminate(this.state.pids.kubeApiserver, 2_000);
    this.state.pids.kubeApiserver = this.spawnApiServer(locateTools());
    writeFileSync(p.state, JSON.stringify(this.state, null, 2));
    const ca = loadCertificateAuthority({ certPem: this.caPem, keyPem: readFileSync(p.caKey, "utf8") });
    const admin = await ca.issue({ commonName: ADMIN_USER, organizations: ["system:masters"], usage: "client" });
    try {
      await this.waitReady(admin);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${this.logTails()}`, { cause: error });
    }
  }

  /** The CA that signs the serving and client certificates (PEM). */
  get caPem(): string {
    return readFileSync(paths(this.state.dir).caCert, "utf8");
  }

  get caCertPath(): string {
    return paths(this.state.dir).caCert;
  }

  /** The service-account signing key, which kube-controller-manager needs too. */
  get serviceAccountKeyPath(): string {
    return paths(this.state.dir).saKey;
  }

  /** A client certificate from the cluster's CA: the user is the CN, the groups the O entries. */
  issueClientCertificate(user: string, groups: string[] = []): Promise<KeyPairPem> {
    const p = paths(this.state.dir);
    return loadCertificateAuthority({ certPem: this.caPem, keyPem: readFileSync(p.caKey, "utf8") }).issue({ commonName: user, organizations: groups, usage: "client" });
  }

  /**
   * Writes a kubeconfig for a user authenticated by a client certificate whose
   * CN is the user name and whose O entries are the groups; returns its path.
   */
  async kubeconfigFor(user: string, groups: string[] = []): Promise<string> {
    const p = paths(this.state.dir);
    const credential = await this.issueClientCertificate(user, groups);
    const path = join(p.users, `${user.replace(/[^A-Za-z0-9._-]/g, "_")}.kubeconfig`);
    writePrivate(path, renderKubeconfig(this.state.server, this.caPem, user, credential));
    return path;
  }

  /** The API server's audit events so far (Metadata level), parsed. */
  auditEvents(): Array<{ verb: string; user: { username: string }; userAgent?: string; objectRef?: { resource?: string; namespace?: string; name?: string }; responseStatus?: { code?: number } }> {
    const path = paths(this.state.dir).auditLog;
    if (!existsSync(path)) return [];
    return readFileSync(path, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as ReturnType<ControlPlane["auditEvents"]>[number]);
  }

  /** Writes a kubeconfig that authenticates with a bearer token (e.g. a service account's); returns its path. */
  kubeconfigForToken(user: string, token: string): string {
    const path = join(paths(this.state.dir).users, `${user.replace(/[^A-Za-z0-9._-]/g, "_")}.kubeconfig`);
    writePrivate(path, renderKubeconfig(this.state.server, this.caPem, user, { token }));
    return path;
  }

  /** Stops both processes and removes the directory (unless keepDir). */
  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    await terminate(this.state.pids.kubeApiserver);
    await terminate(this.state.pids.etcd);
    if (!options.keepDir) rmSync(this.state.dir, { recursive: true, force: true });
  }

  private async waitReady(admin: KeyPairPem): Promise<void> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    let last = "no answer yet";
    while (Date.now() < deadline) {
      for (const [name, pid] of Object.entries(this.state.pids)) {
        if (!isAlive(pid)) throw new Error(`${name} exited while the control plane was starting`);
      }
      try {
        const { status, body } = await httpsGet(`${this.state.server}/readyz`, this.caPem, admin);
        if (status === 200) return;
        last = `HTTP ${status}: ${body.slice(0, 2000)}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(250);
    }
    throw new Error(`kube-apiserver was not ready after ${READY_TIMEOUT_MS / 1000}s; last /readyz: ${last}`);
  }

  private logTails(): string {
    const logs = paths(this.state.dir).logs;
    return readdirSync(logs)
      .map((name) => `--- last lines of ${name} ---\n${readFileSync(join(logs, name), "utf8").split("\n").slice(-25).join("\n")}`)
      .join("\n");
  }
}

function httpsGet(url: string, caPem: string, client: KeyPairPem): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: caPem, cert: client.certPem, key: client.keyPem, timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

/** Stops test control planes whose owning process has gone (e.g. a test run that was killed). */
export async function reapOrphanedControlPlanes(): Promise<string[]> {
  const reaped: string[] = [];
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX))) {
    const dir = join(tmpdir(), name);
    let controlPlane: ControlPlane;
    try {
      controlPlane = ControlPlane.attach(dir);
    } catch {
      continue;
    }
    const owner = controlPlane.state.ownerPid;
    if (owner !== undefined && !isAlive(owner)) {
      await controlPlane.stop();
      reaped.push(dir);
    }
  }
  return reaped;
}
