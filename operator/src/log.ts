// JSON logs on stdout (winston). Callers pass structured fields; never pass
// credentials or request bodies — the broker and webhooks log names and
// decisions, not the data they carry.
import winston from "winston";

export type Logger = winston.Logger;

export function createLogger(level = process.env.LOG_LEVEL ?? "info", component = "operator"): Logger {
  return winston.createLogger({
    level,
    defaultMeta: { component },
    format: winston.format.combine(winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
    transports: [new winston.transports.Console()],
  });
}

/** The message of anything thrown, for logs and client-facing errors. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
