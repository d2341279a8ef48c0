// Finds the PostgreSQL server and client programs the e2e tests run. Debian
// installs each major version side by side under /usr/lib/postgresql/<major>/bin
// and puts only wrappers on PATH, so the server binaries are looked up there
// (newest major with a server), falling back to `pg_config --bindir`. A missing
// installation is an error that says how to install it: tests never skip.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const DEBIAN_VERSIONS_DIR = "/usr/lib/postgresql";
const INSTALL_HINT = 'run "make system-deps" (apt-get install postgresql-15 postgresql-client-15)';

export interface PostgresBinaries {
  binDir: string;
  initdb: string;
  postgres: string;
  psql: string;
  pgIsready: string;
  pgbench: string;
}

/** The newest major version among directory names like "13", "15", "9.6"; names that are not versions are ignored. */
export function newestVersion(names: string[]): string | undefined {
  const versions = names.filter((name) => /^\d+(\.\d+)?$/.test(name));
  return versions.sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))[0];
}

function debianBinDir(): string | undefined {
  if (!existsSync(DEBIAN_VERSIONS_DIR)) return undefined;
  // A client-only package also creates <major>/bin (with psql), so only versions with a server count.
  const withServer = readdirSync(DEBIAN_VERSIONS_DIR).filter((name) => existsSync(join(DEBIAN_VERSIONS_DIR, name, "bin", "postgres")));
  const version = newestVersion(withServer);
  return version === undefined ? undefined : join(DEBIAN_VERSIONS_DIR, version, "bin");
}

function pgConfigBinDir(): string | undefined {
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Paths of the PostgreSQL programs; throws, naming what is missing and how to install it. */
export function locatePostgresBinaries(): PostgresBinaries {
  const binDir = debianBinDir() ?? pgConfigBinDir();
  if (binDir === undefined) {
    throw new Error(`PostgreSQL is not installed (no ${DEBIAN_VERSIONS_DIR}/<version>/bin/postgres, no pg_config): ${INSTALL_HINT}`);
  }
  const programs = {
    initdb: join(binDir, "initdb"),
    postgres: join(binDir, "postgres"),
    psql: join(binDir, "psql"),
    pgIsready: join(binDir, "pg_isready"),
    pgbench: join(binDir, "pgbench"),
  };
  const missing = Object.values(programs).filter((path) => !existsSync(path));
  if (missing.length > 0) throw new Error(`PostgreSQL programs are missing: ${missing.join(", ")}: ${INSTALL_HINT}`);
  return { binDir, ...programs };
}
