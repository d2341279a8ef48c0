import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { PodCertificates } from "./pod-certificates.js";

describe("PodCertificates", () => {
  it("writes the CA alone and after the system's CAs, each PEM on its own lines, and no key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "portcullis-trust-"));
    try {
      const system = join(dir, "system.crt");
      await writeFile(system, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----");
      const certificates = await PodCertificates.create("agent-0", dir, system);
      const podCa = await readFile(join(dir, "pod-ca.crt"), "utf8");
      const bundle = await readFile(join(dir, "ca-bundle.crt"), "utf8");
      expect(podCa).toBe(`${certificates.caPem.trimEnd()}\n`);
      expect(bundle).toBe(`-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n${podCa}`);
      expect(bundle + podCa).not.toContain("PRIVATE KEY");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("issues a certificate for host names and addresses, signed by the pod CA, and a fresh one on request", async () => {
    const certificates = await PodCertificates.create("agent-0", undefined);
    const names = ["billing.test", "10.0.0.7"];
    const first = await certificates.serverCertificate(names);
    expect(await certificates.serverCertificate([...names].reverse())).toBe(first);
    const leaf = new X509Certificate(first.certPem);
    expect(leaf.subjectAltName).toBe("DNS:billing.test, IP Address:10.0.0.7");
    expect(leaf.verify(new X509Certificate(certificates.caPem).publicKey)).toBe(true);
    const fresh = await certificates.serverCertificate(names, true);
    expect(fresh.certPem).not.toBe(first.certPem);
  });
});
