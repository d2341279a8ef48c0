import { describe, expect, it } from "@jest/globals";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { checkLedgerEntry, isLedgerEntryName, ledgerKeyPrefix, parseLedgerEntry, sealLedgerEntry, sortLedgerEntryNames, type LedgerEntry } from "./ledger.js";
import { GENESIS_HASH } from "./record.js";

const signer = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const head = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

function chain(count: number, privateKey = signer.privateKey): LedgerEntry[] {
  const entries: LedgerEntry[] = [];
  for (let seq = 1; seq <= count; seq++) {
    const prev = entries.at(-1)?.hash ?? GENESIS_HASH;
    entries.push(sealLedgerEntry({ seq, prev, session: `01JD00000000000000000000${seq}A`, records: 10 + seq, head: head(seq), end: { reason: "client-terminated", time: `2026-11-25T10:00:0${seq}.000Z` } }, privateKey));
  }
  return entries;
}

/** The problem of each entry in turn, each checked after the one before it in the list. */
const problems = (entries: readonly LedgerEntry[], trusted = signer.publicKey): Array<string | undefined> => entries.map((entry, index) => checkLedgerEntry(entry, entries[index - 1], trusted));

describe("the session ledger", () => {
  it("lives beside the pod's sessions", () => {
    expect(ledgerKeyPrefix("evidence/prod", "agents", "bot-0")).toBe("evidence/prod/agents/bot-0/ledger/");
    expect(ledgerKeyPrefix("", "agents", "bot-0")).toBe("agents/bot-0/ledger/");
  });

  it("chains entries, each signed, and reads them back", () => {
    const entries = chain(3);
    expect(problems(entries)).toEqual([undefined, undefined, undefined]);
    expect(parseLedgerEntry(JSON.stringify(entries[1]))).toEqual(entries[1]);
    expect(createPublicKey(entries[0]?.publicKey ?? "").export({ type: "spki", format: "pem" })).toEqual(signer.publicKey.export({ type: "spki", format: "pem" }));
  });

  const tampered: Array<[string, (entries: LedgerEntry[]) => LedgerEntry[], Array<string | undefined>]> = [
    ["an entry's record count edited", (e) => e.map((entry) => (entry.seq === 2 ? { ...entry, records: 99 } : entry)), [undefined, "its hash does not match its content (the entry was edited)", undefined]],
    [
      "why an entry continued after an unusable object, edited",
      (e) => e.map((entry) => (entry.seq === 3 ? { ...sealLedgerEntry({ ...entry, after: "000002.json: it is not JSON" }, signer.privateKey), after: "nothing" } : entry)),
      [undefined, undefined, "its hash does not match its content (the entry was edited)"],
    ],
    ["an entry removed", (e) => e.filter((entry) => entry.seq !== 2), [undefined, "it is entry 3 where entry 2 belongs (entries removed or reordered?)"]],
    ["two entries swapped", (e) => [e[0], e[2], e[1]] as LedgerEntry[], [undefined, "it is entry 3 where entry 2 belongs (entries removed or reordered?)", "it is entry 2 where entry 4 belongs (entries removed or reordered?)"]],
    [
      "an entry that continues another chain",
      (e) => [e[0] as LedgerEntry, sealLedgerEntry({ ...(e[1] as LedgerEntry), prev: head(7) }, signer.privateKey)],
      [undefined, "it does not continue the ledger from the entry before it (its prev is not that entry's hash)"],
    ],
  ];
  it.each(tampered)("names %s", (_name, tamper, expected) => {
    expect(problems(tamper(chain(3)))).toEqual(expected);
  });

  it("names a ledger re-signed with another key, and the key", () => {
    const [first] = problems(chain(1, other.privateKey));
    expect(first).toMatch(/^its signature does not verify with the trusted key \(it names another key, sha256:[0-9a-f]{64}\)$/);
  });

  it("orders entry objects by their number, and takes at most 15 digits", () => {
    expect(sortLedgerEntryNames(["000010.json", "1000000.json", "000002.json", "0000003.json"])).toEqual(["000002.json", "0000003.json", "000010.json", "1000000.json"]);
    expect(["000001.json", "999999999999999.json", "9999999999999999.json", "00001.json", "000001.json.tmp"].map(isLedgerEntryName)).toEqual([true, true, false, false, false]);
  });

  it("names what is wrong with an entry that is not one", () => {
    expect(parseLedgerEntry("[")).toBe("it is not JSON");
    expect(parseLedgerEntry(JSON.stringify({ ...chain(1)[0], records: 0 }))).toBe("its records is missing or malformed");
  });
});
