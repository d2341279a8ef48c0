// A real PostgreSQL server per test suite, for the gateway to sit in front of:
// its own temporary directory, a free loopback port, TLS with a certificate
// from a fresh CA (so clients can use verify-full), and three ordinary logins
// whose upstream authentication differs (SCRAM-SHA-256, md5, cleartext), so
// each of the gateway's upstream authentication paths meets the real thing.
// Everything lives in one directory that stop() removes; a server whose test
// process died is stopped by the parent-death signal and its directory is
// reaped by the next start.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, chownSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { freePort } from "../controlplane/processes.js";
import { locatePostgresBinaries, type PostgresBinaries } from "./binaries.js";
import { hasExited, reapOrphans, runCommand, shutDown, type CommandResult } from "../processes/child-process.js";
import { commandAs, serverAccount, type ServerAccount } from "./server-account.js";
import { renderHba, renderSettings, type HbaLogin, type PodNetwork } from "./server-config.js";

export { seedSampleData, SAMPLE_CUSTOMERS, SAMPLE_ORDER_COUNT, type SampleCustomer } from "./sample-data.js";

/** Servers are made under this prefix in the temp dir, so orphans can be found and reaped. */
const DIR_PREFIX = "portcullis-pg-";
const HOST = "127.0.0.1";
const SERVER_NAME = "localhost";
const SUPERUSER = "postgres";
const DATABASE = "app";
/** A NOLOGIN role the three ordinary users belong to; grants go to it. */
const USERS_ROLE = "app_users";
const READY_TIMEOUT_MS = 60_000;
const LOG_TAIL_LINES = 30;

export interface PostgresLogin {
  username: string;
  password: string;
}

export interface StartPostgresOptions {
  /** Serve TLS (ssl = on); true unless set. The CA and certificate are made either way. */
  tls?: boolean;
  /** Also serve pods of a test node: listen on this machine's node address, accept logins from the pod range. */
  podNetwork?: PodNetwork;
  /** max_connections; 200 unless set. */
  maxConnections?: number;
}

export interface RunningPostgres {
  host: string;
  port: number;
  tls: boolean;
  /** The CA that signed the server certificate (PEM), and the same in a file for libpq's sslrootcert. */
  caPem: string;
  caFile: string;
  /** The DNS name in the server certificate; 127.0.0.1 is in it as an IP address too. */
  serverName: string;
  superuser: PostgresLogin;
  users: {
    /** Stored as SCRAM-SHA-256; pg_hba method scram-sha-256. */
    scram: PostgresLogin;
    /** Stored as md5; pg_hba method md5. */
    md5: PostgresLogin;
    /** pg_hba method password: the client sends the password in clear (inside TLS when TLS is used). */
    cleartext: PostgresLogin;
  };
  /** "app": the three users may create tables in its public schema. */
  database: string;
  usersRole: string;
  dataDir: string;
  binDir: string;
  logFile: string;
  /** The postmaster's process id. */
  pid: number;
  /** A libpq URI for the login and the app database, with verify-full against caFile when TLS is on. */
  connectionString(user: PostgresLogin): string;
  /** libpq environment variables for the login (superuser unless given), e.g. for pgbench; other PG* variables removed. */
  clientEnv(user?: PostgresLogin): NodeJS.ProcessEnv;
  /** Runs the real psql (-X, never prompting) as the login (superuser unless given); never throws on a non-zero exit. */
  psql(args: string[], user?: PostgresLogin): Promise<CommandResult>;
  /** Fast shutdown (killed if it takes too long), then removes the directory. */
  stop(): Promise<void>;
}

interface ServerFiles {
  dir: string;
  state: string;
  dataDir: string;
  socketDir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  superuserPasswordFile: string;
  logFile: string;
}

const filesIn = (dir: string): ServerFiles => ({
  dir,
  state: join(dir, "state.json"),
  dataDir: join(dir, "data"),
  socketDir: join(dir, "socket"),
  caFile: join(dir, "tls", "ca.crt"),
  certFile: join(dir, "tls", "server.crt"),
  keyFile: join(dir, "tls", "server.key"),
  superuserPasswordFile: join(dir, "superuser.password"),
  logFile: join(dir, "postgres.log"),
});

/** What the reaper needs to know about a directory. */
interface ServerState {
  ownerPid: number;
  postmasterPid?: number;
}

function newLogin(username: string): PostgresLogin {
  return { username, password: randomBytes(18).toString("base64url") };
}

function withoutLibpqVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith("PG")));
}

function logTail(logFile: string): string {
  if (!existsSync(logFile)) return "(no log written)";
  return readFileSync(logFile, "utf8").split("\n").slice(-LOG_TAIL_LINES).join("\n");
}

