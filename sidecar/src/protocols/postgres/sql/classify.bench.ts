// What classifying one statement costs: pgbench -S's statement with a new
// literal every time (every text is new to the cache, as when pgbench picks a
// random account, but its literal form is not), a new form every time (a table
// name that changes: parsed, walked and probed), and the same text again (a
// cache hit) while the cache holds few texts and once it is full; the floor is
// libpg-query's parse of the same text alone. Read as the gateway reads
// statements for the PostgreSQL 15 server the end-to-end bench runs against
// (its words unknown to 15 are looked for in every new text).
// Run: node sidecar/dist/protocols/postgres/sql/classify.bench.js (or make bench-micro).
import { parseSync } from "libpg-query";
import { runSuite } from "@portcullis/common/bench/measure";
import { CACHE_ENTRIES, classifySql, initClassifier } from "./classify.js";
import type { SqlReading } from "./sql-reading.js";

const READING: SqlReading = { standardConformingStrings: true, clientEncoding: "UTF8", serverMajor: 15 };
const pgbenchSelect = (aid: number): string => `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`;

await initClassifier();
let aid = 100_000;
const repeated = pgbenchSelect(12345);
const FLOOR = "floor: libpg-query parseSync";

await runSuite("classification of a statement (sidecar/src/protocols/postgres/sql/classify.ts)", [
  { name: FLOOR, run: () => parseSync(pgbenchSelect(aid++)) },
  { name: "classifySql, same text, cache nearly empty", run: () => classifySql(repeated, READING), versus: FLOOR },
  { name: "classifySql, new literal of a known form", run: () => classifySql(pgbenchSelect(aid++), READING), versus: FLOOR },
  { name: "classifySql, new form (cache miss)", run: () => classifySql(`SELECT abalance FROM pgbench_accounts_${aid++} WHERE aid = 7;`, READING), versus: FLOOR },
  {
    name: `classifySql, same text, cache full (${CACHE_ENTRIES})`,
    prepare: () => {
      for (let i = 0; i < CACHE_ENTRIES; i++) classifySql(pgbenchSelect(aid++), READING);
    },
    run: () => classifySql(repeated, READING),
    versus: FLOOR,
  },
]);
