// TLS towards the agent for transparent HTTPS Resources (and, later, the
// Kubernetes API in transparent mode): the agent's client
// connects to the backend's real address, iptables brings it to the sidecar,
// and the sidecar answers with a certificate for the backend's name issued by
// a CA of this pod alone. The CA's key is made here, at start, and never
// leaves the gateway process; only its certificate is written, to the trust
// directory the app containers mount read-only (the injector points
// SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE and NODE_EXTRA_CA_CERTS at
// it).
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { type CertificateAuthority, createCertificateAuthority, type KeyPairPem } from "@portcullis/common/pki/pki";
import { POD_CA_FILE, TRUST_BUNDLE_FILE } from "@portcullis/common/injection-names";
import { writeTrustFile } from "./trust-files.js";

/** Where Debian (and the sidecar image) keep the system's CA certificates. */
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
const CA_VALID_DAYS = 397;
const LEAF_VALID_DAYS = 90;
/** A listener replaces its certificate this often, well before it expires. */
export const LEAF_RENEW_MS = 30 * 24 * 3_600_000;

export class PodCertificates {
  private readonly issued = new Map<string, Promise<KeyPairPem>>();

  private constructor(private readonly ca: CertificateAuthority) {}

  /** A new CA for this pod; with `trustDir`, its certificate alone and with the system's CAs are written there. */
  static async create(pod: string, trustDir: string | undefined, systemBundle = SYSTEM_CA_BUNDLE): Promise<PodCertificates> {
    const ca = await createCertificateAuthority(`portcullis pod CA ${pod}`.slice(0, 64), CA_VALID_DAYS);
    if (trustDir !== undefined) {
      const system = await readFile(systemBundle, "utf8").catch(() => "");
      // PEM blocks each on their own lines: one glued to the next is skipped by some readers.
      const pem = `${ca.certPem.trimEnd()}\n`;
      await writeTrustFile(join(trustDir, POD_CA_FILE), pem);
      await writeTrustFile(join(trustDir, TRUST_BUNDLE_FILE), `${system.trimEnd()}\n${pem}`.trimStart());
    }
    return new PodCertificates(ca);
  }

  get caPem(): string {
    return this.ca.certPem;
  }

  /** A server certificate (with the CA after it) and key for these names (host names and addresses), issued once unless `fresh`. */
  serverCertificate(names: readonly string[], fresh = false): Promise<KeyPairPem> {
    const key = [...names].sort().join(",");
    let pair = fresh ? undefined : this.issued.get(key);
    if (!pair) {
      pair = this.ca
        .issue({
          commonName: names[0] ?? "portcullis",
          usage: "server",
          validDays: LEAF_VALID_DAYS,
          dnsNames: names.filter((name) => isIP(name) === 0),
          ipAddresses: names.filter((name) => isIP(name) !== 0),
        })
        .then((leaf) => ({ certPem: `${leaf.certPem.trimEnd()}\n${this.ca.certPem.trimEnd()}\n`, keyPem: leaf.keyPem }));
      this.issued.set(key, pair);
      pair.catch(() => this.issued.delete(key));
    }
    return pair;
  }
}
