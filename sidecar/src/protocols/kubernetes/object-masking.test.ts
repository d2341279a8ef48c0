import { describe, expect, it } from "@jest/globals";
import type { BrokeredPolicy } from "@portcullis/common/config/bundle";
import { compileMasking } from "../../masking/index.js";
import type { BodyMasker } from "../../masking/body-masking.js";
import { LAST_APPLIED, MASKED_SECRET_TEXT, SECRET_MASK_COUNT, type MaskContext, maskKubernetesDocument, masksResponses } from "./object-masking.js";

type MaskingRules = NonNullable<BrokeredPolicy["spec"]["masking"]>;
type Json = Record<string, unknown>;

const MASKED_DATA = Buffer.from(MASKED_SECRET_TEXT).toString("base64");
const b64 = (text: string): string => Buffer.from(text).toString("base64");

/** The body masker the real compiler builds from one policy's rules. */
function masker(masking: MaskingRules = []): BodyMasker {
  return compileMasking([{ name: "k8s-policy", spec: { subjects: {}, resources: ["cluster"], masking } }], "cluster").body;
}

const noRules = masker();
const envRule = masker([{ name: "env", jsonPaths: ["$.spec.containers[*].env[*].value"] }]);
const passwordRule = masker([{ name: "password", jsonPaths: ["$.data.password"] }]);
const emailRule = masker([{ name: "emails", detectors: ["email"] }]);

function mask(value: unknown, context: Partial<MaskContext> = {}): { value: unknown; counts: Record<string, number> } {
  const document = { value };
  const counts = maskKubernetesDocument(document, { secrets: false, masker: noRules, ...context });
  return { value: document.value, counts };
}

const secret = (name: string, extra: Json = {}): Json => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name, namespace: "default" },
  type: "Opaque",
  data: { username: b64("admin"), password: b64("hunter2") },
  ...extra,
});

const pod = (name: string, env: Record<string, string>): Json => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, namespace: "default" },
  spec: { containers: [{ name: "app", image: "app:1", env: Object.entries(env).map(([key, value]) => ({ name: key, value })) }] },
});

/** A deep copy, to compare against what masking left. */
const copy = <T>(value: T): T => structuredClone(value);

describe("maskKubernetesDocument: Secrets", () => {
  it("masks every data and stringData value of a Secret get, keys kept and null left", () => {
    const { value, counts } = mask(secret("db", { stringData: { token: "t0ken", empty: null } }), { secrets: true });
    expect(value).toMatchObject({
      kind: "Secret",
      metadata: { name: "db" },
      type: "Opaque",
      data: { username: MASKED_DATA, password: MASKED_DATA },
      stringData: { token: MASKED_SECRET_TEXT, empty: null },
    });
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 3 });
  });

  it("masks an object of kind Secret even when the request was not for secrets", () => {
    const { value, counts } = mask(secret("db"));
    expect((value as Json).data).toEqual({ username: MASKED_DATA, password: MASKED_DATA });
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 2 });
  });

  it("leaves a Secret without data as it is", () => {
    const { value, counts } = mask({ apiVersion: "v1", kind: "Secret", metadata: { name: "empty" }, data: null }, { secrets: true });
    expect(value).toEqual({ apiVersion: "v1", kind: "Secret", metadata: { name: "empty" }, data: null });
    expect(counts).toEqual({});
  });

  it("masks the items of a SecretList, which carry no kind, when the request is for secrets", () => {
    const item = (name: string): Json => {
      const withoutKind = secret(name);
      delete withoutKind.kind;
      delete withoutKind.apiVersion;
      return withoutKind;
    };
    const list = { apiVersion: "v1", kind: "SecretList", metadata: { resourceVersion: "42" }, items: [item("a"), item("b")] };
    const { value, counts } = mask(list, { secrets: true });
    const items = (value as { items: Json[] }).items;
    expect(items.map((secret) => secret.data)).toEqual([
      { username: MASKED_DATA, password: MASKED_DATA },
      { username: MASKED_DATA, password: MASKED_DATA },
    ]);
    expect(items.map((secret) => (secret.metadata as Json).name)).toEqual(["a", "b"]);
    expect((value as Json).metadata).toEqual({ resourceVersion: "42" });
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 4 });
  });

  it("masks only the Secret of a List holding a Secret and a ConfigMap", () => {
    const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings" }, data: { mode: "fast" } };
    const list = { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items: [secret("db"), copy(configMap)] };
    const { value, counts } = mask(list, { secrets: false });
    const [maskedSecret, maskedConfigMap] = (value as { items: Json[] }).items;
    expect(maskedSecret?.data).toEqual({ username: MASKED_DATA, password: MASKED_DATA });
    expect(maskedConfigMap).toEqual(configMap);
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 2 });
  });
});

