// The protocol corners of the PostgreSQL gateway with real clients: TLS from
// the client to the gateway, COPY in both directions, LISTEN/NOTIFY and
// notices passed through, pipelined extended-protocol batches, and a large
// result delivered whole. The policy allows these commands and masks nothing,
// so what is tested is the wire handling.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import pg from "pg";
import { serialize } from "pg-protocol";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { freePort } from "../controlplane/processes.js";
import { startPostgres, type RunningPostgres } from "../postgres/server.js";
import { startSidecar, type SidecarProcess } from "./sidecar-process.js";

const run = promisify(execFile);
let server: RunningPostgres;
let gateway: SidecarProcess;
let dir: string;
let caFile: string;

const conninfo = (): string => `host=localhost port=${gateway.ports["warehouse"]} user=agent dbname=app sslmode=verify-full sslrootcert=${caFile}`;

async function psql(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
  const child = run("psql", ["-X", "-At", "-v", "ON_ERROR_STOP=1", conninfo(), ...args]);
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  return child;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "portcullis-protocol-"));
  const authority = await createCertificateAuthority("gateway-client-tls-test");
  const serving = await authority.issue({ commonName: "localhost", dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], usage: "server" });
  caFile = join(dir, "ca.crt");
  await Promise.all([writeFile(caFile, authority.certPem), writeFile(join(dir, "tls.crt"), serving.certPem), writeFile(join(dir, "tls.key"), serving.keyPem, { mode: 0o600 })]);
  server = await startPostgres({ tls: false });
  await server.psql(["-c", `CREATE TABLE public.items (id int PRIMARY KEY, name text); GRANT ALL ON public.items TO ${server.usersRole}`]);
  gateway = await startSidecar({
    extraArgs: ["--tls-cert", join(dir, "tls.crt"), "--tls-key", join(dir, "tls.key")],
    manifests: [
      { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { username: server.users.scram.username, password: server.users.scram.password } },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "Resource",
        metadata: { name: "warehouse" },
        spec: { protocol: "postgres", endpoint: { host: "127.0.0.1", port: server.port, tls: { mode: "disable" } }, listener: { port: await freePort() }, credentials: { secretRef: { name: "db" } } },
      },
      {
        apiVersion: "portcullis.dev/v1alpha1",
        kind: "AccessPolicy",
        metadata: { name: "loader" },
        spec: {
          subjects: { serviceAccounts: ["loader"] },
          resources: ["warehouse"],
          rules: [{ name: "data-work", match: { sql: { commands: ["SELECT", "INSERT", "COPY", "UTILITY", "TRANSACTION", "SET"] } }, action: "allow" }],
        },
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("the gateway's wire handling", () => {
  it("speaks TLS to a client that asks for it, verified against the configured certificate", async () => {
    const { stdout } = await psql(["-c", "SELECT 42"]);
    expect(stdout.trim()).toBe("42");
    const client = new pg.Client({ connectionString: `postgresql://agent@localhost:${gateway.ports["warehouse"]}/app`, ssl: { ca: await readFile(caFile, "utf8") } });
    await client.connect();
    expect((client as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream.encrypted).toBe(true);
    await client.end();
  });

  it("refuses plaintext sent behind an SSLRequest instead of taking it as if it came over TLS", async () => {
    const request = Buffer.alloc(8);
    request.writeInt32BE(8, 0);
    request.writeInt32BE(80877103, 4);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const socket = net.connect({ host: "127.0.0.1", port: gateway.ports["warehouse"] as number });
      const chunks: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => chunks.push(chunk));
      socket.on("error", reject);
      socket.on("close", () => resolve(Buffer.concat(chunks)));
      socket.setTimeout(3_000, () => socket.destroy());
      // One write: the request and an injected startup packet arrive together.
      socket.on("connect", () => socket.write(Buffer.concat([request, serialize.startup({ user: "mallory", database: "app" })])));
    });
    expect(reply.subarray(0, 1).toString("latin1")).toBe("E");
    expect(reply.toString("utf8")).toContain("unencrypted data after the SSL request");
  });

  it("carries COPY FROM STDIN and COPY TO STDOUT", async () => {
    const rows = Array.from({ length: 1000 }, (_, i) => `${i + 1}\titem ${i + 1}`).join("\n");
    const copyIn = await psql(["-c", "COPY items FROM STDIN"], `${rows}\n\\.\n`);
    expect(copyIn.stdout.trim()).toBe("COPY 1000");
    const copyOut = await psql(["-c", "COPY (SELECT id, name FROM items WHERE id <= 3 ORDER BY id) TO STDOUT"]);
    expect(copyOut.stdout).toBe("1\titem 1\n2\titem 2\n3\titem 3\n");
  });

  it("passes notifications and notices through", async () => {
    const listener = new pg.Client({ connectionString: `postgresql://agent@localhost:${gateway.ports["warehouse"]}/app`, ssl: { ca: await readFile(caFile, "utf8") } });
    await listener.connect();
    const notices: string[] = [];
    listener.on("notice", (notice) => notices.push(notice.message ?? ""));
    const received = new Promise<{ channel: string; payload?: string }>((resolve) => listener.on("notification", resolve));
    await listener.query("LISTEN stock_changes");
    await psql(["-c", "NOTIFY stock_changes, 'item 7 sold out'"]);
    expect(await received).toMatchObject({ channel: "stock_changes", payload: "item 7 sold out" });
    // A ROLLBACK outside a transaction makes the server send a warning, which is a NoticeResponse.
    await listener.query("ROLLBACK");
    expect(notices).toContain("there is no transaction in progress");
    await listener.end();
  });

  it("answers pipelined extended-protocol batches in order", async () => {
    const script = join(dir, "pipeline.sql");
    await writeFile(script, "\\set id random(1, 1000)\n\\startpipeline\nSELECT name FROM items WHERE id = :id;\nSELECT count(*) FROM items;\nSELECT :id + 1;\n\\endpipeline\n");
    const { stdout } = await run("pgbench", ["-n", "-M", "extended", "-c", "2", "-t", "200", "-f", script, "-h", "localhost", "-p", String(gateway.ports["warehouse"]), "-U", "agent", "app"], {
      env: { ...process.env, PGSSLMODE: "verify-full", PGSSLROOTCERT: caFile },
    });
    expect(stdout).toContain("number of transactions actually processed: 400/400");
  });

  it("delivers a large result whole", async () => {
    const { stdout } = await run("psql", ["-X", "-At", conninfo(), "-c", "SELECT g, repeat('x', 100) FROM generate_series(1, 200000) AS g"], { maxBuffer: 64 * 1024 * 1024 });
    const lines = stdout.trimEnd().split("\n");
    expect(lines.length).toBe(200_000);
    expect(lines[199_999]).toBe(`200000|${"x".repeat(100)}`);
  });
});
