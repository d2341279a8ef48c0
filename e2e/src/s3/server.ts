// A real S3-compatible server per test suite, for the evidence uploader to
// write to: versitygw (built by `make tools` from e2e/tools/s3) with its posix
// backend, so buckets are folders in a temporary directory, and a versioning
// folder, which object lock needs (S3 enables object lock only with
// versioning, and a locked manifest can only be rewritten as a new version).
// It listens on a free loopback port, over HTTPS with a certificate from a
// fresh CA when asked. kill() and restart() (same directory, same port) let a
// test take the store away for a while. The server is started through setpriv
// with a parent-death signal, so a test process that dies takes it along; the
// next start reaps directories whose test process is gone.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { freePort } from "../controlplane/processes.js";
import { locateTools } from "../controlplane/tools.js";
import { hasExited, reapOrphans, waitForExit } from "../processes/child-process.js";

/** Servers are made under this prefix in the temp dir, so orphans can be found and reaped. */
const DIR_PREFIX = "portcullis-s3-";
const HOST = "127.0.0.1";
const REGION = "us-east-1";
const HEALTH_PATH = "/health";
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const LOG_TAIL_LINES = 30;

export interface StartS3Options {
  /** Serve HTTPS with a certificate for 127.0.0.1 and localhost from a fresh CA (caPem). */
  tls?: boolean;
  /** Listen on this address of the machine instead of 127.0.0.1 (pods of a test node reach it there). */
  host?: string;
}

export interface CreateBucketOptions {
  /** Create the bucket with object lock enabled (and so versioning). */
  objectLock?: boolean;
}

