// The transparent-mode rules as data: testdata/transparent-redirect.rules.golden.txt
// holds the rule list for the shared fixtures' Resources (UPDATE_GOLDEN=1 regenerates it).
import { routedResource } from "../../testing/objects.js";
import { expectGolden } from "./golden-files.js";
import { renderInitScript, shellQuote, transparentRedirectRules } from "./iptables.js";

const RESOURCES = [
  routedResource("payments-api", "payments.payments.svc.cluster.local", 80, 18081, true),
  routedResource("analytics-db", "analytics.data.svc.cluster.local", 5432, 15433, false),
  routedResource("orders-db", "10.96.12.7", 5432, 15432, true),
];

describe("transparentRedirectRules", () => {
  const rules = transparentRedirectRules(RESOURCES, { sidecarUid: 1337 });

  it("matches the golden rule list", () => {
    expectGolden("transparent-redirect.rules.golden.txt", `${rules.join("\n")}\n`);
  });

  it("lets the sidecar's UID out first, and hooks OUTPUT only after the chains are complete", () => {
    const firstRule = rules.findIndex((rule) => rule.includes(" -A "));
    expect(rules[firstRule]).toContain("-A PORTCULLIS_OUTPUT -m owner --uid-owner 1337");
    expect(rules[firstRule]).toMatch(/-j RETURN$/);
    expect(rules.at(-1)).toBe("iptables -t nat -A OUTPUT -p tcp -j PORTCULLIS_OUTPUT");
  });

  it("redirects only transparent Resources, in name order", () => {
    const redirects = rules.filter((rule) => rule.includes("-j REDIRECT"));
    expect(redirects).toEqual([
      "iptables -t nat -A PORTCULLIS_REDIRECT -d 10.96.12.7 -p tcp --dport 5432 -m comment --comment 'portcullis: Resource orders-db' -j REDIRECT --to-ports 15432",
      "iptables -t nat -A PORTCULLIS_REDIRECT -d payments.payments.svc.cluster.local -p tcp --dport 80 -m comment --comment 'portcullis: Resource payments-api' -j REDIRECT --to-ports 18081",
    ]);
  });

  it("is empty without a transparent Resource, so no init container is needed", () => {
    expect(transparentRedirectRules([routedResource("a", "a.svc", 5432, 15432, false)], { sidecarUid: 1337 })).toEqual([]);
  });
});

describe("renderInitScript", () => {
  it("stops at the first failing command, cleans up a previous attempt and prints the result", () => {
    const script = renderInitScript(["iptables -t nat -N PORTCULLIS_OUTPUT"]);
    const lines = script.split("\n");
    expect(lines[0]).toBe("#!/bin/sh");
    expect(lines.indexOf("set -e")).toBeLessThan(lines.indexOf("iptables -t nat -N PORTCULLIS_OUTPUT"));
    expect(lines).toContain("iptables -t nat -D OUTPUT -p tcp -j PORTCULLIS_OUTPUT 2>/dev/null || true");
    expect(lines.at(-2)).toBe("iptables -t nat -S");
  });
});

describe("shellQuote", () => {
  it("leaves safe words alone and single-quotes the rest", () => {
    expect(shellQuote("orders-db.data.svc:5432")).toBe("orders-db.data.svc:5432");
    expect(shellQuote("a b")).toBe("'a b'");
    expect(shellQuote("it's; rm -rf /")).toBe(`'it'\\''s; rm -rf /'`);
    expect(shellQuote("$(id)")).toBe("'$(id)'");
  });
});
