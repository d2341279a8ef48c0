// A real OpenID issuer for tests: an HTTPS server on loopback (certificate
// from a CA made for the run) serving discovery documents and JSON Web Key
// Sets that a test can change while it runs, counting what it is asked.
import { writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { createCertificateAuthority } from "@portcullis/common/pki/pki";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

export async function signingKey(kid: string, alg: "ES256" | "RS256" | "EdDSA" = "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

/** The issuer's web server: what it publishes can change while the test runs, and it counts what it is asked. */
export class IssuerServer {
  readonly published = new Map<string, SigningKey[]>();
  readonly documents = new Map<string, unknown>();
  readonly requests = new Map<string, number>();
  private constructor(private readonly server: Server) {}

  static async start(certPem: string, keyPem: string): Promise<IssuerServer> {
    const server = createServer({ cert: certPem, key: keyPem });
    const issuer = new IssuerServer(server);
    server.on("request", (request, response) => {
      const path = request.url ?? "";
      issuer.requests.set(path, (issuer.requests.get(path) ?? 0) + 1);
      if (path === "/slow/keys") return; // never answers: the fetch must time out
      const keys = issuer.published.get(path);
      const body = keys ? { keys: keys.map((key) => key.jwk) } : issuer.documents.get(path);
      if (body === undefined) response.writeHead(404).end();
      else response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return issuer;
  }

  get base(): string {
    return `https://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  count(path: string): number {
    return this.requests.get(path) ?? 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}


/** An issuer at `${base}/idp` publishing one ES256 key, its CA certificate in DIR/ca.crt for the gateway to trust (NODE_EXTRA_CA_CERTS). */
export interface TrustedIssuer {
  issuer: IssuerServer;
  key: SigningKey;
  caFile: string;
  /** `${base}/idp`, the iss of its tokens. */
  url: string;
}

export async function startTrustedIssuer(dir: string, caName: string): Promise<TrustedIssuer> {
  const authority = await createCertificateAuthority(caName);
  const serving = await authority.issue({ commonName: "issuer", ipAddresses: ["127.0.0.1"], usage: "server" });
  const caFile = join(dir, "ca.crt");
  await writeFile(caFile, authority.certPem);
  const [issuer, key] = await Promise.all([IssuerServer.start(serving.certPem, serving.keyPem), signingKey("k1")]);
  const url = `${issuer.base}/idp`;
  issuer.published.set("/idp/keys", [key]);
  issuer.documents.set("/idp/.well-known/openid-configuration", { issuer: url, jwks_uri: `${url}/keys` });
  return { issuer, key, caFile, url };
}

/** A token of subject agent-42 in team billing for `audience`, valid five minutes unless `claims` sets exp. */
export function signToken(trusted: TrustedIssuer, audience: string, claims: JWTPayload = {}): Promise<string> {
  const jwt = new SignJWT({ team: "billing", ...claims })
    .setProtectedHeader({ alg: "ES256", kid: trusted.key.kid })
    .setIssuer(trusted.url)
    .setSubject("agent-42")
    .setAudience(audience)
    .setIssuedAt();
  return (claims.exp === undefined ? jwt.setExpirationTime("5m") : jwt).sign(trusted.key.privateKey);
}
