// The timing the micro-benchmarks share (the *.bench.ts files beside the code
// they measure; `make bench-micro` runs them). A case warms up, then runs in
// batches of about BATCH_MS for about BENCH_MICRO_MS (1000 by default). Time
// is the main thread's CPU time, not the clock's: the machines this runs on
// are shared, and a thread waiting for a core is not doing the work; the
// gateway's statements all run on that one thread, so it is also what bounds
// their rate. The share of a core the thread had is printed beside it. The
// warm-up lasts until V8's background threads have gone quiet too (they
// compile optimised code, of JavaScript and of WebAssembly such as the SQL
// parser, for a second or more after the first calls, and until then the main
// thread runs slower code). The time per operation is the median over the
// batches. Cases are printed as a table, each optionally as a multiple of a
// floor measured in the same run (the least any implementation of the same
// job must spend). They report; they never assert.
import { cpuUsage, hrtime, threadCpuUsage } from "node:process";

export interface BenchCase {
  name: string;
  /** One run. A run that returns a promise is awaited, and so are all its later runs. */
  run: () => unknown;
  /** Operations one run does (say 2 when it appends a request record and its result record); the table shows one operation. */
  operationsPerRun?: number;
  /** The name of the case of the same suite this one is a multiple of. */
  versus?: string;
  /** Runs once before the case is warmed up (say, to fill a cache), not timed. */
  prepare?: () => unknown;
}

export interface Measurement {
  name: string;
  /** The main thread's CPU time per operation. */
  nsPerOperation: number;
  operationsPerSecond: number;
  /** Operations measured (warm-up not counted). */
  operations: number;
  /** The main thread's CPU time over the clock's while measuring: below 1 when other processes had the cores. */
  cpuShare: number;
}

const BATCH_MS = 10;
const WARM_UP_SHARE = 0.2;
const MIN_WARM_UP_MS = 100;
/** The warm-up goes on while the other threads of the process take more than this share of the main thread's CPU time… */
const QUIET_SHARE = 0.1;
/** …but not longer than this, by the main thread's CPU time (a collector thread may never go quiet). */
const MAX_WARM_UP_MS = 3000;
/** On a machine so busy that the main thread has less than half a core, a case stops after this many times its length by the clock. */
const MAX_WALL_FACTOR = 2;

/** How long each case is measured: BENCH_MICRO_MS, or a second. */
export function caseMilliseconds(): number {
  const configured = Number(process.env.BENCH_MICRO_MS);
  return Number.isFinite(configured) && configured > 0 ? configured : 1000;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

interface Spent {
  /** The main thread's. */
  cpuNs: number;
  /** The other threads' of the process: V8's compilers and collector. */
  otherCpuNs: number;
  wallNs: number;
}

const nanoseconds = (usage: NodeJS.CpuUsage): number => (usage.user + usage.system) * 1000;

/** The CPU and clock time that `runs` runs took. */
async function timeRuns(run: () => unknown, runs: number, awaited: boolean): Promise<Spent> {
  const wallStart = hrtime.bigint();
  const processStart = cpuUsage();
  const threadStart = threadCpuUsage();
  if (awaited) for (let i = 0; i < runs; i++) await run();
  else for (let i = 0; i < runs; i++) run();
  const cpuNs = nanoseconds(threadCpuUsage(threadStart));
  return { cpuNs, otherCpuNs: nanoseconds(cpuUsage(processStart)) - cpuNs, wallNs: Number(hrtime.bigint() - wallStart) };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/**
 * Runs the case for WARM_UP_SHARE of its length and on while the process's other threads are busy (up to
 * MAX_WARM_UP_MS); returns how many runs fill a batch.
 */
async function warmUp(bench: BenchCase, awaited: boolean, milliseconds: number): Promise<number> {
  const leastNs = Math.max(milliseconds * WARM_UP_SHARE, MIN_WARM_UP_MS) * 1e6;
  const mostNs = Math.max(leastNs, MAX_WARM_UP_MS * 1e6);
  let runs = 1;
  let spent = 0;
  let wall = 0;
  let quiet = false;
  while ((spent < leastNs || !quiet) && spent < mostNs && wall < mostNs * MAX_WALL_FACTOR) {
    const { cpuNs, otherCpuNs, wallNs } = await timeRuns(bench.run, runs, awaited);
    spent += cpuNs;
    wall += wallNs;
    quiet = otherCpuNs <= cpuNs * QUIET_SHARE;
    if (cpuNs < BATCH_MS * 1e6) runs = Math.max(runs + 1, Math.round((runs * BATCH_MS * 1e6) / Math.max(cpuNs, 1000)));
  }
  return runs;
}

/** Measures one case for about `milliseconds` of the main thread's CPU time, after its warm-up. */
export async function measure(bench: BenchCase, milliseconds = caseMilliseconds()): Promise<Measurement> {
  await bench.prepare?.();
  const first = bench.run();
  const awaited = isPromiseLike(first);
  if (awaited) await first;
  const runs = await warmUp(bench, awaited, milliseconds);
  const perRun: number[] = [];
  let measuredRuns = 0;
  let total = 0;
  let wall = 0;
  while (total < milliseconds * 1e6 && wall < milliseconds * 1e6 * MAX_WALL_FACTOR) {
    const { cpuNs, wallNs } = await timeRuns(bench.run, runs, awaited);
    perRun.push(cpuNs / runs);
    measuredRuns += runs;
    total += cpuNs;
    wall += wallNs;
  }
  const operations = bench.operationsPerRun ?? 1;
  const nsPerOperation = median(perRun) / operations;
  return { name: bench.name, nsPerOperation, operationsPerSecond: 1e9 / nsPerOperation, operations: measuredRuns * operations, cpuShare: total / wall };
}

/** 850 ns, 12.3 µs, 1.25 ms. */
export function formatDuration(ns: number): string {
  if (ns < 1e3) return `${ns.toFixed(0)} ns`;
  if (ns < 1e4) return `${(ns / 1e3).toFixed(2)} µs`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  return `${(ns / 1e6).toFixed(2)} ms`;
}

const groupDigits = (value: number): string => Math.round(value).toLocaleString("en-US");

/**
 * Measures the cases one after another and prints them under `title`: the main thread's CPU time per
 * operation, operations per second of it, the share of a core the thread had, and for a case with `versus`
 * its multiple of that case.
 */
export async function runSuite(title: string, cases: readonly BenchCase[]): Promise<Measurement[]> {
  const width = Math.max(...cases.map((bench) => bench.name.length), 4);
  console.log(`\n${title}`);
  console.log(`  ${"case".padEnd(width)}  ${"per op".padStart(9)}  ${"ops/s".padStart(11)}  ${"core".padStart(5)}  vs`);
  const results = new Map<string, Measurement>();
  for (const bench of cases) {
    const result = await measure(bench);
    results.set(bench.name, result);
    const floor = bench.versus === undefined ? undefined : results.get(bench.versus);
    if (bench.versus !== undefined && floor === undefined) throw new Error(`case "${bench.name}" is measured against "${bench.versus}", which is not an earlier case of the suite`);
    const ratio = floor ? `${(result.nsPerOperation / floor.nsPerOperation).toFixed(2)}× ${bench.versus}` : "";
    const share = `${Math.round(result.cpuShare * 100)}%`;
    console.log(`  ${bench.name.padEnd(width)}  ${formatDuration(result.nsPerOperation).padStart(9)}  ${groupDigits(result.operationsPerSecond).padStart(11)}  ${share.padStart(5)}  ${ratio}`);
  }
  return [...results.values()];
}
