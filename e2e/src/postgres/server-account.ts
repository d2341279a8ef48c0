// Decides which operating-system account runs initdb and postgres, and how to
// start a program as that account. PostgreSQL refuses to run as root, and CI
// runs the tests as root, so there the programs run as the `postgres` system
// user (created by Debian's postgresql-common). Every program is started
// through setpriv with a parent-death signal, so a test process that dies
// without calling stop() takes its server down with it.
import { execFileSync } from "node:child_process";

const SERVER_USER = "postgres";
/** SIGINT is PostgreSQL's "fast shutdown": clients are disconnected, nothing waits for them. */
const PARENT_DEATH_SIGNAL = "SIGINT";

export interface ServerAccount {
  /** The account to switch to, or undefined to stay the current (non-root) user. */
  user: string | undefined;
  uid: number;
  gid: number;
}

function idOf(user: string, flag: "-u" | "-g"): number {
  return Number(execFileSync("id", [flag, user], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
}

export function serverAccount(): ServerAccount {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return { user: undefined, uid, gid: process.getgid?.() ?? -1 };
  try {
    return { user: SERVER_USER, uid: idOf(SERVER_USER, "-u"), gid: idOf(SERVER_USER, "-g") };
  } catch {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no "${SERVER_USER}" user to run it as: ` +
        'run "make system-deps" (apt-get install postgresql-15 creates the user)',
    );
  }
}

/** The command line that runs binary with args as the account, stopped when its parent dies. */
export function commandAs(account: ServerAccount, binary: string, args: string[]): { file: string; args: string[] } {
  const switchUser = account.user === undefined ? [] : [`--reuid=${account.user}`, `--regid=${account.user}`, "--init-groups"];
  return { file: "setpriv", args: [...switchUser, `--pdeathsig=${PARENT_DEATH_SIGNAL}`, "--", binary, ...args] };
}
