// A small HTTPS client for the broker, trusting only the operator's CA bundle.
import { request } from "node:https";

export interface HttpsResponse {
  status: number;
  body: string;
}

export function httpsRequest(url: string, options: { ca: string; token?: string; method?: string; body?: unknown }): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const req = request(
      url,
      {
        method: options.method ?? "GET",
        ca: options.ca,
        timeout: 70_000,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject).on("timeout", () => req.destroy(new Error("timed out")));
    req.end(payload);
  });
}

/** Opens a streaming GET and yields its lines until stopped. */
export function streamLines(url: string, options: { ca: string; token: string }): { lines: string[]; next(timeoutMs: number): Promise<string>; close(): void } {
  const lines: string[] = [];
  let waiter: (() => void) | undefined;
  let buffered = "";
  const req = request(url, { ca: options.ca, headers: { authorization: `Bearer ${options.token}` } }, (res) => {
    res.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      lines.push(...parts.filter(Boolean));
      waiter?.();
    });
  });
  req.on("error", () => undefined);
  req.end();
  let read = 0;
  return {
    lines,
    async next(timeoutMs: number): Promise<string> {
      const deadline = Date.now() + timeoutMs;
      while (read >= lines.length) {
        if (Date.now() > deadline) throw new Error(`no new line within ${timeoutMs}ms`);
        await new Promise<void>((resolve) => {
          waiter = resolve;
          setTimeout(resolve, 100);
        });
      }
      return lines[read++] as string;
    },
    close: () => req.destroy(),
  };
}
