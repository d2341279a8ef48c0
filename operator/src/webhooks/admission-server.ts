// The admission webhook endpoint: AdmissionReview v1 in, AdmissionReview out.
// Handlers are plain functions of the request; this layer only parses,
// times, counts and fails closed — a handler that throws denies the request
// with the reason, it never lets it through.
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage, type Logger } from "../log.js";
import type { OperatorMetrics } from "../metrics.js";
import type { JsonPatchOperation } from "./json-patch.js";
import { readBody, sendJson } from "../http/https-server.js";


export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: "CREATE" | "UPDATE" | "DELETE" | "CONNECT";
  userInfo: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export type AdmissionResult =
  | { allowed: true; patch?: JsonPatchOperation[]; warnings?: string[] }
  | { allowed: false; message: string; code?: number; warnings?: string[] };

export type AdmissionHandler = (request: AdmissionRequest) => Promise<AdmissionResult> | AdmissionResult;

const MAX_REVIEW_BYTES = 6 * 1024 * 1024;

function responseFor(uid: string, result: AdmissionResult): object {
  const base = { uid, allowed: result.allowed, ...(result.warnings?.length ? { warnings: result.warnings } : {}) };
  if (!result.allowed) return { ...base, status: { code: result.code ?? 403, message: result.message } };
  if (!result.patch?.length) return base;
  return { ...base, patchType: "JSONPatch", patch: Buffer.from(JSON.stringify(result.patch)).toString("base64") };
}

function outcomeOf(result: AdmissionResult): string {
  if (!result.allowed) return "denied";
  return result.patch?.length ? "mutated" : "allowed";
}

export function admissionRouter(
  handlers: Record<string, AdmissionHandler>,
  metrics: OperatorMetrics,
  log: Logger,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const handler = handlers[path];
    if (!handler || req.method !== "POST") return sendJson(res, 404, { error: `no webhook at ${req.method} ${path}` });
    const stop = metrics.webhookDuration.startTimer({ webhook: path });
    void (async () => {
      let review: { apiVersion?: string; request?: AdmissionRequest };
      try {
        review = JSON.parse((await readBody(req, MAX_REVIEW_BYTES)).toString("utf8")) as typeof review;
        if (!review.request?.uid) throw new Error("not an AdmissionReview: request.uid is missing");
      } catch (error) {
        metrics.admissions.inc({ webhook: path, outcome: "error" });
        stop();
        return sendJson(res, 400, { error: errorMessage(error) });
      }
      const request = review.request;
      let result: AdmissionResult;
      try {
        result = await handler(request);
      } catch (error) {
        log.error("admission handler failed; denying", { webhook: path, uid: request.uid, error: errorMessage(error) });
        result = { allowed: false, code: 500, message: `portcullis webhook ${path} failed, so the request is denied: ${errorMessage(error)}` };
      }
      metrics.admissions.inc({ webhook: path, outcome: outcomeOf(result) });
      log.info("admission", {
        webhook: path,
        operation: request.operation,
        object: `${request.namespace ?? ""}/${request.name ?? ""}`,
        user: request.userInfo.username,
        outcome: outcomeOf(result),
        ...(result.allowed ? {} : { reason: result.message }),
      });
      stop();
      sendJson(res, 200, { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: responseFor(request.uid, result) });
    })();
  };
}
