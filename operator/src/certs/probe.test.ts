import { describe, expect, it } from "@jest/globals";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { caFingerprint, caProbeHandler, probeProblem } from "./probe.js";

describe("the CA probe", () => {
  it("answers every probe with a denial naming the probe and the CA it serves from", async () => {
    const answer = await caProbeHandler(() => "abc123")({
      uid: "1",
      kind: { group: "", version: "v1", kind: "ConfigMap" },
      resource: { group: "", version: "v1", resource: "configmaps" },
      name: "portcullis-ca-probe-1a2b",
      operation: "CREATE",
      userInfo: { username: "operator" },
    });
    expect(answer).toEqual({ allowed: false, code: 409, message: "portcullis-ca-probe portcullis-ca-probe-1a2b ca=abc123" });
  });

  it("counts only its own probe answered from the expected CA", () => {
    const error = 'admission webhook "ca-probe.portcullis.dev" denied the request: portcullis-ca-probe p1 ca=abc';
    expect(probeProblem("mutating", "p1", "abc", error)).toBeUndefined();
    expect(probeProblem("mutating", "p2", "abc", error)).toMatch(/answered another probe/);
    expect(probeProblem("mutating", "p1", "def", error)).toMatch(/does not serve from the staged CA yet/);
    expect(probeProblem("validating", "p1", "abc", "failed calling webhook: x509: certificate signed by unknown authority")).toMatch(/^the validating probe webhook call failed: .*unknown authority/);
  });

  it("names a CA by the SHA-256 of its certificate", async () => {
    const ca = await createCertificateAuthority("probe-test");
    expect(caFingerprint(ca.certPem)).toMatch(/^[0-9a-f]{64}$/);
  });
});
