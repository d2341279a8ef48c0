import { describe, expect, it } from "@jest/globals";
import { eventData, eventType, serialiseEvent, SseReader } from "./sse.js";

describe("SseReader", () => {
  it("reads events split anywhere, with CRLF, LF and CR line ends", () => {
    const reader = new SseReader(1024);
    const text = "event: message\r\nid: 1\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: keep-alive\n\ndata: x\r\rdata:y\n\n";
    const events = [...text].flatMap((character) => reader.push(character));
    expect(events.map((event) => [eventType(event), eventData(event)])).toEqual([
      ["message", '{"a":\n1}'],
      ["message", undefined],
      ["message", "x"],
      ["message", "y"],
    ]);
    expect(reader.end()).toBe(false);
  });

  it("says when the stream ended inside an event", () => {
    const reader = new SseReader(1024);
    reader.push("data: half");
    expect(reader.end()).toBe(true);
  });

  it("refuses an event larger than it may hold", () => {
    const reader = new SseReader(16);
    expect(() => reader.push(`data: ${"x".repeat(10)}\ndata: ${"y".repeat(10)}\n`)).toThrow(/larger than 16 bytes/);
  });
});

describe("serialiseEvent", () => {
  it("writes the event back with new data in place of its data lines", () => {
    const event = { fields: [["id", "7"], ["event", "message"], ["data", "a"], ["data", "b"], ["", " note"]] as Array<[string, string]> };
    expect(serialiseEvent(event, "x\ny")).toBe("id: 7\nevent: message\ndata: x\ndata: y\n: note\n\n");
    expect(serialiseEvent(event)).toBe("id: 7\nevent: message\ndata: a\ndata: b\n: note\n\n");
  });
});
