import { defaultInjectionSettings, injectionSettingsProblems, nativeSidecarsSupported } from "./settings.js";

describe("injection settings", () => {
  it("has usable defaults", () => {
    expect(injectionSettingsProblems(defaultInjectionSettings)).toEqual([]);
  });

  it("names each unusable field", () => {
    const problems = injectionSettingsProblems({
      ...defaultInjectionSettings,
      sidecarUid: 0,
      tokenExpirationSeconds: 60,
      metricsPort: 80,
      brokerUrl: "http://broker",
    });
    expect(problems).toEqual([
      "sidecarUid must be a positive integer (not root), got 0",
      "tokenExpirationSeconds must be an integer of at least 600 (the Kubernetes minimum), got 60",
      "metricsPort must be between 1024 and 65535 (the sidecar runs without privileges), got 80",
      'brokerUrl must be an https:// URL, got "http://broker"',
    ]);
  });

  it.each([
    ["1", "28", false],
    ["1", "29", true],
    ["1", "33+", true],
    ["2", "0", true],
    ["1", "", false],
  ])("native sidecars on %s.%s: %s", (major, minor, expected) => {
    expect(nativeSidecarsSupported({ major, minor })).toBe(expected);
  });
});
