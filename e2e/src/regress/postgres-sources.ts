// PostgreSQL's regression suite for the server this machine runs: the Debian
// source package of the installed postgresql-<major> (fetched with apt-get
// source, so the archive's signed indexes vouch for it, and unpacked with the
// Debian patches the installed server was built with), configured and built
// only as far as pg_regress and the suite's C modules (regress.so, and
// refint.so and autoinc.so from contrib/spi). Kept in the tools cache by
// version; a second run builds nothing.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { toolsCacheDir } from "../controlplane/tools.js";
import { runCommand } from "../processes/child-process.js";

/** What the suite needs: its sources, pg_regress and the directory holding the C modules. */
export interface RegressSuite {
  /** The Debian version of the server package, e.g. 15.18-0+deb12u1. */
  version: string;
  /** src/test/regress of the unpacked sources: sql, expected, data, parallel_schedule. */
  suiteDir: string;
  pgRegress: string;
  /** regress.so, refint.so and autoinc.so. */
  modulesDir: string;
}

const DEBIAN_SOURCES = "/etc/apt/sources.list.d/debian.sources";
const BUILT_MARK = ".portcullis-built";

/** The installed Debian version of a package, or a clear error naming how to install it. */
async function installedVersion(pkg: string): Promise<string> {
  const result = await runCommand("dpkg-query", ["-W", "-f=${Version}", pkg], { env: process.env });
  if (result.code !== 0 || result.stdout.trim() === "") throw new Error(`${pkg} is not installed: run "make system-deps" (apt-get install ${pkg})`);
  return result.stdout.trim();
}

/**
 * The machine's Debian archives as source indexes: the deb822 file's `Types: deb` stanzas as
 * `deb-src`. A private apt state keeps the machine's own package lists untouched.
 */
export function sourceIndexes(debianSources: string): string {
  const stanzas = debianSources.split(/\n\s*\n/).filter((stanza) => /^Types:(?:.*\s)?deb(?:\s|$)/m.test(stanza));
  if (stanzas.length === 0) throw new Error(`${DEBIAN_SOURCES} names no Debian archive to fetch source packages from`);
  return `${stanzas.map((stanza) => stanza.replace(/^Types:.*$/m, "Types: deb-src").trim()).join("\n\n")}\n`;
}

async function step(what: string, file: string, args: string[], cwd: string, log: string): Promise<void> {
  const result = await runCommand(file, args, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" }, cwd });
  writeFileSync(log, `$ ${file} ${args.join(" ")}\n${result.stdout}${result.stderr}\n`, { flag: "a" });
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}); see ${log}:\n${(result.stderr || result.stdout).trim().split("\n").slice(-15).join("\n")}`);
}

/** Fetches, unpacks and builds the suite of the installed postgresql-<major>, unless the cache has it. */
export async function regressSuite(major: number, progress: (line: string) => void): Promise<RegressSuite> {
  const pkg = `postgresql-${major}`;
  const version = await installedVersion(pkg);
  const dir = join(toolsCacheDir(), "postgresql-regress", version);
  const sourceDir = join(dir, "source");
  const suiteDir = join(sourceDir, "src", "test", "regress");
  const suite: RegressSuite = { version, suiteDir, pgRegress: join(suiteDir, "pg_regress"), modulesDir: suiteDir };
  if (existsSync(join(dir, BUILT_MARK))) return suite;

  rmSync(dir, { recursive: true, force: true });
  const apt = join(dir, "apt");
  for (const sub of ["sources.list.d", "lists/partial", "cache/archives/partial"]) mkdirSync(join(apt, sub), { recursive: true });
  writeFileSync(join(apt, "sources.list.d", "debian-src.sources"), sourceIndexes(readFileSync(DEBIAN_SOURCES, "utf8")));
  const aptOptions = [
    "-o", "Dir::Etc::SourceList=/dev/null",
    "-o", `Dir::Etc::SourceParts=${join(apt, "sources.list.d")}`,
    "-o", `Dir::State::Lists=${join(apt, "lists")}`,
    "-o", `Dir::Cache=${join(apt, "cache")}`,
    // The download directory is root's; apt's sandbox user could not write it.
    "-o", "APT::Sandbox::User=root",
  ];
  const log = join(dir, "build.log");
  progress(`fetching the source package ${pkg}=${version} from Debian's archive`);
  await step("apt-get update (source indexes)", "apt-get", [...aptOptions, "update"], dir, log);
  await step(`apt-get source ${pkg}=${version}`, "apt-get", [...aptOptions, "source", "--download-only", `${pkg}=${version}`], dir, log);
  const dsc = `${pkg}_${version.replace(/^\d+:/, "")}.dsc`;
  progress("unpacking it with the Debian patches");
  await step("dpkg-source -x", "dpkg-source", ["-x", dsc, "source"], dir, log);
  progress("configuring and building pg_regress, regress.so, refint.so and autoinc.so (about a minute)");
  // Only the suite's own modules are built; the options leave out libraries the suite's C code does not use.
  await step("configure", "./configure", ["--without-readline", "--without-zlib", "--without-icu", "--without-llvm"], sourceDir, log);
  await step("make -C src/test/regress", "make", ["-j2", "-C", "src/test/regress"], sourceDir, log);
  rmSync(apt, { recursive: true, force: true });
  writeFileSync(join(dir, BUILT_MARK), `${version}\n`);
  return suite;
}
