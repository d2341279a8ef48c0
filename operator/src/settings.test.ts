import { SettingsError, loadSettings } from "./settings.js";

describe("loadSettings", () => {
  it("has defaults that name the in-cluster service", () => {
    const settings = loadSettings([], { POD_NAMESPACE: "portcullis" });
    expect(settings.certificateDnsNames).toContain("portcullis-operator.portcullis.svc");
    expect(settings.brokerUrl).toBe("https://portcullis-operator.portcullis.svc:8443");
    expect(settings.serviceAccountUsername).toBe("system:serviceaccount:portcullis:portcullis-operator");
  });

  it("takes flags over environment variables", () => {
    const settings = loadSettings(["--webhook-port=1234"], { PORTCULLIS_WEBHOOK_PORT: "999", PORTCULLIS_NATIVE_SIDECAR: "false" });
    expect(settings.webhookPort).toBe(1234);
    expect(settings.nativeSidecar).toBe(false);
  });

  it("takes the gateway's UID and resources for the injector", () => {
    const settings = loadSettings(["--sidecar-uid=2000", '--sidecar-resources={"requests":{"cpu":"20m","memory":"48Mi"},"limits":{"memory":"200Mi"}}'], {});
    expect(settings.sidecarUid).toBe(2000);
    expect(settings.sidecarResources).toEqual({ requests: { cpu: "20m", memory: "48Mi" }, limits: { memory: "200Mi" } });
    expect(loadSettings([], {}).sidecarResources).toBeUndefined();
  });

  it.each([
    [["--webhook-port=http"], '--webhook-port must be a number from 0 to 65535, not "http"'],
    [["--native-sidecar=yes"], '--native-sidecar must be true or false, not "yes"'],
    [["--no-such-flag"], "Unknown option '--no-such-flag'"],
    [["--sidecar-uid=0"], '--sidecar-uid must be a number from 1 to 2147483647, not "0"'],
    [["--sidecar-resources=cpu=1"], "--sidecar-resources must be JSON"],
    [['--sidecar-resources={"request":{}}'], '--sidecar-resources: unknown field "request"'],
    [['--sidecar-resources={"limits":{"memory":"lots"}}'], '--sidecar-resources: limits.memory must be a quantity such as "50m" or "64Mi", not "lots"'],
  ])("refuses %j with a clear message", (argv, message) => {
    expect(() => loadSettings(argv, {})).toThrow(SettingsError);
    expect(() => loadSettings(argv, {})).toThrow(message);
  });
});
