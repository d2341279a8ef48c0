// Debian's pgbouncer in front of a test PostgreSQL, as the baseline the
// PostgreSQL gateway is measured against: a generated ini in its own
// temporary directory, a free loopback port, session pooling (pgbench's
// prepared mode needs it in 1.18) and SCRAM-SHA-256 on both sides with the
// server's own verifier, so a client authenticates to it as it would to
// PostgreSQL. pgbouncer refuses to run as root, so it runs as the account
// PostgreSQL runs as (server-account.ts), stopped when its parent dies.
import { spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../controlplane/processes.js";
import { hasExited, shutDown } from "../processes/child-process.js";
import { waitUntil } from "../processes/wait.js";
import { commandAs, serverAccount } from "./server-account.js";
import type { PostgresLogin, RunningPostgres } from "./server.js";

export const PGBOUNCER = "/usr/sbin/pgbouncer";
const READY_TIMEOUT_MS = 15_000;

export interface RunningPgbouncer {
  port: number;
  /** pgbouncer's own process id (setpriv execs it), for /proc. */
  pid: number;
  stop(): Promise<void>;
}

export interface PgbouncerSettings {
  port: number;
  upstreamPort: number;
  database: string;
  authFile: string;
  /** Enough server connections for every client: nobody waits for a pooled connection. */
  poolSize: number;
}

/** The ini: one database, session pooling, SCRAM, plain TCP on loopback both ways, nothing logged per connection. */
export function renderPgbouncerIni(settings: PgbouncerSettings): string {
  return `[databases]
${settings.database} = host=127.0.0.1 port=${settings.upstreamPort} dbname=${settings.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${settings.port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = ${settings.authFile}
pool_mode = session
default_pool_size = ${settings.poolSize}
max_client_conn = ${settings.poolSize * 2}
client_tls_sslmode = disable
server_tls_sslmode = disable
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
log_stats = 0
verbose = 0
`;
}

/** An auth_file line; pgbouncer reads "name" "secret" with "" for a quote inside either. */
export function authFileLine(username: string, secret: string): string {
  const quoted = (value: string): string => `"${value.replace(/"/g, '""')}"`;
  return `${quoted(username)} ${quoted(secret)}\n`;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** pgbouncer in front of `pg` for `login`, with the SCRAM verifier PostgreSQL stores for it. */
export async function startPgbouncer(pg: RunningPostgres, login: PostgresLogin, poolSize = 20): Promise<RunningPgbouncer> {
  if (!existsSync(PGBOUNCER)) throw new Error(`${PGBOUNCER} is missing: run \`make bench-deps\` (apt-get install pgbouncer)`);
  const verifier = await pg.psql(["-At", "-c", `SELECT rolpassword FROM pg_authid WHERE rolname = '${login.username}'`]);
  const secret = verifier.stdout.trim();
  if (verifier.code !== 0 || !secret.startsWith("SCRAM-SHA-256$")) throw new Error(`no SCRAM verifier for ${login.username}: ${verifier.stderr || secret}`);
  const account = serverAccount();
  const dir = mkdtempSync(join(tmpdir(), "portcullis-pgbouncer-"));
  const authFile = join(dir, "userlist.txt");
  const iniFile = join(dir, "pgbouncer.ini");
  const port = await freePort();
  writeFileSync(authFile, authFileLine(login.username, secret), { mode: 0o600 });
  writeFileSync(iniFile, renderPgbouncerIni({ port, upstreamPort: pg.port, database: pg.database, authFile, poolSize }), { mode: 0o600 });
  for (const path of [dir, authFile, iniFile]) chownSync(path, account.uid, account.gid);
  const command = commandAs(account, PGBOUNCER, [iniFile]);
  const child: ChildProcess = spawn(command.file, command.args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const stop = async (): Promise<void> => {
    await shutDown(child, "SIGINT");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(`pgbouncer on 127.0.0.1:${port}`, async () => {
      if (hasExited(child)) throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}): ${stderr.trim()}`);
      return commandName(child.pid ?? -1) === "pgbouncer" && (await accepts(port));
    }, READY_TIMEOUT_MS, 50);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, pid: child.pid ?? -1, stop };
}
