// The check digits that separate a real card number or IBAN from any other
// string of digits: a detector masks a candidate only when they hold, so an
// order number or an invoice reference that merely looks similar stays.

/** Luhn (mod 10) over a string of decimal digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let digit = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (digit < 0 || digit > 9) return false;
    if (i % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/**
 * ISO 13616 / ISO 7064 mod 97-10 over a compact IBAN (no spaces, upper case):
 * the country code and check digits move to the end, letters count as 10–35,
 * and the number must leave 1. Check digits 00, 01 and 99 are never issued.
 */
export function ibanChecksumValid(iban: string): boolean {
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]+$/.test(iban)) return false;
  const checkDigits = Number(iban.slice(2, 4));
  if (checkDigits < 2 || checkDigits > 98) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const character of rearranged) {
    const value = Number.parseInt(character, 36);
    remainder = (remainder * (value > 9 ? 100 : 10) + value) % 97;
  }
  return remainder === 1;
}
