// Where a gateway's time goes, from a V8 CPU profile (`node --cpu-prof`): each
// busy sample is put in the category of the innermost frame on its stack that
// a category claims — a specific part first (a SHA-256 under the evidence
// recorder is evidence, and so is the recorder under the protocol code), then
// the gateway's own code around them, then Node.js's — and the shares are
// printed with what each category's next lever is. The profiler samples wall
// time while the thread runs JavaScript or a system call, so a write that
// wakes the reader on a busy machine can count a little more than its CPU.
// Pure.

export interface CallFrame {
  functionName: string;
  url: string;
}

/** The parts of a .cpuprofile this reads. */
export interface CpuProfile {
  nodes: ReadonlyArray<{ id: number; callFrame: CallFrame; children?: readonly number[] }>;
  samples: readonly number[];
}

export interface ProfileCategory {
  name: string;
  /** Categories of a lower tier are looked for on the whole stack first: 0 for specific parts, higher for code around them. */
  tier: number;
  /** What would lower this category's share next. */
  lever: string;
  claims(frame: CallFrame): boolean;
}

export interface CategoryShare {
  name: string;
  /** Of the busy samples, 0–1. */
  share: number;
  lever: string;
}

/** Samples of a thread waiting for I/O: not time the gateway spent. */
const IDLE = "(idle)";
const OTHER = "other";

/** The busy samples, and each category's share of them (those no category claims are "other"), largest first. */
export function categoryShares(profile: CpuProfile, categories: readonly ProfileCategory[]): { busySamples: number; shares: CategoryShare[] } {
  const parent = new Map<number, number>();
  const frames = new Map<number, CallFrame>();
  for (const node of profile.nodes) {
    frames.set(node.id, node.callFrame);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const tiers = [...new Set(categories.map((category) => category.tier))].sort((a, b) => a - b);
  // The category of a sample's leaf node, found once per node.
  const categoryOf = new Map<number, string>();
  const classify = (leaf: number): string => {
    const known = categoryOf.get(leaf);
    if (known !== undefined) return known;
    let found = OTHER;
    for (const tier of tiers) {
      const candidates = categories.filter((category) => category.tier === tier);
      for (let id: number | undefined = leaf; id !== undefined && found === OTHER; id = parent.get(id)) {
        const frame = frames.get(id);
        found = (frame && candidates.find((candidate) => candidate.claims(frame))?.name) ?? OTHER;
      }
      if (found !== OTHER) break;
    }
    categoryOf.set(leaf, found);
    return found;
  };
  const counts = new Map<string, number>();
  let busy = 0;
  for (const sample of profile.samples) {
    if (frames.get(sample)?.functionName === IDLE) continue;
    busy += 1;
    const name = classify(sample);
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const levers = new Map(categories.map((category) => [category.name, category.lever]));
  const shares = [...counts]
    .map(([name, count]) => ({ name, share: busy === 0 ? 0 : count / busy, lever: levers.get(name) ?? "" }))
    .sort((a, b) => b.share - a.share);
  return { busySamples: busy, shares };
}

const byUrl =
  (pattern: RegExp) =>
  (frame: CallFrame): boolean =>
    pattern.test(frame.url);
const byName =
  (names: readonly string[]) =>
  (frame: CallFrame): boolean =>
    frame.url === "" && names.includes(frame.functionName);

/** The PostgreSQL gateway's parts (within a tier, a frame is claimed by the first category that matches it). */
export const POSTGRES_GATEWAY_CATEGORIES: readonly ProfileCategory[] = [
  {
    name: "socket writes (system calls to client and server)",
    tier: 0,
    lever: "two writes a statement, as in any proxy (the Node.js relay's row is their floor); only pipelining clients send fewer",
    claims: (frame) => byName(["writeBuffer", "writev", "writeUtf8String", "writeLatin1String"])(frame) || byUrl(/\/protocols\/postgres\/output\.js$/)(frame),
  },
  {
    name: "evidence: sealing and writing records",
    tier: 0,
    lever: "two records a statement, each canonical JSON, SHA-256 and a write; next: seal in a worker thread, write a flush's records at once",
    claims: byUrl(/\/evidence\/(session-recorder|spool|spool-files)\.js$|\/common\/dist\/(canonical-json|digest|evidence\/record)\.js$/),
  },
  {
    name: "evidence: upload (chunks re-verified, gzipped, stored)",
    tier: 0,
    lever: "the uploader re-hashes every record to verify its chunk's chain; the recorder could hand over the hashes it sealed",
    claims: byUrl(/\/evidence\/(uploader|store\/[^/]+)\.js$|^node:zlib$|^node:internal\/streams\/pipeline$/),
  },
  {
    name: "classification (libpg-query's parse, the walk, the summary)",
    tier: 0,
    lever: "each new literal form is parsed, walked and probed; texts with no form (comments, quoted identifiers, E'…') are parsed each time they are new",
    claims: (frame) => byUrl(/\/protocols\/postgres\/sql\/|\/libpg-query\//)(frame) || frame.functionName.startsWith("wasm-function"),
  },
  {
    name: "the masked view of the statement for the evidence",
    tier: 0,
    lever: "once per literal form; other texts are scanned and parsed again",
    claims: byUrl(/\/protocols\/postgres\/literal-evidence\.js$/),
  },
  {
    name: "result masking (column rules, detectors)",
    tier: 0,
    lever: "every text value is scanned by every detector (RE2); next: skip columns whose type cannot hold the detected forms",
    claims: byUrl(/\/protocols\/postgres\/result-masking\.js$|\/sidecar\/dist\/masking\/|\/re2\//),
  },
  {
    name: "policy decision",
    tier: 0,
    lever: "rules are matched per statement (CEL `when` evaluated); a decision per classification and identity could be cached",
    claims: byUrl(/\/sidecar\/dist\/policy\/|\/common\/dist\/policy\/|\/@marcbachmann\/cel-js\/|\/cel-js\//),
  },
  {
    name: "metrics (prom-client)",
    tier: 0,
    lever: "a labelled histogram and counters per statement; children bound once per session would skip the label lookups",
    claims: byUrl(/\/prom-client\//),
  },
  {
    name: "the gateway's protocol code (frames, messages, expectations, the guard)",
    tier: 1,
    lever: "objects per message (frames, parsed messages, expectations) and the record's data; fewer of them, or a worker thread for the checks",
    claims: byUrl(/\/sidecar\/dist\/protocols\/postgres\/|\/pg-protocol\//),
  },
  {
    name: "Node.js streams, timers and the event loop",
    tier: 2,
    lever: "the runtime's own cost per read and write: the Node.js relay's row",
    claims: byUrl(/^node:/),
  },
  {
    name: "garbage collection",
    tier: 0,
    lever: "allocation per statement: parse trees, records, buffers",
    claims: byName(["(garbage collector)"]),
  },
];
