import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "@jest/globals";
import { BrokerClient, BrokerError, brokerSettingsFromEnv } from "./broker-client.js";
import { ConfigError } from "./config-error.js";

describe("brokerSettingsFromEnv", () => {
  it("defaults the files to the injector's mount paths", () => {
    expect(brokerSettingsFromEnv({ PORTCULLIS_BROKER_URL: "https://b" })).toEqual({ url: "https://b", tokenFile: "/var/run/secrets/portcullis/token", caFile: "/var/run/secrets/portcullis/ca.crt" });
  });

  it.each([
    [{}, "PORTCULLIS_BROKER_URL is not set: the gateway is not running under the Portcullis operator (use --manifests for standalone mode)"],
    [{ PORTCULLIS_BROKER_URL: "http://broker:8443" }, 'PORTCULLIS_BROKER_URL must be an https:// URL, got "http://broker:8443"'],
    [{ PORTCULLIS_BROKER_URL: "not a url" }, 'PORTCULLIS_BROKER_URL must be an https:// URL, got "not a url"'],
  ])("refuses %j", (env, message) => {
    expect(() => brokerSettingsFromEnv(env)).toThrow(ConfigError);
    expect(() => brokerSettingsFromEnv(env)).toThrow(message);
  });
});

describe("BrokerClient without a broker", () => {
  const client = new BrokerClient({ url: "https://127.0.0.1:1", tokenFile: "/nonexistent/token", caFile: "/nonexistent/ca.crt" });

  it("fails closed with a BrokerError when it cannot read its token", async () => {
    // The token and the CA are read together: with only the token missing, the error is the token's every time.
    const caFile = join(mkdtempSync(join(tmpdir(), "portcullis-broker-ca-")), "ca.crt");
    writeFileSync(caFile, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
    const withCa = new BrokerClient({ url: "https://127.0.0.1:1", tokenFile: "/nonexistent/token", caFile });
    const error = await withCa.fetchConfig().catch((caught: unknown) => caught);
    rmSync(dirname(caFile), { recursive: true, force: true });
    expect(error).toBeInstanceOf(BrokerError);
    expect((error as BrokerError).message).toMatch(/^cannot read the broker token at \/nonexistent\/token: ENOENT/);
    expect((error as BrokerError).transient).toBe(true);
  });

  it("refuses a wait the broker would refuse", async () => {
    await expect(client.getApproval("x", 61)).rejects.toThrow("waitSeconds must be a whole number from 0 to 60, got 61");
  });

  it("reports watch failures and stops when aborted", async () => {
    const controller = new AbortController();
    const errors: string[] = [];
    await client.watchConfig(() => undefined, {
      signal: controller.signal,
      onError: (error) => {
        errors.push(error.message);
        if (errors.length === 2) controller.abort();
      },
    });
    expect(errors).toHaveLength(2);
    // The token and the CA bundle are read together; whichever is missing first is reported.
    expect(errors[0]).toMatch(/^cannot read the broker (token|CA bundle)/);
  });
});
