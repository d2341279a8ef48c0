// A fetch for issuer documents (OpenID discovery and JWKS) over node:https,
// so that the CA the configuration names can be trusted for them: the global
// fetch offers no per-request CA. jose's createRemoteJWKSet takes it through
// its customFetch option; discovery uses it directly, so both requests trust
// the same roots.
import { request } from "node:https";
import type { IncomingMessage } from "node:http";
import type { FetchImplementation } from "jose";

/** Far larger than any discovery document or key set; more is refused rather than buffered. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface HttpsFetchOptions {
  /**
   * PEM certificates that replace Node's public roots for these requests, as
   * kube-apiserver's --oidc-ca-file does; absent: the public roots.
   */
  ca?: string;
}

function readBody(response: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    response.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) response.destroy(new Error(`the response is larger than ${MAX_BODY_BYTES} bytes`));
      else chunks.push(chunk);
    });
    response.on("end", () => resolve(Buffer.concat(chunks)));
    response.on("error", reject);
  });
}

// Response refuses a body with statuses such as 204; jose and discovery only read a 200's body.
const toResponse = (status: number, body: Buffer): Response => new Response(status === 200 ? new Uint8Array(body) : null, { status });

/** GET only, no redirects followed (jose asks for redirect: "manual"), https only. */
export function httpsFetch(options: HttpsFetchOptions = {}): FetchImplementation {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== "https:") {
        reject(new Error(`${url} is not an https URL`));
        return;
      }
      // On abort, reject with the signal's reason (a DOMException named TimeoutError
      // for AbortSignal.timeout) so a timeout reads as one: jose checks its name.
      const fail = (error: Error): void => reject(init.signal.aborted ? (init.signal.reason as Error) : error);
      const outgoing = request(target, { method: "GET", headers: Object.fromEntries(init.headers.entries()), signal: init.signal, ...(options.ca ? { ca: options.ca } : {}) }, (response) => {
        readBody(response).then((body) => resolve(toResponse(response.statusCode ?? 0, body)), fail);
      });
      outgoing.on("error", fail);
      outgoing.end();
    });
}
