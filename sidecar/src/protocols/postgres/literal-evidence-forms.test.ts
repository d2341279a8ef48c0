// Texts of one literal form cost one parse for the masked view between them:
// after the first, the others are classified and masked without the parser.
import { beforeAll, expect, it, jest } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";

// parseSync is wrapped (not replaced) so the test can count real parses.
const libpgQuery = await import("libpg-query");
const parseSync = jest.fn(libpgQuery.parseSync);
const normalizeSync = jest.fn(libpgQuery.normalizeSync);
jest.unstable_mockModule("libpg-query", () => ({ ...libpgQuery, parseSync, normalizeSync }));
const { classifySql, initClassifier } = await import("./sql/classify.js");
const { shownStatement } = await import("./literal-evidence.js");
const { compileMasking } = await import("../../masking/index.js");
const { STANDARD_READING } = await import("./sql/sql-reading.js");

const POLICY: BrokeredPolicy = {
  name: "pii",
  spec: { subjects: { serviceAccounts: ["agent"] }, resources: ["db"], masking: [{ name: "phones", columns: ["customers.phone"], strategy: "partial", keepLast: 2 }] },
};

beforeAll(async () => {
  await initClassifier();
});

it("parses a form's texts once for their classification and once for their masked view, whatever their values", () => {
  const masker = compileMasking([POLICY], "db");
  const show = (text: string): string => {
    const classification = classifySql(text);
    return shownStatement({ text, reading: STANDARD_READING }, classification, (value, column) => masker.literal(value, column)).text;
  };
  expect(show("UPDATE customers SET phone = '5550100' WHERE id = 7")).toBe("UPDATE customers SET phone = '*****00' WHERE id = 7");
  const [parses, normalizations] = [parseSync.mock.calls.length, normalizeSync.mock.calls.length];
  // The summary of a text masking changed is made from the masked text (a normalisation, not a parse of the tree).
  expect(show("UPDATE customers SET phone = '5550142' WHERE id = 12")).toBe("UPDATE customers SET phone = '*****42' WHERE id = 12");
  expect(show("UPDATE customers SET phone = '' WHERE id = 1234")).toBe("UPDATE customers SET phone = '' WHERE id = 1234");
  expect([parseSync.mock.calls.length, normalizeSync.mock.calls.length]).toEqual([parses, normalizations + 1]);
});

it("parses a text without constants once for its masked view, however often it is sent with other parameters", () => {
  const masker = compileMasking([POLICY], "db");
  const text = "SELECT id FROM customers WHERE phone = $1 AND id > $2";
  const show = (parameters: string[]): string[] | undefined => {
    const check = { text, reading: STANDARD_READING, parameters: parameters.map((value) => ({ format: 0 as const, value: Buffer.from(value) })) };
    return shownStatement(check, classifySql(text), (value, column) => masker.literal(value, column)).parameters;
  };
  expect(show(["5550100", "3"])).toEqual(["$1 = '*****00'", "$2 = '3'"]);
  const parses = parseSync.mock.calls.length;
  expect(show(["5550142", "4"])).toEqual(["$1 = '*****42'", "$2 = '4'"]);
  expect(parseSync.mock.calls.length).toBe(parses);
});
