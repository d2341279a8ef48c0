// Detectors for contact details and US Social Security numbers. Phone numbers
// have no checksum, so the shape carries the weight: an international number
// starts with + (E.164); a national one needs separators and groups of three
// or more digits after the first (or France's 0X XX XX XX XX), which leaves
// bare order numbers, dates, versions, IPv4 addresses, numbers with thousands
// separators and references in groups of four (7489 2345 6789) alone. Neither
// a phone number nor an SSN is claimed inside a longer number written in
// groups: without a checksum, part of one is no evidence.
import { isDigit } from "./characters.js";
import { digitGroups, endsToken, hasAtLeast, numberCameBefore, numberGoesOn, startsToken, type Detector } from "./detector.js";
import type { Span } from "./re2-search.js";

export const email: Detector = {
  // The local part is bounded as RFC 5321 bounds it; bounding every domain label too would triple the compile time.
  pattern: String.raw`[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,63}`,
  mayContain: (text) => text.includes("@"),
};

const INTERNATIONAL_PHONE = String.raw`\+[0-9]{1,15}(?:[ .-]?\(?[0-9]{1,8}\)?){0,7}`;
// Two groups only when the second is long (030 1234567): 1.500 or 555-1234 are too ambiguous.
const NATIONAL_PHONE = String.raw`(?:\([0-9]{1,5}\) ?|\b[0-9]{1,5}[ .-])(?:[0-9]{3,8}(?:[ .-][0-9]{3,8}){1,3}|[0-9]{6,8})`;
// France writes its ten digits in pairs after the leading 0.
const FRENCH_PHONE = String.raw`\b0[1-9](?:[ .][0-9]{2}){4}`;

/** E.164 allows 15 digits; fewer than 8 with a country code is no reachable number. */
const INTERNATIONAL_DIGITS = { min: 8, max: 15 };
const NATIONAL_DIGITS = { min: 7, max: 12 };

export const phone: Detector = {
  pattern: `${INTERNATIONAL_PHONE}|${NATIONAL_PHONE}|${FRENCH_PHONE}`,
  mayContain: (text) => hasAtLeast(text, NATIONAL_DIGITS.min, isDigit),
  accept: acceptPhone,
};

/** The longest run of the candidate's digit groups, from its start, that ends a token and has a phone's shape. */
function acceptPhone(text: string, start: number, end: number): Span | undefined {
  if (!startsToken(text, start) || numberCameBefore(text, start)) return undefined;
  const groups = digitGroups(text, start, end);
  const international = text.charAt(start) === "+";
  for (let count = groups.length; count >= 1; count--) {
    const kept = groups.slice(0, count);
    const stop = kept[kept.length - 1]?.end ?? start;
    if (!endsToken(text, stop) || numberGoesOn(text, stop)) continue;
    if (international ? internationalShape(kept) : nationalShape(text, kept)) return { start, end: stop };
  }
  return undefined;
}

function firstDigitAt(groups: readonly Span[]): number {
  return groups[0]?.start ?? 0;
}

function digitCount(groups: readonly Span[]): number {
  return groups.reduce((sum, group) => sum + group.end - group.start, 0);
}

function internationalShape(groups: readonly Span[]): boolean {
  const digits = digitCount(groups);
  return digits >= INTERNATIONAL_DIGITS.min && digits <= INTERNATIONAL_DIGITS.max;
}

function nationalShape(text: string, groups: readonly Span[]): boolean {
  const digits = digitCount(groups);
  if (groups.length < 2 || digits < NATIONAL_DIGITS.min || digits > NATIONAL_DIGITS.max) return false;
  const lengths = groups.map((group) => group.end - group.start);
  // 1.234.567 or 1 234 567: a number written with thousands separators (0412 345 678 is a phone: no such number starts with 0).
  if ((lengths[0] ?? 0) <= 3 && text.charAt(firstDigitAt(groups)) !== "0" && lengths.slice(1).every((length) => length === 3)) return false;
  // 7489 2345 6789: a reference or tracking number in groups of four.
  if (lengths.length === 3 && lengths.every((length) => length === 4)) return false;
  // 3.1415926 is a decimal number; 555.123.4567 is a phone.
  const [first, second] = groups;
  return !(groups.length === 2 && first && second && text.slice(first.end, second.start) === ".");
}

export const usSSN: Detector = {
  // With dashes or spaces only: nine bare digits are as likely an order number.
  pattern: String.raw`\b(?:[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4})\b`,
  mayContain: (text) => hasAtLeast(text, 9, isDigit),
  accept: (text, start, end) => {
    if (!startsToken(text, start) || !endsToken(text, end) || numberCameBefore(text, start) || numberGoesOn(text, end)) return undefined;
    const area = text.slice(start, start + 3);
    const group = text.slice(start + 4, start + 6);
    const serial = text.slice(start + 7, end);
    // The SSA never issues area 000, 666 or 900–999, group 00 or serial 0000.
    const issued = area !== "000" && area !== "666" && !area.startsWith("9") && group !== "00" && serial !== "0000";
    return issued ? { start, end } : undefined;
  },
};
