// psql as an agent runs it against a standalone gateway's listener: the
// gateway asks no password of the agent (its identity is the pod's), so the
// login is a placeholder; the database is the test server's.
import { join } from "node:path";
import { runCommand, type CommandResult } from "../processes/child-process.js";
import type { RunningPostgres } from "../postgres/server.js";

export function agentPsql(server: RunningPostgres, port: number, args: string[]): Promise<CommandResult> {
  const env = { ...server.clientEnv(server.users.scram), PGHOST: "127.0.0.1", PGPORT: String(port), PGUSER: "agent", PGPASSWORD: "unused", PGSSLMODE: "disable" };
  return runCommand(join(server.binDir, "psql"), ["-X", "--no-password", ...args], { env });
}
