// A Linux network namespace of its own for a test, as a pod has: its own
// loopback, addresses and iptables tables, so rules the operator generates can
// be applied for real without touching the machine's network. Programs run in
// it through `ip netns exec`, optionally as another user (setpriv), because
// the transparent-mode rules tell users apart. Needs root and iproute2 (make
// system-deps); a namespace whose test process died is deleted by the next
// create().
import { spawn, type ChildProcess } from "node:child_process";
import { isAlive } from "../controlplane/processes.js";
import { runCommand, shutDown, type CommandResult } from "../processes/child-process.js";

const PREFIX = "portcullis-e2e-";
let created = 0;

export interface ExecOptions {
  /** Run as this user and group id, with no supplementary groups; root when absent. */
  uid?: number;
  stdin?: string;
}

async function ip(args: string[]): Promise<CommandResult> {
  const result = await runCommand("ip", args, { env: process.env }).catch((error: NodeJS.ErrnoException) => {
    throw new Error(error.code === "ENOENT" ? "the `ip` command is missing: run `make system-deps` (Debian package iproute2)" : error.message);
  });
  if (result.code !== 0) throw new Error(`ip ${args.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  return result;
}

/** Deletes the namespaces of test processes that are gone. */
async function reapOrphans(): Promise<void> {
  const listed = await ip(["netns", "list"]);
  for (const line of listed.stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const owner = Number(/^portcullis-e2e-(\d+)-\d+$/.exec(name)?.[1]);
    if (owner && !isAlive(owner)) await ip(["netns", "delete", name]);
  }
}

export class NetworkNamespace {
  private readonly children = new Set<ChildProcess>();

  private constructor(readonly name: string) {}

  /** A new namespace with its loopback up and `addresses` (CIDR) added to it. */
  static async create(addresses: string[] = []): Promise<NetworkNamespace> {
    if (process.getuid?.() !== 0) throw new Error("network namespace tests need root (CAP_NET_ADMIN and CAP_SYS_ADMIN): run the e2e tests as root");
    await reapOrphans();
    const namespace = new NetworkNamespace(`${PREFIX}${process.pid}-${++created}`);
    await ip(["netns", "add", namespace.name]);
    try {
      await ip(["-n", namespace.name, "link", "set", "lo", "up"]);
      for (const address of addresses) await ip(["-n", namespace.name, "address", "add", address, "dev", "lo"]);
    } catch (error) {
      await namespace.delete();
      throw error;
    }
    return namespace;
  }

  private command(file: string, args: string[], uid: number | undefined): string[] {
    const identity = uid === undefined ? [] : ["setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"];
    return ["netns", "exec", this.name, ...identity, file, ...args];
  }

  /** Runs a program to completion inside the namespace. */
  exec(file: string, args: string[], options: ExecOptions = {}): Promise<CommandResult> {
    return runCommand("ip", this.command(file, args, options.uid), { env: process.env, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
  }

  /** Starts a long-lived program inside the namespace; delete() stops it. */
  spawn(file: string, args: string[], options: ExecOptions = {}): ChildProcess {
    const child = spawn("ip", this.command(file, args, options.uid), { stdio: ["ignore", "pipe", "pipe"] });
    this.children.add(child);
    return child;
  }

  async delete(): Promise<void> {
    for (const child of this.children) await shutDown(child, "SIGTERM");
    this.children.clear();
    await ip(["netns", "delete", this.name]);
  }
}
