// What a reviewer sees of a held statement, and what the approval binds to:
// the statement text and, in the extended protocol, the values bound to it, so
// approving `DELETE … WHERE id = $1` for id 5 grants nothing for another id
// (as with literals).
import { sha256Digest } from "@portcullis/common/digest";
import type { HeldRequest } from "../../approvals/approval-flow.js";
import type { ShownStatement } from "./literal-evidence.js";
import { parameterIdentity } from "./parameters.js";
import type { StatementCheck } from "./ports.js";
import type { Classification } from "./sql/classify.js";

/**
 * What the ApprovalRequest shows (`shown`: the summary, text and values as the evidence records them, masked where
 * masking applies) and what the approval binds to (the exact text and values).
 */
export function statementApproval(check: StatementCheck, classification: Classification, shown: ShownStatement): Pick<HeldRequest, "summary" | "details" | "fingerprint"> {
  const textFingerprint = classification.ok ? classification.fingerprint : "";
  const fingerprint = check.parameters?.length
    ? sha256Digest(JSON.stringify([textFingerprint, parameterIdentity(check.parameters)]))
    : textFingerprint;
  const values = shown.parameters?.length ? `\n-- with ${shown.parameters.join(", ")}` : "";
  return { summary: classification.ok ? shown.summary : "", details: `${shown.text}${values}`, fingerprint };
}
