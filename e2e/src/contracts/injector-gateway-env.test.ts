// The injector and the gateway agree on the environment: what the operator
// puts in the gateway container is exactly what the sidecar reads.
import { describe, expect, it } from "@jest/globals";
import { gatewayContainer } from "@portcullis/operator/webhooks/inject/containers";
import { defaultInjectionSettings } from "@portcullis/operator/webhooks/inject/settings";
import { brokerSettingsFromEnv } from "@portcullis/sidecar/config/broker-client";

describe("the gateway container's environment", () => {
  it("reads exactly what the injector gives the gateway container", () => {
    const settings = { ...defaultInjectionSettings, brokerUrl: "https://broker.portcullis-system.svc:8443" };
    const env = Object.fromEntries((gatewayContainer([], settings).env ?? []).filter((v) => v.value !== undefined).map((v) => [v.name, v.value]));
    expect(brokerSettingsFromEnv(env)).toEqual({
      url: "https://broker.portcullis-system.svc:8443",
      tokenFile: "/var/run/secrets/portcullis/token",
      caFile: "/var/run/secrets/portcullis/ca.crt",
    });
  });
});
