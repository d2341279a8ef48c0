// Proves the PostgreSQL harness with the real psql: TLS verified against the
// harness's CA, each login authenticated by the method it is meant to use
// (checked on the wire, not only by a successful login), stored password
// formats, the sample data, and a stop() that leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { isAlive } from "../controlplane/processes.js";
import { reapOrphanedPostgres, SAMPLE_CUSTOMERS, SAMPLE_ORDER_COUNT, seedSampleData, startPostgres, type PostgresLogin, type RunningPostgres } from "./server.js";

/** AuthenticationRequest codes from the protocol: what the server asks a client for right after the startup message. */
const AUTH_CLEARTEXT = 3;
const AUTH_MD5 = 5;
const AUTH_SASL = 10;
const PROTOCOL_3_0 = 196608;

/**
 * Sends a plaintext StartupMessage and returns the server's first answer:
 * an authentication request code, or the error message when it refuses.
 */
async function firstAnswerTo(pg: RunningPostgres, username: string): Promise<{ auth: number } | { error: string }> {
  const socket = connect(pg.port, pg.host);
  try {
    await once(socket, "connect");
    const body = Buffer.from(`user\0${username}\0database\0${pg.database}\0\0`);
    const header = Buffer.alloc(8);
    header.writeInt32BE(8 + body.length, 0);
    header.writeInt32BE(PROTOCOL_3_0, 4);
    socket.write(Buffer.concat([header, body]));
    const [data] = (await once(socket, "data")) as [Buffer];
    if (data.subarray(0, 1).toString() === "R") return { auth: data.readInt32BE(5) };
    return { error: data.subarray(5).toString("latin1") };
  } finally {
    socket.destroy();
  }
}

async function query(pg: RunningPostgres, sql: string, user?: PostgresLogin): Promise<string> {
  const result = await pg.psql(["-qtA", "-v", "ON_ERROR_STOP=1", "-c", sql], user);
  if (result.code !== 0) throw new Error(`psql failed (${result.code}): ${result.stderr}`);
  return result.stdout.trim();
}

