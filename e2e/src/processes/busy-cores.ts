// Keeps every core busy for a bounded time, the way other builds on a CI
// machine do: one spinning child process per core, each stopping by itself
// when its time is up (and killed by stop() before that).
import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import { shutDown } from "./child-process.js";

export interface BusyCores {
  stop(): Promise<void>;
}

export function keepCoresBusy(forMs: number, cores = availableParallelism()): BusyCores {
  const spin = `const end = Date.now() + ${Math.round(forMs)}; while (Date.now() < end) {}`;
  const children: ChildProcess[] = Array.from({ length: cores }, () => spawn(process.execPath, ["-e", spin], { stdio: "ignore" }));
  return {
    async stop() {
      await Promise.all(children.map((child) => shutDown(child, "SIGKILL")));
    },
  };
}
