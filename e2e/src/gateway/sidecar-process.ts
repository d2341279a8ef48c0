// Runs the real gateway (sidecar/dist/main.js) in standalone mode against a
// manifests file, as a child process, and waits until it reports ready. It
// runs with the Node flags and memory settings of the gateway's image.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { freePort } from "../controlplane/processes.js";
import { GATEWAY_NODE_FLAGS, NODE_MEMORY_ENV } from "../images/specs.js";

const READY_TIMEOUT_MS = 30_000;
/** The gateway's entry point, built by `make build`. */
export const SIDECAR_MAIN = fileURLToPath(new URL("../../../sidecar/dist/main.js", import.meta.url));

export interface SidecarProcess {
  /** Listener ports by Resource name. */
  ports: Record<string, number>;
  metricsPort: number;
  spoolDir: string;
  child: ChildProcess;
  /** Log lines so far, parsed. */
  logs(): Array<Record<string, unknown>>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface StartSidecarOptions {
  /** Standalone mode: these manifests in a file passed with --manifests. Without them, operator mode (set env). */
  manifests?: object[];
  env?: NodeJS.ProcessEnv;
  extraArgs?: string[];
  spoolDir?: string;
}

export async function startSidecar(options: StartSidecarOptions): Promise<SidecarProcess> {
  const dir = await mkdtemp(join(tmpdir(), "portcullis-sidecar-"));
  const modeArgs: string[] = [];
  if (options.manifests) {
    const manifestsFile = join(dir, "manifests.yaml");
    await writeFile(manifestsFile, options.manifests.map((manifest) => stringify(manifest)).join("---\n"));
    modeArgs.push("--manifests", manifestsFile);
  }
  const spoolDir = options.spoolDir ?? join(dir, "spool");
  const metricsPort = await freePort();
  const extraArgs = options.extraArgs ?? [];
  // The health and metrics server stays on loopback unless a test asks for another address.
  const metricsHost = extraArgs.includes("--metrics-host") ? [] : ["--metrics-host", "127.0.0.1"];
  const child = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, SIDECAR_MAIN, ...modeArgs, "--spool-dir", spoolDir, "--metrics-port", String(metricsPort), ...metricsHost, ...extraArgs], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...NODE_MEMORY_ENV, ...options.env },
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = "";
  let partial = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop() ?? "";
    for (const line of parts) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const finish = (outcome: () => void): void => {
      clearInterval(poll);
      clearTimeout(deadline);
      child.off("exit", onExit);
      outcome();
    };
    const poll = setInterval(() => {
      const line = lines.find((entry) => entry.message === "gateway ready");
      if (line) finish(() => resolve(line));
    }, 50);
    const deadline = setTimeout(() => {
      child.kill("SIGKILL");
      finish(() => reject(new Error(`the gateway did not report ready within ${READY_TIMEOUT_MS} ms: ${stderr}`)));
    }, READY_TIMEOUT_MS);
    const onExit = (code: number | null): void => {
      const errors = lines.filter((entry) => entry.level === "error").map((entry) => JSON.stringify(entry));
      // Every log line goes with the error, for tests of what a failed start said.
      finish(() => reject(Object.assign(new Error(`the gateway exited with ${code}: ${[stderr.trim(), ...errors].join("\n")}`), { logs: lines })));
    };
    child.once("exit", onExit);
  });
  return {
    ports: ready.listeners as Record<string, number>,
    metricsPort,
    spoolDir,
    child,
    logs: () => lines,
    async stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill(signal);
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
