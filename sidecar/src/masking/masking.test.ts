import { describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { MaskingConfigError, compileMasking, type ResultColumn } from "./index.js";

type MaskingRules = NonNullable<BrokeredPolicy["spec"]["masking"]>;

const HASH_KEY = Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");

function policy(name: string, masking: MaskingRules, extra: Partial<BrokeredPolicy> = {}, resources = ["crm"]): BrokeredPolicy {
  return { name, spec: { subjects: {}, resources, masking }, ...extra };
}

const text = (name: string, extra: Partial<ResultColumn> = {}): ResultColumn => ({ name, typeOid: 25, format: 0, ...extra });
const int4 = (name: string): ResultColumn => ({ name, typeOid: 23, format: 0 });
const row = (...values: (string | null)[]): (Buffer | null)[] => values.map((value) => (value === null ? null : Buffer.from(value)));
const strings = (values: readonly (Buffer | null)[]): (string | null)[] => values.map((value) => value?.toString("utf8") ?? null);

describe("compileMasking", () => {
  it("is inactive when no policy governing the Resource masks anything", () => {
    const policies = [policy("other", [{ name: "all", columns: ["*"] }], {}, ["billing"]), policy("plain", []), policy("http", [{ name: "body", jsonPaths: ["$.email"] }])];
    const masker = compileMasking(policies, "crm");
    expect(masker.active).toBe(false);
    expect(masker.planFor([text("email")])).toBeUndefined();
  });

  it("is active for the rules of the policies that govern the Resource", () => {
    const masker = compileMasking([policy("pii", [{ name: "emails", columns: ["email"] }])], "crm");
    expect(masker.active).toBe(true);
    expect(masker.planFor([text("id"), text("name")])).toBeUndefined();
    expect(masker.planFor([text("id"), text("email")])?.maskedColumns).toEqual(["email"]);
  });

  const refusals: [string, BrokeredPolicy, RegExp][] = [
    [
      "a pattern RE2 cannot compile",
      policy("pii", [{ name: "bad", patterns: ["ok", "(a)\\1"] }]),
      /AccessPolicy "pii" masking rule "bad" \(spec\.masking\[0\]\.patterns\[1\]\): pattern "\(a\)\\1" is not a valid RE2/,
    ],
    ["a pattern with lookahead", policy("pii", [{ name: "look", patterns: ["a(?=b)"] }]), /masking rule "look" \(spec\.masking\[0\]\.patterns\[0\]\)/],
    ["a pattern that matches the empty string", policy("pii", [{ name: "empty", patterns: ["x*"] }]), /patterns\[0\]\): pattern "x\*" matches the empty string/],
    ["a pattern too large to compile safely", policy("pii", [{ name: "big", patterns: ["[a-z]{2500}"] }]), /patterns\[0\]\): pattern "\[a-z\]\{2500\}" is too large to compile safely/],
    [
      "patterns too large together",
      policy("pii", [{ name: "many", patterns: Array.from({ length: 5 }, (_, i) => `${i}[a-z]{1900}`) }]),
      /AccessPolicy "pii" \(spec\.masking\): the masking patterns are too large together/,
    ],
    [
      "a hash rule without its key",
      policy("pii", [{ name: "ids", columns: ["ssn"], strategy: "hash", hashKeyRef: { name: "keys", key: "ssn" } }], { error: 'Secret "keys" was not found' }),
      /AccessPolicy "pii" masking rule "ids" \(spec\.masking\[0\]\.hashKeyRef\): no HMAC key was delivered .*Secret "keys".*Secret "keys" was not found/,
    ],
    [
      "a hash key that is too short",
      policy("pii", [{ name: "ids", columns: ["ssn"], strategy: "hash", hashKeyRef: { name: "keys", key: "ssn" } }], { hashKeys: { ids: Buffer.from("short").toString("base64") } }),
      /hashKeyRef\): the HMAC key is 5 bytes long/,
    ],
    ["partial without keepLast", policy("pii", [{ name: "cards", columns: ["pan"], strategy: "partial" }]), /spec\.masking\[0\]\.keepLast\): strategy partial needs keepLast/],
    ["an unknown detector", policy("pii", [{ name: "d", detectors: ["passport" as "email"] }]), /detectors\[0\]\): unknown detector "passport"/],
    ["an unknown strategy", policy("pii", [{ name: "s", columns: ["x"], strategy: "scramble" as "redact" }]), /strategy\): unknown strategy "scramble"/],
    ["a column pattern with too many parts", policy("pii", [{ name: "c", columns: ["a.b.c.d"] }]), /columns\[0\]\): column pattern "a\.b\.c\.d" has 4 parts/],
  ];

  it.each(refusals)("refuses %s with MaskingConfigError naming policy, rule and field", (_, bad, message) => {
    const compile = (): unknown => compileMasking([bad], "crm");
    expect(compile).toThrow(MaskingConfigError);
    expect(compile).toThrow(message);
  });

  it("does not check the rules of policies that govern other Resources", () => {
    expect(compileMasking([policy("pii", [{ name: "bad", patterns: ["(a)\\1"] }], {}, ["billing"])], "crm").active).toBe(false);
  });
});

