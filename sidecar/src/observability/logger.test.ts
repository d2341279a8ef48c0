import { describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import { createLogger } from "./logger.js";

/** A logger at `level` and the JSON lines it wrote. */
function capture(level = "info"): { log: ReturnType<typeof createLogger>; lines: () => Promise<Array<Record<string, unknown>>> } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done): void {
      chunks.push(chunk.toString("utf8"));
      done();
    },
  });
  const log = createLogger(level, sink);
  return {
    log,
    lines: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return chunks.join("").split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
    },
  };
}

async function logged(meta: Record<string, unknown>, message = "event"): Promise<Record<string, unknown>> {
  const { log, lines } = capture();
  log.info(message, meta);
  const [line] = await lines();
  if (line === undefined) throw new Error("nothing logged");
  return line;
}

describe("createLogger", () => {
  it("writes one JSON object per line with level, message, component and timestamp", async () => {
    const line = await logged({ resource: "orders-db", statements: 3 });
    expect(line).toEqual({ level: "info", message: "event", component: "gateway", resource: "orders-db", statements: 3, timestamp: expect.any(String) });
  });

  it("logs at its level and above only", async () => {
    const { log, lines } = capture("warn");
    log.info("hidden");
    log.debug("hidden");
    log.warn("shown");
    log.error("shown too");
    expect((await lines()).map((line) => line.message)).toEqual(["shown", "shown too"]);
  });

  it("refuses a level winston does not know", () => {
    expect(() => createLogger("verbose2")).toThrow('unknown log level "verbose2"; use one of error, warn, info, http, verbose, debug, silly');
  });
});

describe("the redacting format", () => {
  const secretKeys: Array<[string, Record<string, unknown>]> = [
    ["a password", { password: "hunter2" }],
    ["a token in camel case", { accessToken: "abc" }],
    ["a client secret", { clientSecret: "abc" }],
    ["credentials", { credentials: { user: "u", pass: "p" } }],
    ["an authorization header", { Authorization: "Basic dTpw" }],
    ["an API key", { "x-api-key": "abc" }],
    ["an S3 secret access key", { secretAccessKey: "abc", accessKeyId: "AKIA" }],
    ["a cookie", { cookie: "sid=1" }],
  ];
  it.each(secretKeys)("drops %s at the top level and nested in objects and arrays", async (_name, secret) => {
    const line = await logged({ ...secret, config: { upstream: { ...secret, host: "db" } }, list: [{ ...secret, n: 1 }] });
    expect(line.config).toEqual({ upstream: { host: "db" } });
    expect(line.list).toEqual([{ n: 1 }]);
    for (const key of Object.keys(secret)) expect(line).not.toHaveProperty(key);
  });

  const secretText: Array<[string, string, string]> = [
    ["a URL password", "connect to postgres://app:s3cr3t@db:5432/orders failed", "connect to postgres://app:[redacted]@db:5432/orders failed"],
    ["a bearer token", "upstream said: Authorization: Bearer abc.def-ghi", "upstream said: Authorization: Bearer [redacted]"],
    ["a JWT", "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl rejected", "token [redacted jwt] rejected"],
    ["a libpq password", "host=db user=app password='p w' dbname=x", "host=db user=app password=[redacted] dbname=x"],
  ];
  it.each(secretText)("blanks %s inside strings, in messages and fields", async (_name, text, expected) => {
    const line = await logged({ detail: { text } }, text);
    expect(line.message).toBe(expected);
    expect(line.detail).toEqual({ text: expected });
  });

  it("cuts long strings", async () => {
    const line = await logged({ statement: "x".repeat(5000) });
    expect(line.statement).toBe(`${"x".repeat(1024)}…[3976 more characters]`);
  });

  it("logs an error's name and message, not its stack or properties", async () => {
    const error = Object.assign(new Error("connection refused"), { config: { password: "p" } });
    const line = await logged({ error });
    expect(line.error).toEqual({ name: "Error", message: "connection refused" });
  });

  it("logs the size of raw bytes, never their content", async () => {
    const line = await logged({ row: Buffer.from("4111 1111 1111 1111") });
    expect(line.row).toBe("[19 bytes]");
  });

  it("survives cycles and deep nesting, and keeps repeated references", async () => {
    const cycle: Record<string, unknown> = { name: "a" };
    cycle.self = cycle;
    const shared = { n: 1 };
    let deep: Record<string, unknown> = { bottom: true };
    for (let i = 0; i < 20; i += 1) deep = { deeper: deep };
    const line = await logged({ cycle, pair: [shared, shared], deep });
    expect(line.cycle).toEqual({ name: "a", self: "[circular]" });
    expect(line.pair).toEqual([{ n: 1 }, { n: 1 }]);
    expect(JSON.stringify(line.deep)).toContain("[too deep]");
  });

  it("leaves the caller's objects untouched", async () => {
    const meta = { config: { password: "p", host: "db" }, note: "x".repeat(2000) };
    const before = structuredClone(meta);
    await logged(meta);
    expect(meta).toEqual(before);
  });
});
