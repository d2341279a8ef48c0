import { afterEach, beforeEach, describe, expect, it } from "@jest/globals";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { GrantCache } from "../approvals/grants.js";
import { NoApprovals } from "../approvals/no-approvals.js";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { bundleFromManifests, defaultStandaloneIdentity } from "../config/manifests.js";
import { EvidenceSpool } from "../evidence/spool.js";
import { createLogger } from "../observability/logger.js";
import { createGatewayMetrics } from "../observability/metrics.js";
import { Gateway } from "./gateway.js";
import { ProtocolRegistry } from "./registry.js";
import { BufferBudget } from "./byte-budget.js";
import { PodCertificates } from "./pod-certificates.js";
import { postgresGateway } from "../protocols/postgres/gateway.js";

/** A standalone configuration serving each named Resource on its port. */
function manifests(listeners: Record<string, number>): string {
  const resources = Object.entries(listeners).map(
    ([name, port]) => `
apiVersion: portcullis.dev/v1alpha1
kind: Resource
metadata: {name: ${name}}
spec:
  protocol: postgres
  endpoint: {host: 127.0.0.1, port: 5432, tls: {mode: disable}}
  listener: {port: ${port}}
  credentials: {secretRef: {name: db}}`,
  );
  return [
    "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {username: app, password: app-password}",
    ...resources,
    `apiVersion: portcullis.dev/v1alpha1
kind: AccessPolicy
metadata: {name: reads}
spec:
  subjects: {serviceAccounts: [agent]}
  resources: [${Object.keys(listeners).join(", ")}]
  rules: [{name: reads, match: {sql: {commands: [SELECT]}}, action: allow}]`,
  ].join("\n---\n");
}

const bundle = (listeners: Record<string, number>): ConfigBundle => bundleFromManifests(manifests(listeners), "gateway.yaml", defaultStandaloneIdentity());

async function listening(port: number): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return server;
}

const portOf = (server: net.Server): number => (server.address() as net.AddressInfo).port;

/** A port nothing listens on (taken and released). */
async function releasedPort(): Promise<number> {
  const server = await listening(0);
  const port = portOf(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("Gateway.apply", () => {
  let dir: string;
  let spool: EvidenceSpool;
  let gateway: Gateway;
  let occupant: net.Server;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "portcullis-gateway-test-"));
    spool = await EvidenceSpool.open({ dir, maxBytes: 1 << 20 });
    const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
    gateway = new Gateway({
      host: "127.0.0.1",
      registry: new ProtocolRegistry([postgresGateway]),
      log: createLogger("error", silent),
      services: { spool, metrics: createGatewayMetrics(), approvals: new NoApprovals(), grants: new GrantCache(), certificates: await PodCertificates.create("test-pod", undefined), buffers: new BufferBudget(1 << 20) },
    });
    occupant = await listening(0);
  });

  afterEach(async () => {
    await gateway.stop();
    await new Promise((resolve) => occupant.close(resolve));
    await spool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("names the Resource and the address when a listener's port is taken at start", async () => {
    const taken = portOf(occupant);
    await expect(gateway.apply(bundle({ "orders-db": taken }))).rejects.toThrow(`Resource "orders-db": cannot listen on 127.0.0.1:${taken}`);
    expect(gateway.ports()).toEqual({});
  });

  it("applies the rest of a change when one Resource's new port is taken, and keeps that Resource closed", async () => {
    const first = { "analytics-db": await releasedPort(), "billing-db": await releasedPort() };
    await gateway.apply(bundle(first));
    expect(gateway.ports()).toEqual(first);

    const added = await releasedPort();
    const change = bundle({ "analytics-db": portOf(occupant), "billing-db": first["billing-db"], "audit-db": added });
    await expect(gateway.apply(change)).rejects.toThrow(/Resource "analytics-db": cannot listen on .*EADDRINUSE/);
    expect(gateway.ports()).toEqual({ "billing-db": first["billing-db"], "audit-db": added });
    // The old listener of analytics-db is closed: its agents must not keep the previous revision's rules.
    await expect(listening(first["analytics-db"]).then((server) => new Promise((resolve) => server.close(resolve)))).resolves.toBeUndefined();
  });
});
