// The CLI installs like a tool: `make build` leaves cli/dist/main.js
// executable, and `npm install --global ./cli` puts `portcullis` and
// `kubectl-portcullis` on the PATH, where kubectl finds the plugin.
import { statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { locateTools } from "../controlplane/tools.js";
import { runCommand } from "../processes/child-process.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = join(REPO, "cli/dist/main.js");

let prefix: string;
/** cli/dist/main.js's mode as the build left it (npm install sets the bit itself, so it is read first). */
let builtMode: number;
/** The installed tools first, then the node the project runs on (the CLI needs Node 22), then the system's. */
let path: string;

beforeAll(async () => {
  builtMode = statSync(MAIN).mode;
  prefix = await mkdtemp(join(tmpdir(), "portcullis-cli-install-"));
  path = [join(prefix, "bin"), dirname(process.execPath), dirname(locateTools().kubectl), process.env.PATH ?? ""].join(":");
  // --offline: installing a folder links it; nothing is fetched.
  const installed = await runCommand("npm", ["install", "--global", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", join(REPO, "cli")], { env: { ...process.env, PATH: path } });
  if (installed.code !== 0) throw new Error(`npm install --global ./cli failed: ${installed.stderr}`);
}, 120_000);

afterAll(async () => {
  if (prefix) await rm(prefix, { recursive: true, force: true });
});

describe("installing the CLI", () => {
  it("leaves cli/dist/main.js executable after the build", () => {
    expect(builtMode & 0o111).toBe(0o111);
  });

  it("puts portcullis on the PATH", async () => {
    const help = await runCommand("portcullis", ["--help"], { env: { ...process.env, PATH: path } });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: portcullis");
  });

  it("is found by kubectl as the portcullis plugin", async () => {
    const plugins = await runCommand("kubectl", ["plugin", "list"], { env: { ...process.env, PATH: path } });
    expect(plugins.stdout).toContain(join(prefix, "bin", "kubectl-portcullis"));
    expect(plugins.stderr).not.toContain("not executable");
    const help = await runCommand("kubectl", ["portcullis", "--help"], { env: { ...process.env, PATH: path } });
    expect(help.stdout).toContain("Usage: portcullis");
  });
});
