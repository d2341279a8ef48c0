import zlib from "node:zlib";
import { describe, expect, it } from "@jest/globals";
import { CONTROL_TYPES, HeaderInflater, headerBlockOf, parseHeaderBlock, SPDY_DICTIONARY, SPDY_DICTIONARY_SHA256, SpdyFrameReader } from "./spdy-frames.js";

function headerBlock(pairs: Array<[string, string]>): Buffer {
  const parts: Buffer[] = [];
  const int = (n: number): Buffer => {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(n);
    return buffer;
  };
  parts.push(int(pairs.length));
  for (const [name, value] of pairs) parts.push(int(Buffer.byteLength(name)), Buffer.from(name), int(Buffer.byteLength(value)), Buffer.from(value));
  return Buffer.concat(parts);
}

/** A compressor like a SPDY peer's: one zlib context with the dictionary, each block sync-flushed. */
function compressor(): (block: Buffer) => Promise<Buffer> {
  const deflate = zlib.createDeflate({ dictionary: SPDY_DICTIONARY });
  const out: Buffer[] = [];
  deflate.on("data", (chunk: Buffer) => out.push(chunk));
  return (block) =>
    new Promise((resolve) => {
      deflate.write(block);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(out.splice(0))));
    });
}

function controlFrame(type: number, data: Buffer, flags = 0): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE((0x8000 | 3) * 0x10000 + type);
  head.writeUInt8(flags, 4);
  head.writeUIntBE(data.length, 5, 3);
  return Buffer.concat([head, data]);
}

function dataFrame(streamId: number, data: Buffer, flags = 0): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(streamId);
  head.writeUInt8(flags, 4);
  head.writeUIntBE(data.length, 5, 3);
  return Buffer.concat([head, data]);
}

function synStream(streamId: number, compressed: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt32BE(streamId);
  return controlFrame(CONTROL_TYPES.synStream, Buffer.concat([fixed, compressed]));
}

describe("SPDY/3 frames", () => {
  it("builds the specification's header dictionary", () => {
    expect(SPDY_DICTIONARY.length).toBe(1423);
    expect(SPDY_DICTIONARY_SHA256).toBe("51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02");
  });

  it("reads control and data frames as they complete, across chunks", () => {
    const reader = new SpdyFrameReader(1024);
    const bytes = Buffer.concat([synStream(1, Buffer.from([1, 2])), dataFrame(1, Buffer.from("ls\n"), 1)]);
    expect(reader.push(bytes.subarray(0, 5))).toEqual([]);
    const frames = reader.push(bytes.subarray(5));
    expect(frames.map((frame) => (frame.control ? `control ${frame.type}` : `data ${frame.streamId} ${frame.data.toString()} fin=${frame.flags}`))).toEqual(["control 1", "data 1 ls\n fin=1"]);
    const header = frames[0]?.control ? headerBlockOf(frames[0]) : undefined;
    expect(header).toEqual({ streamId: 1, block: Buffer.from([1, 2]) });
  });

  it("refuses frames larger than the limit and control frames of another version", () => {
    expect(() => new SpdyFrameReader(8).push(dataFrame(1, Buffer.alloc(9)))).toThrow("larger than 8");
    const v2 = controlFrame(CONTROL_TYPES.ping, Buffer.alloc(4));
    v2.writeUInt16BE(0x8002, 0);
    expect(() => new SpdyFrameReader(64).push(v2)).toThrow("version 2");
  });

  it("decompresses each direction's header blocks in one context, as a peer compressed them", async () => {
    const compress = compressor();
    const inflater = new HeaderInflater(65_536);
    const first = await compress(headerBlock([["streamtype", "error"]]));
    const second = await compress(headerBlock([["streamType", "stdout"], ["port", "8080"]]));
    expect(parseHeaderBlock(await inflater.decompress(first))).toEqual(new Map([["streamtype", "error"]]));
    // The second block refers back to the first's window: it only decompresses in the same context.
    expect(parseHeaderBlock(await inflater.decompress(second))).toEqual(new Map([["streamtype", "stdout"], ["port", "8080"]]));
    inflater.close();
  });

  it("refuses header blocks that are cut short or decompress past the limit", async () => {
    expect(() => parseHeaderBlock(Buffer.from([0, 0, 0, 1, 0, 0, 0, 9, 65]))).toThrow("cut short");
    const compress = compressor();
    const inflater = new HeaderInflater(16);
    await expect(inflater.decompress(await compress(headerBlock([["streamtype", "x".repeat(64)]])))).rejects.toThrow("more than 16 bytes");
    inflater.close();
  });
});
