// The uploader's ledger writer on a real filesystem store: one chain per pod
// across gateway restarts, one entry per session, and no continuing a ledger
// the store's key did not sign.
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkLedgerEntry, parseLedgerEntry, type LedgerEntry } from "@portcullis/common/evidence/ledger";
import { SessionLedgers, type EndedSession } from "./session-ledger.js";
import { FilesystemStore } from "./store/filesystem-store.js";
import type { StoreTarget } from "./store/store.js";

let root: string;
const signingKey = generateKeyPairSync("ed25519").privateKey;
let cases = 0;

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
    const first = new SessionLedgers();
    await Promise.all([first.append(store, ended(1)), first.append(store, ended(2)), first.append(store, ended(1, "bot-1"))]);
    // A restarted gateway, and the session it had written before it stopped.
    const second = new SessionLedgers();
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
    await new SessionLedgers().append(store, ended(1));
    await new SessionLedgers().append(store, ended(2));
    // The attacker renames entry 2 after the session still recording, hoping the gateway takes it as written.
    const file = join(root, `store-${cases}`, "evidence/agents/bot-0/ledger/000002.json");
    const edited = { ...(parseLedgerEntry(await readFile(file, "utf8")) as LedgerEntry), session: ended(3).session, records: ended(3).records, head: ended(3).head, end: ended(3).end };
    await writeFile(file, JSON.stringify(edited));
    await expect(new SessionLedgers().append(store, ended(3))).rejects.toThrow(/its last entry 000002\.json: its hash does not match its content \(the entry was edited\)/);
  });

  it("does not continue a ledger another key signed, and tries again on the next append", async () => {
    const store = target();
    await new SessionLedgers().append({ ...store, signingKey: generateKeyPairSync("ed25519").privateKey }, ended(1));
    const ledgers = new SessionLedgers();
    await expect(ledgers.append(store, ended(2))).rejects.toThrow(/the ledger .*evidence\/agents\/bot-0\/ledger\/ cannot be continued: its last entry 000001\.json is signed with another key than this store's/);
    await expect(ledgers.append(store, ended(2))).rejects.toThrow(/cannot be continued/);
  });
});
