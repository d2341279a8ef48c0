import { describe, expect, it } from "@jest/globals";
import { categoryShares, type CpuProfile, POSTGRES_GATEWAY_CATEGORIES, type ProfileCategory } from "./cpu-profile.js";

const node = (id: number, functionName: string, url: string, children: number[] = []): CpuProfile["nodes"][number] => ({ id, callFrame: { functionName, url }, children });

// root → onStreamRead (node:) → run (pump.js) → append (session-recorder.js) → hash (node:internal/crypto/hash)
//                                             → parseSync (libpg-query) → wasm-function[140]
//                                             → Buffer.from (node:buffer)
//      → (idle), (garbage collector), (program)
const PROFILE: CpuProfile = {
  nodes: [
    node(1, "(root)", "", [2, 8, 9, 10]),
    node(2, "onStreamRead", "node:internal/stream_base_commons", [3]),
    node(3, "run", "file:///app/sidecar/dist/protocols/postgres/pump.js", [4, 6, 11]),
    node(4, "append", "file:///app/sidecar/dist/evidence/session-recorder.js", [5]),
    node(5, "hash", "node:internal/crypto/hash"),
    node(6, "parseSync", "file:///app/node_modules/libpg-query/wasm/index.cjs", [7]),
    node(7, "wasm-function[140]", "wasm://wasm/0068d9c2"),
    node(8, "(idle)", ""),
    node(9, "(garbage collector)", ""),
    node(10, "(program)", ""),
    node(11, "from", "node:buffer"),
  ],
  samples: [5, 5, 5, 7, 7, 11, 2, 9, 10, 8, 8, 8, 8],
};

describe("categoryShares", () => {
  const { busySamples, shares } = categoryShares(PROFILE, POSTGRES_GATEWAY_CATEGORIES);
  const share = (prefix: string): number | undefined => shares.find((entry) => entry.name.startsWith(prefix))?.share;

  it("counts busy samples only", () => {
    expect(busySamples).toBe(9);
  });

  it("gives a sample to the innermost specific part on its stack, then to the gateway's code around it, then to Node.js", () => {
    expect(share("evidence: sealing")).toBeCloseTo(3 / 9);
    expect(share("classification")).toBeCloseTo(2 / 9);
    expect(share("the gateway's protocol code")).toBeCloseTo(1 / 9);
    expect(share("Node.js streams")).toBeCloseTo(1 / 9);
    expect(share("garbage collection")).toBeCloseTo(1 / 9);
    expect(share("other")).toBeCloseTo(1 / 9);
    expect(shares.reduce((sum, entry) => sum + entry.share, 0)).toBeCloseTo(1);
  });

  it("lists the largest share first, each with its lever", () => {
    expect(shares[0]?.name).toMatch(/^evidence: sealing/);
    expect(shares.filter((entry) => entry.name !== "other").every((entry) => entry.lever.length > 0)).toBe(true);
  });

  it("within a tier takes the first category that claims a frame", () => {
    const first: ProfileCategory = { name: "first", tier: 0, lever: "a", claims: (frame) => frame.functionName === "hash" };
    const second: ProfileCategory = { name: "second", tier: 0, lever: "b", claims: (frame) => frame.functionName === "hash" };
    expect(categoryShares({ nodes: PROFILE.nodes, samples: [5] }, [first, second]).shares).toEqual([{ name: "first", share: 1, lever: "a" }]);
  });
});
