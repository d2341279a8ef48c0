import type { V1Pod } from "@kubernetes/client-node";
import { configurationHash, encodeRecord, parseRecord, recordProblems, type InjectionRecord } from "./record.js";
import { canonicalJson } from "@portcullis/common/canonical-json";
import { defaultInjectionSettings } from "./settings.js";

const record: InjectionRecord = {
  version: 1,
  initContainers: ["portcullis-gateway"],
  containers: [],
  volumes: ["portcullis-identity"],
  env: [],
  resources: ["db"],
  hash: "sha256:0123456789abcdef",
  seal: "c2VhbA",
};

describe("the injection record", () => {
  it("round-trips", () => {
    expect(parseRecord(encodeRecord(record))).toEqual(record);
  });

  it.each([
    ["not JSON", "{", "annotation portcullis.dev/injected is not JSON"],
    ["another version", JSON.stringify({ ...record, version: 2 }), "annotation portcullis.dev/injected is not a version 1 injection record"],
    ["a missing list", JSON.stringify({ ...record, volumes: undefined }), "annotation portcullis.dev/injected is not a version 1 injection record"],
    ["a seal that is not a string", JSON.stringify({ ...record, seal: 1 }), "annotation portcullis.dev/injected is not a version 1 injection record"],
    ["null", "null", "annotation portcullis.dev/injected is not a version 1 injection record"],
  ])("rejects %s", (_name, value, message) => {
    expect(parseRecord(value)).toBe(message);
  });

  it("finds what the pod lacks and identity mounts outside the sidecar", () => {
    const pod: V1Pod = {
      spec: {
        initContainers: [{ name: "portcullis-gateway", volumeMounts: [{ name: "portcullis-identity", mountPath: "/p" }] }],
        containers: [{ name: "agent", volumeMounts: [{ name: "portcullis-identity", mountPath: "/stolen" }] }],
      },
    };
    expect(recordProblems(pod, record)).toEqual([
      'the recorded volume "portcullis-identity" is missing',
      'container "agent" mounts volume "portcullis-identity", which only "portcullis-gateway" may mount',
    ]);
  });
});

describe("configurationHash", () => {
  it("does not depend on key order, and changes with the settings", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
    const hash = configurationHash(defaultInjectionSettings, []);
    expect(hash).toMatch(/^sha256:[0-9a-f]{16}$/);
    expect(configurationHash({ ...defaultInjectionSettings }, [])).toBe(hash);
    expect(configurationHash({ ...defaultInjectionSettings, metricsPort: 15091 }, [])).not.toBe(hash);
  });
});
