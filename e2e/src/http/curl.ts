// curl as the agent runs it, with the status and the body it got; rejects when curl itself fails
// (it could not connect, or TLS failed), with curl's message.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface CurlResult {
  status: number;
  body: string;
}

export async function curl(args: string[], env?: NodeJS.ProcessEnv): Promise<CurlResult> {
  const { stdout } = await run("curl", ["-sS", "-o", "-", "-w", "\n%{http_code}", ...args], { maxBuffer: 64 << 20, ...(env ? { env } : {}) });
  const cut = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}
