// The IP address detector. The pattern finds dotted quads and colon-separated
// hex groups; Node's own address parsers then decide, so octets above 255,
// leading zeros, times like 12:30:45 and MAC addresses are not addresses, and
// a dotted quad inside a longer dotted number (a version 1.2.3.4.5) is not one
// either.
import { isIPv4, isIPv6 } from "node:net";
import { isDigit } from "./characters.js";
import { endsToken, hasAtLeast, startsToken, type Detector } from "./detector.js";
import type { Span } from "./re2-search.js";

const IPV4 = String.raw`\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}`;
// Empty groups allow the :: shorthand (::1); the tail allows an embedded IPv4 (::ffff:10.0.0.1).
const IPV6 = String.raw`[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}){0,3}`;

export const ipAddress: Detector = {
  pattern: `${IPV4}|${IPV6}`,
  mayContain: (text) => (hasAtLeast(text, 3, (code) => code === 46) && hasAtLeast(text, 4, isDigit)) || hasAtLeast(text, 2, (code) => code === 58),
  accept: acceptAddress,
};

function isAddress(candidate: string): boolean {
  // "::" alone is valid syntax but says nothing; in text it is punctuation.
  return isIPv4(candidate) || (isIPv6(candidate) && /[0-9A-Fa-f]/.test(candidate));
}

function acceptAddress(text: string, start: number, end: number): Span | undefined {
  // Around an IPv4 address a colon is a label or a port (host:10.0.0.1:5432); around IPv6 it would continue the address.
  const joiners = text.slice(start, end).includes(":") ? ".:" : ".";
  if (!startsToken(text, start, joiners)) return undefined;
  // An address may end a sentence or a "host:" label; the pattern takes that dot or colon too.
  const trailing = ".:".includes(text.charAt(end - 1)) ? [end, end - 1] : [end];
  for (const stop of trailing) {
    if (endsToken(text, stop, joiners) && isAddress(text.slice(start, stop))) return { start, end: stop };
  }
  return undefined;
}
