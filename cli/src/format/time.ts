// Times as a person reads them in a table (ages like kubectl's "5m"), and the
// --since/--until arguments, which take either a duration back from now or an
// RFC 3339 time.
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(\d+[smhd])+$/;
// RFC 3339 needs a date, a time and a zone; Date.parse alone would take "1h" or "2026".
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** A coarse duration: 45s, 12m, 5h, 3d. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 120 * 60) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 48 * 3600) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

/** How long something took, as precisely as matters: 0.4 ms, 12 ms, 2.5 s, 3m 20s, 2h 5m. */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  if (ms < 10) return `${Number(ms.toFixed(1))} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))} s`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 3_600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3_600)}h ${Math.floor((seconds % 3_600) / 60)}m`;
}

/** How long ago `time` was, e.g. "5m"; "<unknown>" when it is not a time. */
export function formatAge(time: string | undefined, now: Date): string {
  const at = time === undefined ? NaN : Date.parse(time);
  return Number.isNaN(at) ? "<unknown>" : formatDuration(now.getTime() - at);
}

/** "in 9m" or "3m ago", for deadlines. */
export function formatRelative(time: string | undefined, now: Date): string {
  const at = time === undefined ? NaN : Date.parse(time);
  if (Number.isNaN(at)) return "<unknown>";
  const delta = at - now.getTime();
  return delta >= 0 ? `in ${formatDuration(delta)}` : `${formatDuration(-delta)} ago`;
}

function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)([smhd])/g)) total += Number(amount) * (UNIT_MS[unit ?? ""] ?? NaN);
  return Number.isFinite(total) ? total : undefined;
}

/** A duration back from `now` (90s, 15m, 1h30m, 2d) or an RFC 3339 time; undefined when it is neither. */
export function parseTimeArgument(text: string, now: Date): Date | undefined {
  const duration = parseDuration(text);
  if (duration !== undefined) return new Date(now.getTime() - duration);
  if (!RFC3339.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : new Date(at);
}
