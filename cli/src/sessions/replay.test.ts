// `portcullis sessions replay` on a session the sidecar's spool recorded: the
// transcript is a golden file (UPDATE_GOLDEN=1 rewrites it; a stale one
// fails), and a transcript of evidence that does not verify says so.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { readFile, rm, unlink, writeFile, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EvidenceRecord } from "@portcullis/common/evidence/record";
import { capturedIo } from "../captured-io.js";
import { run } from "../run.js";
import { newSigningKey, recordSession, resealRecords, storeSession, writeStoreFile, type StoredSession } from "./test-fixtures.js";
import { renderRecord } from "./transcript.js";

const GOLDEN = join(import.meta.dirname, "testdata", "replay.golden.txt");

let work: string;
let records: EvidenceRecord[];
const key = newSigningKey();
let cases = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "portcullis-cli-replay-"));
  records = await recordSession(join(work, "spool"));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

async function freshStore(): Promise<{ storeFile: string; session: StoredSession }> {
  cases += 1;
  const path = join(work, `store-${cases}`);
  const session = await storeSession(records, { path, chunkSizes: [4, 4], privateKey: key.privateKey });
  return { storeFile: await writeStoreFile(join(work, `store-${cases}.yaml`), path, undefined, key.publicKeyPem), session };
}