describe("maskKubernetesDocument: Tables", () => {
  const table = (rows: unknown[]): Json => ({
    apiVersion: "meta.k8s.io/v1",
    kind: "Table",
    metadata: { resourceVersion: "7" },
    columnDefinitions: [{ name: "Name", type: "string", format: "name" }],
    rows,
  });

  it("masks the Secrets of rows that include the object", () => {
    const rows = [
      { cells: ["a", "Opaque", 2, "1d"], object: secret("a") },
      { cells: ["b", "Opaque", 2, "1d"], object: secret("b") },
    ];
    const { value, counts } = mask(table(rows), { secrets: true });
    const masked = (value as { rows: { cells: unknown[]; object: Json }[] }).rows;
    expect(masked.map((row) => row.object.data)).toEqual([
      { username: MASKED_DATA, password: MASKED_DATA },
      { username: MASKED_DATA, password: MASKED_DATA },
    ]);
    expect(masked[0]?.cells).toEqual(["a", "Opaque", 2, "1d"]);
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 4 });
  });

  it("masks the Secret's data in the last-applied annotation of PartialObjectMetadata rows", () => {
    const applied = { apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "default" }, data: { password: b64("hunter2") }, type: "Opaque" };
    const partial = {
      apiVersion: "meta.k8s.io/v1",
      kind: "PartialObjectMetadata",
      metadata: { name: "db", namespace: "default", annotations: { [LAST_APPLIED]: `${JSON.stringify(applied)}\n`, team: "core" } },
    };
    const { value, counts } = mask(table([{ cells: ["db"], object: partial }]), { secrets: true });
    const annotations = (value as { rows: { object: { metadata: { annotations: Record<string, string> } } }[] }).rows[0]?.object.metadata.annotations;
    expect(annotations?.team).toBe("core");
    expect(annotations?.[LAST_APPLIED]?.endsWith("}\n")).toBe(true);
    expect(JSON.parse(annotations?.[LAST_APPLIED] ?? "")).toEqual({ ...applied, data: { password: MASKED_DATA } });
    expect(annotations?.[LAST_APPLIED]).not.toContain(b64("hunter2"));
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 1 });
  });

  it("leaves rows without objects, and odd rows, as they are", () => {
    const document = table([{ cells: ["a"] }, null, 3, { cells: ["b"], object: "x" }]);
    const { value, counts } = mask(copy(document), { secrets: true });
    expect(value).toEqual(document);
    expect(counts).toEqual({});
  });

  it("scans the cells with the policy's detectors", () => {
    const { value, counts } = mask(table([{ cells: ["owner", "jane@example.com", 3] }]), { masker: emailRule });
    expect((value as { rows: { cells: unknown[] }[] }).rows[0]?.cells).toEqual(["owner", "***", 3]);
    expect(counts).toEqual({ "k8s-policy/emails": 1 });
  });

  it("reads a Table of another group than meta.k8s.io as an object", () => {
    const custom = { apiVersion: "furniture.example.com/v1", kind: "Table", metadata: { name: "desk" }, rows: [{ object: secret("a") }] };
    const { value, counts } = mask(copy(custom));
    expect(value).toEqual(custom);
    expect(counts).toEqual({});
  });
});

