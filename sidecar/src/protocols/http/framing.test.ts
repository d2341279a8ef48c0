import { describe, expect, it } from "@jest/globals";
import { framingProblem } from "./framing.js";

describe("framingProblem", () => {
  it.each<[string, string[], RegExp | undefined]>([
    ["a plain GET", ["Host", "a"], undefined],
    ["a body with Content-Length", ["Host", "a", "Content-Length", "5"], undefined],
    ["a chunked body", ["Host", "a", "Transfer-Encoding", "chunked"], undefined],
    ["Content-Length with Transfer-Encoding", ["Host", "a", "Content-Length", "5", "Transfer-Encoding", "chunked"], /both Content-Length and Transfer-Encoding/],
    ["two Content-Lengths, even equal", ["Host", "a", "Content-Length", "5", "content-length", "5"], /more than one Content-Length/],
    ["a list in Content-Length", ["Host", "a", "Content-Length", "5, 5"], /not a single decimal number/],
    ["a gzip transfer coding", ["Host", "a", "Transfer-Encoding", "gzip, chunked"], /single chunked/],
    ["two Transfer-Encodings", ["Host", "a", "Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"], /single chunked/],
    ["two Hosts", ["Host", "a", "Host", "b"], /exactly one Host/],
  ])("%s", (_name, raw, problem) => {
    const found = framingProblem(raw);
    if (problem) expect(found).toMatch(problem);
    else expect(found).toBeUndefined();
  });
});
