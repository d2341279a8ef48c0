// The arithmetic and text of `make bench` (postgres-gateway.bench.ts), apart
// from the processes it drives: pgbench's summary parsed, CPU time and
// resident memory read from /proc's text, means over rounds, the aligned
// table, the targets each gateway is held to with met or missed, and where a
// target is missed, the profile's table and the parts of the memory.
import type { CategoryShare } from "./cpu-profile.js";

/** What one pgbench run reports. */
export interface PgbenchRun {
  tps: number;
  latencyMs: number;
  /** Transactions completed (not counting failed ones). */
  transactions: number;
  failed: number;
}

/** The figures of pgbench's summary; throws, with the output, when one is missing. */
export function parsePgbench(stdout: string): PgbenchRun {
  const tps = /^tps = ([\d.]+)/m.exec(stdout)?.[1];
  const latency = /^latency average = ([\d.]+) ms/m.exec(stdout)?.[1];
  const transactions = /^number of transactions actually processed: (\d+)/m.exec(stdout)?.[1];
  if (tps === undefined || latency === undefined || transactions === undefined) throw new Error(`pgbench printed no tps, latency or transaction count:\n${stdout}`);
  const failed = /^number of failed transactions: (\d+)/m.exec(stdout)?.[1];
  return { tps: Number(tps), latencyMs: Number(latency), transactions: Number(transactions), failed: Number(failed ?? 0) };
}

/**
 * User plus system CPU time of a whole process (every thread), in clock ticks, from the text of
 * /proc/PID/stat. The command name (field 2) may hold spaces and parentheses, so fields are counted
 * from the last ")": utime and stime are fields 14 and 15.
 */
export function cpuTicks(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/);
  // fields[0] is field 3 (state).
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`not a /proc/PID/stat line: ${stat}`);
  return utime + stime;
}

/** Microseconds of CPU per statement, for `ticks` clock ticks (`ticksPerSecond`, getconf CLK_TCK) over `statements`. */
export function cpuMicrosPerStatement(ticks: number, ticksPerSecond: number, statements: number): number {
  return statements > 0 ? (ticks / ticksPerSecond) * 1e6 / statements : Number.NaN;
}

/** VmRSS in MiB from the text of /proc/PID/status. */
export function residentMiB(status: string): number {
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (kib === undefined) throw new Error("no VmRSS line in /proc/PID/status");
  return Number(kib) / 1024;
}

/** The list starting at its `round`-th entry: each round leads with another target. */
export function rotate<T>(items: readonly T[], round: number): T[] {
  const start = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(start), ...items.slice(0, start)];
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0) / values.length;
}

export type Alignment = "left" | "right";

/** Rows of cells as text columns (by default the first left-aligned, the others right-aligned), a rule under the header. */
export function alignTable(rows: readonly (readonly string[])[], alignments: readonly Alignment[] = ["left"]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, index) => (widths[index] = Math.max(widths[index] ?? 0, cell.length)));
  const align = (cell: string, index: number): string => ((alignments[index] ?? "right") === "left" ? cell.padEnd(widths[index] ?? 0) : cell.padStart(widths[index] ?? 0));
  const line = (row: readonly string[]): string => row.map(align).join("  ").trimEnd();
  const [header, ...body] = rows;
  if (header === undefined) return "";
  return [line(header), widths.map((width) => "-".repeat(width)).join("  "), ...body.map(line)].join("\n");
}

/** The -c8 workloads: pgbench -S in simple and prepared mode, and the default TPC-B-like script. */
export const LOADS = ["simple", "prepared", "write"] as const;
export type Load = (typeof LOADS)[number];

export const LOAD_NAMES: Record<Load, string> = { simple: "-S simple", prepared: "-S prepared", write: "write mix" };

/** What one target (direct, pgbouncer, a gateway) measured, as means over the rounds. */
export interface TargetFigures {
  name: string;
  tps: Record<Load, number>;
  /** Mean latency one client (-c1, -S simple) sees, in µs. */
  latencyUs: number;
  /** CPU of the target's process per statement at -c8, in µs; absent for direct. */
  cpuUs?: Record<Load, number>;
}

