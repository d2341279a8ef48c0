// How a masked value or a detected part of one is replaced, per the masking
// rule's strategy. Replacements are plain ASCII without quotes or commas, so
// a part masked inside a json, jsonb or array value leaves it well-formed.
import { createHmac } from "node:crypto";

export interface MaskStrategy {
  /** The replacement for a whole value as sent on the wire; null is SQL NULL. */
  maskValue(value: Buffer): Buffer | null;
  /** The replacement for a detected part of a value; null makes the whole value SQL NULL. */
  maskPart(part: string): string | null;
}

export const REDACTED = "***";
/** Hex digits of the HMAC kept: 64 bits, so collisions in one result are not a concern. */
const HASH_HEX_DIGITS = 16;

export const redact: MaskStrategy = {
  maskValue: () => Buffer.from(REDACTED),
  maskPart: () => REDACTED,
};

export const nullify: MaskStrategy = {
  maskValue: () => null,
  maskPart: () => null,
};

/** Stars every character (code point, not byte) but the last `keepLast`; a value no longer than that is starred whole. */
export function partial(keepLast: number): MaskStrategy {
  const mask = (text: string): string => {
    const characters = Array.from(text);
    if (characters.length <= keepLast) return "*".repeat(characters.length);
    return "*".repeat(characters.length - keepLast) + characters.slice(-keepLast).join("");
  };
  return {
    maskValue: (value) => Buffer.from(mask(value.toString("utf8"))),
    maskPart: mask,
  };
}

/**
 * A keyed HMAC-SHA256 of the value's bytes: equal values give equal outputs,
 * so masked columns still join and group, while without the key nobody can
 * test guesses against them.
 */
export function hash(key: Buffer): MaskStrategy {
  const digest = (bytes: Buffer | string): string =>
    `hmac:${createHmac("sha256", key).update(bytes).digest("hex").slice(0, HASH_HEX_DIGITS)}`;
  return {
    maskValue: (value) => Buffer.from(digest(value)),
    maskPart: digest,
  };
}
