import { describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { compileMasking } from "../../masking/index.js";
import { canonicalTarget } from "./request-target.js";
import { shownBody, shownTarget } from "./shown-request.js";

const policy = (masking: NonNullable<BrokeredPolicy["spec"]["masking"]>): BrokeredPolicy => ({ name: "billing", spec: { subjects: { serviceAccounts: ["agent"] }, resources: ["billing-api"], masking } });
const scanning = compileMasking([policy([{ name: "pii", detectors: ["email", "usSSN"], strategy: "redact" }])], "billing-api").body;
const byPath = compileMasking([policy([{ name: "cards", jsonPaths: ["$.card"], strategy: "redact" }])], "billing-api").body;
const none = compileMasking([], "billing-api").body;

function target(raw: string): Parameters<typeof shownTarget>[0] {
  const result = canonicalTarget(raw, "GET");
  if (!result.ok) throw new Error(result.message);
  return result;
}

describe("what HTTP evidence and reviewers see", () => {
  it("masks the query's values by the scanning rules, and leaves a target they do not touch as sent", () => {
    expect(shownTarget(target("/v1/customers?email=ada%40example.com&limit=5"), scanning)).toBe("/v1/customers?email=***&limit=5");
    expect(shownTarget(target("/v1/customers?limit=5"), scanning)).toBe("/v1/customers?limit=5");
    expect(shownTarget(target("/v1/customers?email=ada%40example.com"), none)).toBe("/v1/customers?email=ada%40example.com");
  });

  it("masks a held body as response bodies are masked, or withholds what cannot be masked", () => {
    expect(shownBody(Buffer.from('{"card":"4111111111111111","note":"ssn 123-45-6789"}'), byPath, 100)).toBe('{"card":"***","note":"ssn 123-45-6789"}');
    expect(shownBody(Buffer.from('{"note":"ssn 123-45-6789"}'), scanning, 100)).toBe('{"note":"ssn ***"}');
    expect(shownBody(Buffer.from("ssn 123-45-6789"), scanning, 100)).toBe("ssn ***");
    expect(shownBody(Buffer.from("card=4111111111111111"), byPath, 100)).toBe("(a body of 21 bytes, withheld: it is not JSON, and masking names JSON fields)");
    expect(shownBody(Buffer.from("plain"), none, 3)).toBe("pla");
  });
});
