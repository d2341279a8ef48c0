// Runs the real operator (operator/dist/main.js) as a child process on free
// loopback ports, with its logs kept for the test report.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { freePort } from "../controlplane/processes.js";
import { OPERATOR_NAMESPACE, OPERATOR_USERNAME, type WebhookPorts } from "./install.js";

const MAIN = fileURLToPath(new URL("../../../operator/dist/main.js", import.meta.url));

export interface OperatorProcess {
  identity: string;
  ports: { webhook: number; caProbe: number; broker: number; health: number };
  child: ChildProcess;
  logPath: string;
  /** GET on the health port (/healthz, /readyz, /metrics). */
  health(path: string): Promise<{ status: number; body: string }>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject).on("timeout", () => req.destroy(new Error("timed out")));
    req.end();
  });
}

export interface StartOperatorOptions {
  kubeconfig: string;
  logDir: string;
  identity: string;
  /** The ports the webhook configurations call; free ones unless given. */
  webhookPorts?: WebhookPorts;
  extraArgs?: string[];
}

export async function startOperator(options: StartOperatorOptions): Promise<OperatorProcess> {
  const ports = {
    webhook: options.webhookPorts?.webhook ?? (await freePort()),
    caProbe: options.webhookPorts?.caProbe ?? (await freePort()),
    broker: await freePort(),
    health: await freePort(),
  };
  const logPath = join(options.logDir, `operator-${options.identity}.log`);
  const log = createWriteStream(logPath, { flags: "a" });
  const child = spawn(
    process.execPath,
    [
      MAIN,
      `--kubeconfig=${options.kubeconfig}`,
      `--namespace=${OPERATOR_NAMESPACE}`,
      `--identity=${options.identity}`,
      `--service-account-username=${OPERATOR_USERNAME}`,
      "--listen-host=127.0.0.1",
      `--webhook-port=${ports.webhook}`,
      `--ca-probe-port=${ports.caProbe}`,
      `--broker-port=${ports.broker}`,
      `--health-port=${ports.health}`,
      "--certificate-dns-names=localhost",
      "--certificate-ip-addresses=127.0.0.1",
      `--broker-url=https://127.0.0.1:${ports.broker}`,
      ...(options.extraArgs ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const health = (path: string): Promise<{ status: number; body: string }> => httpGet(`http://127.0.0.1:${ports.health}${path}`);
  const operator: OperatorProcess = {
    identity: options.identity,
    ports,
    child,
    logPath,
    health,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill(signal);
      await exited;
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`operator ${options.identity} exited with ${child.exitCode}; see ${logPath}`);
    const ready = await health("/readyz").catch(() => ({ status: 0 }));
    if (ready.status === 200) return operator;
    if (Date.now() > deadline) throw new Error(`operator ${options.identity} not ready after 60s; see ${logPath}`);
    await sleep(200);
  }
}
