import { describe, expect, it } from "@jest/globals";
import type { ConfigBundle } from "@portcullis/common/config/bundle";
import { agentKubeconfig } from "./agent-files.js";

function bundle(resources: Array<{ name: string; protocol: string; port: number }>): ConfigBundle {
  return {
    identity: { namespace: "ops" },
    resources: resources.map(({ name, protocol, port }) => ({ name, spec: { protocol, listener: { port } } })),
  } as unknown as ConfigBundle;
}

describe("agentKubeconfig", () => {
  it("has one cluster and context per kubernetes Resource, trusting the pod's CA, the first by name current", () => {
    const text = agentKubeconfig(
      bundle([
        { name: "staging-api", protocol: "kubernetes", port: 16444 },
        { name: "orders-db", protocol: "postgres", port: 15432 },
        { name: "cluster-api", protocol: "kubernetes", port: 16443 },
      ]),
      "/var/run/portcullis-trust/pod-ca.crt",
    );
    expect(JSON.parse(text ?? "")).toEqual({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        { name: "cluster-api", cluster: { server: "https://127.0.0.1:16443", "certificate-authority": "/var/run/portcullis-trust/pod-ca.crt" } },
        { name: "staging-api", cluster: { server: "https://127.0.0.1:16444", "certificate-authority": "/var/run/portcullis-trust/pod-ca.crt" } },
      ],
      users: [{ name: "portcullis-agent", user: { token: "portcullis-pod-identity" } }],
      contexts: [
        { name: "cluster-api", context: { cluster: "cluster-api", user: "portcullis-agent", namespace: "ops" } },
        { name: "staging-api", context: { cluster: "staging-api", user: "portcullis-agent", namespace: "ops" } },
      ],
      "current-context": "cluster-api",
    });
  });

  it("is not written without a kubernetes Resource", () => {
    expect(agentKubeconfig(bundle([{ name: "orders-db", protocol: "postgres", port: 15432 }]), "/ca")).toBeUndefined();
  });
});
