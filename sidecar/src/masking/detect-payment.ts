// Detectors for payment card numbers and IBANs. Both carry check digits, and a
// candidate is masked only when they hold: a random 16-digit reference passes
// Luhn one time in ten, a random IBAN-shaped string mod 97 one time in 97.
import { isDigit } from "./characters.js";
import { ibanChecksumValid, luhnValid } from "./checksums.js";
import { digitGroups, endsToken, hasAtLeast, numberCameBefore, numberGoesOn, startsToken, type Detector } from "./detector.js";
import type { Span } from "./re2-search.js";

const CARD_DIGITS = { min: 13, max: 19 };

export const creditCard: Detector = {
  // Bare, in groups of four (the last may be shorter), or American Express / Diners 4-6-5 and 4-6-4.
  pattern: String.raw`\b(?:[0-9]{13,19}|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,4})?|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})`,
  mayContain: (text) => hasAtLeast(text, CARD_DIGITS.min, isDigit),
  accept: acceptCard,
};

/** The longest run of the candidate's groups, from its start, that ends a token and is a Luhn-valid card number. */
function acceptCard(text: string, start: number, end: number): Span | undefined {
  if (!startsToken(text, start) || continuesGroupsOfFour(text, start)) return undefined;
  const groups = digitGroups(text, start, end);
  for (let count = groups.length; count >= 1; count--) {
    const stop = groups[count - 1]?.end ?? start;
    const digits = groups
      .slice(0, count)
      .map((group) => text.slice(group.start, group.end))
      .join("");
    if (digits.length < CARD_DIGITS.min) break;
    // Not the first groups of a longer number (4111 1111 1111 1111 2222).
    if (digits.length <= CARD_DIGITS.max && endsToken(text, stop) && !numberGoesOn(text, stop) && luhnValid(digits)) return { start, end: stop };
  }
  return undefined;
}

/**
 * A card after a number in groups of four is the end of one longer number (1234 5678 4111 1111 1111 1111);
 * after a shorter one it is a card after a reference (ref 12 4111 1111 1111 1111).
 */
function continuesGroupsOfFour(text: string, start: number): boolean {
  if (!numberCameBefore(text, start)) return false;
  let digits = 0;
  for (let i = start - 2; i >= 0 && isDigit(text.charCodeAt(i)); i--) digits += 1;
  return digits === 4;
}

const IBAN_LENGTH = { min: 15, max: 34 };

export const iban: Detector = {
  // Country code, check digits, then the BBAN bare or in the printed groups of four.
  pattern: String.raw`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?`,
  mayContain: hasIbanStart,
  accept: acceptIban,
};

function isUpperCaseLetter(code: number): boolean {
  return code >= 65 && code <= 90;
}

/** Two capital letters followed by two digits somewhere in the text. */
function hasIbanStart(text: string): boolean {
  for (let i = 0; i + 3 < text.length; i++) {
    const letters = isUpperCaseLetter(text.charCodeAt(i)) && isUpperCaseLetter(text.charCodeAt(i + 1));
    if (letters && isDigit(text.charCodeAt(i + 2)) && isDigit(text.charCodeAt(i + 3))) return true;
  }
  return false;
}

/**
 * The longest prefix of the candidate that ends a token and whose checksum
 * holds: the pattern may have taken a following word such as " ABCD" for one
 * more group.
 */
function acceptIban(text: string, start: number, end: number): Span | undefined {
  if (!startsToken(text, start, "")) return undefined;
  for (let stop = end; stop - start >= IBAN_LENGTH.min; stop--) {
    if (stop < end && text.charAt(stop) !== " ") continue;
    if (!endsToken(text, stop, "")) continue;
    const compact = text.slice(start, stop).replaceAll(" ", "");
    if (compact.length >= IBAN_LENGTH.min && compact.length <= IBAN_LENGTH.max && ibanChecksumValid(compact)) return { start, end: stop };
  }
  return undefined;
}
