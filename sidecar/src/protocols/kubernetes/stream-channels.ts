// What an exec or attach stream said, for the evidence: the Kubernetes
// channel protocols (channel.k8s.io and its v4 and v5 versions) put the
// channel in each binary message's first byte — 0 stdin, 1 stdout, 2 stderr,
// 3 the error status, 4 terminal resizes; v5 adds 255, closing a channel.
// Each message is recorded with its channel and its text, so a replay shows
// the terminal session. Other subprotocols (port-forward tunnels SPDY frames
// through its WebSocket) are recorded by size only.
import type { MessageContent } from "../http/dialect.js";

/** The text kept per message; longer output is cut (and marked truncated). */
export const RECORDED_TEXT_BYTES = 16_384;
const CHANNELS = ["stdin", "stdout", "stderr", "error", "resize"];
const CLOSE = 255;

const channelName = (id: number | undefined): string => (id === undefined ? "?" : (CHANNELS[id] ?? `channel ${id}`));

/** How messages of this subprotocol are recorded; undefined when it is not a channel protocol. */
export function channelContent(subprotocol: string | undefined): MessageContent | undefined {
  const version = /^(?:(v[1-5])\.)?channel\.k8s\.io$/.exec(subprotocol ?? "");
  if (!version) return undefined;
  const closes = version[1] === "v5";
  return (payload) => {
    const id = payload[0];
    if (id === undefined) return {};
    if (closes && id === CLOSE) return { channel: `close ${channelName(payload[1])}` };
    const data = payload.subarray(1);
    const cut = data.length > RECORDED_TEXT_BYTES;
    return { channel: channelName(id), text: data.subarray(0, RECORDED_TEXT_BYTES).toString("utf8"), ...(cut ? { truncated: true } : {}) };
  };
}