async function replay(storeFile: string, session: StoredSession, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = capturedIo();
  const code = await run(["sessions", "replay", session.location.session, "--store-file", storeFile, ...extra], captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe("sessions replay", () => {
  it("prints the transcript in the golden file", async () => {
    const { storeFile, session } = await freshStore();
    const result = await replay(storeFile, session);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    if (process.env.UPDATE_GOLDEN === "1") await writeFile(GOLDEN, result.stdout);
    expect(result.stdout).toBe(await readFile(GOLDEN, "utf8"));
  });

  it("escapes terminal controls the agent put in a statement", async () => {
    const { storeFile, session } = await freshStore();
    const { stdout } = await replay(storeFile, session);
    expect(stdout).toContain("DROP TABLE orders; -- \\x1b[2J\\u202eoops");
    expect(stdout).not.toContain("\u001b");
  });

  it("shows the gap where a chunk is missing, and warns on stderr with exit 1", async () => {
    const { storeFile, session } = await freshStore();
    await unlink(join(session.dir, "000002.jsonl.gz"));
    const result = await replay(storeFile, session);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("[records 5-8: chunk 000002.jsonl.gz cannot be read]\n");
    expect(result.stdout).toContain("#9  request (postgres)");
    expect(result.stderr).toBe(`warning: the evidence of session ${session.location.session} does not verify:\n  chunk 000002.jsonl.gz (records 5-8) is missing from the store\n`);
  });

  it("prints the records as JSON with -o json", async () => {
    const { storeFile, session } = await freshStore();
    const result = await replay(storeFile, session, ["-o", "json"]);
    expect(result.code).toBe(0);
    const parsed = JSON.parse(result.stdout) as { verified: boolean; records: EvidenceRecord[]; resource: string };
    expect(parsed).toMatchObject({ verified: true, resource: "orders-db" });
    expect(parsed.records).toEqual(records);
  });

  it("reports download progress per chunk on stderr with --progress", async () => {
    const { storeFile, session } = await freshStore();
    const result = await replay(storeFile, session, ["--progress"]);
    expect(result.code).toBe(0);
    const lines = result.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^downloading chunk 1\/3: \d+ B of [\d.]+ KiB$/);
    expect(lines[2]).toMatch(/^downloading chunk 3\/3: ([\d.]+ KiB) of \1$/);
  });

  it("does not vouch for a session rewritten and signed with another key, nor for one whose signer it cannot check", async () => {
    const { storeFile, session } = await freshStore();
    const forger = newSigningKey();
    await storeSession(resealRecords(records.filter((record) => record.type !== "approval")), { path: join(work, `store-${cases}`), chunkSizes: [4, 4], privateKey: forger.privateKey });
    const forged = await replay(storeFile, session, ["-o", "json"]);
    expect(forged.code).toBe(1);
    expect(JSON.parse(forged.stdout)).toMatchObject({ verified: false, problems: [expect.stringMatching(/^the manifest's signature does not verify with the public key in /)] });
    const bare = await writeStoreFile(join(work, `store-${cases}-bare.yaml`), join(work, `store-${cases}`));
    const unchecked = await replay(bare, session);
    expect(unchecked.code).toBe(1);
    expect(unchecked.stderr).toContain("who signed the manifest could not be checked");
  });

  it("notes a session that has not ended", async () => {
    cases += 1;
    const path = join(work, `store-${cases}`);
    const session = await storeSession(records.slice(0, 6), { path, chunkSizes: [4], privateKey: key.privateKey, complete: false });
    const result = await replay(await writeStoreFile(join(work, `store-${cases}.yaml`), path, undefined, key.publicKeyPem), session);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe(`note: session ${session.location.session} has not ended: its manifest is not final (still recording, or an earlier manifest put back; sessions audit tells them apart)\n`);
  });
});

describe("result records", () => {
  it("rounds durations as a person reads them and leaves out what was masked zero times", () => {
    const record = { v: 1, session: "s", seq: 3, time: "2026-11-25T10:00:00.000Z", type: "result", prev: "p", hash: "h" } as const;
    const rendered = renderRecord({ ...record, data: { request: 2, masked: { "orders.email": 2, "orders.phone": 0 }, durationMs: 0.412345, http: { status: 200, bytes: 120 } } });
    expect(rendered).toContain("returned   status 200, 120 bytes, 0.4 ms\n");
    expect(rendered).toContain("masked     orders.email x2\n");
    expect(rendered).not.toContain("orders.phone");
    expect(renderRecord({ ...record, data: { request: 2, masked: { "orders.phone": 0 }, durationMs: 2512 } })).not.toContain("masked");
  });
});

describe("WebSocket message records", () => {
  it("shows a terminal stream's channels and what they carried, escaped", () => {
    const base = { v: 1, session: "s", time: "2026-11-25T10:00:00.000Z", prev: "", hash: "" } as const;
    const stdin = renderRecord({ ...base, seq: 7, type: "message", data: { request: 4, direction: "agent", kind: "binary", bytes: 8, channel: "stdin", text: "ls -la\n" } } as never);
    expect(stdin).toBe('2026-11-25T10:00:00.000Z  #7  message of #4\n    stdin      "ls -la\\n"\n');
    const stdout = renderRecord({ ...base, seq: 8, type: "message", data: { request: 4, direction: "backend", kind: "binary", bytes: 9, channel: "stdout", text: "\u001b[2Jx\u009b", truncated: true } } as never);
    expect(stdout).toBe('2026-11-25T10:00:00.000Z  #8  message of #4\n    stdout     "\\u001b[2Jx\\x9b" (cut)\n');
  });

  it("shows the direction, kind, size and what was masked or refused", () => {
    const base = { v: 1 as const, session: "S", time: "2026-11-25T10:00:00.000Z", prev: "", hash: "" };
    const masked = renderRecord({ ...base, seq: 5, type: "message", data: { request: 4, direction: "backend", kind: "text", bytes: 21, masked: { "chat/emails": 1 } } });
    expect(masked).toBe("2026-11-25T10:00:00.000Z  #5  message of #4\n    backend    text, 21 bytes\n    masked     chat/emails x1\n");
    const refused = renderRecord({ ...base, seq: 6, type: "message", data: { request: 4, direction: "backend", kind: "binary", bytes: 3, refused: "masking rules apply and this message cannot be masked" } });
    expect(refused).toContain("refused    masking rules apply and this message cannot be masked");
  });
});

describe("MCP records", () => {
  it("shows a tool call with its masked arguments and the tool's fingerprint, and what its response was", () => {
    const base = { v: 1 as const, session: "S", time: "2026-11-25T10:00:00.000Z", prev: "", hash: "" };
    const call = renderRecord({
      ...base,
      seq: 7,
      type: "request",
      data: {
        protocol: "mcp",
        summary: "tools/call refund_order",
        decision: { action: "deny", policy: "tools", rule: "big-refunds", reason: "too much" },
        http: { method: "POST", target: "/mcp", host: "tools:443", bodyBytes: 90 },
        mcp: { direction: "client", kind: "request", id: "4", method: "tools/call", tool: "refund_order", arguments: '{"amount":5000,"note":"***"}', toolFingerprint: "sha256:ab" },
      },
    });
    expect(call).toBe(
      [
        "2026-11-25T10:00:00.000Z  #7  request (mcp)",
        "    tools/call refund_order",
        "    message    request from the agent, id 4",
        '    arguments  {"amount":5000,"note":"***"}',
        "    tool       sha256:ab",
        "    http       POST /mcp",
        "    decision   deny (tools/big-refunds): too much",
        "",
      ].join("\n"),
    );
    const listed = renderRecord({ ...base, seq: 8, type: "result", data: { request: 6, masked: {}, durationMs: 3, http: { status: 200, bytes: 900 }, mcp: { summary: "listed 2 of 3 tools; hidden: drop_database" }, requestSession: "OTHER" } });
    expect(listed).toBe(
      "2026-11-25T10:00:00.000Z  #8  result of #6\n    returned   status 200, 900 bytes, 3 ms\n    response   listed 2 of 3 tools; hidden: drop_database\n    of         the request in session OTHER\n",
    );
  });
});

describe("records of earlier gateways", () => {
  it("renders a statement record, its result and the session-end's statement count", () => {
    const base = { v: 1 as const, session: "S", time: "2026-11-25T10:00:00.000Z", prev: "", hash: "" };
    const statement = renderRecord({ ...base, seq: 2, type: "statement", data: { text: "SELECT 1", parameters: ["$1 = '5'"], decision: { action: "allow", policy: "p", rule: "r" } } });
    expect(statement).toBe("2026-11-25T10:00:00.000Z  #2  statement\n    SELECT 1\n    with       $1 = '5'\n    decision   allow (p/r)\n");
    const result = renderRecord({ ...base, seq: 3, type: "result", data: { statement: 2, rowsReturned: 1, commandTags: ["SELECT 1"], masked: {}, durationMs: 2 } });
    expect(result).toBe("2026-11-25T10:00:00.000Z  #3  result of #2\n    returned   1 row, SELECT 1, 2 ms\n");
    const end = renderRecord({ ...base, seq: 4, type: "session-end", data: { reason: "client-terminated", counts: { statements: 1, denied: 0, results: 1, errors: 0, approvals: 0 }, durationMs: 1000 } });
    expect(end).toContain("totals     1 request (0 denied by a rule, 0 refused otherwise), 1 result (0 errors), 0 approvals");
  });
});
