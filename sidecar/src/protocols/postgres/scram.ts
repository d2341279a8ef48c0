// The client side of SCRAM-SHA-256 (RFC 5802/7677), which the gateway speaks to
// the real server with the brokered password. Without channel binding ("n,,"):
// the TLS connection to the server is already verified by certificate, and
// the client of the gateway never sees the exchange. The salted password is
// cached per (password, salt, iterations) because PBKDF2 with PostgreSQL's
// 4096 iterations costs milliseconds and every new session repeats it.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";

const GS2_HEADER = "n,,";
const saltedCache = new Map<string, Buffer>();
const SALTED_CACHE_MAX = 64;

export class ScramError extends Error {
  override readonly name = "ScramError";
}

const hmac = (key: Buffer, text: string): Buffer => createHmac("sha256", key).update(text).digest();

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(",")) {
    const eq = part.indexOf("=");
    if (eq === 1) map.set(part.slice(0, 1), part.slice(2));
  }
  return map;
}

function saltedPassword(password: string, salt: Buffer, iterations: number): Buffer {
  const key = createHash("sha256").update(password).update("\0").update(salt).update(String(iterations)).digest("hex");
  const cached = saltedCache.get(key);
  if (cached) return cached;
  const salted = pbkdf2Sync(password.normalize("NFKC"), salt, iterations, 32, "sha256");
  if (saltedCache.size >= SALTED_CACHE_MAX) saltedCache.delete(saltedCache.keys().next().value as string);
  saltedCache.set(key, salted);
  return salted;
}

export class ScramClient {
  private readonly nonce = randomBytes(18).toString("base64");
  private readonly clientFirstBare = `n=,r=${this.nonce}`;
  private expectedServerSignature?: Buffer;

  constructor(private readonly password: string) {}

  clientFirstMessage(): string {
    return GS2_HEADER + this.clientFirstBare;
  }

  clientFinalMessage(serverFirst: string): string {
    const attrs = attributes(serverFirst);
    const nonce = attrs.get("r");
    const salt = attrs.get("s");
    const iterations = Number(attrs.get("i"));
    if (!nonce?.startsWith(this.nonce) || nonce.length === this.nonce.length) throw new ScramError("the server's SCRAM nonce does not extend ours");
    if (!salt || !Number.isInteger(iterations) || iterations < 1 || iterations > 1_000_000) throw new ScramError("the server's SCRAM challenge is malformed");
    const salted = saltedPassword(this.password, Buffer.from(salt, "base64"), iterations);
    const clientKey = hmac(salted, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const withoutProof = `c=${Buffer.from(GS2_HEADER).toString("base64")},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.from(clientKey.map((byte, i) => byte ^ (signature[i] ?? 0)));
    this.expectedServerSignature = hmac(hmac(salted, "Server Key"), authMessage);
    return `${withoutProof},p=${proof.toString("base64")}`;
  }

  /** Throws unless the server proved it knows the password too. */
  verifyServerFinal(serverFinal: string): void {
    const verifier = attributes(serverFinal).get("v");
    const expected = this.expectedServerSignature;
    if (!verifier || !expected) throw new ScramError("the server's SCRAM final message is malformed");
    const actual = Buffer.from(verifier, "base64");
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new ScramError("the server's SCRAM signature is wrong: it does not know the password");
  }
}