describe("a PostgreSQL server for the tests", () => {
  let pg: RunningPostgres;
  const started = Date.now();

  beforeAll(async () => {
    pg = await startPostgres();
    console.log(`startPostgres took ${Date.now() - started} ms (${pg.binDir})`);
    await seedSampleData(pg);
  });

  afterAll(async () => {
    await pg?.stop();
  });

  it("serves TLS that psql verifies with verify-full against the harness's CA", async () => {
    expect(pg.tls).toBe(true);
    expect(pg.connectionString(pg.users.scram)).toContain("sslmode=verify-full");
    expect(await query(pg, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")).toBe("t");
  });

  it("gives a connection string that libpq accepts as it is, TLS verified", async () => {
    const sql = "SELECT current_user || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    const result = await pg.psql(["-tAc", sql, pg.connectionString(pg.users.md5)]);
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe(`${pg.users.md5.username} true`);
  });

  it("fails verify-full against another CA and against a name not in the certificate", async () => {
    const otherCa = await createCertificateAuthority("someone-else");
    const dir = mkdtempSync(join(tmpdir(), "portcullis-other-ca-"));
    try {
      writeFileSync(join(dir, "ca.crt"), otherCa.certPem);
      const wrongCa = await pg.psql(["-c", "SELECT 1", `sslrootcert=${join(dir, "ca.crt")} sslmode=verify-full dbname=${pg.database}`]);
      expect(wrongCa.code).not.toBe(0);
      expect(wrongCa.stderr).toMatch(/certificate verify failed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // hostaddr connects to the server while libpq checks its certificate against host.
    const wrongName = await pg.psql(["-c", "SELECT 1", `host=wrong.example hostaddr=${pg.host} dbname=${pg.database}`]);
    expect(wrongName.code).not.toBe(0);
    expect(wrongName.stderr).toMatch(/does not match host name "wrong.example"/);
    const rightName = await pg.psql(["-tAc", "SELECT 1", `host=${pg.serverName} hostaddr=${pg.host} dbname=${pg.database}`]);
    expect(rightName.stderr).toBe("");
    expect(rightName.stdout.trim()).toBe("1");
  });

  it.each([
    ["scram", AUTH_SASL],
    ["md5", AUTH_MD5],
    ["cleartext", AUTH_CLEARTEXT],
  ] as const)("asks the %s user for its own authentication method", async (kind, code) => {
    expect(await firstAnswerTo(pg, pg.users[kind].username)).toEqual({ auth: code });
  });

  it("asks the superuser for SCRAM and refuses users pg_hba.conf does not name", async () => {
    expect(await firstAnswerTo(pg, pg.superuser.username)).toEqual({ auth: AUTH_SASL });
    expect(await firstAnswerTo(pg, "intruder")).toEqual({
      error: expect.stringContaining('no pg_hba.conf entry for host "127.0.0.1", user "intruder"'),
    });
  });

  it.each(["scram", "md5", "cleartext"] as const)("logs the %s user in with its password and refuses a wrong one", async (kind) => {
    const user = pg.users[kind];
    expect(await query(pg, "SELECT current_user", user)).toBe(user.username);
    const wrong = await pg.psql(["-c", "SELECT 1"], { ...user, password: `${user.password}x` });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(`password authentication failed for user "${user.username}"`);
  });

  it("stores the scram user's password as SCRAM-SHA-256 and the md5 user's as md5", async () => {
    const stored = await query(pg, `SELECT rolname || ' ' || rolpassword FROM pg_authid WHERE rolname LIKE 'app\\_%' ORDER BY rolname`);
    const byUser = new Map(stored.split("\n").map((line) => line.split(" ") as [string, string]));
    expect(byUser.get(pg.users.scram.username)).toMatch(/^SCRAM-SHA-256\$/);
    expect(byUser.get(pg.users.md5.username)).toMatch(/^md5[0-9a-f]{32}$/);
    expect(byUser.get(pg.users.cleartext.username)).toMatch(/^SCRAM-SHA-256\$/);
  });

  it("has the sample data, readable and writable by every ordinary user", async () => {
    expect(await query(pg, "SELECT count(*) FROM customers", pg.users.md5)).toBe(String(SAMPLE_CUSTOMERS.length));
    expect(await query(pg, "SELECT count(*) FROM orders", pg.users.cleartext)).toBe(String(SAMPLE_ORDER_COUNT));
    expect(await query(pg, "SELECT name FROM customers WHERE id = 2", pg.users.scram)).toBe("James O'Brien");
    expect(await query(pg, "SELECT email || ' ' || card FROM customers WHERE id = 1", pg.users.scram)).toBe(
      `${SAMPLE_CUSTOMERS[0]?.email} ${SAMPLE_CUSTOMERS[0]?.card}`,
    );
    await query(pg, "INSERT INTO orders (customer_id, status, amount) VALUES (3, 'pending', 12.50)", pg.users.md5);
    expect(await query(pg, "UPDATE orders SET status = 'paid' WHERE status = 'pending' AND amount = 12.50 RETURNING customer_id", pg.users.cleartext)).toBe("3");
    await query(pg, "CREATE TABLE scratch_by_scram (id int)", pg.users.scram);
  });

  it("does not run the server as root", () => {
    const uid = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pg.pid}/status`, "utf8"))?.[1];
    expect(uid).toBeDefined();
    expect(uid).not.toBe("0");
  });
});

describe("stopping a PostgreSQL server", () => {
  it("serves plaintext when tls is false, and stop() ends the process and removes its directory", async () => {
    const pg = await startPostgres({ tls: false });
    try {
      expect(pg.connectionString(pg.users.md5)).toContain("sslmode=disable");
      expect(await query(pg, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", pg.users.md5)).toBe("f");
      const dir = join(pg.dataDir, "..");
      expect(existsSync(dir)).toBe(true);
      expect(isAlive(pg.pid)).toBe(true);
      await pg.stop();
      expect(isAlive(pg.pid)).toBe(false);
      expect(existsSync(dir)).toBe(false);
      const afterStop = await pg.psql(["-c", "SELECT 1"]);
      expect(afterStop.code).toBe(2);
      expect(afterStop.stderr).toMatch(/Connection refused/);
    } finally {
      await pg.stop();
    }
  });

  it("reaps a server whose test process has gone: the postmaster is killed and its directory removed", async () => {
    const pg = await startPostgres({ tls: false });
    try {
      const exited = spawn("true");
      await once(exited, "exit");
      const dir = join(pg.dataDir, "..");
      const statePath = join(dir, "state.json");
      const state = JSON.parse(readFileSync(statePath, "utf8")) as { ownerPid: number; postmasterPid: number };
      expect(state).toEqual({ ownerPid: process.pid, postmasterPid: pg.pid });
      expect(reapOrphanedPostgres()).not.toContain(dir);
      writeFileSync(statePath, JSON.stringify({ ...state, ownerPid: exited.pid }));
      expect(reapOrphanedPostgres()).toContain(dir);
      expect(existsSync(dir)).toBe(false);
      const deadline = Date.now() + 5_000;
      while (isAlive(pg.pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(isAlive(pg.pid)).toBe(false);
    } finally {
      await pg.stop();
    }
  });
});
