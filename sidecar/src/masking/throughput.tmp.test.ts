import { it } from "@jest/globals";
import { compileMasking, type ResultColumn } from "./index.js";
import type { BrokeredPolicy } from "../config/bundle.js";

const columns: ResultColumn[] = [
  { name: "id", typeOid: 23, format: 0 },
  { name: "name", typeOid: 25, format: 0 },
  { name: "email", typeOid: 1043, format: 0, table: "public.customers", column: "email" },
  { name: "amount", typeOid: 1700, format: 0 },
  { name: "created_at", typeOid: 1184, format: 0 },
];
const rowOf = (i: number): Buffer[] => [String(i), `Customer number ${i}`, `user${i}@example.com`, "123.45", "2024-11-05 12:30:45+00"].map((v) => Buffer.from(v));
const key = Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");

function measure(label: string, masking: NonNullable<BrokeredPolicy["spec"]["masking"]>): void {
  const plan = compileMasking([{ name: "p", spec: { subjects: {}, resources: ["r"], masking }, hashKeys: { h: key } }], "r").planFor(columns);
  const rows = Array.from({ length: 1000 }, (_, i) => rowOf(i));
  for (let i = 0; i < 2000; i++) plan?.maskRow(rows[i % 1000] ?? []);
  const n = 200_000;
  const started = performance.now();
  for (let i = 0; i < n; i++) plan?.maskRow(rows[i % 1000] ?? []);
  const seconds = (performance.now() - started) / 1000;
  console.log(`${label}: ${Math.round(n / seconds)} rows/s (${((seconds / n) * 1e6).toFixed(2)} µs/row) masked=${JSON.stringify(plan?.counts())}`);
}

it("throughput", () => {
  measure("column rule, redact", [{ name: "r", columns: ["customers.email"] }]);
  measure("column rule, hash", [{ name: "h", columns: ["email"], strategy: "hash", hashKeyRef: { name: "k", key: "k" } }]);
  measure("column rule, partial 4", [{ name: "r", columns: ["email"], strategy: "partial", keepLast: 4 }]);
  measure("columns + email detector", [{ name: "r", columns: ["email"], detectors: ["email"] }]);
  measure("all 8 detectors on every textual column (name, email)", [{ name: "r", detectors: ["email", "phone", "creditCard", "iban", "usSSN", "ipAddress", "jwt", "apiKey"] }]);
}, 120_000);
