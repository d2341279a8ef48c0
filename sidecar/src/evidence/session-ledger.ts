// The uploader's side of the ledger (common/src/evidence/ledger.ts): appends
// one entry per ended session to its pod's ledger in the session's store,
// continuing the chain the pod's earlier gateways left there. Appends to one
// ledger go one at a time. An entry for a session already at the ledger's end
// is not written again (the gateway may stop after writing it and before
// removing the session from the spool) — the very same entry, signed with
// this store's key. A last object that is not an entry, was edited or was not
// signed with this store's key is not continued as an entry (nor taken for a
// session's): the next entry follows it with `after` saying why, and prev the
// hash of its bytes, and the gateway warns. So the break is kept for `sessions
// audit` to report, and an object someone wrote into the ledger does not stop
// ended sessions from leaving the spool.
import { createPublicKey } from "node:crypto";
import { publicKeyPem, type SessionEnding } from "@portcullis/common/evidence/manifest";
import { sha256Digest } from "@portcullis/common/digest";
import {
  checkLedgerEntry,
  isLedgerEntryName,
  LEDGER_CONTENT_TYPE,
  ledgerEntryName,
  ledgerEntrySeq,
  ledgerKeyPrefix,
  parseLedgerEntry,
  sealLedgerEntry,
  sortLedgerEntryNames,
  type LedgerEntry,
} from "@portcullis/common/evidence/ledger";
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

/** The ledger's last entry; or the last object, when it cannot be continued as an entry: its position, the hash of its bytes and why. */
type Tail = Pick<LedgerEntry, "seq" | "hash" | "session" | "records" | "head" | "end"> | { seq: number; hash: string; unusable: string } | undefined;
/** The ledger's tail is to be read from the store (first use, or after a failed append). */
const UNREAD = Symbol("unread");

export class SessionLedgers {
  /** The last entry of each ledger, once known, after the append in flight; by store and key prefix. Never rejects. */
  private readonly tails = new Map<string, Promise<Tail | typeof UNREAD>>();

  /** `warn` hears of each ledger continued after an object that could not be continued. */
  constructor(private readonly warn: (message: string) => void) {}

  /** Appends the ended session to its pod's ledger; resolves once the entry is stored (or was already there). */
  append(target: StoreTarget, ended: EndedSession): Promise<void> {
    const prefix = ledgerKeyPrefix(target.prefix, ended.namespace, ended.pod);
    const key = `${target.store.location}/${prefix}`;
    const next = (this.tails.get(key) ?? Promise.resolve(UNREAD))
      .then((known) => (known === UNREAD ? readTail(target, prefix) : known))
      .then((tail) => {
        if (tail && "unusable" in tail) this.warn(`the ledger ${target.store.location}/${prefix} is continued after ${ledgerEntryName(tail.seq)}, which is not an entry this store's key signed: ${tail.unusable}`);
        return tail;
      })
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
  if (tail !== undefined && !("unusable" in tail) && tail.session === ended.session && tail.records === ended.records && tail.head === ended.head && tail.end.reason === ended.end.reason && tail.end.time === ended.end.time) {
    return tail;
  }
  const seq = (tail?.seq ?? 0) + 1;
  // A name the ledger's readers would not list is never written: only an object planted at the last name gets here.
  if (!isLedgerEntryName(ledgerEntryName(seq))) throw new Error(`the ledger ${target.store.location}/${prefix} cannot be continued: its last object is ${ledgerEntryName(seq - 1)}, the last name an entry can have`);
  const after = tail && "unusable" in tail ? { after: tail.unusable } : {};
  const entry = sealLedgerEntry({ seq, prev: tail?.hash ?? GENESIS_HASH, session: ended.session, records: ended.records, head: ended.head, end: ended.end, ...after }, target.signingKey);
  await target.store.put(prefix + ledgerEntryName(seq), Buffer.from(`${JSON.stringify(entry, null, 2)}\n`), LEDGER_CONTENT_TYPE);
  return { seq, hash: entry.hash, session: entry.session, records: entry.records, head: entry.head, end: entry.end };
}

/** The ledger's last entry as the store holds it, or its last object and why it is not an entry to continue. */
async function readTail(target: StoreTarget, prefix: string): Promise<Tail> {
  const names = (await target.store.list(prefix)).map((key) => key.slice(prefix.length)).filter(isLedgerEntryName);
  const last = sortLedgerEntryNames(names).at(-1);
  if (last === undefined) return undefined;
  const body = await target.store.get(prefix + last);
  // Listed, then gone: the store is changing under us; try again on the next append.
  if (body === undefined) throw new Error(`the ledger ${target.store.location}/${prefix} cannot be continued now: its last entry ${last} was listed but is gone`);
  const seq = ledgerEntrySeq(last);
  const unusable = (why: string): Tail => ({ seq, hash: sha256Digest(body), unusable: `${last}: ${why}` });
  const entry = parseLedgerEntry(body.toString("utf8"));
  if (typeof entry === "string") return unusable(entry);
  if (entry.seq !== seq) return unusable(`the object holds entry ${entry.seq}`);
  if (entry.publicKey !== publicKeyPem(target.signingKey)) return unusable("it is signed with another key than this store's");
  // Its own hash and signature: an entry edited in the store must not be what the next one continues, nor pass for this session's.
  const previous = entry.seq === 1 ? undefined : { seq: entry.seq - 1, hash: entry.prev };
  const problem = checkLedgerEntry(entry, previous, createPublicKey(target.signingKey));
  if (problem !== undefined) return unusable(problem);
  return { seq: entry.seq, hash: entry.hash, session: entry.session, records: entry.records, head: entry.head, end: entry.end };
}
