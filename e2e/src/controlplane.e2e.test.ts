// The test control plane itself: identities from minted client certificates,
// RBAC, service-account tokens with an audience (TokenRequest/TokenReview),
// and clean start/stop, including reaping one whose owner died.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { ControlPlane, reapOrphanedControlPlanes } from "./controlplane/controlplane.js";
import { isAlive } from "./controlplane/processes.js";
import { controlPlane, kubectl, kubectlOk } from "./jest/environment.js";

const NAMESPACE = "controlplane-e2e";

beforeAll(async () => {
  await kubectlOk(["create", "namespace", NAMESPACE]);
  await kubectlOk(["create", "serviceaccount", "agent", "-n", NAMESPACE]);
});

describe("client certificates", () => {
  it("authenticate the user named in the CN with the groups in O", async () => {
    const kubeconfig = await controlPlane().kubeconfigFor("alice@example.com", ["dba", "reviewers"]);
    const whoami = JSON.parse(await kubectlOk(["auth", "whoami", "-o", "json"], { kubeconfig })) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    expect(whoami.status.userInfo.username).toBe("alice@example.com");
    expect(whoami.status.userInfo.groups).toEqual(["dba", "reviewers", "system:authenticated"]);
  });

  it("are authorized by RBAC, not allowed everything", async () => {
    const kubeconfig = await controlPlane().kubeconfigFor("bob");
    const denied = await kubectl(["get", "secrets", "-n", NAMESPACE], { kubeconfig });
    expect(denied.stderr).toContain('User "bob" cannot list resource "secrets"');

    await kubectlOk(["create", "role", "secret-reader", "-n", NAMESPACE, "--verb=list", "--resource=secrets"]);
    await kubectlOk(["create", "rolebinding", "bob-reads", "-n", NAMESPACE, "--role=secret-reader", "--user=bob"]);
    expect((await kubectl(["get", "secrets", "-n", NAMESPACE], { kubeconfig })).code).toBe(0);
  });
});

describe("service-account tokens", () => {
  const review = async (token: string, audience: string): Promise<{ authenticated?: boolean; user?: { username: string }; audiences?: string[] }> => {
    const tokenReview = { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [audience] } };
    const out = await kubectlOk(["create", "-f", "-", "-o", "json"], { stdin: JSON.stringify(tokenReview) });
    return (JSON.parse(out) as { status: { authenticated?: boolean; user?: { username: string }; audiences?: string[] } }).status;
  };

  it("are issued for an audience and verified for that audience only", async () => {
    const token = (await kubectlOk(["create", "token", "agent", "-n", NAMESPACE, "--audience=portcullis", "--duration=10m"])).trim();
    const accepted = await review(token, "portcullis");
    expect(accepted.authenticated).toBe(true);
    expect(accepted.user?.username).toBe(`system:serviceaccount:${NAMESPACE}:agent`);
    expect(accepted.audiences).toEqual(["portcullis"]);

    expect((await review(token, "someone-else")).authenticated).toBeFalsy();
  });
});

describe("lifecycle", () => {
  it("stops its processes and removes its directory", async () => {
    const second = await ControlPlane.start({ ownerPid: process.pid });
    const { pids, dir } = second.state;
    expect(isAlive(pids.etcd) && isAlive(pids.kubeApiserver)).toBe(true);
    await second.stop();
    expect([isAlive(pids.etcd), isAlive(pids.kubeApiserver), existsSync(dir)]).toEqual([false, false, false]);
  });

  it("reaps a control plane whose owner has died", async () => {
    const owner = spawn(process.execPath, ["-e", ""]);
    const ownerPid = owner.pid as number;
    await new Promise((resolve) => owner.on("exit", resolve));
    const orphan = await ControlPlane.start({ ownerPid });
    expect(await reapOrphanedControlPlanes()).toContain(orphan.state.dir);
    expect([isAlive(orphan.state.pids.kubeApiserver), existsSync(orphan.state.dir)]).toEqual([false, false]);
  });
});
