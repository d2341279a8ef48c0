// Certificate rotation under load: with lifetimes of seconds the operator
// stages, promotes and prunes CAs and reissues its serving certificate again
// and again while every core is kept busy (as other builds on a CI machine
// do), and the API server, which verifies every webhook call against the
// caBundle it has cached, never fails a pod creation.
import { X509Certificate } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { OperatorFixture } from "./operator/fixture.js";
import { keepCoresBusy } from "./processes/busy-cores.js";

let fixture: OperatorFixture;
const LIFETIME_SECONDS = 20;
const RUN_MS = 50_000;

beforeAll(async () => {
  fixture = await OperatorFixture.start();
  const days = LIFETIME_SECONDS / 86_400;
  await fixture.startOperator("op-a", [`--ca-validity-days=${days}`, `--serving-validity-days=${days}`, "--certificate-check-seconds=1"]);
  await fixture.kubectlOk(["create", "namespace", "agents"]);
  await fixture.kubectlOk(["label", "namespace", "agents", "portcullis.dev/injection=enabled"]);
  await fixture.kubectlOk(["create", "serviceaccount", "default", "-n", "agents"]);
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

it("rotates CA and serving certificate several times with every core busy, without failing a webhook call or restarting", async () => {
  const cas = new Set<string>();
  let largestBundle = 0;
  const failures: string[] = [];
  const busy = keepCoresBusy(RUN_MS);
  try {
    const started = Date.now();
    for (let i = 0; Date.now() - started < RUN_MS; i++) {
      const created = await fixture.kubectl(["run", `p${i}`, "-n", "agents", "--image=agent:1", "--restart=Never"]);
      if (created.code !== 0) failures.push(created.stderr);
      const bundle = await fixture.kubectlOk(["get", "mutatingwebhookconfiguration", "portcullis", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"]);
      const pems = Buffer.from(bundle, "base64").toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
      largestBundle = Math.max(largestBundle, pems.length);
      for (const pem of pems) cas.add(new X509Certificate(pem).fingerprint256);
      await sleep(250);
    }
  } finally {
    await busy.stop();
  }
  expect(failures).toEqual([]);
  // A CA lives 20 s and its successor is staged after two thirds of that: 50 s see at least three rotations.
  expect(cas.size).toBeGreaterThanOrEqual(4);
  expect(largestBundle).toBeGreaterThanOrEqual(2);
  expect(fixture.operators[0]?.child.exitCode).toBeNull();
}, 120_000);
