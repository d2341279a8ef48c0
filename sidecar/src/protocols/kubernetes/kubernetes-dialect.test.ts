import { describe, expect, it } from "@jest/globals";
import { auditedUserAgent, deleteOptionsDryRun, jsonOnlyAccept, secretWriteProblem } from "./kubernetes-dialect.js";
import { statusRefusal } from "./status.js";

const identity = { username: "system:serviceaccount:ops:bot", groups: [], serviceAccount: "bot", namespace: "ops", pod: "bot-1", claims: {} };

describe("the kubernetes dialect", () => {
  it.each([
    ["application/vnd.kubernetes.protobuf, */*", "application/json"],
    ["application/vnd.kubernetes.protobuf;stream=watch", "application/json"],
    ["application/cbor", "application/json"],
    [undefined, "application/json"],
    ["application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"],
    ["application/yaml, application/JSON", "application/JSON"],
  ])("asks for JSON only: %s → %s", (accept, expected) => {
    expect(jsonOnlyAccept(accept)).toBe(expected);
  });

  it("puts the agent, its pod and session before the client's own User-Agent", () => {
    const session = { identity, id: "s-1", masker: undefined as never };
    expect(auditedUserAgent(session, "kubectl/v1.36.3 (linux/amd64)")).toBe("portcullis (agent system:serviceaccount:ops:bot; pod ops/bot-1; session s-1) kubectl/v1.36.3 (linux/amd64)");
    expect(auditedUserAgent(session, undefined)).toBe("portcullis (agent system:serviceaccount:ops:bot; pod ops/bot-1; session s-1)");
  });

  it("refuses with a Status naming the policy, rule and ApprovalRequest", () => {
    const encoded = statusRefusal({ status: 403, error: "approval denied", message: "portcullis: no", policy: "ops", rule: "deletes", approvalRequest: "ar-1" });
    expect(encoded.contentType).toBe("application/json");
    expect(JSON.parse(encoded.body)).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "portcullis: no",
      reason: "Forbidden",
      details: {
        causes: [
          { reason: "FieldValueForbidden", field: "portcullis.dev/policy", message: "ops" },
          { reason: "FieldValueForbidden", field: "portcullis.dev/rule", message: "deletes" },
          { reason: "FieldValueForbidden", field: "portcullis.dev/approvalRequest", message: "ar-1" },
        ],
      },
      code: 403,
    });
    expect(JSON.parse(statusRefusal({ status: 400, error: "bad request", message: "m" }).body)).toMatchObject({ reason: "BadRequest", code: 400 });
  });
});

describe("deleteOptionsDryRun", () => {
  const body = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  it("reads dryRun from a DELETE's options as the API server does", () => {
    expect(deleteOptionsDryRun(body({ kind: "DeleteOptions", apiVersion: "v1", dryRun: ["All"] }), "application/json")).toBe(true);
    expect(deleteOptionsDryRun(body({ propagationPolicy: "Background" }), "application/json")).toBe(false);
    expect(deleteOptionsDryRun(body({ dryRun: [] }), undefined)).toBe(false);
  });

  it("refuses options it cannot read as the server would", () => {
    expect(deleteOptionsDryRun(body({ dryRun: ["Some"] }), "application/json")).toMatch(/must be a list of "All"/);
    expect(deleteOptionsDryRun(body({ dryRun: "All" }), "application/json")).toMatch(/must be a list of "All"/);
    expect(deleteOptionsDryRun(Buffer.from("{"), "application/json")).toMatch(/do not parse/);
    expect(deleteOptionsDryRun(Buffer.from("\u0000"), "application/vnd.kubernetes.protobuf")).toMatch(/send them as JSON/);
  });
});

describe("secretWriteProblem", () => {
  const patch = (operations: unknown): Buffer => Buffer.from(JSON.stringify(operations));
  it("refuses JSON patches that would read a Secret's values where they are not masked", () => {
    expect(secretWriteProblem(patch([{ op: "copy", from: "/data/password", path: "/metadata/annotations/x" }]), "application/json-patch+json", "json")).toMatch(/may not copy a Secret's values/);
    expect(secretWriteProblem(patch([{ op: "move", from: "/stringData", path: "/type" }]), "application/json-patch+json", "json")).toMatch(/may not move/);
    expect(secretWriteProblem(patch([{ op: "copy", from: "", path: "/metadata/labels/x" }]), "application/json-patch+json", "json")).toMatch(/may not copy/);
    expect(secretWriteProblem(patch([{ op: "test", path: "/data/password", value: "aHVudGVyMg==" }]), "application/json-patch+json", "json")).toMatch(/may not test/);
    expect(secretWriteProblem(Buffer.from("{"), "application/json-patch+json", "json")).toMatch(/does not parse/);
  });

  it("lets other writes pass, but never masked values written back", () => {
    expect(secretWriteProblem(patch([{ op: "replace", path: "/data/password", value: "bmV3" }, { op: "copy", from: "/metadata/labels/a", path: "/metadata/labels/b" }]), "application/json-patch+json", "json")).toBeUndefined();
    expect(secretWriteProblem(patch({ data: { password: "bmV3" } }), "application/merge-patch+json", "merge")).toBeUndefined();
    expect(secretWriteProblem(patch({ data: { password: "cG9ydGN1bGxpczptYXNrZWQ=" } }), "application/json", "")).toMatch(/values the gateway masked/);
    expect(secretWriteProblem(patch({ stringData: { password: "portcullis:masked" } }), "application/merge-patch+json", "merge")).toMatch(/values the gateway masked/);
  });
});
