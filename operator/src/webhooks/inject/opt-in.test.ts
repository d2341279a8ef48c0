import type { V1Pod } from "@kubernetes/client-node";
import { injectionDecision } from "./opt-in.js";

function pod(labels?: Record<string, string>): V1Pod {
  return { metadata: { name: "p", labels }, spec: { containers: [] } };
}

const ENABLED = { "portcullis.dev/injection": "enabled" };

describe("injectionDecision", () => {
  it.each([
    ["namespace enabled, no pod label", ENABLED, undefined, true],
    ["namespace enabled, pod opts out", ENABLED, { "portcullis.dev/inject": "false" }, false],
    ["namespace not labelled, pod opts in", {}, { "portcullis.dev/inject": "true" }, true],
    ["namespace not labelled, no pod label", {}, undefined, false],
    ["namespace labels unknown, pod opts in", undefined, { "portcullis.dev/inject": "true" }, true],
    ["namespace disabled", { "portcullis.dev/injection": "disabled" }, undefined, false],
    ["namespace enabled, pod label with another value", ENABLED, { "portcullis.dev/inject": "yes" }, true],
    ["namespace not labelled, pod label with another value", {}, { "portcullis.dev/inject": "yes" }, false],
  ])("%s", (_name, namespaceLabels, podLabels, inject) => {
    expect(injectionDecision(pod(podLabels), namespaceLabels).inject).toBe(inject);
  });

  it("names the label that decided", () => {
    expect(injectionDecision(pod({ "portcullis.dev/inject": "false" }), ENABLED).reason).toBe(
      "pod label portcullis.dev/inject=false opts the pod out",
    );
    expect(injectionDecision(pod({ "portcullis.dev/inject": "yes" }), {}).reason).toContain('pod label portcullis.dev/inject="yes" is neither true nor false');
  });
});
