// What running a node changes on the host, recorded before it starts and put
// back when it stops — or, after a run that was killed, when the next one
// starts: sysctls, iptables (v4 and v6), network links, routes and addresses,
// mounts, the kubepods cgroups, the processes inside them, and directories
// the kubelet and CNI plugins create at fixed paths. The record is a file, so
// the process that restores need not be the one that recorded.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SYSCTLS = ["vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops", "net/ipv4/ip_forward", "net/ipv4/conf/all/route_localnet"];
const FIXED_DIRS = ["/var/lib/kubelet", "/var/log/containers", "/var/log/pods", "/var/lib/cni", "/run/netns", "/etc/cni", "/opt/cni"];
const CGROUP_ROOT = "/sys/fs/cgroup";
const IPTABLES_TABLES = ["filter", "nat", "mangle", "raw"];

/** Changes the harness makes on purpose; undone first. */
export interface OwnChanges {
  /** Routes added as `ip route add unreachable <cidr>`. */
  unreachableRoutes: string[];
  /** Addresses added to lo as `ip addr add <cidr> dev lo`. */
  loopbackAddresses: string[];
  /** The CNI bridge; it and the veths the CNI plugin names veth<8 hex> are the node's links. */
  bridge: string;
}

export interface HostRecord extends OwnChanges {
  sysctls: Record<string, string>;
  iptables: { v4: string; v6: string };
  links: string[];
  mounts: string[];
  existingDirs: string[];
  cgroupsExisting: string[];
  /** The node's own directory; processes, mounts and files under it are the node's. */
  nodeDir: string;
  /** The process that started the node: while it lives, the node is in use. */
  ownerPid: number;
}

const run = (command: string, args: string[], input?: string): string =>
  execFileSync(command, args, { encoding: "utf8", ...(input === undefined ? {} : { input }), stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });

function attempt(what: string, action: () => void, problems: string[]): void {
  try {
    action();
  } catch (error) {
    problems.push(`${what}: ${(error as Error).message.split("\n")[0] ?? ""}`);
  }
}

const links = (): string[] => (JSON.parse(run("ip", ["-j", "link", "show"])) as { ifname: string }[]).map((link) => link.ifname);
const mountPoints = (): string[] => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean).map((line) => line.split(" ")[4] as string);
const kubepodsCgroups = (): string[] => readdirSync(CGROUP_ROOT).map((controller) => join(CGROUP_ROOT, controller, "kubepods")).filter((dir) => existsSync(dir));

export function recordHost(nodeDir: string, own: OwnChanges): HostRecord {
  return {
    ...own,
    nodeDir,
    ownerPid: process.pid,
    sysctls: Object.fromEntries(SYSCTLS.filter((key) => existsSync(`/proc/sys/${key}`)).map((key) => [key, readFileSync(`/proc/sys/${key}`, "utf8").trim()])),
    iptables: { v4: run("iptables-save", []), v6: run("ip6tables-save", []) },
    links: links(),
    mounts: mountPoints(),
    existingDirs: FIXED_DIRS.filter((dir) => existsSync(dir)),
    cgroupsExisting: kubepodsCgroups(),
  };
}

export function saveRecord(path: string, record: HostRecord): void {
  writeFileSync(path, JSON.stringify(record, null, 2));
}

export function loadRecord(path: string): HostRecord | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as HostRecord) : undefined;
}

/** Every process in a cgroup tree, deepest first. */
function cgroupProcesses(dir: string): number[] {
  const children = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory());
  const own = existsSync(join(dir, "cgroup.procs")) ? readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number) : [];
  return [...children.flatMap((child) => cgroupProcesses(join(dir, child.name))), ...own];
}

function removeCgroupTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) removeCgroupTree(join(dir, entry.name));
  rmdirSync(dir);
}

/** Processes whose command line names the node's directory (containerd and its shims) and everything in its cgroups: killed. */
export function killNodeProcesses(record: HostRecord): void {
  const pids = new Set<number>();
  for (const entry of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(record.nodeDir)) pids.add(Number(entry));
    } catch {
      // gone already
    }
  }
  for (const dir of kubepodsCgroups().filter((cgroup) => !record.cgroupsExisting.includes(cgroup))) for (const pid of cgroupProcesses(dir)) pids.add(pid);
  pids.delete(process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
}

/** Puts the host back as recorded; returns what could not be undone (empty when all was). */
export function restoreHost(record: HostRecord): string[] {
  const problems: string[] = [];
  killNodeProcesses(record);
  // The node's mounts, deepest first: overlay snapshots and network namespaces under its directory, and the
  // kubelet's share of /run/netns when it was not there before. Others' mounts are left alone.
  const ours = (point: string): boolean => point.startsWith(`${record.nodeDir}/`) || (point.startsWith("/run/netns") && !record.existingDirs.includes("/run/netns"));
  for (const mount of mountPoints().filter((point) => ours(point) && !record.mounts.includes(point)).reverse()) attempt(`unmount ${mount}`, () => run("umount", ["-l", mount]), problems);
  for (const dir of kubepodsCgroups().filter((cgroup) => !record.cgroupsExisting.includes(cgroup))) attempt(`remove cgroup ${dir}`, () => removeCgroupTree(dir), problems);
  const nodeLink = (name: string): boolean => name === record.bridge || /^veth[0-9a-f]{8}$/.test(name);
  for (const link of links().filter((name) => nodeLink(name) && !record.links.includes(name))) attempt(`delete link ${link}`, () => run("ip", ["link", "delete", link]), problems);
  for (const [v, save, restore] of [["v4", "iptables", "iptables-restore"], ["v6", "ip6tables", "ip6tables-restore"]] as const) {
    for (const table of IPTABLES_TABLES) attempt(`flush ${save} ${table}`, () => (run(save, ["-t", table, "-F"]), run(save, ["-t", table, "-X"])), problems);
    attempt(`restore ${save}`, () => run(restore, [], record.iptables[v]), problems);
  }
  for (const [key, value] of Object.entries(record.sysctls)) attempt(`sysctl ${key}`, () => writeFileSync(`/proc/sys/${key}`, value), problems);
  for (const dir of FIXED_DIRS.filter((path) => existsSync(path) && !record.existingDirs.includes(path))) attempt(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }), problems);
  const addresses = run("ip", ["-4", "-o", "addr", "show", "dev", "lo"]);
  for (const cidr of record.loopbackAddresses.filter((address) => addresses.includes(` ${address} `))) attempt(`remove address ${cidr}`, () => run("ip", ["addr", "del", cidr, "dev", "lo"]), problems);
  // Last: until now nothing may route a pod or service address off the machine.
  const unreachable = run("ip", ["route", "show", "type", "unreachable"]);
  for (const cidr of record.unreachableRoutes.filter((route) => unreachable.includes(route))) attempt(`remove route ${cidr}`, () => run("ip", ["route", "del", "unreachable", cidr]), problems);
  return problems;
}

/** iptables rules and chain policies, without counters or empty tables (iptables-nft cannot remove a table once made). */
export function iptablesRules(dump: string): string[] {
  return dump
    .split("\n")
    .filter((line) => line.startsWith("-A ") || (line.startsWith(":") && !/ ACCEPT \[/.test(line)))
    .map((line) => line.replace(/\[\d+:\d+\]/, ""))
    .sort();
}
