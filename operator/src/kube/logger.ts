// The few logging calls the Kubernetes plumbing makes. A winston Logger fits
// this shape, so main.ts can pass its own; the default writes JSON lines to
// stderr, so nothing is lost before logging is configured.

export interface KubeLogger {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

function line(level: string, message: string, meta?: Record<string, unknown>): string {
  return JSON.stringify({ level, message, ...meta });
}

export const stderrLogger: KubeLogger = {
  info: (message, meta) => process.stderr.write(`${line("info", message, meta)}\n`),
  warn: (message, meta) => process.stderr.write(`${line("warn", message, meta)}\n`),
  error: (message, meta) => process.stderr.write(`${line("error", message, meta)}\n`),
};

/** For tests and callers that report through hooks instead. */
export const silentLogger: KubeLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
