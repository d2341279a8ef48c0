// An HTTPS server whose certificate follows the CertificateManager: a rotated
// serving certificate is loaded into the running server, no restart needed.
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CertificateManager } from "../certs/manager.js";
import type { KeyPairPem } from "@portcullis/common/pki/pki";
import type { CertificateMaterial } from "../certs/rotation.js";

const tlsOptions = (keys: KeyPairPem): { cert: string; key: string; minVersion: "TLSv1.2" } => ({ cert: keys.certPem, key: keys.keyPem, minVersion: "TLSv1.2" });

/** `serves`: which certificate of the material; the serving certificate unless told (the CA probe listener's differs). */
export function createReloadingHttpsServer(
  certificates: CertificateManager,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  serves: (material: CertificateMaterial) => KeyPairPem | undefined = (material) => material.serving,
): Server {
  const material = certificates.material;
  const keys = material && serves(material);
  if (!keys) throw new Error("certificates are not ready; start the CertificateManager first");
  const server = createServer(tlsOptions(keys), handler);
  certificates.on("changed", (next) => {
    const nextKeys = serves(next);
    if (nextKeys) server.setSecureContext(tlsOptions(nextKeys));
  });
  return server;
}

export function listen(server: Server | import("node:http").Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === "object" && address ? address.port : port);
    });
  });
}

/** Reads a request body up to maxBytes; larger bodies are refused rather than buffered. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new Error(`request body over ${maxBytes} bytes`));
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
