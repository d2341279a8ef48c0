import { describe, expect, it } from "@jest/globals";
import { FrameSplitter, MAX_MESSAGE_BYTES, ProtocolError } from "./frames.js";

const message = (type: string, body: string): Buffer => {
  const payload = Buffer.from(body);
  const out = Buffer.alloc(5 + payload.length);
  out.write(type, 0, "latin1");
  out.writeUInt32BE(payload.length + 4, 1);
  payload.copy(out, 5);
  return out;
};

const drain = (splitter: FrameSplitter): Array<[string, string]> => {
  const out: Array<[string, string]> = [];
  for (let frame = splitter.next(); frame; frame = splitter.next()) out.push([frame.type, frame.body.toString()]);
  return out;
};

describe("FrameSplitter", () => {
  const stream = Buffer.concat([message("Q", "SELECT 1\0"), message("S", ""), message("D", "x".repeat(1000))]);

  it("returns the same messages however the stream is cut", () => {
    const expected = [["Q", "SELECT 1\0"], ["S", ""], ["D", "x".repeat(1000)]];
    for (const size of [1, 2, 3, 5, 7, 64, 999, stream.length]) {
      const splitter = new FrameSplitter();
      const seen: Array<[string, string]> = [];
      for (let offset = 0; offset < stream.length; offset += size) {
        splitter.push(stream.subarray(offset, offset + size));
        seen.push(...drain(splitter));
      }
      expect(seen).toEqual(expected);
      expect(splitter.bufferedBytes).toBe(0);
    }
  });

  it("returns views of a chunk without copying when a message lies inside it", () => {
    const splitter = new FrameSplitter();
    splitter.push(stream);
    const first = splitter.next();
    expect(first?.raw.buffer).toBe(stream.buffer);
  });

  it("reads startup packets, which have no type byte", () => {
    const packet = Buffer.alloc(8);
    packet.writeUInt32BE(8, 0);
    packet.writeUInt32BE(80877103, 4);
    const splitter = new FrameSplitter(true);
    splitter.push(packet);
    expect(splitter.next()?.body.readUInt32BE(0)).toBe(80877103);
  });

  it.each([
    ["a length below 4", 3],
    ["a length over the limit", MAX_MESSAGE_BYTES + 1],
  ])("refuses %s", (_name, length) => {
    const bad = Buffer.alloc(5);
    bad.write("Q", 0, "latin1");
    bad.writeUInt32BE(length, 1);
    const splitter = new FrameSplitter();
    splitter.push(bad);
    expect(() => splitter.next()).toThrow(ProtocolError);
  });
});
