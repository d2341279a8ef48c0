// Durations as the CRDs write them (approval timeouts, grant windows).

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration in the CRD's format (e.g. 15m, 1h30m, 1.5h) in milliseconds. */
export function parseDuration(text: string): number {
  if (!/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(text)) throw new Error(`"${text}" is not a duration like 15m or 1h30m`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(amount) * (UNIT_MS[unit ?? ""] ?? Number.NaN);
  return total;
}
