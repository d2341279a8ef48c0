// JSON log lines on stdout (winston), with a redacting format as a safety net.
// The gateway logs names, decisions and counts — never credentials or row
// values — but a log call that passes an object it did not look into (a
// config, an error carrying a request) must not leak one: fields whose key
// names a secret are dropped at any depth, credentials embedded in strings
// (URL passwords, bearer tokens, JWTs) are blanked, and long strings are cut.
import type { Writable } from "node:stream";
import winston from "winston";

export type Logger = winston.Logger;

export const LOG_LEVELS = Object.keys(winston.config.npm.levels);

// Matched anywhere in a key, case-insensitively: "apiKey", "x-auth-token", "secretAccessKey", "dbPassword".
const SECRET_KEY = /pass(word|wd|phrase)|^pass$|pwd|token|secret|credential|authori[sz]ation|^auth$|key|cookie|bearer|signature|salt|dsn|connection.?string/i;
const MAX_STRING = 1024;
const MAX_DEPTH = 8;

const SECRET_TEXT: ReadonlyArray<[RegExp, string]> = [
  // user:password@ in URLs and connection strings
  [/(\/\/[^/\s:@]+):[^@\s/]*@/g, "$1:[redacted]@"],
  // Authorization header values
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [redacted]"],
  // JWTs (three base64url parts, the first two JSON objects)
  [/\beyJ[A-Za-z0-9_-]*\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g, "[redacted jwt]"],
  // password=… in libpq-style key/value strings
  [/\b(password|passwd|pwd)\s*=\s*('[^']*'|\S+)/gi, "$1=[redacted]"],
];

function scrubText(text: string): string {
  const scrubbed = SECRET_TEXT.reduce((current, [pattern, replacement]) => current.replace(pattern, replacement), text);
  return scrubbed.length > MAX_STRING ? `${scrubbed.slice(0, MAX_STRING)}…[${scrubbed.length - MAX_STRING} more characters]` : scrubbed;
}

/** A redacted copy of a log field: never mutates what the caller passed. `ancestors` detects cycles. */
function redactValue(value: unknown, depth: number, ancestors: Set<object>): unknown {
  if (typeof value === "string") return scrubText(value);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Error) return { name: value.name, message: scrubText(value.message) };
  if (value instanceof Date) return value.toISOString();
  // Raw bytes may be row values or key material: only their size is logged.
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (ancestors.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  ancestors.add(value);
  try {
    if (Array.isArray(value)) return value.map((item: unknown) => redactValue(item, depth + 1, ancestors));
    return redactObject(value as Record<string, unknown>, depth + 1, ancestors);
  } finally {
    ancestors.delete(value);
  }
}

function redactObject(object: Record<string, unknown>, depth: number, ancestors: Set<object>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    if (!SECRET_KEY.test(key)) copy[key] = redactValue(value, depth, ancestors);
  }
  return copy;
}

/**
 * The redacting format. It rewrites winston's info object in place (winston
 * built it for this one line; winston's own symbol keys are kept) and copies
 * anything nested, so the caller's objects are left alone.
 */
export const redactFormat = winston.format((info) => {
  const ancestors = new Set<object>([info]);
  for (const key of Object.keys(info)) {
    if (key === "level") continue;
    if (SECRET_KEY.test(key)) delete info[key];
    else info[key] = redactValue(info[key], 1, ancestors);
  }
  return info;
});

/** A JSON logger at `level` (one of LOG_LEVELS), writing to stdout unless a stream is given. */
export function createLogger(level: string, destination: Writable = process.stdout): Logger {
  if (!LOG_LEVELS.includes(level)) throw new Error(`unknown log level "${level}"; use one of ${LOG_LEVELS.join(", ")}`);
  return winston.createLogger({
    level,
    defaultMeta: { component: "gateway" },
    format: winston.format.combine(winston.format.errors({ stack: false }), winston.format.timestamp(), redactFormat(), winston.format.json()),
    transports: [new winston.transports.Stream({ stream: destination })],
  });
}
