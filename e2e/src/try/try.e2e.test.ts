// `make try` as a reader follows it: the script starts, prints the psql line
// and the reviewer's commands, and those commands do what the README says —
// a SELECT with emails masked, a DROP denied, an UPDATE held until the
// reviewer approves it with the CLI, the session listed from the store —
// and Ctrl-C stops it all.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { kubectl } from "../jest/environment.js";
import { pendingApproval } from "../operator/cluster-waits.js";
import { locatePostgresBinaries } from "../postgres/binaries.js";
import { runCommand, waitForExit } from "../processes/child-process.js";
import { waitUntil } from "../processes/wait.js";

const TRY = fileURLToPath(new URL("../../dist/try/try.js", import.meta.url));
/** try.ts's namespace for the ApprovalRequests (importing the script would run it). */
const TRIAL_NAMESPACE = "trial";
const CLI = fileURLToPath(new URL("../../../cli/dist/main.js", import.meta.url));

let child: ChildProcess;
let printed = "";
let port = 0;
let kubeconfig = "";
let storeFile = "";

const psql = (sql: string): ReturnType<typeof runCommand> =>
  runCommand(locatePostgresBinaries().psql, ["-X", "-At", "-v", "ON_ERROR_STOP=1", `host=127.0.0.1 port=${port} user=agent dbname=app`, "-c", sql], { env: { ...process.env, PGCONNECT_TIMEOUT: "10" } });
const cli = (args: string[]): ReturnType<typeof runCommand> => runCommand(process.execPath, [CLI, ...args], { env: { ...process.env, HOME: "/nonexistent" } });

beforeAll(async () => {
  child = spawn(process.execPath, [TRY], { stdio: ["ignore", "pipe", "pipe"] });
  let errors = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (printed += chunk));
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (errors += chunk));
  await waitUntil("make try's instructions", () => Promise.resolve(/Ctrl-C stops everything/.test(printed) || child.exitCode !== null), 120_000);
  if (child.exitCode !== null) throw new Error(`make try exited with ${child.exitCode}: ${errors}`);
  port = Number(/port=(\d+) user=agent dbname=app/.exec(printed)?.[1]);
  kubeconfig = /--kubeconfig (\S+)/.exec(printed)?.[1] ?? "";
  storeFile = /--store-file (\S+)/.exec(printed)?.[1] ?? "";
}, 150_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGKILL");
    await waitForExit(child, 10_000);
  }
});

describe("make try", () => {
  it("prints the psql line and the reviewer's commands", () => {
    expect(port).toBeGreaterThan(0);
    expect(existsSync(kubeconfig)).toBe(true);
    expect(printed).toContain(`approvals approve NAME -n ${TRIAL_NAMESPACE} --kubeconfig ${kubeconfig}`);
  });

  it("answers a SELECT with the emails masked", async () => {
    const result = await psql("SELECT name, email FROM customers ORDER BY id LIMIT 3");
    expect(result.stderr).toBe("");
    // As the README's sample shows them.
    expect(result.stdout.trim().split("\n").map((row) => row.split("|"))).toEqual([
      ["Maria Garcia", "***"],
      ["James O'Brien", "***"],
      ["Li Wei", "***"],
    ]);
  });

  it("denies a DROP with the policy's message", async () => {
    const result = await psql("DROP TABLE customers");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('denied by AccessPolicy "trial" rule "no-drops": agents never drop tables');
  });

  it("holds an UPDATE until the reviewer approves it with the CLI, and records the session", async () => {
    const update = psql("UPDATE orders SET status = 'refunded' WHERE id = 1");
    const approval = await pendingApproval((args) => kubectl(args, { kubeconfig }), TRIAL_NAMESPACE, 30_000);
    const approved = await cli(["approvals", "approve", approval.name, "-n", TRIAL_NAMESPACE, "--kubeconfig", kubeconfig, "--reason", "looks fine"]);
    expect(approved.code).toBe(0);
    const result = await update;
    expect(result.stdout.trim()).toBe("UPDATE 1");
    expect(result.stderr).toContain("requires approval; waiting for ApprovalRequest");
    let listed = "";
    await waitUntil("the sessions in the store", async () => {
      listed = (await cli(["sessions", "list", "--store-file", storeFile])).stdout;
      return listed.split("\n").filter((line) => line.includes("orders-db")).length >= 3;
    }, 30_000);
    expect(listed).toContain("orders-db");
  }, 60_000);

  it("stops everything on Ctrl-C", async () => {
    child.kill("SIGINT");
    await waitForExit(child, 30_000);
    expect(child.exitCode).toBe(0);
    const gone = await psql("SELECT 1");
    expect(gone.code).not.toBe(0);
  }, 40_000);
});
