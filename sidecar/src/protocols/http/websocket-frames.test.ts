import { describe, expect, it } from "@jest/globals";
import { closeFrame, encodeFrame, FrameReader, OPCODES } from "./websocket-frames.js";

/** A client frame: masked with `key`, as RFC 6455 requires of clients. */
function clientFrame(opcode: number, payload: Buffer, fin = true, key = Buffer.from([1, 2, 3, 4])): Buffer {
  const length = payload.length;
  const header = length < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | length]) : Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | 126, length >> 8, length & 0xff]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (key[i % 4] as number)));
  return Buffer.concat([header, key, masked]);
}

describe("FrameReader", () => {
  it("reads masked client frames however the chunks are cut, keeping each frame's raw bytes", () => {
    const frames = Buffer.concat([clientFrame(OPCODES.text, Buffer.from("hello")), clientFrame(OPCODES.binary, Buffer.alloc(300, 7)), clientFrame(OPCODES.ping, Buffer.alloc(0))]);
    const reader = new FrameReader(1 << 20);
    const read = [];
    for (let i = 0; i < frames.length; i += 7) read.push(...reader.push(frames.subarray(i, i + 7)));
    expect(read.map((frame) => [frame.opcode, frame.payload.length, frame.fin])).toEqual([
      [OPCODES.text, 5, true],
      [OPCODES.binary, 300, true],
      [OPCODES.ping, 0, true],
    ]);
    expect(read[0]?.payload.toString()).toBe("hello");
    expect(Buffer.concat(read.map((frame) => frame.raw))).toEqual(frames);
  });

  it("reads what encodeFrame writes, short, 16-bit and 64-bit lengths", () => {
    for (const size of [5, 300, 70_000]) {
      const [frame] = new FrameReader(1 << 20).push(encodeFrame(OPCODES.text, Buffer.alloc(size, 97)));
      expect(frame?.payload.length).toBe(size);
    }
  });

  it("refuses reserved bits (an unnegotiated extension) and frames over the limit", () => {
    const compressed = Buffer.from([0xc1, 0x80, 0, 0, 0, 0]);
    expect(() => new FrameReader(1024).push(compressed)).toThrow(/reserved bits/);
    expect(() => new FrameReader(1024).push(encodeFrame(OPCODES.binary, Buffer.alloc(2000)))).toThrow(/larger than 1024/);
    expect(() => new FrameReader(1024).push(Buffer.from([0x8b, 0]))).toThrow(/reserved opcode 11/);
    expect(() => new FrameReader(1024).push(Buffer.from([0x09, 0]))).toThrow(/control frame is fragmented/);
    expect(() => new FrameReader(1024).push(encodeFrame(OPCODES.ping, Buffer.alloc(126)))).toThrow(/longer than 125 bytes/);
  });

  it("encodes a close frame with its code and reason", () => {
    const [frame] = new FrameReader(1024).push(closeFrame(1008, "no"));
    expect(frame?.opcode).toBe(OPCODES.close);
    expect(frame?.payload.readUInt16BE(0)).toBe(1008);
    expect(frame?.payload.subarray(2).toString()).toBe("no");
  });
});