export interface GatewayMemory {
  idleMiB: number;
  afterMiB: number;
}

export interface GatewayFigures extends TargetFigures {
  /** The limits this gateway is held to. */
  limits: { cpuUs: number; tpsRatio: number };
  memory: GatewayMemory;
}

export interface BenchFigures {
  direct: TargetFigures;
  pgbouncer: TargetFigures;
  /** A bare Node.js relay (node-relay.ts): what any proxy on Node.js spends before the gateway's own work. */
  floor?: TargetFigures;
  gateways: GatewayFigures[];
}

/** The limits both gateways share. */
export const SHARED_LIMITS = { addedLatencyUs: 30, idleMiB: 80, afterMiB: 150 } as const;

const fixed = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : "n/a");
const ratio = (value: number, baseline: number): string => `${fixed(value / baseline, 2)}×`;
const signed = (value: number): string => (Number.isFinite(value) && value >= 0 ? `+${fixed(value)}` : fixed(value));

/** The table: one row per target, throughput and its ratio to pgbouncer per load, -c1 latency, CPU per statement. */
export function figuresTable(figures: BenchFigures): string {
  const targets = [figures.direct, figures.pgbouncer, ...(figures.floor ? [figures.floor] : []), ...figures.gateways];
  const header = ["", ...LOADS.flatMap((load) => [`${LOAD_NAMES[load]} tps`, "× pgbouncer"]), "-c1 latency", "vs direct", "CPU µs/stmt S/P/W"];
  const rows = targets.map((target) => [
    target.name,
    ...LOADS.flatMap((load) => [fixed(target.tps[load]), target === figures.pgbouncer ? "" : ratio(target.tps[load], figures.pgbouncer.tps[load])]),
    `${fixed(target.latencyUs)} µs`,
    target === figures.direct ? "" : `${signed(target.latencyUs - figures.direct.latencyUs)} µs`,
    target.cpuUs ? LOADS.map((load) => fixed(target.cpuUs?.[load] ?? Number.NaN, 1)).join(" / ") : "",
  ]);
  return alignTable([header, ...rows]);
}

export interface TargetLine {
  gateway: string;
  target: string;
  measured: string;
  met: boolean;
}

/** The worst of the -c8 loads: the highest value when `higherIsWorse`, else the lowest; NaN (nothing counted) before any. */
function worst(values: Record<Load, number>, higherIsWorse: boolean): { load: Load; value: number } {
  const entries = LOADS.map((load) => ({ load, value: values[load] }));
  return entries.reduce((found, next) => {
    if (Number.isNaN(found.value)) return found;
    if (Number.isNaN(next.value)) return next;
    return (higherIsWorse ? next.value > found.value : next.value < found.value) ? next : found;
  });
}

