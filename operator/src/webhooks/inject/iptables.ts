// Transparent mode: the pod's outgoing TCP traffic to a Resource's real
// address is redirected (nat table) to the sidecar's listener, so clients
// configured with the real address pass the gateway unchanged. The rules are
// generated as data, tested as data (iptables.test.ts), and applied in one
// place: the script the init container runs.
//
// Chains, named after what they do (as in Linkerd's proxy-init):
//   OUTPUT -p tcp -> PORTCULLIS_OUTPUT
//     1. traffic of the sidecar's UID -> RETURN (the gateway's own upstream
//        connections must not be redirected back into the gateway)
//     2. everything else -> PORTCULLIS_REDIRECT
//   PORTCULLIS_REDIRECT: one REDIRECT per transparent Resource,
//     -d endpoint.host -p tcp --dport endpoint.port -> listener.port
// OUTPUT is hooked last, so no packet sees a half-built chain.
import type { IResource } from "@portcullis/crds";
import type { InjectionSettings } from "./settings.js";

export const OUTPUT_CHAIN = "PORTCULLIS_OUTPUT";
export const REDIRECT_CHAIN = "PORTCULLIS_REDIRECT";

/** The Resources whose traffic is intercepted with iptables. */
export function transparentResources(resources: IResource[]): IResource[] {
  return resources.filter((resource) => resource.spec.transparent === true);
}

/** Quotes a word for /bin/sh when it holds anything beyond a conservative safe set. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function nat(...args: string[]): string {
  return ["iptables", "-t", "nat", ...args].map(shellQuote).join(" ");
}

/**
 * The iptables commands, in order, for the transparent Resources among `resources` (sorted by name, so
 * the list is stable). Empty when there is no transparent Resource: then no init container is needed.
 */
export function transparentRedirectRules(resources: IResource[], settings: Pick<InjectionSettings, "sidecarUid">): string[] {
  const transparent = transparentResources(resources).sort((a, b) =>
    (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""),
  );
  if (transparent.length === 0) return [];
  const redirects = transparent.map((resource) =>
    nat(
      "-A", REDIRECT_CHAIN,
      "-d", resource.spec.endpoint.host,
      "-p", "tcp", "--dport", String(resource.spec.endpoint.port),
      "-m", "comment", "--comment", `portcullis: Resource ${resource.metadata?.name ?? ""}`,
      "-j", "REDIRECT", "--to-ports", String(resource.spec.listener.port),
    ),
  );
  return [
    nat("-N", OUTPUT_CHAIN),
    nat("-N", REDIRECT_CHAIN),
    nat(
      "-A", OUTPUT_CHAIN,
      "-m", "owner", "--uid-owner", String(settings.sidecarUid),
      "-m", "comment", "--comment", "portcullis: connections of the gateway itself leave unchanged",
      "-j", "RETURN",
    ),
    nat("-A", OUTPUT_CHAIN, "-j", REDIRECT_CHAIN),
    ...redirects,
    nat("-A", "OUTPUT", "-p", "tcp", "-j", OUTPUT_CHAIN),
  ];
}

/**
 * The shell script the init container runs. It first removes the chains a previous, failed run of the
 * same container may have left in this network namespace, so a retry starts clean; then it applies the
 * rules and prints the nat table into the container log for debugging.
 */
export function renderInitScript(rules: string[]): string {
  const reset = [
    `${nat("-D", "OUTPUT", "-p", "tcp", "-j", OUTPUT_CHAIN)} 2>/dev/null || true`,
    ...[OUTPUT_CHAIN, REDIRECT_CHAIN].flatMap((chain) => [
      `${nat("-F", chain)} 2>/dev/null || true`,
      `${nat("-X", chain)} 2>/dev/null || true`,
    ]),
  ];
  return [
    "#!/bin/sh",
    "# Written by the Portcullis operator: redirects this pod's traffic for transparent Resources to the gateway sidecar.",
    "set -e",
    ...reset,
    ...rules,
    nat("-S"),
    "",
  ].join("\n");
}
