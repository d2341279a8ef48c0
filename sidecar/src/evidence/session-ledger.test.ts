// The uploader's ledger writer on a real filesystem store: one chain per pod
// across gateway restarts, one entry per session, and no continuing a ledger
// the store's key did not sign.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sha256Digest } from "@portcullis/common/digest";
import { checkLedgerEntry, parseLedgerEntry, type LedgerEntry } from "@portcullis/common/evidence/ledger";
import { SessionLedgers, type EndedSession } from "./session-ledger.js";
import { FilesystemStore } from "./store/filesystem-store.js";
import type { StoreTarget } from "./store/store.js";

let root: string;
const signingKey = generateKeyPairSync("ed25519").privateKey;
let cases = 0;
const ignoreWarnings = (): void => undefined;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "portcullis-ledger-"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

function target(key = signingKey): StoreTarget {
  cases += 1;
  return { store: new FilesystemStore(join(root, `store-${cases}`)), prefix: "evidence", signingKey: key };
}

const ended = (n: number, pod = "bot-0"): EndedSession => ({
  namespace: "agents",
  pod,
  session: `01JD00000000000000000000${n}A`,
  records: 10 + n,
  head: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  end: { reason: "client-terminated", time: `2026-11-25T10:00:0${n}.000Z` },
});

async function entries(dir: string): Promise<LedgerEntry[]> {
  const names = (await readdir(dir)).sort();
  return Promise.all(names.map(async (name) => parseLedgerEntry(await readFile(join(dir, name), "utf8")) as LedgerEntry));
}

describe("SessionLedgers", () => {
  it("continues one chain per pod across gateways, and writes a session once", async () => {
    const store = target();
    const first = new SessionLedgers(ignoreWarnings);
    await Promise.all([first.append(store, ended(1)), first.append(store, ended(2)), first.append(store, ended(1, "bot-1"))]);
    // A restarted gateway, and the session it had written before it stopped.
    const second = new SessionLedgers(ignoreWarnings);
    await second.append(store, ended(2));
    await second.append(store, ended(3));
    const written = await entries(join(root, `store-${cases}`, "evidence/agents/bot-0/ledger"));
    expect(written.map((entry) => [entry.seq, entry.session])).toEqual([
      [1, ended(1).session],
      [2, ended(2).session],
      [3, ended(3).session],
    ]);
    const trusted = createPublicKey(signingKey);
    expect(written.map((entry, index) => checkLedgerEntry(entry, written[index - 1], trusted))).toEqual([undefined, undefined, undefined]);
    expect(written[2]).toMatchObject({ records: 13, head: ended(3).head, end: ended(3).end });
    expect((await entries(join(root, `store-${cases}`, "evidence/agents/bot-1/ledger"))).map((entry) => entry.seq)).toEqual([1]);
  });

  it("does not take an edited last entry for the ledger's tail: not as the session it names, not to continue from", async () => {
    const store = target();
    await new SessionLedgers(ignoreWarnings).append(store, ended(1));
    await new SessionLedgers(ignoreWarnings).append(store, ended(2));
    // The attacker renames entry 2 after the session still recording, hoping the gateway takes it as written.
    const dir = join(root, `store-${cases}`, "evidence/agents/bot-0/ledger");
    const edited = { ...(parseLedgerEntry(await readFile(join(dir, "000002.json"), "utf8")) as LedgerEntry), session: ended(3).session, records: ended(3).records, head: ended(3).head, end: ended(3).end };
    await writeFile(join(dir, "000002.json"), JSON.stringify(edited));
    const warnings: string[] = [];
    await new SessionLedgers((message) => warnings.push(message)).append(store, ended(3));
    expect(warnings).toEqual([expect.stringMatching(/ledger\/ is continued after 000002\.json, which is not an entry this store's key signed: 000002\.json: its hash does not match its content \(the entry was edited\)$/)]);
    const [, , third] = await entries(dir);
    // Written anyway, after the edited object's bytes, saying why: the break stays in the chain.
    expect(third).toMatchObject({ seq: 3, session: ended(3).session, prev: sha256Digest(JSON.stringify(edited)), after: "000002.json: its hash does not match its content (the entry was edited)" });
    expect(checkLedgerEntry(third as LedgerEntry, { seq: 2, hash: sha256Digest(JSON.stringify(edited)) }, createPublicKey(signingKey))).toBeUndefined();
  });

  it("refuses to write a name its readers would not list, after an object planted at the last name", async () => {
    const store = target();
    const dir = join(root, `store-${cases}`, "evidence/agents/bot-0/ledger");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "999999999999999.json"), "junk");
    await expect(new SessionLedgers(ignoreWarnings).append(store, ended(1))).rejects.toThrow(/cannot be continued: its last object is 999999999999999\.json, the last name an entry can have/);
  });

  it.each([
    ["another key's entry", async (store: StoreTarget) => new SessionLedgers(ignoreWarnings).append({ ...store, signingKey: generateKeyPairSync("ed25519").privateKey }, ended(1)), /000001\.json: it is signed with another key than this store's/, 2],
    ["an object that is no entry", async (_store: StoreTarget, dir: string) => writeFile(join(dir, "000001.json"), "junk"), /000001\.json: it is not JSON/, 2],
    ["an entry under another entry's name", async (store: StoreTarget, dir: string) => {
      await new SessionLedgers(ignoreWarnings).append(store, ended(1));
      await writeFile(join(dir, "000007.json"), await readFile(join(dir, "000001.json")));
    }, /000007\.json: the object holds entry 1/, 8],
  ])("continues a ledger whose last object is %s after it, and warns", async (_name, plant, why, seq) => {
    const store = target();
    const dir = join(root, `store-${cases}`, "evidence/agents/bot-0/ledger");
    await mkdir(dir, { recursive: true });
    await plant(store, dir);
    const warnings: string[] = [];
    const ledgers = new SessionLedgers((message) => warnings.push(message));
    await ledgers.append(store, ended(2));
    await ledgers.append(store, ended(3));
    expect(warnings).toEqual([expect.stringMatching(why)]);
    const [first, second] = (await entries(dir)).slice(-2);
    expect(first).toMatchObject({ seq, session: ended(2).session, after: expect.stringMatching(why) });
    expect(second).toMatchObject({ seq: seq + 1, prev: first?.hash, session: ended(3).session });
    expect(second?.after).toBeUndefined();
  });
});
