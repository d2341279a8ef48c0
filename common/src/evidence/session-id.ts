// Session IDs that sort by creation time, so a spool listing and an object
// store prefix list sessions in the order they started: a 48-bit millisecond
// timestamp and 80 random bits in Crockford base32 (26 characters, the ULID
// layout). Unique without coordination between pods.
import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const TIME_CHARS = 10;
const RANDOM_BYTES = 10;
const MAX_TIME = 2 ** 48 - 1;

export const SESSION_ID_PATTERN = /^[0-9A-HJKMNP-TV-Z]{26}$/;

function encodeTime(ms: number): string {
  let rest = ms;
  let text = "";
  for (let i = 0; i < TIME_CHARS; i += 1) {
    text = ALPHABET.charAt(rest % 32) + text;
    rest = Math.floor(rest / 32);
  }
  return text;
}

/** 80 bits as 16 characters of 5 bits each, most significant first. */
function encodeRandom(bytes: Uint8Array): string {
  let text = "";
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      text += ALPHABET.charAt((buffer >> bits) & 31);
    }
    buffer &= (1 << bits) - 1;
  }
  return text;
}

/** A new session ID for `now`; `random` (10 bytes) is injectable for tests. */
export function newSessionId(now: Date, random: Uint8Array = randomBytes(RANDOM_BYTES)): string {
  const ms = now.getTime();
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TIME) throw new RangeError(`cannot make a session ID for time ${now.toString()}`);
  if (random.length !== RANDOM_BYTES) throw new RangeError(`a session ID needs ${RANDOM_BYTES} random bytes, got ${random.length}`);
  return encodeTime(ms) + encodeRandom(random);
}

/** Session names are file names: no dots (so ".closed" cannot be forged), no separators. */
export const SESSION_NAME_PATTERN = /^[0-9A-Za-z][0-9A-Za-z_-]{0,127}$/;
