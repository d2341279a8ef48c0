// Configuration the gateway cannot run with: a manifests file it refuses, or an
// environment that does not say how to reach the broker. Reported at start,
// every problem on its own line, and the gateway does not serve.
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}