/** Every target of every gateway, with what was measured and whether it was met; the worst -c8 load decides. */
export function evaluateTargets(figures: BenchFigures): TargetLine[] {
  const { pgbouncer } = figures;
  return figures.gateways.flatMap((gateway) => {
    const cpu = worst(gateway.cpuUs ?? { simple: Number.NaN, prepared: Number.NaN, write: Number.NaN }, true);
    const ratios = Object.fromEntries(LOADS.map((load) => [load, gateway.tps[load] / pgbouncer.tps[load]])) as Record<Load, number>;
    const slowest = worst(ratios, false);
    const addedOverPgbouncer = gateway.latencyUs - pgbouncer.latencyUs;
    return [
      { gateway: gateway.name, target: `CPU per statement ≤ ${gateway.limits.cpuUs} µs`, measured: `${fixed(cpu.value, 1)} µs (worst: ${LOAD_NAMES[cpu.load]})`, met: cpu.value <= gateway.limits.cpuUs },
      {
        gateway: gateway.name,
        target: `-c8 throughput ≥ ${fixed(gateway.limits.tpsRatio, 1)}× pgbouncer`,
        measured: `${LOADS.map((load) => `${LOAD_NAMES[load]} ${fixed(ratios[load], 2)}×`).join(", ")} (worst: ${LOAD_NAMES[slowest.load]})`,
        met: slowest.value >= gateway.limits.tpsRatio,
      },
      {
        gateway: gateway.name,
        target: `-c1 latency ≤ pgbouncer's + ${SHARED_LIMITS.addedLatencyUs} µs`,
        measured: `${signed(addedOverPgbouncer)} µs over pgbouncer`,
        met: addedOverPgbouncer <= SHARED_LIMITS.addedLatencyUs,
      },
      { gateway: gateway.name, target: `RSS idle ≤ ${SHARED_LIMITS.idleMiB} MiB`, measured: `${fixed(gateway.memory.idleMiB)} MiB`, met: gateway.memory.idleMiB <= SHARED_LIMITS.idleMiB },
      { gateway: gateway.name, target: `RSS after load ≤ ${SHARED_LIMITS.afterMiB} MiB`, measured: `${fixed(gateway.memory.afterMiB)} MiB`, met: gateway.memory.afterMiB <= SHARED_LIMITS.afterMiB },
    ];
  });
}

/** The target lines as a table: gateway, target, measured, met or missed. */
export function targetsTable(lines: readonly TargetLine[]): string {
  const rows = lines.map((line) => [line.gateway, line.target, line.measured, line.met ? "met" : "missed"]);
  return alignTable([["gateway", "target", "measured", ""], ...rows], ["left", "left", "left", "left"]);
}

/** Each gateway's resident memory, idle and after the load. */
export function memoryLines(gateways: readonly GatewayFigures[]): string {
  return gateways.map((gateway) => `${gateway.name}: RSS idle ${fixed(gateway.memory.idleMiB)} MiB, after load ${fixed(gateway.memory.afterMiB)} MiB`).join("\n");
}

/** The profile's categories as a table: share of the gateway's busy time, about how many µs a statement that is, the next lever. */
export function profileTable(shares: readonly CategoryShare[], cpuUsPerStatement: number): string {
  const rows = shares.map((entry) => [entry.name, `${fixed(entry.share * 100, 1)}%`, `≈${fixed(entry.share * cpuUsPerStatement)} µs`, entry.lever]);
  return alignTable([["where the time goes", "share", "per stmt", "next lever"], ...rows], ["left", "right", "right", "left"]);
}

/** What a gateway's resident memory holds, from its Prometheus metrics (prom-client's process and Node.js defaults). */
export interface MemoryParts {
  residentMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
}

/** The memory parts from the text of GET /metrics; throws naming the metric that is missing. */
export function memoryParts(metrics: string): MemoryParts {
  const gauge = (name: string): number => {
    const value = new RegExp(`^${name} ([0-9.e+]+)`, "m").exec(metrics)?.[1];
    if (value === undefined) throw new Error(`the gateway's metrics have no ${name}`);
    return Number(value) / 1024 / 1024;
  };
  return { residentMiB: gauge("process_resident_memory_bytes"), heapUsedMiB: gauge("nodejs_heap_size_used_bytes"), heapTotalMiB: gauge("nodejs_heap_size_total_bytes") };
}

/**
 * One line: the resident memory split into V8's heap and the rest — Node.js and V8's code, the WebAssembly memories
 * of the parser and RE2 as far as they were touched, Buffers, libraries, malloc. (V8's count of external memory
 * includes WebAssembly memory reserved but never touched, so it is no part of the resident size.)
 */
export function memoryPartsLine(name: string, when: string, parts: MemoryParts): string {
  const rest = parts.residentMiB - parts.heapTotalMiB;
  return `${name}, ${when}: RSS ${fixed(parts.residentMiB)} MiB = V8 heap ${fixed(parts.heapTotalMiB)} (${fixed(parts.heapUsedMiB)} in use) + the rest ${fixed(rest)} (Node.js and V8's code, WebAssembly memories, Buffers, libraries, malloc)`;
}