describe("maskKubernetesDocument: watch events", () => {
  it("masks the Secret of an ADDED event", () => {
    const { value, counts } = mask({ type: "ADDED", object: secret("db") }, { secrets: true });
    expect(value).toMatchObject({ type: "ADDED", object: { kind: "Secret", data: { username: MASKED_DATA, password: MASKED_DATA } } });
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 2 });
  });

  it("leaves an ERROR event's Status and a BOOKMARK as they are", () => {
    const error = { type: "ERROR", object: { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "too old resource version: 1 (2)", reason: "Expired", code: 410 } };
    const bookmark = { type: "BOOKMARK", object: { kind: "Secret", apiVersion: "v1", metadata: { resourceVersion: "12", annotations: { "k8s.io/initial-events-end": "true" } } } };
    for (const event of [error, bookmark]) {
      const { value, counts } = mask(copy(event), { secrets: true });
      expect(value).toEqual(event);
      expect(counts).toEqual({});
    }
  });

  it("masks the rows of a watch event of a Table", () => {
    const event = { type: "MODIFIED", object: { apiVersion: "meta.k8s.io/v1", kind: "Table", rows: [{ cells: ["a"], object: secret("a") }] } };
    const { value, counts } = mask(event, { secrets: true });
    expect(value).toMatchObject({ object: { rows: [{ object: { data: { username: MASKED_DATA, password: MASKED_DATA } } }] } });
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 2 });
  });

  it("does not read an event inside an event's object as another event", () => {
    const inner = { type: "ADDED", object: { data: { password: "x" } } };
    const { value } = mask({ type: "ADDED", object: copy(inner) }, { secrets: true });
    // The inner "event" is read as an object (a Secret, here): its own data is masked, not its object's.
    expect(value).toEqual({ type: "ADDED", object: inner });
  });
});

describe("maskKubernetesDocument: last-applied-configuration", () => {
  it("masks a Secret's stringData in the annotation and writes it back with kubectl's newline", () => {
    const applied = { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { password: "hunter2" } };
    const document = secret("db", { metadata: { name: "db", annotations: { [LAST_APPLIED]: JSON.stringify(applied) } } });
    const { value, counts } = mask(document);
    const annotation = ((value as Json).metadata as { annotations: Record<string, string> }).annotations[LAST_APPLIED] ?? "";
    expect(annotation).toBe(`${JSON.stringify({ ...applied, stringData: { password: MASKED_SECRET_TEXT } })}\n`);
    expect(annotation).not.toContain("hunter2");
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 3 });
  });

  it("replaces an annotation that does not parse on a Secret, failing closed", () => {
    const document = secret("db", { metadata: { name: "db", annotations: { [LAST_APPLIED]: '{"kind":"Secret","data":{"password":"aHVudGVyMg=="' } } });
    const { value, counts } = mask(document, { secrets: true });
    expect(((value as Json).metadata as { annotations: Json }).annotations[LAST_APPLIED]).toBe(MASKED_SECRET_TEXT);
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 3 });
  });

  it("replaces an annotation that does not parse when the masker is active, and leaves it otherwise", () => {
    const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", annotations: { [LAST_APPLIED]: "not json" } }, data: {} };
    expect(mask(copy(configMap)).value).toEqual(configMap);
    const { value, counts } = mask(copy(configMap), { masker: envRule });
    expect(((value as Json).metadata as { annotations: Json }).annotations[LAST_APPLIED]).toBe(MASKED_SECRET_TEXT);
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 1 });
  });

  it("applies the policy's masker to the annotation of any object, and rewrites it only when something changed", () => {
    const applied = `${JSON.stringify(pod("web", { DB_PASSWORD: "hunter2" }))}\n`;
    const { value, counts } = mask({ ...pod("web", { DB_PASSWORD: "hunter2" }), metadata: { name: "web", annotations: { [LAST_APPLIED]: applied } } }, { masker: envRule });
    const masked = value as { metadata: { annotations: Record<string, string> }; spec: unknown };
    expect(JSON.parse(masked.metadata.annotations[LAST_APPLIED] ?? "")).toEqual(pod("web", { DB_PASSWORD: "***" }));
    expect(masked.spec).toEqual(pod("web", { DB_PASSWORD: "***" }).spec);
    expect(counts).toEqual({ "k8s-policy/env": 2 });

    const untouched = JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } });
    const configMap = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", annotations: { [LAST_APPLIED]: untouched } }, data: { a: "b" } };
    expect(mask(copy(configMap), { masker: envRule }).value).toEqual(configMap);
  });
});

