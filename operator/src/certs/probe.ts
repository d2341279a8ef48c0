// Seeing, not assuming, that the API server trusts a CA before anything serves
// a certificate from it. The API server verifies webhook calls against the
// caBundle in its own cache of the webhook configurations, which can lag
// behind what the operator wrote, by seconds on a busy machine. So each
// configuration carries a probe webhook next to the real ones (same object,
// same caBundle patch), served on its own port with a certificate from the CA
// being staged. A dry-run create of a labelled ConfigMap in the operator's
// namespace makes the API server call it: the call can only succeed once the
// API server's copy of that configuration trusts the staged CA. The probe
// answers with a denial naming the probe and the CA its certificate chains
// to, so an answer from a replica still serving another CA does not count.
// With several API servers, each probe reaches one of them.
import { randomUUID, X509Certificate } from "node:crypto";
import type { CoreV1Api } from "@kubernetes/client-node";
import { describeError } from "../kube/client.js";
import type { AdmissionHandler } from "../webhooks/admission-server.js";

export const CA_PROBE_PATH = "/ca-probe";
/** The label on probe ConfigMaps; its value picks the webhook configuration whose probe answers. */
export const CA_PROBE_LABEL = "portcullis.dev/ca-probe";
const PROBE_KINDS = ["mutating", "validating"] as const;
const ANSWER = /portcullis-ca-probe (\S+) ca=(\S+)/;

/** How probe answers name a CA. */
export function caFingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();
}

/** The probe webhook: never admits anything, and says which probe it answered with a certificate from which CA. */
export function caProbeHandler(servedCa: () => string): AdmissionHandler {
  return (request) => ({ allowed: false, code: 409, message: `portcullis-ca-probe ${request.name ?? ""} ca=${servedCa()}` });
}

/** Reads a probe's outcome from the API server's error; undefined when it shows the expected CA trusted. */
export function probeProblem(kind: string, probe: string, expectedCa: string, error: string): string | undefined {
  const answer = ANSWER.exec(error);
  if (!answer) return `the ${kind} probe webhook call failed: ${error}`;
  if (answer[1] !== probe) return `the ${kind} probe webhook answered another probe`;
  if (answer[2] !== expectedCa) return `the ${kind} probe webhook was answered by a replica that does not serve from the staged CA yet`;
  return undefined;
}

/** Undefined when the API server trusts `caPem` in both webhook configurations; otherwise why not (yet). */
export async function observeTrustedCa(core: CoreV1Api, namespace: string, caPem: string): Promise<string | undefined> {
  const expected = caFingerprint(caPem);
  for (const kind of PROBE_KINDS) {
    const name = `portcullis-ca-probe-${randomUUID().slice(0, 8)}`;
    try {
      await core.createNamespacedConfigMap({ namespace, dryRun: "All", body: { metadata: { name, namespace, labels: { [CA_PROBE_LABEL]: kind } } } });
      return `the ${kind} probe webhook was not called: is ${CA_PROBE_PATH} in the ${kind} webhook configuration?`;
    } catch (error) {
      const problem = probeProblem(kind, name, expected, describeError(error));
      if (problem !== undefined) return problem;
    }
  }
  return undefined;
}