export interface RunningS3 {
  /** http://127.0.0.1:PORT, or https:// with tls. */
  endpoint: string;
  port: number;
  region: string;
  /** The root user's keys. */
  accessKeyId: string;
  secretAccessKey: string;
  /** The CA that signed the server certificate (PEM), with tls. */
  caPem: string | undefined;
  /** Where the buckets are (one folder each). */
  dataDir: string;
  logFile: string;
  /** A client with the root user's keys (path-style, trusting caPem); closed by stop(). */
  client: S3Client;
  createBucket(name: string, options?: CreateBucketOptions): Promise<void>;
  /** SIGKILL, as an outage would; the objects stay. */
  kill(): Promise<void>;
  /** Starts the server again on the same directory and port (killing it first if it runs) and waits until it answers. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

interface ServerFiles {
  dir: string;
  state: string;
  dataDir: string;
  versionsDir: string;
  certFile: string;
  keyFile: string;
  logFile: string;
}

const filesIn = (dir: string): ServerFiles => ({
  dir,
  state: join(dir, "state.json"),
  dataDir: join(dir, "data"),
  versionsDir: join(dir, "versions"),
  certFile: join(dir, "tls", "server.crt"),
  keyFile: join(dir, "tls", "server.key"),
  logFile: join(dir, "versitygw.log"),
});

/** What the reaper needs to know about a directory. */
interface ServerState {
  ownerPid: number;
  serverPid?: number;
}

function writeState(files: ServerFiles, state: ServerState): void {
  writeFileSync(files.state, JSON.stringify(state));
}

function logTail(logFile: string): string {
  if (!existsSync(logFile)) return "(no log written)";
  return readFileSync(logFile, "utf8").split("\n").slice(-LOG_TAIL_LINES).join("\n");
}


async function writeCertificate(files: ServerFiles): Promise<string> {
  const ca = await createCertificateAuthority("portcullis-test-s3-ca");
  const serving = await ca.issue({ commonName: "localhost", usage: "server", dnsNames: ["localhost"], ipAddresses: [HOST] });
  mkdirSync(join(files.dir, "tls"), { mode: 0o700 });
  writeFileSync(files.certFile, serving.certPem);
  writeFileSync(files.keyFile, serving.keyPem, { mode: 0o600 });
  return ca.certPem;
}

/** True once the health endpoint answers 200. */
function healthy(endpoint: string, caPem: string | undefined): Promise<boolean> {
  const url = new URL(HEALTH_PATH, endpoint);
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = send(url, { method: "GET", timeout: 2_000, ...(caPem !== undefined ? { ca: caPem } : {}) }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

interface Launch {
  binary: string;
  host: string;
  files: ServerFiles;
  port: number;
  tls: boolean;
  keys: { accessKeyId: string; secretAccessKey: string };
}

function spawnServer(launch: Launch): ChildProcess {
  const { files, port, tls, keys } = launch;
  const log = openSync(files.logFile, "a");
  const args = [
    "--pdeathsig=SIGKILL",
    "--",
    launch.binary,
    "--port",
    `${launch.host}:${port}`,
    "--region",
    REGION,
    "--health",
    HEALTH_PATH,
    "--quiet",
    ...(tls ? ["--cert", files.certFile, "--key", files.keyFile] : []),
    "posix",
    "--versioning-dir",
    files.versionsDir,
    files.dataDir,
  ];
  // The root keys go in the environment, not on the command line other users can read.
  const env = { ...process.env, ROOT_ACCESS_KEY: keys.accessKeyId, ROOT_SECRET_KEY: keys.secretAccessKey };
  const child = spawn("setpriv", args, { env, stdio: ["ignore", log, log] });
  closeSync(log);
  // An unstopped server must not keep the test process alive; the parent-death signal ends it with that process.
  child.unref();
  return child;
}

async function waitReady(child: ChildProcess, endpoint: string, caPem: string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new Error(`versitygw exited while starting (${child.exitCode ?? child.signalCode})`);
    if (await healthy(endpoint, caPem)) return;
    await sleep(50);
  }
  throw new Error(`versitygw did not answer on ${endpoint}${HEALTH_PATH} within ${READY_TIMEOUT_MS / 1000}s`);
}

function newClient(endpoint: string, keys: Launch["keys"], caPem: string | undefined): S3Client {
  return new S3Client({
    endpoint,
    region: REGION,
    forcePathStyle: true,
    credentials: keys,
    ...(caPem !== undefined ? { requestHandler: { httpsAgent: { ca: caPem } } } : {}),
  });
}

class S3Server implements RunningS3 {
  readonly region = REGION;
  readonly endpoint: string;
  readonly client: S3Client;

  constructor(
    private readonly launch: Launch,
    private child: ChildProcess,
    readonly caPem: string | undefined,
  ) {
    this.endpoint = `${launch.tls ? "https" : "http"}://${launch.host}:${launch.port}`;
    this.client = newClient(this.endpoint, launch.keys, caPem);
  }

  get port(): number {
    return this.launch.port;
  }
  get accessKeyId(): string {
    return this.launch.keys.accessKeyId;
  }
  get secretAccessKey(): string {
    return this.launch.keys.secretAccessKey;
  }
  get dataDir(): string {
    return this.launch.files.dataDir;
  }
  get logFile(): string {
    return this.launch.files.logFile;
  }

  async createBucket(name: string, options: CreateBucketOptions = {}): Promise<void> {
    await this.client.send(new CreateBucketCommand({ Bucket: name, ...(options.objectLock === true ? { ObjectLockEnabledForBucket: true } : {}) }));
  }

  async kill(): Promise<void> {
    if (hasExited(this.child)) return;
    this.child.kill("SIGKILL");
    await waitForExit(this.child, STOP_TIMEOUT_MS);
  }

  async restart(): Promise<void> {
    await this.kill();
    this.child = spawnServer(this.launch);
    writeState(this.launch.files, { ownerPid: process.pid, serverPid: this.child.pid ?? -1 });
    try {
      await waitReady(this.child, this.endpoint, this.caPem);
    } catch (error) {
      throw new Error(`versitygw did not restart: ${(error as Error).message}\n--- last lines of versitygw.log ---\n${logTail(this.logFile)}`, { cause: error });
    }
  }

  async stop(): Promise<void> {
    this.client.destroy();
    if (!hasExited(this.child)) {
      this.child.kill("SIGTERM");
      if (!(await waitForExit(this.child, STOP_TIMEOUT_MS))) await this.kill();
    }
    rmSync(this.launch.files.dir, { recursive: true, force: true });
  }
}

/** Stops servers whose test process has gone and removes their directories. */
export function reapOrphanedS3(): string[] {
  return reapOrphans({ prefix: DIR_PREFIX, files: filesIn, serverPid: (state) => (state as Partial<ServerState>).serverPid });
}

/** Starts versitygw on a free loopback port with fresh root keys; throws, saying how to build it, when the binary is missing. */
export async function startS3(options: StartS3Options = {}): Promise<RunningS3> {
  const binary = locateTools().versitygw;
  reapOrphanedS3();
  const files = filesIn(mkdtempSync(join(tmpdir(), DIR_PREFIX)));
  writeState(files, { ownerPid: process.pid });
  let child: ChildProcess | undefined;
  try {
    mkdirSync(files.dataDir);
    mkdirSync(files.versionsDir);
    const tls = options.tls ?? false;
    const caPem = tls ? await writeCertificate(files) : undefined;
    const keys = { accessKeyId: `portcullis${randomBytes(6).toString("hex")}`, secretAccessKey: randomBytes(24).toString("base64url") };
    const launch: Launch = { binary, host: options.host ?? HOST, files, port: await freePort(), tls, keys };
    child = spawnServer(launch);
    writeState(files, { ownerPid: process.pid, serverPid: child.pid ?? -1 });
    const server = new S3Server(launch, child, caPem);
    await waitReady(child, server.endpoint, caPem);
    return server;
  } catch (error) {
    if (child !== undefined && !hasExited(child)) {
      child.kill("SIGKILL");
      await waitForExit(child, STOP_TIMEOUT_MS);
    }
    const tail = logTail(files.logFile);
    rmSync(files.dir, { recursive: true, force: true });
    throw new Error(`versitygw did not start: ${(error as Error).message}\n--- last lines of versitygw.log ---\n${tail}`, { cause: error });
  }
}
