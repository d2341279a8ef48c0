// The Dockerfile and `make images` build the same shipped images: for each
// shipped spec, the stage of the same name (with the stages it builds on)
// has the spec's entrypoint and user, copies the compiled workspace its
// entrypoint runs, and starts from the Node major the project runs on.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { IMAGES } from "./specs.js";

interface Stage {
  name: string;
  from: string;
  lines: string[];
}

function stages(text: string): Map<string, Stage> {
  const result = new Map<string, Stage>();
  let current: Stage | undefined;
  for (const line of text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim())) {
    const from = /^FROM\s+(\S+)\s+AS\s+(\S+)$/i.exec(line);
    if (from) {
      current = { name: from[2] as string, from: from[1] as string, lines: [] };
      result.set(current.name, current);
    } else if (current && line !== "" && !line.startsWith("#")) current.lines.push(line);
  }
  return result;
}

/** The stage's instructions after those of the stages it is built on. */
function withBases(all: Map<string, Stage>, name: string): string[] {
  const stage = all.get(name);
  if (!stage) return [];
  return [...withBases(all, stage.from), ...stage.lines];
}

const dockerfile = stages(readFileSync(fileURLToPath(new URL("../../../Dockerfile", import.meta.url)), "utf8"));
const last = (lines: string[], instruction: string): string | undefined => lines.filter((line) => line.startsWith(`${instruction} `)).at(-1)?.slice(instruction.length + 1);

const repoFile = (path: string): string => readFileSync(fileURLToPath(new URL(`../../../${path}`, import.meta.url)), "utf8");

/** The folders of the workspaces a workspace needs at run time (its @portcullis dependencies), e.g. common and crds/models. */
function workspaceDependencies(workspace: string): string[] {
  const root = JSON.parse(repoFile("package.json")) as { workspaces: string[] };
  const folderOf = new Map(root.workspaces.map((folder) => [(JSON.parse(repoFile(`${folder}/package.json`)) as { name: string }).name, folder]));
  const dependencies = (JSON.parse(repoFile(`${workspace}/package.json`)) as { dependencies?: Record<string, string> }).dependencies ?? {};
  return Object.keys(dependencies).flatMap((name) => folderOf.get(name) ?? []);
}

describe("the Dockerfile", () => {
  it.each(IMAGES.filter((spec) => spec.shipped).map((spec) => [spec.name, spec] as const))("builds %s as make images does", (name, spec) => {
    const lines = withBases(dockerfile, name);
    expect(lines.length).toBeGreaterThan(0);
    expect(JSON.parse(last(lines, "ENTRYPOINT") ?? "null")).toEqual(spec.entrypoint);
    expect(last(lines, "USER")).toBe(spec.user);
    for (const variable of spec.env.filter((entry) => !entry.startsWith("PATH="))) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^ENV .*\\b${variable}( |$)`)));
    const script = spec.entrypoint.at(-1);
    if (script?.startsWith("/app/")) {
      const workspace = script.split("/")[2];
      expect(lines).toContain(`COPY --from=build /src/${workspace}/dist /app/${workspace}/dist`);
      expect(lines).toContain("COPY --from=build /src/node_modules /app/node_modules");
      for (const folder of workspaceDependencies(workspace as string)) expect(lines).toContain(`COPY --from=build /src/${folder}/dist /app/${folder}/dist`);
    }
  });

  it("copies every node_modules folder npm places beside a workspace, where only that workspace finds its packages", () => {
    const lock = JSON.parse(readFileSync(fileURLToPath(new URL("../../../package-lock.json", import.meta.url)), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    const folders = new Set(
      Object.entries(lock.packages)
        .filter(([path, entry]) => !entry.dev && /^[^/]/.test(path) && !path.startsWith("node_modules/") && path.includes("/node_modules/"))
        .map(([path]) => path.slice(0, path.indexOf("/node_modules/"))),
    );
    const runtime = withBases(dockerfile, "node-runtime");
    for (const folder of folders) expect(runtime).toContain(`COPY --from=build /src/${folder}/node_modules /app/${folder}/node_modules`);
  });

  it("builds on the Node major the project runs on", () => {
    const engines = (JSON.parse(readFileSync(fileURLToPath(new URL("../../../package.json", import.meta.url)), "utf8")) as { engines: { node: string } }).engines.node;
    expect(dockerfile.get("build")?.from).toMatch(new RegExp(`^node:${/\d+/.exec(engines)?.[0]}-`));
  });
});
