// Assembles an image's root filesystem in a directory, without a base image:
// host programs with the shared libraries they load (ldd), in the merged-/usr
// layout of the Debian host, and Node applications of this repository with
// their production dependencies only (`npm ls --omit=dev`). What goes in is
// decided by the image specs (specs.ts); this is only the copying.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/** Compiled files the images leave out: tests, micro-benchmarks, type declarations, source maps. */
const LEFT_OUT = /(\.test\.js|\.bench\.js|\.d\.ts|\.map|\.tsbuildinfo)$/;

export class RootFs {
  constructor(readonly dir: string) {
    for (const sub of ["usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "proc", "sys", "dev", "run", "tmp"]) mkdirSync(join(dir, sub), { recursive: true });
    chmodSync(join(dir, "tmp"), 0o1777);
    for (const link of ["bin", "sbin", "lib", "lib64"]) if (!exists(join(dir, link))) symlinkSync(`usr/${link}`, join(dir, link));
  }

  /** Accounts for the image's users; `users` maps names to UIDs (each user has a group of the same number). */
  addAccounts(users: Record<string, number>): void {
    const entries = Object.entries({ root: 0, ...users });
    this.addFile("etc/passwd", entries.map(([name, uid]) => `${name}:x:${uid}:${uid}:${name}:${uid === 0 ? "/root" : "/tmp"}:/usr/sbin/nologin\n`).join(""));
    this.addFile("etc/group", entries.map(([name, uid]) => `${name}:x:${uid}:\n`).join(""));
  }

  addFile(path: string, content: string, mode = 0o644): void {
    const target = join(this.dir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content, { mode });
    chmodSync(target, mode);
  }

  symlink(path: string, target: string): void {
    const at = join(this.dir, path);
    mkdirSync(dirname(at), { recursive: true });
    if (!exists(at)) symlinkSync(target, at);
  }

  /** Host files or directories at the same paths, symbolic links followed and kept, with the libraries each program loads. */
  addHostFiles(paths: readonly string[]): void {
    for (const path of paths) this.copyHost(path);
  }

  /** A host file placed at another path of the image (e.g. a binary from the tool cache). */
  addHostFileAs(source: string, path: string): void {
    const target = join(this.dir, path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    chmodSync(target, lstatSync(source).mode & 0o7777);
    for (const library of sharedLibraries(source)) this.copyHost(library);
  }

  /**
   * A workspace of this repository under /app/<workspace> (package.json and its compiled dist/), with the
   * packages it needs at run time in /app/node_modules; the workspaces among them come along the same way.
   */
  addNodeApp(repo: string, workspace: string): void {
    const listing = execFileSync("npm", ["ls", "--omit=dev", "--all", "--parseable", `--workspace=${workspace}`], { cwd: repo, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    this.addWorkspace(repo, workspace);
    // Packages live in node_modules folders anywhere in the tree (npm places some beside a workspace, e.g. crds/node_modules).
    for (const path of listing.split("\n").filter((line) => line.startsWith(repo) && line.includes("/node_modules/"))) {
      const inImage = join(this.dir, "app", relative(repo, path));
      if (lstatSync(path).isSymbolicLink()) {
        // A workspace package: node_modules/@portcullis/x -> ../../x
        const target = readlinkSync(path);
        this.symlink(relative(this.dir, inImage), target);
        this.addWorkspace(repo, relative(repo, resolve(dirname(path), target)));
      } else {
        copyTree(path, inImage, (name) => name !== "node_modules");
      }
    }
  }

  /**
   * A package of the repository's node_modules and every package it needs at run time, found the way
   * Node resolves them, placed under `target` in the same layout (for a tool that is not a workspace).
   */
  addPackageClosure(repo: string, name: string, target: string): void {
    const seen = new Set<string>();
    const visit = (path: string): void => {
      if (seen.has(path)) return;
      seen.add(path);
      copyTree(path, join(this.dir, target, relative(repo, path)), (entry) => entry !== "node_modules");
      const manifest = JSON.parse(readFileSync(join(path, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
      for (const dependency of Object.keys(manifest.dependencies ?? {})) visit(resolvePackage(path, dependency));
    };
    visit(resolvePackage(repo, name));
  }

  private addWorkspace(repo: string, workspace: string): void {
    const target = join(this.dir, "app", workspace);
    if (exists(join(target, "package.json"))) return;
    mkdirSync(target, { recursive: true });
    copyFileSync(join(repo, workspace, "package.json"), join(target, "package.json"));
    copyTree(join(repo, workspace, "dist"), join(target, "dist"), (name) => !LEFT_OUT.test(name));
  }

  private copyHost(path: string): void {
    const target = join(this.dir, path);
    if (exists(target)) return;
    mkdirSync(dirname(target), { recursive: true });
    const stat = lstatSync(path);
    if (stat.isSymbolicLink()) {
      const link = readlinkSync(path);
      symlinkSync(link, target);
      this.copyHost(resolve(dirname(path), link));
    } else if (stat.isDirectory()) {
      mkdirSync(target, { recursive: true });
      for (const name of readdirSync(path).sort()) this.copyHost(join(path, name));
    } else {
      copyFileSync(path, target);
      chmodSync(target, stat.mode & 0o7777);
      for (const library of sharedLibraries(path)) this.copyHost(library);
    }
  }
}

/** The folder of package `name` as Node finds it from `from`: the nearest node_modules/<name> up the tree. */
function resolvePackage(from: string, name: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) throw new Error(`package ${name} is not installed where ${from} would find it`);
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The libraries a program or library loads, as ldd resolves them on this host; none for other files. */
function sharedLibraries(path: string): string[] {
  let output: string;
  try {
    output = execFileSync("ldd", [path], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return []; // not a dynamic executable
  }
  return [...output.matchAll(/(\/\S+) \(0x/g)].map((match) => match[1] as string).filter((library) => existsSync(library));
}

function copyTree(source: string, target: string, keep: (name: string) => boolean): void {
  const stat = lstatSync(source);
  if (stat.isSymbolicLink()) {
    mkdirSync(dirname(target), { recursive: true });
    if (!exists(target)) symlinkSync(readlinkSync(source), target);
  } else if (stat.isDirectory()) {
    mkdirSync(target, { recursive: true });
    for (const name of readdirSync(source).sort()) if (keep(name)) copyTree(join(source, name), join(target, name), keep);
  } else {
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(source, target);
    chmodSync(target, stat.mode & 0o7777);
  }
}
