// What the evidence and a reviewer see of an HTTP request when masking applies
// to its Resource: the query's values scanned by the rules that scan every
// value (detectors, patterns), and a held request's body masked as the
// policies mask response bodies — or withheld, with its size, when it cannot
// be (not JSON while a rule names JSON paths). Pure.
import type { BodyMasker } from "../../masking/body-masking.js";
import type { CanonicalTarget } from "./request-target.js";

/** The request target with its query values masked; the target as sent when masking does not apply or changes nothing. */
export function shownTarget(target: CanonicalTarget, masker: BodyMasker): string {
  const scanning = masker.scanning;
  if (!scanning.active || target.query.length === 0) return target.target;
  let changed = false;
  const pairs = target.query.map(([name, value]) => {
    const masked = scanning.maskText(value)?.text ?? value;
    changed ||= masked !== value;
    return `${encodeURIComponent(name)}=${encodeURIComponent(masked)}`;
  });
  return changed ? `${target.path}?${pairs.join("&")}` : target.target;
}

/** A held request's body as a reviewer reads it: masked, cut to `limit` characters, or withheld with its size. */
export function shownBody(body: Buffer, masker: BodyMasker, limit: number): string {
  if (body.length === 0) return "";
  const text = body.toString("utf8");
  if (!masker.active) return text.slice(0, limit);
  let document: { value: unknown } | undefined;
  try {
    document = { value: JSON.parse(text) as unknown };
  } catch {
    document = undefined;
  }
  if (document !== undefined) {
    masker.maskJson(document);
    return JSON.stringify(document.value).slice(0, limit);
  }
  const masked = masker.maskText(text);
  return masked === undefined ? `(a body of ${body.length} bytes, withheld: it is not JSON, and masking names JSON fields)` : masked.text.slice(0, limit);
}
