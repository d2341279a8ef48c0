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

  it.each([
    [["--webhook-port=http"], '--webhook-port must be a number from 0 to 65535, not "http"'],
    [["--native-sidecar=yes"], '--native-sidecar must be true or false, not "yes"'],
    [["--no-such-flag"], "Unknown option '--no-such-flag'"],
  ])("refuses %j with a clear message", (argv, message) => {
    expect(() => loadSettings(argv, {})).toThrow(SettingsError);
    expect(() => loadSettings(argv, {})).toThrow(message);
  });
});
