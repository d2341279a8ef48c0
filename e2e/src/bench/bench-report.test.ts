// The figures `make bench` prints are only as good as this arithmetic:
// pgbench's summary, /proc's fields, the means, the ratios to pgbouncer and
// the verdict on each target, checked on fixed inputs.
import { describe, expect, it } from "@jest/globals";
import {
  alignTable,
  cpuMicrosPerStatement,
  cpuTicks,
  evaluateTargets,
  figuresTable,
  mean,
  memoryParts,
  memoryPartsLine,
  profileTable,
  parsePgbench,
  residentMiB,
  rotate,
  targetsTable,
  type BenchFigures,
  type GatewayFigures,
} from "./bench-report.js";

// pgbench 15.18's output, as printed on this machine.
const PGBENCH_SELECT_ONLY = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 2
maximum number of tries: 1
duration: 1 s
number of transactions actually processed: 14107
number of failed transactions: 0 (0.000%)
latency average = 0.140 ms
initial connection time = 15.991 ms
tps = 14272.431756 (without initial connection time)
`;

describe("parsePgbench", () => {
  it("reads tps, latency and the transactions of pgbench 15's summary", () => {
    expect(parsePgbench(PGBENCH_SELECT_ONLY)).toEqual({ tps: 14272.431756, latencyMs: 0.14, transactions: 14107, failed: 0 });
  });

  it("counts failed transactions", () => {
    expect(parsePgbench(PGBENCH_SELECT_ONLY.replace("failed transactions: 0 (0.000%)", "failed transactions: 3 (0.021%)")).failed).toBe(3);
  });

  it("throws with the output when a figure is missing (pgbench aborted)", () => {
    const aborted = "pgbench: error: client 0 script 0 aborted in command 1 query 0: ERROR:  portcullis: denied\n";
    expect(() => parsePgbench(aborted)).toThrow(/printed no tps.*\n.*portcullis: denied/);
  });
});

describe("/proc", () => {
  it("adds utime and stime, counting fields after the command name even when it holds spaces and parentheses", () => {
    const stat = "4242 (node (gw) x) S 1 4242 4242 0 -1 4194304 9000 0 12 0 1234 567 0 0 20 0 11 0 4568111 1053241344 30000 18446744073709551615";
    expect(cpuTicks(stat)).toBe(1234 + 567);
  });

  it("reads a real /proc/PID/stat line", () => {
    const stat = "12604 (cat) R 12487 12487 7142 0 -1 4194304 98 0 0 0 7 3 0 0 20 0 1 0 4568111 3133440 356 18446744073709551615";
    expect(cpuTicks(stat)).toBe(10);
  });

  it("throws on text that is not a stat line", () => {
    expect(() => cpuTicks("nonsense")).toThrow(/not a \/proc\/PID\/stat line/);
  });

  it("turns ticks into microseconds per statement", () => {
    // 150 ticks of 1/100 s over 30,000 statements: 1.5 s / 30,000 = 50 µs.
    expect(cpuMicrosPerStatement(150, 100, 30_000)).toBeCloseTo(50);
    expect(cpuMicrosPerStatement(10, 100, 0)).toBeNaN();
  });

  it("reads VmRSS in MiB", () => {
    expect(residentMiB("Name:\tnode\nVmPeak:\t 999999 kB\nVmRSS:\t  116736 kB\nRssAnon:\t 80000 kB\n")).toBe(114);
    expect(() => residentMiB("Name:\tnode\n")).toThrow(/VmRSS/);
  });
});

describe("rounds", () => {
  it("rotates which target leads each round", () => {
    expect(rotate(["a", "b", "c", "d"], 0)).toEqual(["a", "b", "c", "d"]);
    expect(rotate(["a", "b", "c", "d"], 1)).toEqual(["b", "c", "d", "a"]);
    expect(rotate(["a", "b", "c", "d"], 5)).toEqual(["b", "c", "d", "a"]);
  });

  it("takes means", () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([])).toBeNaN();
  });
});

describe("alignTable", () => {
  it("pads columns to their widest cell, left for the first and right for the rest, with a rule under the header", () => {
    expect(alignTable([["", "tps"], ["direct", "39400"], ["pgbouncer", "24100"]])).toBe(
      [`${" ".repeat(9)}    tps`, "---------  -----", "direct     39400", "pgbouncer  24100"].join("\n"),
    );
  });
});

function gateway(name: string, overrides: Partial<GatewayFigures>): GatewayFigures {
  return {
    name,
    tps: { simple: 24_000, prepared: 30_000, write: 3_000 },
    latencyUs: 250,
    cpuUs: { simple: 30, prepared: 25, write: 35 },
    limits: { cpuUs: 40, tpsRatio: 1 },
    memory: { idleMiB: 70, afterMiB: 120 },
    ...overrides,
  };
}

const figures: BenchFigures = {
  direct: { name: "direct", tps: { simple: 40_000, prepared: 50_000, write: 4_000 }, latencyUs: 100 },
  pgbouncer: { name: "pgbouncer", tps: { simple: 24_000, prepared: 30_000, write: 3_000 }, latencyUs: 230, cpuUs: { simple: 12, prepared: 10, write: 11 } },
  gateways: [
    gateway("gateway, allow rule", {}),
    gateway("gateway, full policy", {
      tps: { simple: 6_000, prepared: 9_000, write: 2_700 },
      latencyUs: 700,
      cpuUs: { simple: 150, prepared: 90, write: 40 },
      limits: { cpuUs: 60, tpsRatio: 0.8 },
      memory: { idleMiB: 110, afterMiB: 180 },
    }),
  ],
};

describe("evaluateTargets", () => {
  const lines = evaluateTargets(figures);
  const verdicts = (name: string): boolean[] => lines.filter((line) => line.gateway === name).map((line) => line.met);

  it("meets every target within its limits, a throughput ratio of exactly 1.0 included", () => {
    expect(verdicts("gateway, allow rule")).toEqual([true, true, true, true, true]);
  });

  it("misses each target past its limit, and the worst -c8 load decides", () => {
    expect(verdicts("gateway, full policy")).toEqual([false, false, false, false, false]);
    const full = lines.filter((line) => line.gateway === "gateway, full policy");
    expect(full[0]?.measured).toBe("150.0 µs (worst: -S simple)");
    expect(full[1]?.measured).toBe("-S simple 0.25×, -S prepared 0.30×, write mix 0.90× (worst: -S simple)");
    expect(full[2]?.measured).toBe("+470 µs over pgbouncer");
  });

  it("holds a load with nothing counted (NaN) as missed", () => {
    const broken = { ...figures, gateways: [gateway("g", { cpuUs: { simple: 10, prepared: Number.NaN, write: 10 } })] };
    expect(evaluateTargets(broken)[0]).toMatchObject({ met: false, measured: "n/a µs (worst: -S prepared)" });
  });

  it("prints met or missed on every row", () => {
    const text = targetsTable(lines).split("\n").slice(2);
    expect(text).toHaveLength(10);
    expect(text.every((line) => / (met|missed)$/.test(line))).toBe(true);
  });
});

describe("figuresTable", () => {
  it("prints one row per target with ratios to pgbouncer, latency added over direct and CPU per statement", () => {
    const rows = figuresTable(figures).split("\n");
    expect(rows).toHaveLength(6);
    expect(rows[2]).toMatch(/^direct\s+40000\s+1\.67×\s+50000\s+1\.67×\s+4000\s+1\.33×\s+100 µs$/);
    expect(rows[3]).toMatch(/^pgbouncer\s+24000\s+30000\s+3000\s+230 µs\s+\+130 µs\s+12\.0 \/ 10\.0 \/ 11\.0$/);
    expect(rows[5]).toMatch(/^gateway, full policy\s+6000\s+0\.25×\s+9000\s+0\.30×\s+2700\s+0\.90×\s+700 µs\s+\+600 µs\s+150\.0 \/ 90\.0 \/ 40\.0$/);
  });

  it("puts the Node.js relay, when measured, between pgbouncer and the gateways", () => {
    const floor = { name: "Node.js relay (floor)", tps: { simple: 20_000, prepared: 27_000, write: 2_900 }, latencyUs: 260, cpuUs: { simple: 45, prepared: 40, write: 44 } };
    const rows = figuresTable({ ...figures, floor }).split("\n");
    expect(rows).toHaveLength(7);
    expect(rows[4]).toMatch(/^Node\.js relay \(floor\)\s+20000\s+0\.83×\s+27000\s+0\.90×\s+2900\s+0\.97×\s+260 µs\s+\+160 µs\s+45\.0 \/ 40\.0 \/ 44\.0$/);
  });
});

describe("profileTable", () => {
  it("prints each category's share, the µs a statement it comes to, and its lever", () => {
    const rows = profileTable([{ name: "evidence", share: 0.25, lever: "seal in a worker" }, { name: "other", share: 0.05, lever: "" }], 400).split("\n");
    expect(rows[2]).toMatch(/^evidence\s+25\.0%\s+≈100 µs\s+seal in a worker$/);
    expect(rows[3]).toMatch(/^other\s+5\.0%\s+≈20 µs$/);
  });
});

describe("memoryParts", () => {
  const METRICS = `# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 125829120
nodejs_heap_size_total_bytes 31457280
nodejs_heap_size_used_bytes 20971520
nodejs_external_memory_bytes 155189248
`;
  it("reads the resident memory and V8's heap from the gateway's metrics", () => {
    const parts = memoryParts(METRICS);
    expect(parts).toEqual({ residentMiB: 120, heapTotalMiB: 30, heapUsedMiB: 20 });
    expect(memoryPartsLine("gateway", "idle", parts)).toBe("gateway, idle: RSS 120 MiB = V8 heap 30 (20 in use) + the rest 90 (Node.js and V8's code, WebAssembly memories, Buffers, libraries, malloc)");
  });

  it("names a metric that is missing", () => {
    expect(() => memoryParts("process_resident_memory_bytes 1\n")).toThrow("the gateway's metrics have no nodejs_heap_size_used_bytes");
  });
});
