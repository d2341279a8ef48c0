// Waits on cluster state through kubectl, shared by the suites that run an operator.
import type { CommandResult } from "../processes/child-process.js";
import { waitUntil } from "../processes/wait.js";

type Kubectl = (args: string[]) => Promise<CommandResult>;

/** Polls a jsonpath until it equals `expected`; on timeout the error names the last value seen. */
export async function waitForJsonPath(kubectl: Kubectl, args: string[], jsonpath: string, expected: string, timeoutMs: number): Promise<void> {
  let last = "";
  try {
    await waitUntil(`${args.join(" ")} ${jsonpath}`, async () => {
      const result = await kubectl([...args, "-o", `jsonpath=${jsonpath}`]);
      last = result.code === 0 ? result.stdout : result.stderr;
      return last === expected;
    }, timeoutMs);
  } catch {
    throw new Error(`${args.join(" ")} ${jsonpath}: expected "${expected}", last saw "${last}"`);
  }
}

/** The first Pending ApprovalRequest of a namespace (an absent phase is Pending), once one appears. */
export async function pendingApproval(kubectl: Kubectl, namespace: string, timeoutMs = 20_000): Promise<{ name: string; spec: Record<string, unknown> }> {
  let pending: { name: string; spec: Record<string, unknown> } | undefined;
  await waitUntil("a Pending ApprovalRequest", async () => {
    const result = await kubectl(["get", "approvalrequests", "-n", namespace, "-o", "json"]);
    if (result.code !== 0) return false;
    const list = JSON.parse(result.stdout) as { items: Array<{ metadata: { name: string }; spec: Record<string, unknown>; status?: { phase?: string } }> };
    const item = list.items.find((candidate) => (candidate.status?.phase ?? "Pending") === "Pending");
    pending = item && { name: item.metadata.name, spec: item.spec };
    return pending !== undefined;
  }, timeoutMs);
  return pending as { name: string; spec: Record<string, unknown> };
}