describe("ResultMaskPlan", () => {
  const hashKeys = { "hash-ids": HASH_KEY };
  const pii = policy(
    "pii",
    [
      { name: "redact-email", columns: ["customers.email"] },
      { name: "partial-card", columns: ["*card*"], strategy: "partial", keepLast: 4 },
      { name: "hash-ids", columns: ["ssn"], strategy: "hash", hashKeyRef: { name: "keys", key: "ids" } },
      { name: "null-notes", columns: ["secret_notes"], strategy: "null" },
      { name: "scan", detectors: ["email", "creditCard"] },
    ],
    { hashKeys },
  );
  const masker = compileMasking([pii], "crm");
  const columns: ResultColumn[] = [
    int4("id"),
    text("contact", { table: "public.customers", column: "email" }),
    text("card_no"),
    text("ssn"),
    text("secret_notes"),
    text("comment"),
    int4("amount"),
  ];

  it("masks each column by its rule and scans textual columns with the detectors", () => {
    const plan = masker.planFor(columns);
    const masked = plan?.maskRow(row("1", "jane@example.com", "4111111111111111", "078-05-1120", "vip", "paid by bob@example.org with 4111 1111 1111 1111", "5500000000000004"));
    expect(masked?.changed).toBe(true);
    const [id, contact, card, ssn, notes, comment, amount] = strings(masked?.values ?? []);
    expect([id, contact, card, notes, comment, amount]).toEqual(["1", "***", "************1111", null, "paid by *** with ***", "5500000000000004"]);
    expect(ssn).toMatch(/^hmac:[0-9a-f]{16}$/);
    expect(plan?.maskedColumns).toEqual(["contact", "card_no", "ssn", "secret_notes", "comment"]);
    expect(plan?.rulesByColumn).toEqual({
      contact: ["pii/redact-email"],
      card_no: ["pii/partial-card"],
      ssn: ["pii/hash-ids"],
      secret_notes: ["pii/null-notes"],
      comment: ["pii/scan"],
    });
  });

  it("returns the same Buffers for untouched columns and the same array when nothing changed", () => {
    const plan = masker.planFor(columns);
    const input = row("1", "jane@example.com", null, null, null, "nothing to see", "7");
    const masked = plan?.maskRow(input);
    expect(masked?.values[0]).toBe(input[0]);
    expect(masked?.values[5]).toBe(input[5]);
    expect(masked?.values[6]).toBe(input[6]);
    expect(masked?.values[1]).not.toBe(input[1]);
    const clean = row("2", null, null, null, null, "still nothing", "8");
    expect(plan?.maskRow(clean)).toEqual({ values: clean, changed: false });
    expect(plan?.maskRow(clean).values).toBe(clean);
  });

  it("counts masked values per column, leaving SQL NULL and clean values out", () => {
    const plan = masker.planFor(columns);
    plan?.maskRow(row("1", "a@example.com", "4111111111111111", null, "x", "mail c@example.com", "1"));
    plan?.maskRow(row("2", "b@example.com", null, null, null, "no findings", "2"));
    expect(plan?.counts()).toEqual({ contact: 2, card_no: 1, ssn: 0, secret_notes: 1, comment: 1 });
  });

  it("keeps equal values equal under hash, so they still join", () => {
    const plan = masker.planFor([text("ssn")]);
    const [a] = plan?.maskRow(row("078-05-1120")).values ?? [];
    const [b] = plan?.maskRow(row("078-05-1120")).values ?? [];
    const [c] = plan?.maskRow(row("219-09-9999")).values ?? [];
    expect(a?.toString()).toBe(b?.toString());
    expect(a?.toString()).not.toBe(c?.toString());
  });

  it("applies scanning rules in policy and rule order, a whole-column rule winning over them", () => {
    const policies = [
      policy("first", [{ name: "mails", detectors: ["email"], strategy: "partial", keepLast: 3 }]),
      policy("second", [
        { name: "codes", patterns: ["code-[0-9]+"] },
        { name: "whole", columns: ["private"], strategy: "null" },
      ]),
    ];
    const plan = compileMasking(policies, "crm").planFor([text("note"), text("private")]);
    const masked = plan?.maskRow(row("jane@example.com code-42", "jane@example.com"));
    expect(strings(masked?.values ?? [])).toEqual(["*************com ***", null]);
    expect(plan?.rulesByColumn).toEqual({ note: ["first/mails", "second/codes"], private: ["second/whole"] });
  });

  it("masks only detected content in the columns a rule with columns and detectors names", () => {
    const plan = compileMasking([policy("p", [{ name: "notes", columns: ["notes", "ref"], detectors: ["usSSN"] }])], "crm").planFor([text("notes"), text("other"), int4("ref")]);
    expect(plan?.maskedColumns).toEqual(["notes", "ref"]);
    const masked = plan?.maskRow(row("ssn 078-05-1120 ok", "078-05-1120", "123456789"));
    expect(strings(masked?.values ?? [])).toEqual(["ssn *** ok", "078-05-1120", "123456789"]);
  });

  it("nulls the whole value when a detector rule with strategy null finds something", () => {
    const plan = compileMasking([policy("p", [{ name: "n", detectors: ["jwt"], strategy: "null" }])], "crm").planFor([text("log")]);
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl";
    expect(plan?.maskRow(row(`token=${jwt} end`)).values).toEqual([null]);
    expect(plan?.maskRow(row("no token")).changed).toBe(false);
  });

  it("scans only textual columns when a rule names no columns", () => {
    const plan = compileMasking([policy("p", [{ name: "cards", detectors: ["creditCard"] }])], "crm");
    expect(plan.planFor([int4("amount"), { name: "ts", typeOid: 1184, format: 0 }])).toBeUndefined();
    // Text types; record, anyarray; and types made in the database (a row type, a domain over text).
    const types = [25, 1043, 1042, 19, 114, 3802, 142, 705, 18, 1009, 1015, 2249, 2277, 16384, 98765];
    expect(plan.planFor(types.map((typeOid) => ({ name: `c${typeOid}`, typeOid, format: 0 })))?.maskedColumns).toHaveLength(types.length);
  });

  it("finds personal data inside a whole row", () => {
    const plan = compileMasking([policy("p", [{ name: "mails", detectors: ["email", "usSSN"] }])], "crm").planFor([{ name: "customers", typeOid: 16421, format: 0 }]);
    const masked = plan?.maskRow(row('(1,"Maria Garcia",maria.garcia@example.com,536-22-8741)'));
    expect(strings(masked?.values ?? [])).toEqual(['(1,"Maria Garcia",***,***)']);
  });

  it("masks inside json and text[] values without breaking their syntax", () => {
    const plan = compileMasking([policy("p", [{ name: "mails", detectors: ["email"] }])], "crm").planFor([
      { name: "doc", typeOid: 3802, format: 0 },
      { name: "list", typeOid: 1009, format: 0 },
    ]);
    const masked = plan?.maskRow(row('{"email": "jane@example.com", "n": 1}', "{jane@example.com,bob@example.org}"));
    expect(strings(masked?.values ?? [])).toEqual(['{"email": "***", "n": 1}', "{***,***}"]);
  });

  it("sets binaryConflict when a column to mask or scan is in binary format, and then refuses rows", () => {
    const rules = compileMasking([policy("pii", [{ name: "emails", columns: ["email"] }, { name: "scan", detectors: ["email"] }])], "crm");
    const conflicted = rules.planFor([int4("id"), text("email", { format: 1 })]);
    expect(conflicted?.binaryConflict).toMatch(/column "email" is masked by "pii\/emails" but was requested in binary format/);
    expect(() => conflicted?.maskRow(row("1", "jane@example.com"))).toThrow(/binary format/);
    const scanned = rules.planFor([text("comment", { format: 1 })]);
    expect(scanned?.binaryConflict).toMatch(/column "comment" is masked by "pii\/scan"/);
    // A binary column no rule touches is no conflict.
    expect(rules.planFor([{ name: "id", typeOid: 23, format: 1 }, text("email")])?.binaryConflict).toBeUndefined();
  });

  it("refuses a DataRow whose value count does not match the columns", () => {
    const plan = masker.planFor([text("ssn")]);
    expect(() => plan?.maskRow(row("a", "b"))).toThrow("a DataRow has 2 values but its RowDescription has 1 columns");
  });
});
