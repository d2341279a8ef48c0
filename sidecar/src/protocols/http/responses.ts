// How the HTTP gateway tells the agent no: a status and a small body naming
// the reason — the policy and rule of a denial, the ApprovalRequest an
// approval waited for, the limit a body exceeded. The body's encoding is the
// protocol's: a small JSON object for http, a Status for kubernetes.
import { STATUS_CODES } from "node:http";
import type http from "node:http";
import type net from "node:net";

export interface Refusal {
  status: number;
  error: string;
  message: string;
  policy?: string;
  rule?: string;
  approvalRequest?: string;
}

export interface EncodedRefusal {
  contentType: string;
  body: string;
}

export type RefusalEncoder = (refusal: Refusal) => EncodedRefusal;

/** The http gateway's refusal: the Refusal's fields as JSON, without the status (it is the response's). */
export const jsonRefusal: RefusalEncoder = (refusal) => ({ contentType: "application/json", body: `${JSON.stringify({ ...refusal, status: undefined })}\n` });

/** How an answer goes back: a response to write, or (a protocol upgrade or CONNECT) the raw connection. */
export type Reply = { kind: "response"; res: http.ServerResponse } | { kind: "upgrade"; socket: net.Socket; head: Buffer };

export interface RefusalOptions {
  close?: boolean;
  headers?: Record<string, string>;
  /** How the refusal's body is written; jsonRefusal unless the protocol says otherwise. */
  encode?: RefusalEncoder;
}

/** Refuses on whatever the reply is: a JSON response, or the same written raw before the connection closes. */
export function refuseReply(reply: Reply, refusal: Refusal, options: RefusalOptions = {}): void {
  if (reply.kind === "response") sendRefusal(reply.res, refusal, options);
  else if (reply.socket.writable) reply.socket.end(rawRefusal(refusal, options.encode));
  else reply.socket.destroy();
}

/** Sends the refusal unless the response has started; the connection closes when the request body was not read. */
export function sendRefusal(res: http.ServerResponse, refusal: Refusal, options: RefusalOptions = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { contentType, body } = (options.encode ?? jsonRefusal)(refusal);
  res.writeHead(refusal.status, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    ...(options.close ? { connection: "close" } : {}),
    ...options.headers,
  });
  res.end(body);
}

/** The raw response for a request there is no ServerResponse for (unparseable, CONNECT, an upgrade); the connection closes. */
export function rawRefusal(refusal: Refusal, encode: RefusalEncoder = jsonRefusal): string {
  const { contentType, body } = encode(refusal);
  const reason = STATUS_CODES[refusal.status] ?? "Refused";
  return `HTTP/1.1 ${refusal.status} ${reason}\r\ncontent-type: ${contentType}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}