async function writeCertificates(files: ServerFiles, podNetwork: PodNetwork | undefined): Promise<string> {
  const ca = await createCertificateAuthority("portcullis-test-postgres-ca");
  const serving = await ca.issue({ commonName: SERVER_NAME, usage: "server", dnsNames: [SERVER_NAME], ipAddresses: [HOST, ...(podNetwork ? [podNetwork.address] : [])] });
  mkdirSync(join(files.dir, "tls"), { mode: 0o700 });
  writeFileSync(files.caFile, ca.certPem);
  writeFileSync(files.certFile, serving.certPem);
  // PostgreSQL refuses a key that its owner's group or others can read.
  writeFileSync(files.keyFile, serving.keyPem, { mode: 0o600 });
  return ca.certPem;
}

function chownTree(path: string, account: ServerAccount): void {
  chownSync(path, account.uid, account.gid);
  if (!statSync(path).isDirectory()) return;
  for (const name of readdirSync(path)) chownTree(join(path, name), account);
}

async function initdb(binaries: PostgresBinaries, account: ServerAccount, files: ServerFiles): Promise<void> {
  const command = commandAs(account, binaries.initdb, [
    `--pgdata=${files.dataDir}`,
    `--username=${SUPERUSER}`,
    `--pwfile=${files.superuserPasswordFile}`,
    "--encoding=UTF8",
    "--no-locale",
    "--no-sync",
    "--no-instructions",
  ]);
  const result = await runCommand(command.file, command.args, { env: withoutLibpqVariables(process.env), cwd: files.dir });
  if (result.code !== 0) throw new Error(`initdb failed (exit ${result.code}): ${result.stderr || result.stdout}`);
}

function configure(files: ServerFiles, port: number, tls: boolean, logins: HbaLogin[], podNetwork: PodNetwork | undefined, maxConnections?: number): void {
  const settings = renderSettings({
    port,
    podNetwork,
    maxConnections,
    socketDir: files.socketDir,
    tls: tls ? { certFile: files.certFile, keyFile: files.keyFile } : undefined,
  });
  // Appended, so these win over initdb's defaults; the files keep their owner.
  appendFileSync(join(files.dataDir, "postgresql.conf"), settings);
  writeFileSync(join(files.dataDir, "pg_hba.conf"), renderHba(logins, tls, podNetwork));
}

function spawnPostmaster(binaries: PostgresBinaries, account: ServerAccount, files: ServerFiles): ChildProcess {
  const log = openSync(files.logFile, "a");
  const command = commandAs(account, binaries.postgres, ["-D", files.dataDir]);
  const child = spawn(command.file, command.args, { env: withoutLibpqVariables(process.env), cwd: files.dir, stdio: ["ignore", log, log] });
  closeSync(log);
  // An unstopped server must not keep the test process alive; the parent-death signal stops it when that process ends.
  child.unref();
  return child;
}

async function waitReady(binaries: PostgresBinaries, child: ChildProcess, port: number): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  const args = ["-q", "-h", HOST, "-p", String(port), "-U", SUPERUSER, "-d", "postgres", "-t", "5"];
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new Error(`postgres exited while starting (${child.exitCode ?? child.signalCode})`);
    const result = await runCommand(binaries.pgIsready, args, { env: withoutLibpqVariables(process.env) });
    if (result.code === 0) return;
    await sleep(100);
  }
  throw new Error(`postgres did not accept connections on ${HOST}:${port} within ${READY_TIMEOUT_MS / 1000}s`);
}

function sqlLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** Roles and the database; the password format is fixed when a role is created, hence password_encryption per role. */
function bootstrapSql(users: RunningPostgres["users"]): string {
  return `
SET password_encryption = 'scram-sha-256';
CREATE ROLE ${users.scram.username} LOGIN PASSWORD ${sqlLiteral(users.scram.password)};
CREATE ROLE ${users.cleartext.username} LOGIN PASSWORD ${sqlLiteral(users.cleartext.password)};
SET password_encryption = 'md5';
CREATE ROLE ${users.md5.username} LOGIN PASSWORD ${sqlLiteral(users.md5.password)};
RESET password_encryption;
CREATE ROLE ${USERS_ROLE} NOLOGIN;
GRANT ${USERS_ROLE} TO ${users.scram.username}, ${users.md5.username}, ${users.cleartext.username};
CREATE DATABASE ${DATABASE};
\\connect ${DATABASE}
GRANT ALL ON SCHEMA public TO ${USERS_ROLE};
`;
}

