import { describe, expect, it } from "@jest/globals";
import { channelContent, RECORDED_TEXT_BYTES } from "./stream-channels.js";

const message = (channel: number, text: string): Buffer => Buffer.concat([Buffer.from([channel]), Buffer.from(text)]);

describe("channelContent", () => {
  it("records each channel of exec and attach with its text", () => {
    const content = channelContent("v5.channel.k8s.io");
    expect(content?.(message(0, "ls -la\n"))).toEqual({ channel: "stdin", text: "ls -la\n" });
    expect(content?.(message(1, "total 0\n"))).toEqual({ channel: "stdout", text: "total 0\n" });
    expect(content?.(message(2, "oops"))).toEqual({ channel: "stderr", text: "oops" });
    expect(content?.(message(3, '{"status":"Success"}'))).toEqual({ channel: "error", text: '{"status":"Success"}' });
    expect(content?.(message(4, '{"Width":80,"Height":24}'))).toEqual({ channel: "resize", text: '{"Width":80,"Height":24}' });
    expect(content?.(Buffer.from([255, 0]))).toEqual({ channel: "close stdin" });
    expect(content?.(Buffer.alloc(0))).toEqual({});
  });

  it("cuts long output and says so", () => {
    const recorded = channelContent("v4.channel.k8s.io")?.(message(1, "x".repeat(RECORDED_TEXT_BYTES + 10)));
    expect(recorded?.text?.length).toBe(RECORDED_TEXT_BYTES);
    expect(recorded?.truncated).toBe(true);
  });

  it("reads 255 as a channel before v5, and records other subprotocols by size only", () => {
    expect(channelContent("channel.k8s.io")?.(Buffer.from([255, 0]))).toEqual({ channel: "channel 255", text: "\u0000" });
    expect(channelContent("SPDY/3.1+portforward.k8s.io")).toBeUndefined();
    expect(channelContent("base64.channel.k8s.io")).toBeUndefined();
    expect(channelContent(undefined)).toBeUndefined();
  });
});
