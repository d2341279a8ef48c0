// PostgreSQL refuses root; the command line must switch user exactly when one is named,
// and always carry the parent-death signal that stops an orphaned server.
import { describe, expect, it } from "@jest/globals";
import { commandAs } from "./server-account.js";

describe("commandAs", () => {
  it("switches to the named user and group, with supplementary groups", () => {
    expect(commandAs({ user: "postgres", uid: 101, gid: 104 }, "/usr/lib/postgresql/15/bin/postgres", ["-D", "/tmp/d"])).toEqual({
      file: "setpriv",
      args: ["--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig=SIGINT", "--", "/usr/lib/postgresql/15/bin/postgres", "-D", "/tmp/d"],
    });
  });

  it("stays the current user when none is named", () => {
    expect(commandAs({ user: undefined, uid: 1000, gid: 1000 }, "/bin/initdb", ["-D", "/tmp/d"])).toEqual({
      file: "setpriv",
      args: ["--pdeathsig=SIGINT", "--", "/bin/initdb", "-D", "/tmp/d"],
    });
  });
});