describe("maskKubernetesDocument: the policy's masking rules", () => {
  it("applies a JSON path rule to each item of a PodList", () => {
    const list = { apiVersion: "v1", kind: "PodList", metadata: { resourceVersion: "3" }, items: [pod("a", { TOKEN: "t1", MODE: "x" }), pod("b", { TOKEN: "t2" })] };
    const { value, counts } = mask(list, { masker: envRule });
    expect((value as { items: Json[] }).items).toEqual([pod("a", { TOKEN: "***", MODE: "***" }), pod("b", { TOKEN: "***" })]);
    expect(counts).toEqual({ "k8s-policy/env": 3 });
  });

  it("applies a JSON path rule to the object of a watch event", () => {
    const { value, counts } = mask({ type: "MODIFIED", object: pod("a", { TOKEN: "t1" }) }, { masker: envRule });
    expect(value).toEqual({ type: "MODIFIED", object: pod("a", { TOKEN: "***" }) });
    expect(counts).toEqual({ "k8s-policy/env": 1 });
  });

  it("applies a JSON path rule to a single object", () => {
    const { value, counts } = mask(pod("a", { TOKEN: "t1" }), { masker: envRule });
    expect(value).toEqual(pod("a", { TOKEN: "***" }));
    expect(counts).toEqual({ "k8s-policy/env": 1 });
  });

  it("counts a rule's matches and the Secret values, leaving Secret data valid base64", () => {
    const list = { apiVersion: "v1", kind: "SecretList", metadata: {}, items: [secret("a"), secret("b", { data: { other: b64("x") } })] };
    const { value, counts } = mask(list, { secrets: true, masker: passwordRule });
    expect((value as { items: Json[] }).items.map((item) => item.data)).toEqual([{ username: MASKED_DATA, password: MASKED_DATA }, { other: MASKED_DATA }]);
    expect(counts).toEqual({ "k8s-policy/password": 1, [SECRET_MASK_COUNT]: 3 });
  });

  it("leaves a Status alone, even under a detector rule", () => {
    const status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: 'secrets "x" is forbidden', code: 403 };
    const { value, counts } = mask(copy(status), { secrets: true, masker: emailRule });
    expect(value).toEqual(status);
    expect(counts).toEqual({});
  });
});

describe("maskKubernetesDocument: odd shapes", () => {
  it.each<[string, unknown]>([
    ["null", null],
    ["a number", 5],
    ["a string", "hello"],
    ["an array", [secret("a")]],
    ["a list of odd items", { kind: "SecretList", items: [null, 3, "x", []] }],
    ["a Table without rows", { apiVersion: "meta.k8s.io/v1", kind: "Table", rows: [] }],
    ["an event without an object", { type: "ADDED", object: null }],
    ["an object without metadata", { kind: "Pod", spec: { containers: null } }],
    ["an object with odd annotations", { kind: "Pod", metadata: { name: "p", annotations: [LAST_APPLIED] } }],
    ["a non-string last-applied", { kind: "Pod", metadata: { name: "p", annotations: { [LAST_APPLIED]: 5 } } }],
  ])("leaves %s as it is", (_name, document) => {
    const { value, counts } = mask(copy(document), { secrets: false, masker: envRule });
    expect(value).toEqual(document);
    expect(counts).toEqual({});
  });

  it("replaces Secret data of a shape no API server sends rather than pass it on", () => {
    const { value, counts } = mask({ kind: "Secret", metadata: { name: "s" }, data: ["aHVudGVyMg=="], stringData: "hunter2" });
    expect(value).toMatchObject({ data: MASKED_DATA, stringData: MASKED_SECRET_TEXT });
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 2 });
  });
});

describe("masksResponses", () => {
  it("is true for secrets or an active masker only", () => {
    expect(masksResponses({ secrets: false, masker: noRules })).toBe(false);
    expect(masksResponses({ secrets: true, masker: noRules })).toBe(true);
    expect(masksResponses({ secrets: false, masker: envRule })).toBe(true);
  });
});

describe("maskKubernetesDocument: issued tokens", () => {
  it("masks the token a TokenRequest answers with, which would reach the API server around the gateway", () => {
    const document = { value: { kind: "TokenRequest", apiVersion: "authentication.k8s.io/v1", spec: { audiences: [] }, status: { token: "eyJhbGciOi.real.token", expirationTimestamp: "2026-12-06T11:00:00Z" } } };
    const counts = maskKubernetesDocument(document, { secrets: false, tokenRequest: true, masker: masker() });
    expect(document.value.status).toEqual({ token: MASKED_SECRET_TEXT, expirationTimestamp: "2026-12-06T11:00:00Z" });
    expect(counts).toEqual({ [SECRET_MASK_COUNT]: 1 });
    expect(masksResponses({ secrets: false, tokenRequest: true, masker: masker() })).toBe(true);
  });
});
