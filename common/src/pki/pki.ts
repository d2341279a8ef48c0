// A small certificate authority: the operator's webhook and broker CA and
// serving certificates, and (in the e2e harness) the test cluster's CA and
// client certificates, whose subject carries a Kubernetes user (CN) and
// groups (O), which is how kube-apiserver's x509 authenticator reads them.
import { webcrypto } from "node:crypto";
import { x509 } from "./x509.js";

const KEY_ALGORITHM: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };
const SIGNING_ALGORITHM: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const DAY_MS = 24 * 60 * 60 * 1000;

/** A certificate and its private key, both PEM. */
export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyPairPem {
  /** Issues a certificate signed by this CA. */
  issue(request: CertificateRequest): Promise<KeyPairPem>;
}

export interface CertificateRequest {
  commonName: string;
  /** Subject organizations; Kubernetes reads them as the user's groups. */
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: "server" | "client";
  validDays?: number;
  /** The issue time; now unless given (rotation plans with its own clock). */
  issuedAt?: Date;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"]);
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

export async function publicKeyToPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("spki", key);
  return x509.PemConverter.encode(der, "PUBLIC KEY");
}

async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(pem);
  return webcrypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, true, ["sign"]);
}

function subjectName(commonName: string, organizations: string[]): x509.JsonName {
  return [{ CN: [commonName] }, ...organizations.map((o) => ({ O: [o] }))];
}

/** Returns a CA that signs with an existing certificate and key, e.g. read back from disk. */
export function loadCertificateAuthority(pair: KeyPairPem): CertificateAuthority {
  const caCert = new x509.X509Certificate(pair.certPem);
  return {
    ...pair,
    async issue(request: CertificateRequest): Promise<KeyPairPem> {
      const keys = await generateKeys();
      const caKey = await importPrivateKey(pair.keyPem);
      const names: x509.JsonGeneralName[] = [
        ...(request.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
        ...(request.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
      ];
      const now = (request.issuedAt ?? new Date()).getTime();
      const cert = await x509.X509CertificateGenerator.create({
        subject: subjectName(request.commonName, request.organizations ?? []),
        issuer: caCert.subject,
        publicKey: keys.publicKey,
        signingKey: caKey,
        signingAlgorithm: SIGNING_ALGORITHM,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + (request.validDays ?? 30) * DAY_MS),
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([
            request.usage === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
          ]),
          ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
        ],
      });
      return { certPem: cert.toString("pem"), keyPem: await privateKeyToPem(keys.privateKey) };
    },
  };
}

/** Creates a new self-signed CA. */
export async function createCertificateAuthority(commonName: string, validDays = 365, issuedAt = new Date()): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const now = issuedAt.getTime();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: subjectName(commonName, []),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + validDays * DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return loadCertificateAuthority({ certPem: cert.toString("pem"), keyPem: await privateKeyToPem(keys.privateKey) });
}

/** A key pair for signing service-account tokens (PEM, PKCS#8 private and SPKI public). */
export async function createSigningKeyPair(): Promise<{ privateKeyPem: string; publicKeyPem: string }> {
  const keys = await generateKeys();
  return { privateKeyPem: await privateKeyToPem(keys.privateKey), publicKeyPem: await publicKeyToPem(keys.publicKey) };
}
