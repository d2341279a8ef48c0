// The uploader's side of the ledger (common/src/evidence/ledger.ts): appends
// one entry per ended session to its pod's ledger in the session's store,
// continuing the chain the pod's earlier gateways left there. Appends to one
// ledger go one at a time. An entry for a session already at the ledger's end
// is not written again (the gateway may stop after writing it and before
// removing the session from the spool) — the very same entry, signed with
// this store's key. A ledger whose last entry cannot be read, was not signed
// with this store's key or was edited is not continued: the append fails,
// and the session stays in the spool until someone looks.
import { createPublicKey } from "node:crypto";
import { publicKeyPem, type SessionEnding } from "@portcullis/common/evidence/manifest";
import { checkLedgerEntry, isLedgerEntryName, LEDGER_CONTENT_TYPE, ledgerEntryName, ledgerKeyPrefix, parseLedgerEntry, sealLedgerEntry, type LedgerEntry } from "@portcullis/common/evidence/ledger";
import { GENESIS_HASH } from "@portcullis/common/evidence/record";
import type { StoreTarget } from "./store/store.js";

export interface EndedSession {
  namespace: string;
  pod: string;
  session: string;
  records: number;
  head: string;
  end: SessionEnding;
}

type Tail = Pick<LedgerEntry, "seq" | "hash" | "session" | "records" | "head" | "end"> | undefined;
/** The ledger's tail is to be read from the store (first use, or after a failed append). */
const UNREAD = Symbol("unread");

export class SessionLedgers {
  /** The last entry of each ledger, once known, after the append in flight; by store and key prefix. Never rejects. */
  private readonly tails = new Map<string, Promise<Tail | typeof UNREAD>>();

  /** Appends the ended session to its pod's ledger; resolves once the entry is stored (or was already there). */
  append(target: StoreTarget, ended: EndedSession): Promise<void> {
    const prefix = ledgerKeyPrefix(target.prefix, ended.namespace, ended.pod);
    const key = `${target.store.location}/${prefix}`;
    const next = (this.tails.get(key) ?? Promise.resolve(UNREAD))
      .then((known) => (known === UNREAD ? readTail(target, prefix) : known))
      .then((tail) => appendAfter(target, prefix, tail, ended));
    this.tails.set(
      key,
      next.catch(() => UNREAD),
    );
    return next.then(() => undefined);
  }
}

async function appendAfter(target: StoreTarget, prefix: string, tail: Tail, ended: EndedSession): Promise<Tail> {
  // Already written (the gateway stopped after writing it, before removing the session from the spool): only the very same entry counts.
  if (tail !== undefined && tail.session === ended.session && tail.records === ended.records && tail.head === ended.head && tail.end.reason === ended.end.reason && tail.end.time === ended.end.time) {
    return tail;
  }
  const seq = (tail?.seq ?? 0) + 1;
  const entry = sealLedgerEntry({ seq, prev: tail?.hash ?? GENESIS_HASH, session: ended.session, records: ended.records, head: ended.head, end: ended.end }, target.signingKey);
  await target.store.put(prefix + ledgerEntryName(seq), Buffer.from(`${JSON.stringify(entry, null, 2)}\n`), LEDGER_CONTENT_TYPE);
  return { seq, hash: entry.hash, session: entry.session, records: entry.records, head: entry.head, end: entry.end };
}

/** The ledger's last entry as the store holds it; throws when it cannot be continued. */
async function readTail(target: StoreTarget, prefix: string): Promise<Tail> {
  const names = (await target.store.list(prefix)).map((key) => key.slice(prefix.length)).filter(isLedgerEntryName);
  const last = names.sort((a, b) => a.length - b.length || a.localeCompare(b)).at(-1);
  if (last === undefined) return undefined;
  const body = await target.store.get(prefix + last);
  const entry = body === undefined ? "it is gone" : parseLedgerEntry(body.toString("utf8"));
  if (typeof entry === "string") throw new Error(`the ledger ${target.store.location}/${prefix} cannot be continued: its last entry ${last} cannot be read (${entry})`);
  if (ledgerEntryName(entry.seq) !== last) throw new Error(`the ledger ${target.store.location}/${prefix} cannot be continued: its last object ${last} holds entry ${entry.seq}`);
  if (entry.publicKey !== publicKeyPem(target.signingKey)) {
    throw new Error(`the ledger ${target.store.location}/${prefix} cannot be continued: its last entry ${last} is signed with another key than this store's`);
  }
  // Its own hash and signature: an entry edited in the store must not be what the next one continues, nor pass for this session's.
  const previous = entry.seq === 1 ? undefined : { seq: entry.seq - 1, hash: entry.prev };
  const problem = checkLedgerEntry(entry, previous, createPublicKey(target.signingKey));
  if (problem !== undefined) throw new Error(`the ledger ${target.store.location}/${prefix} cannot be continued: its last entry ${last}: ${problem}`);
  return { seq: entry.seq, hash: entry.hash, session: entry.session, records: entry.records, head: entry.head, end: entry.end };
}
