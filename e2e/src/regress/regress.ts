// `make regress`: PostgreSQL's own regression suite, run directly against a
// test server and then through the gateway with an allow-everything policy,
// reporting the tests that pass directly but not through the gateway. Every
// such test must be in EXPLAINED (and the README's section on it) with the
// reason; an unexplained difference fails the run. Not part of `make test`
// (it takes a few minutes and fetches the PostgreSQL sources once).
import { basename, dirname, join } from "node:path";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { startPostgres } from "../postgres/server.js";
import { startSidecar } from "../gateway/sidecar-process.js";
import { freePort } from "../controlplane/processes.js";
import { regressSuite } from "./postgres-sources.js";
import { RUN_DIR_PREFIX, runSuite, type SuiteRun } from "./pg-regress.js";
import { EXPLAINED } from "./explained-differences.js";

function passed(run: SuiteRun): string[] {
  return [...run.outcomes].filter(([, outcome]) => outcome !== "FAILED").map(([name]) => name);
}

function report(label: string, run: SuiteRun): void {
  const total = run.outcomes.size;
  if (total === 0) throw new Error(`pg_regress ran no tests ${label}:\n${run.log}`);
  console.log(`${label.padEnd(20)} ${passed(run).length}/${total} passed   (${join(run.outputDir, "regression.diffs")})`);
}

/** The run directories of earlier runs (kept until the next run, for their diffs). */
function removeEarlierRuns(): void {
  for (const name of readdirSync(tmpdir())) if (name.startsWith(RUN_DIR_PREFIX)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
}

async function main(): Promise<void> {
  removeEarlierRuns();
  const pg = await startPostgres({ tls: false });
  try {
    const major = Number(basename(dirname(pg.binDir)));
    const suite = await regressSuite(major, (line) => console.log(`- ${line}`));
    console.log(`PostgreSQL ${suite.version}: pg_regress (installcheck: it creates the regression database), parallel_schedule`);
    const login = { user: pg.superuser.username, password: pg.superuser.password, binDir: pg.binDir };
    const direct = await runSuite(suite, { host: pg.host, port: pg.port, ...login }, "direct");
    report("directly", direct);

    const gateway = await startSidecar({
      manifests: [
        { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { username: pg.superuser.username, password: pg.superuser.password } },
        {
          apiVersion: "portcullis.dev/v1alpha1",
          kind: "Resource",
          metadata: { name: "regression-db" },
          spec: { protocol: "postgres", endpoint: { host: "127.0.0.1", port: pg.port, tls: { mode: "disable" } }, listener: { port: await freePort() }, credentials: { secretRef: { name: "db" } } },
        },
        {
          apiVersion: "portcullis.dev/v1alpha1",
          kind: "AccessPolicy",
          metadata: { name: "allow-everything" },
          spec: { subjects: { serviceAccounts: ["regress"] }, resources: ["regression-db"], rules: [], defaultAction: "allow" },
        },
      ],
    });
    let through: SuiteRun;
    try {
      through = await runSuite(suite, { host: "127.0.0.1", port: gateway.ports["regression-db"] as number, ...login }, "gateway");
    } finally {
      await gateway.stop();
    }
    report("through the gateway", through);

    const directPasses = new Set(passed(direct));
    const differences = [...through.outcomes].filter(([name, outcome]) => outcome === "FAILED" && directPasses.has(name)).map(([name]) => name);
    const unexplained = differences.filter((name) => !EXPLAINED[name]);
    for (const name of differences) console.log(`  ${name.padEnd(24)} ${EXPLAINED[name] ?? "UNEXPLAINED: see the test's diff in regression.diffs"}`);
    const stale = Object.keys(EXPLAINED).filter((name) => !differences.includes(name));
    for (const name of stale) console.log(`  ${name.padEnd(24)} passes now: remove it from e2e/src/regress/explained-differences.ts and the README`);
    if (existsSync(join(through.outputDir, "regression.diffs")) && unexplained.length > 0) {
      console.log(readFileSync(join(through.outputDir, "regression.diffs"), "utf8").slice(0, 20_000));
    }
    if (unexplained.length > 0 || stale.length > 0) process.exitCode = 1;
  } finally {
    await pg.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
