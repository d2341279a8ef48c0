// Two operator replicas on a real API server: one leads, a killed leader is
// replaced within the lease duration, a standby never writes, and the
// operator recovers its watches when the API server restarts.
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { OPERATOR_NAMESPACE } from "./operator/install.js";
import { OperatorFixture } from "./operator/fixture.js";

const LEASE_SECONDS = 4;
let fixture: OperatorFixture;

const resource = (name: string, port: number): string =>
  stringify({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace: "agents" },
    spec: { protocol: "postgres", endpoint: { host: "db", port: 5432, tls: { mode: "disable" } }, listener: { port }, credentials: { secretRef: { name: `${name}-creds` } } },
  });

const holder = (): Promise<string> => fixture.kubectlOk(["get", "lease", "portcullis-operator", "-n", OPERATOR_NAMESPACE, "-o", "jsonpath={.spec.holderIdentity}"]);
const leaderLogLines = (identity: string): string[] =>
  readFileSync(fixture.operators.find((o) => o.identity === identity)?.logPath ?? "", "utf8").split("\n").filter((line) => line.includes('"became leader"'));

beforeAll(async () => {
  fixture = await OperatorFixture.start();
  const args = [`--lease-duration-seconds=${LEASE_SECONDS}`];
  await fixture.startOperator("op-a", args);
  await fixture.waitFor(["get", "lease", "portcullis-operator", "-n", OPERATOR_NAMESPACE], "{.spec.holderIdentity}", "op-a");
  await fixture.startOperator("op-b", args);
  await fixture.kubectlOk(["create", "namespace", "agents"]);
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

it("has one leader; the standby writes nothing", async () => {
  await sleep(LEASE_SECONDS * 1000);
  expect(await holder()).toBe("op-a");
  expect(leaderLogLines("op-b")).toEqual([]);
  expect((await fixture.operators[1]?.health("/metrics"))?.body).toMatch(/^portcullis_leader 0$/m);
});

it("replaces a killed leader within the lease duration, and the new leader reconciles", async () => {
  const killedAt = Date.now();
  await fixture.operators[0]?.stop("SIGKILL");
  await fixture.waitFor(["get", "lease", "portcullis-operator", "-n", OPERATOR_NAMESPACE], "{.spec.holderIdentity}", "op-b", (LEASE_SECONDS + 4) * 1000);
  expect(Date.now() - killedAt).toBeLessThan((LEASE_SECONDS + 3) * 1000);
  expect(leaderLogLines("op-b")).toHaveLength(1);

  // The webhooks call op-a's port; a restarted op-a serves them again, as a standby.
  await fixture.startOperator("op-a-restarted", [`--lease-duration-seconds=${LEASE_SECONDS}`], true);
  await fixture.kubectlOk(["apply", "-f", "-"], { stdin: resource("after-failover", 15432) });
  await fixture.waitFor(["get", "resource", "after-failover", "-n", "agents"], '{.status.conditions[?(@.type=="Ready")].reason}', "SecretNotFound");
  expect(leaderLogLines("op-a-restarted")).toEqual([]);
});

it("recovers its watches after the API server restarts and reconciles what changed", async () => {
  await fixture.controlPlane.restartApiServer();
  await fixture.kubectlOk(["apply", "-f", "-"], { stdin: resource("after-restart", 15433) });
  await fixture.kubectlOk(["create", "secret", "generic", "after-failover-creds", "-n", "agents", "--from-literal=username=u", "--from-literal=password=p"]);
  await fixture.kubectlOk(["label", "secret", "after-failover-creds", "-n", "agents", "portcullis.dev/credentials=true"]);
  await fixture.waitFor(["get", "resource", "after-restart", "-n", "agents"], '{.status.conditions[?(@.type=="Ready")].reason}', "SecretNotFound", 45_000);
  await fixture.waitFor(["get", "resource", "after-failover", "-n", "agents"], '{.status.conditions[?(@.type=="Ready")].status}', "True", 45_000);
});
