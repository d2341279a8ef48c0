// What masking a result costs, for `SELECT id, name, email, ssn, notes,
// created_at FROM customers` under two rules: customers.ssn masked whole
// (partial, last 4 kept) and the email and phone detectors scanning every
// textual column (name, email, notes). Per result: the plan, as the gateway
// makes it for each RowDescription (decoded, table names from the catalog's
// cache, Masker.planFor), and planFor alone. Per row: the DataRow as the
// gateway handles it (split, maskRow, encoded again), maskRow alone, and as
// the floor the same DataRow split and encoded again without masking.
// Run: node sidecar/dist/protocols/postgres/result-masking.bench.js (or make bench-micro).
import type { RowDescriptionMessage } from "pg-protocol/dist/messages.js";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { runSuite } from "@portcullis/common/bench/measure";
import { compileMasking, type ResultColumn } from "../../masking/index.js";
import { BackendDecoder, dataRow, message, splitDataRow } from "./backend.js";
import type { ColumnName, TableCatalog } from "./catalog.js";
import type { ResultField } from "./ports.js";
import { CatalogResultMasking } from "./result-masking.js";

const POLICY: BrokeredPolicy = {
  name: "pii",
  spec: {
    subjects: {},
    resources: ["bench-db"],
    masking: [
      { name: "ssn", columns: ["customers.ssn"], strategy: "partial", keepLast: 4 },
      { name: "contact-details", detectors: ["email", "phone"], strategy: "redact" },
    ],
  },
};

const TABLE_OID = 16390;
const TEXT = 25;
const COLUMNS: ReadonlyArray<{ name: string; typeOid: number }> = [
  { name: "id", typeOid: 23 },
  { name: "name", typeOid: TEXT },
  { name: "email", typeOid: TEXT },
  { name: "ssn", typeOid: TEXT },
  { name: "notes", typeOid: TEXT },
  { name: "created_at", typeOid: 1184 },
];
const VALUES = ["42", "Maria Lopez", "maria.lopez@example.com", "123-45-6789", "Asked to be called back about invoice 2024-117 next week", "2026-01-05 10:00:00+00"];

const int16 = (value: number): Buffer => Buffer.from([(value >> 8) & 0xff, value & 0xff]);
const int32 = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
};

/** The RowDescription the server sends for the columns: each from the customers table, in text format. */
function rowDescription(): Buffer {
  const fields = COLUMNS.map((column, index) =>
    Buffer.concat([Buffer.from(`${column.name}\0`), int32(TABLE_OID), int16(index + 1), int32(column.typeOid), int16(-1), int32(-1), int16(0)]),
  );
  return message("T", Buffer.concat([int16(COLUMNS.length), ...fields]));
}

/** A catalog that knows the customers table already, as the gateway's does after the first result from it. */
const names = new Map<number, ColumnName>(COLUMNS.map((column, index) => [index + 1, { table: "public.customers", column: column.name }]));
const cachedCatalog = { resolve: () => Promise.resolve((tableOid: number, column: number) => (tableOid === TABLE_OID ? names.get(column) : undefined)) };
// The stand-in has only what CatalogResultMasking calls; TableCatalog's private fields keep it from passing as one unconverted.
const masking = new CatalogResultMasking(compileMasking([POLICY], "bench-db"), cachedCatalog as unknown as TableCatalog);
const masker = compileMasking([POLICY], "bench-db");

const decoder = new BackendDecoder();
const description = rowDescription();
const resultColumns: ResultColumn[] = COLUMNS.map((column) => ({ name: column.name, table: "public.customers", column: column.name, typeOid: column.typeOid, format: 0 }));

const row = dataRow(VALUES.map((value) => Buffer.from(value)));
const rowBody = row.subarray(5);
const plan = masker.planFor(resultColumns);
if (!plan) throw new Error("the bench's rules mask nothing in its result");
const values = splitDataRow(rowBody);
const masked = plan.maskRow(values);
if (!masked.changed) throw new Error("the bench's row has nothing to mask");
console.log(`\n  a row before masking: ${VALUES.join(" | ")}`);
console.log(`  and after:            ${masked.values.map((value) => value?.toString("utf8") ?? "NULL").join(" | ")}`);

/** What the gateway does with a RowDescription of a result that masking applies to (server-stream.ts). */
function planResult(): Promise<unknown> {
  const fields = (decoder.decode(description) as RowDescriptionMessage).fields.map(
    (field): ResultField => ({ name: field.name, tableID: field.tableID, columnID: field.columnID, dataTypeID: field.dataTypeID, format: field.format === "binary" ? 1 : 0 }),
  );
  return masking.plan(fields);
}

await runSuite("masking a result (sidecar/src/protocols/postgres/result-masking.ts, sidecar/src/masking/result-plan.ts)", [
  { name: "per result: RowDescription decoded + plan", run: planResult },
  { name: "per result: Masker.planFor alone", run: () => masker.planFor(resultColumns) },
  { name: "floor: DataRow split + encoded again", run: () => dataRow(splitDataRow(rowBody)) },
  {
    name: "per row: DataRow split + maskRow + encoded",
    run: () => {
      const result = plan.maskRow(splitDataRow(rowBody));
      return result.changed ? dataRow(result.values) : row;
    },
    versus: "floor: DataRow split + encoded again",
  },
  { name: "per row: maskRow alone", run: () => plan.maskRow(values), versus: "floor: DataRow split + encoded again" },
]);
