// A real OpenID issuer for tests: an HTTPS server on loopback (certificate
// from a CA made for the run) serving discovery documents and JSON Web Key
// Sets that a test can change while it runs, counting what it is asked.
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from "jose";

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