/** Over the private socket, where `local all all trust` lets the superuser in without a password. */
async function bootstrap(binaries: PostgresBinaries, files: ServerFiles, port: number, users: RunningPostgres["users"]): Promise<void> {
  const args = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", files.socketDir, "-p", String(port), "-U", SUPERUSER, "-d", "postgres", "-f", "-"];
  const result = await runCommand(binaries.psql, args, { env: withoutLibpqVariables(process.env), stdin: bootstrapSql(users) });
  if (result.code !== 0) throw new Error(`creating the test roles and database failed: ${result.stderr}`);
}

function writeState(files: ServerFiles, state: ServerState): void {
  writeFileSync(files.state, JSON.stringify(state));
}

class PostgresServer implements RunningPostgres {
  readonly host = HOST;
  readonly serverName = SERVER_NAME;
  readonly database = DATABASE;
  readonly usersRole = USERS_ROLE;
  readonly pid: number;

  constructor(
    private readonly files: ServerFiles,
    private readonly binaries: PostgresBinaries,
    private readonly child: ChildProcess,
    readonly port: number,
    readonly tls: boolean,
    readonly caPem: string,
    readonly superuser: PostgresLogin,
    readonly users: RunningPostgres["users"],
  ) {
    this.pid = child.pid ?? -1;
  }

  get caFile(): string {
    return this.files.caFile;
  }
  get dataDir(): string {
    return this.files.dataDir;
  }
  get binDir(): string {
    return this.binaries.binDir;
  }
  get logFile(): string {
    return this.files.logFile;
  }

  connectionString(user: PostgresLogin): string {
    const credentials = `${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}`;
    const ssl = this.tls ? `sslmode=verify-full&sslrootcert=${encodeURIComponent(this.caFile)}` : "sslmode=disable";
    return `postgresql://${credentials}@${this.host}:${this.port}/${this.database}?${ssl}`;
  }

  clientEnv(user: PostgresLogin = this.superuser): NodeJS.ProcessEnv {
    return {
      ...withoutLibpqVariables(process.env),
      PGHOST: this.host,
      PGPORT: String(this.port),
      PGUSER: user.username,
      PGPASSWORD: user.password,
      PGDATABASE: this.database,
      PGSSLMODE: this.tls ? "verify-full" : "disable",
      PGSSLROOTCERT: this.caFile,
      PGCONNECT_TIMEOUT: "10",
    };
  }

  psql(args: string[], user?: PostgresLogin): Promise<CommandResult> {
    return runCommand(this.binaries.psql, ["-X", "--no-password", ...args], { env: this.clientEnv(user) });
  }

  async stop(): Promise<void> {
    await shutDown(this.child, "SIGINT");
    rmSync(this.files.dir, { recursive: true, force: true });
  }
}

/** Stops servers whose test process has gone (e.g. killed) and removes their directories. */
export function reapOrphanedPostgres(): string[] {
  return reapOrphans({ prefix: DIR_PREFIX, files: filesIn, serverPid: (state) => (state as Partial<ServerState>).postmasterPid });
}

/** Starts a PostgreSQL server with TLS (unless tls is false), the three test logins and the app database. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<RunningPostgres> {
  const tls = options.tls ?? true;
  const binaries = locatePostgresBinaries();
  const account = serverAccount();
  reapOrphanedPostgres();
  const files = filesIn(mkdtempSync(join(tmpdir(), DIR_PREFIX)));
  writeState(files, { ownerPid: process.pid });
  let child: ChildProcess | undefined;
  try {
    const superuser = newLogin(SUPERUSER);
    const users = { scram: newLogin("app_scram"), md5: newLogin("app_md5"), cleartext: newLogin("app_cleartext") };
    const caPem = await writeCertificates(files, options.podNetwork);
    writeFileSync(files.superuserPasswordFile, superuser.password, { mode: 0o600 });
    mkdirSync(files.socketDir, { mode: 0o700 });
    chownTree(files.dir, account);
    await initdb(binaries, account, files);
    const port = await freePort();
    configure(files, port, tls, [
      { username: SUPERUSER, method: "scram-sha-256" },
      { username: users.scram.username, method: "scram-sha-256" },
      { username: users.md5.username, method: "md5" },
      { username: users.cleartext.username, method: "password" },
    ], options.podNetwork, options.maxConnections);
    child = spawnPostmaster(binaries, account, files);
    writeState(files, { ownerPid: process.pid, postmasterPid: child.pid ?? -1 });
    await waitReady(binaries, child, port);
    await bootstrap(binaries, files, port, users);
    return new PostgresServer(files, binaries, child, port, tls, caPem, superuser, users);
  } catch (error) {
    if (child !== undefined) await shutDown(child, "SIGINT");
    const tail = logTail(files.logFile);
    rmSync(files.dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n--- last lines of postgres.log ---\n${tail}`, { cause: error });
  }
}
