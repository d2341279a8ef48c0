// A session's records as a transcript a person reads top to bottom: when,
// who (the identity on the session start), each request with the policy
// decision (a SQL statement, an HTTP request), approval steps, what came back
// (rows and command tags, or the HTTP status and bytes; masked values;
// errors) and how the session ended. Request text and messages come from the
// agent and the backend, so they are escaped for the terminal.
// Readers must ignore data fields they do not know, and tolerate missing ones.
import type { EvidenceRecord, EvidenceType } from "@portcullis/common/evidence/record";
import { indentLines, oneLine } from "../format/text.js";
import { formatElapsed } from "../format/time.js";
import type { SessionLocation } from "./locate.js";
import type { EvidenceManifest, ManifestChunk } from "./manifest.js";

const BODY = "    ";
type Data = Record<string, unknown>;

function field(data: Data, name: string): unknown {
  return Object.hasOwn(data, name) ? data[name] : undefined;
}

function text(data: Data, name: string): string | undefined {
  const value = field(data, name);
  return typeof value === "string" ? value : typeof value === "number" ? String(value) : undefined;
}

function object(data: Data, name: string): Data {
  const value = field(data, name);
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Data) : {};
}

function strings(data: Data, name: string): string[] {
  const value = field(data, name);
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function labelled(label: string, value: string): string {
  return `${BODY}${label.padEnd(10)} ${value}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function sessionStart(data: Data): string[] {
  const identity = object(data, "identity");
  const client = object(data, "client");
  const resource = object(data, "resource");
  const groups = strings(identity, "groups");
  const address = [text(client, "address"), text(client, "port")].filter(Boolean).join(":");
  const asked = [["database", text(client, "database")], ["user", text(client, "user")], ["application", text(client, "application")]].filter(([, value]) => value);
  return [
    labelled("identity", oneLine(`${text(identity, "username") ?? "?"}${groups.length ? ` (groups ${groups.join(", ")})` : ""}`)),
    labelled("client", oneLine([address || "?", ...asked.map(([name, value]) => `${name} ${value ?? ""}`)].join(", "))),
    labelled("resource", oneLine(`${text(resource, "name") ?? "?"} (${text(resource, "protocol") ?? "?"}) in ${text(resource, "namespace") ?? "?"}`)),
    labelled("policies", oneLine(strings(data, "policies").join(", ") || "none")),
  ];
}

function decisionText(decision: Data): string {
  const rule = [text(decision, "policy"), text(decision, "rule")].filter(Boolean).join("/");
  const reason = text(decision, "reason");
  return `${text(decision, "action") ?? "?"} (${rule || "default action"})${reason ? `: ${reason}` : ""}`;
}

/** A Kubernetes API request: what it does, as the reviewer read it, and the HTTP request it was. */
function kubernetesRequestLines(data: Data): string[] {
  const http = object(data, "http");
  return [`${BODY}${oneLine(text(data, "summary") ?? "?")}`, labelled("http", oneLine(`${text(http, "method") ?? "?"} ${text(http, "target") ?? "?"}`))];
}

/** An MCP message: what it asks (a tool call and its arguments as recorded, masked), who sent it, and the HTTP request that carried it. */
function mcpRequestLines(data: Data): string[] {
  const mcp = object(data, "mcp");
  const http = object(data, "http");
  const args = text(mcp, "arguments");
  const fingerprint = text(mcp, "toolFingerprint");
  return [
    `${BODY}${oneLine(text(data, "summary") ?? "?")}`,
    ...(Object.keys(mcp).length ? [labelled("message", oneLine(`${text(mcp, "kind") ?? "?"} from the ${text(mcp, "direction") === "server" ? "server" : "agent"}${text(mcp, "id") ? `, id ${text(mcp, "id") ?? ""}` : ""}`))] : []),
    ...(args !== undefined ? [labelled("arguments", oneLine(args))] : []),
    ...(fingerprint ? [labelled("tool", oneLine(fingerprint))] : []),
    ...(Object.keys(http).length ? [labelled("http", oneLine(`${text(http, "method") ?? "?"} ${text(http, "target") ?? "?"}`))] : []),
  ];
}

/** What the request was, by protocol: the statement and its bound values, the HTTP request line, or what it does (Kubernetes, MCP). */
function requestLines(data: Data): string[] {
  if (Object.keys(object(data, "kubernetes")).length) return kubernetesRequestLines(data);
  if (text(data, "protocol") === "mcp") return mcpRequestLines(data);
  const http = object(data, "http");
  if (Object.keys(http).length) {
    const body = Number(field(http, "bodyBytes") ?? 0);
    return [`${BODY}${oneLine(`${text(http, "method") ?? "?"} ${text(http, "target") ?? "?"}`)}`, labelled("host", oneLine(text(http, "host") ?? "?")), ...(body ? [labelled("body", oneLine(`${body} bytes${text(http, "bodySha256") ? `, ${text(http, "bodySha256") ?? ""}` : ""}`))] : [])];
  }
  // A postgres request carries its details under "postgres"; a statement record of an earlier gateway at the top.
  const postgres = Object.keys(object(data, "postgres")).length ? object(data, "postgres") : data;
  const parameters = strings(postgres, "parameters");
  return [`${BODY}${indentLines(text(postgres, "text") ?? "", BODY)}`, ...(parameters.length ? [labelled("with", oneLine(parameters.join(", ")))] : [])];
}

function request(data: Data): string[] {
  const approval = text(data, "approval");
  return [
    ...requestLines(data),
    labelled("decision", oneLine(decisionText(object(data, "decision")))),
    ...(approval ? [labelled("approval", oneLine(approval))] : []),
  ];
}

/** What came back, by protocol: rows and command tags, or the HTTP status and bytes. */
function returned(data: Data): string[] {
  const http = object(data, "http");
  if (Object.keys(http).length) return [`status ${text(http, "status") ?? "?"}`, plural(Number(field(http, "bytes") ?? 0), "byte")];
  const postgres = Object.keys(object(data, "postgres")).length ? object(data, "postgres") : data;
  return [plural(Number(field(postgres, "rowsReturned") ?? 0), "row"), ...strings(postgres, "commandTags")];
}

/** What was masked, by column or rule, leaving out what was masked zero times. */
function maskedCounts(data: Data): string[] {
  return Object.entries(object(data, "masked"))
    .filter(([, count]) => Number(count) !== 0)
    .map(([column, count]) => `${column} x${String(count)}`);
}

function result(data: Data): string[] {
  const masked = maskedCounts(data);
  const error = object(data, "error");
  const duration = field(data, "durationMs");
  const parts = [...returned(data), ...(typeof duration === "number" ? [formatElapsed(duration)] : [])];
  return [
    labelled("returned", oneLine(parts.join(", "))),
    ...(text(object(data, "mcp"), "summary") !== undefined ? [labelled("response", oneLine(text(object(data, "mcp"), "summary") ?? ""))] : []),
    ...(text(data, "requestSession") ? [labelled("of", oneLine(`the request in session ${text(data, "requestSession") ?? ""}`))] : []),
    ...(masked.length ? [labelled("masked", oneLine(masked.join(", ")))] : []),
    ...(text(data, "refused") ? [labelled("refused", oneLine(text(data, "refused") ?? ""))] : []),
    ...(Object.keys(error).length ? [labelled("error", oneLine(`${text(error, "code") ?? "?"} ${text(error, "message") ?? ""}`))] : []),
  ];
}

function message(data: Data): string[] {
  const masked = maskedCounts(data);
  const refused = text(data, "refused");
  const channel = text(data, "channel");
  // A terminal stream (exec, attach): the channel and what it carried, as the agent typed or saw it.
  if (channel !== undefined) {
    const said = text(data, "text");
    return [labelled(oneLine(channel), said === undefined ? "" : `${oneLine(JSON.stringify(said))}${field(data, "truncated") ? " (cut)" : ""}`), ...(refused ? [labelled("refused", oneLine(refused))] : [])];
  }
  return [
    labelled(text(data, "direction") === "agent" ? "agent" : "backend", oneLine(`${text(data, "kind") ?? "?"}, ${plural(Number(field(data, "bytes") ?? 0), "byte")}`)),
    ...(masked.length ? [labelled("masked", oneLine(masked.join(", ")))] : []),
    ...(refused ? [labelled("refused", oneLine(refused))] : []),
  ];
}

function approval(data: Data): string[] {
  const by = text(data, "decidedBy");
  const reason = text(data, "reason");
  return [labelled(text(data, "phase") ?? "?", oneLine(`${text(data, "name") ?? "?"}${by ? ` by ${by}` : ""}${reason ? `: ${reason}` : ""}`))];
}

function sessionEnd(data: Data): string[] {
  const counts = object(data, "counts");
  const count = (name: string): number => Number(field(counts, name) ?? 0);
  const duration = Number(field(data, "durationMs") ?? 0);
  const error = text(data, "error");
  const requests = field(counts, "requests") !== undefined ? count("requests") : count("statements");
  const totals = `${plural(requests, "request")} (${count("denied")} denied by a rule, ${count("refused")} refused otherwise), ${plural(count("results"), "result")} (${plural(count("errors"), "error")}), ${plural(count("approvals"), "approval")}`;
  return [labelled("reason", oneLine(`${text(data, "reason") ?? "?"} after ${formatElapsed(duration)}`)), labelled("totals", totals), ...(error ? [labelled("error", oneLine(error))] : [])];
}

const BODIES: Record<EvidenceType, (data: Data) => string[]> = { "session-start": sessionStart, request, statement: request, result, message, approval, "session-end": sessionEnd };

function title(record: EvidenceRecord): string {
  const of = text(record.data, "request") ?? text(record.data, "statement");
  if (record.type === "result" || record.type === "approval" || record.type === "message") return `${record.type}${of ? ` of #${of}` : ""}`;
  if (record.type === "request") return `request (${text(record.data, "protocol") ?? "?"})`;
  return record.type.replace("-", " ");
}

export function renderRecord(record: EvidenceRecord): string {
  return `${[`${record.time}  #${record.seq}  ${title(record)}`, ...BODIES[record.type](record.data)].join("\n")}\n`;
}

/** Who and where, first: the session, the agent's identity and pod (from the session start, when it can be read), the Resource and how it ended. */
export function renderHeader(location: SessionLocation, manifest: EvidenceManifest, start: EvidenceRecord | undefined): string {
  const identity = start?.type === "session-start" ? text(object(start.data, "identity"), "username") : undefined;
  const state = manifest.end ? `ended ${manifest.end.reason} at ${manifest.end.time}` : manifest.complete ? "complete" : "not ended (still recording, or its manifest was rolled back)";
  return [
    `Session ${location.session}`,
    labelled("identity", oneLine(identity ?? "? (the session start cannot be read)")),
    labelled("pod", oneLine(`${location.namespace}/${location.pod}`)),
    labelled("resource", oneLine(manifest.resource)),
    labelled("records", `${manifest.records}, ${oneLine(state)}`),
    "",
    "",
  ].join("\n");
}

/** Shown where a chunk's records should be when they cannot be read. */
export function renderGap(chunk: ManifestChunk): string {
  return `[records ${chunk.firstSeq}-${chunk.lastSeq}: chunk ${chunk.name} cannot be read]\n`;
}
