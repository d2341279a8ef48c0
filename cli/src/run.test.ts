// The command line as a user meets it: every mistake is one line plus the
// usage and exit 2, --help wins and exits 0, and failures that are not the
// command line's fault are one line and exit 1 — never a stack trace.
import { describe, expect, it } from "@jest/globals";
import { capturedIo } from "./captured-io.js";
import { run } from "./run.js";

async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const captured = capturedIo();
  const code = await run(argv, captured.io);
  return { code, stdout: captured.stdout(), stderr: captured.stderr() };
}

describe("command-line mistakes", () => {
  it.each([
    [[], "error: missing command", "Usage: portcullis <command>"],
    [["frobnicate"], 'error: unknown command "frobnicate"', "Usage: portcullis <command>"],
    [["approvals"], "error: missing command", "Usage: portcullis approvals <command>"],
    [["approvals", "vote"], 'error: unknown command "vote"', "Usage: portcullis approvals <command>"],
    [["approvals", "list", "--bogus"], "error: unknown option --bogus", "Usage: portcullis approvals list"],
    [["approvals", "list", "-n"], "error: option -n, --namespace needs a value", "Usage: portcullis approvals list"],
    [["approvals", "list", "--all-namespaces=yes"], "error: option -A, --all-namespaces takes no value", "Usage: portcullis approvals list"],
    [["approvals", "list", "-o", "yaml"], 'error: -o/--output must be one of table, json, not "yaml"', "Usage: portcullis approvals list"],
    [["approvals", "list", "--phase", "Maybe"], 'error: --phase must be one of Pending, Approved, Denied, Expired, not "Maybe"', "Usage: portcullis approvals list"],
    [["approvals", "list", "-A", "-n", "agents"], "error: -n/--namespace and -A/--all-namespaces cannot be combined", "Usage: portcullis approvals list"],
    [["approvals", "list", "extra"], 'error: unexpected argument "extra"', "Usage: portcullis approvals list"],
    [["approvals", "approve"], "error: missing NAME", "Usage: portcullis approvals approve NAME"],
    [["approvals", "deny", "a", "b"], 'error: unexpected argument "b"', "Usage: portcullis approvals deny NAME"],
    [["sessions", "list"], "error: name the store with either --store-configmap NAME or --store-file FILE", "Usage: portcullis sessions list"],
    [["sessions", "list", "--store-file", "s.yaml", "--store-configmap", "evidence"], "error: name the store with either --store-configmap NAME or --store-file FILE", "Usage: portcullis sessions list"],
    [["sessions", "list", "--store-file", "s.yaml", "--store-namespace", "agents"], "error: --store-namespace goes with --store-configmap, not --store-file", "Usage: portcullis sessions list"],
    [["sessions", "list", "--store-file", "s.yaml", "--since", "yesterday"], 'error: --since takes a duration (30m, 1h, 2d) or an RFC 3339 time, not "yesterday"', "Usage: portcullis sessions list"],
    [["sessions", "list", "--progress"], "error: unknown option --progress", "Usage: portcullis sessions list"],
    [["sessions", "replay", "--store-file", "s.yaml"], "error: missing ID", "Usage: portcullis sessions replay ID"],
    [["sessions", "verify", "X", "--public-key"], "error: option --public-key needs a value", "Usage: portcullis sessions verify ID"],
  ])("%j is refused with one line and the usage", async (argv, line, usage) => {
    const result = await runCli(argv);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    const [first, blank, ...rest] = result.stderr.split("\n");
    expect(first).toBe(line);
    expect(blank).toBe("");
    expect(rest.join("\n")).toContain(usage);
  });
});

describe("--help", () => {
  it.each([
    [["--help"], "Usage: portcullis <command>"],
    [["help"], "Usage: portcullis <command>"],
    [["approvals", "-h"], "Usage: portcullis approvals <command>"],
    [["approvals", "approve", "--help"], "Usage: portcullis approvals approve NAME"],
    [["sessions", "verify", "--bogus", "-h"], "Usage: portcullis sessions verify ID"],
    [["sessions", "list", "--help"], "--since TIME"],
  ])("%j prints the usage on stdout and exits 0", async (argv, usage) => {
    const result = await runCli(argv);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toContain(usage);
  });
});

describe("failures", () => {
  it.each([
    [["approvals", "list", "--kubeconfig", "/nonexistent/kubeconfig"], "error: cannot load the kubeconfig /nonexistent/kubeconfig: "],
    [["sessions", "list", "--store-file", "/nonexistent/store.yaml"], "error: cannot read the store file /nonexistent/store.yaml: "],
    [["sessions", "verify", "X", "--store-file", "/nonexistent/store.yaml", "--public-key", "/nonexistent/key.pem"], "error: cannot read the public key /nonexistent/key.pem: "],
  ])("%j fails with one line and exit 1", async (argv, start) => {
    const result = await runCli(argv);
    expect(result.code).toBe(1);
    expect(result.stderr.startsWith(start)).toBe(true);
    expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
