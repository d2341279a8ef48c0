// `make bench-micro`: runs every compiled *.bench.js beside the hot path
// (common and sidecar), one process each, with the gateway's V8 flags and
// malloc setting from the image specs, so the parts are timed as they run in
// the gateway.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GATEWAY_NODE_FLAGS, NODE_MEMORY_ENV } from "../images/specs.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

function benches(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".bench.js"))
    .map((entry) => join(entry.parentPath, entry.name));
}

const files = ["common/dist", "sidecar/dist"].flatMap((dir) => benches(join(ROOT, dir))).sort();
if (files.length === 0) {
  console.error("no *.bench.js under common/dist or sidecar/dist: run `make build` first");
  process.exit(1);
}
for (const file of files) {
  const run = spawnSync(process.execPath, [...GATEWAY_NODE_FLAGS, file], { stdio: "inherit", env: { ...process.env, ...NODE_MEMORY_ENV } });
  if (run.status !== 0) process.exit(run.status ?? 1);
}
