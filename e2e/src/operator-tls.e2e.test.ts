// Certificate rotation under load: with lifetimes of seconds the operator
// stages, promotes and prunes CAs and reissues its serving certificate again
// and again, and the API server, which verifies every webhook call against
// the caBundle the operator publishes, never fails a pod creation.
import { X509Certificate } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { OperatorFixture } from "./operator/fixture.js";

let fixture: OperatorFixture;
const LIFETIME_DAYS = 40 / 86_400; // 40 seconds

beforeAll(async () => {
  fixture = await OperatorFixture.start();
  await fixture.startOperator("op-a", [`--ca-validity-days=${LIFETIME_DAYS}`, `--serving-validity-days=${LIFETIME_DAYS}`, "--certificate-check-seconds=1"]);
  await fixture.kubectlOk(["create", "namespace", "agents"]);
  await fixture.kubectlOk(["label", "namespace", "agents", "portcullis.dev/injection=enabled"]);
  await fixture.kubectlOk(["create", "serviceaccount", "default", "-n", "agents"]);
}, 120_000);

afterAll(async () => {
  await fixture?.stop();
});

it("rotates CA and serving certificate without failing a webhook call or restarting", async () => {
  const bundles = new Set<string>();
  const cas = new Set<string>();
  let largestBundle = 0;
  const failures: string[] = [];
  const started = Date.now();
  for (let i = 0; Date.now() - started < 30_000; i++) {
    const created = await fixture.kubectl(["run", `p${i}`, "-n", "agents", "--image=agent:1", "--restart=Never"]);
    if (created.code !== 0) failures.push(created.stderr);
    const bundle = await fixture.kubectlOk(["get", "mutatingwebhookconfiguration", "portcullis", "-o", "jsonpath={.webhooks[0].clientConfig.caBundle}"]);
    bundles.add(bundle);
    const pems = Buffer.from(bundle, "base64").toString().match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    largestBundle = Math.max(largestBundle, pems.length);
    for (const pem of pems) cas.add(new X509Certificate(pem).fingerprint256);
    await sleep(1_000);
  }
  expect(failures).toEqual([]);
  expect(cas.size).toBeGreaterThanOrEqual(2);
  expect(largestBundle).toBeGreaterThanOrEqual(2);
  expect(fixture.operators[0]?.child.exitCode).toBeNull();
}, 90_000);
