// Operator settings from command-line flags (which win) and environment
// variables. Bad values stop the operator at start with a message naming the
// flag; nothing falls back silently.
import { parseArgs } from "node:util";

export interface OperatorSettings {
  kubeconfig?: string;
  /** Namespace the operator runs in: its Lease, certificate Secret and Events live here. */
  namespace: string;
  /** This replica's identity in the leader Lease. */
  identity: string;
  /** The operator's own service-account user name: the only one allowed to create ApprovalRequests. */
  serviceAccountUsername: string;
  listenHost: string;
  webhookPort: number;
  /** Where the CA probe webhook listens (certs/probe.ts). */
  caProbePort: number;
  brokerPort: number;
  healthPort: number;
  /** Names on the serving certificate: the Service DNS names, and extra IPs (e.g. 127.0.0.1 outside a cluster). */
  certificateDnsNames: string[];
  certificateIpAddresses: string[];
  certificateSecret: string;
  /** The Secret holding the key injection records are sealed with. */
  sealKeySecret: string;
  caValidityDays: number;
  servingValidityDays: number;
  certificateCheckSeconds: number;
  mutatingWebhookConfiguration: string;
  validatingWebhookConfiguration: string;
  /** Broker URL written into injected sidecars. */
  brokerUrl: string;
  leaseName: string;
  leaseDurationSeconds: number;
  approvalRetentionSeconds: number;
  resyncSeconds: number;
  sidecarImage: string;
  initImage: string;
  nativeSidecar: boolean;
  /** The UID the injected gateway runs as (and the iptables rules let out). */
  sidecarUid: number;
  /** requests and limits of the injected gateway; the injector's defaults when absent. */
  sidecarResources?: SidecarResources;
}

export class SettingsError extends Error {}

const FLAGS = {
  kubeconfig: { type: "string" },
  namespace: { type: "string" },
  identity: { type: "string" },
  "service-account-username": { type: "string" },
  "listen-host": { type: "string" },
  "webhook-port": { type: "string" },
  "ca-probe-port": { type: "string" },
  "broker-port": { type: "string" },
  "health-port": { type: "string" },
  "certificate-dns-names": { type: "string" },
  "certificate-ip-addresses": { type: "string" },
  "certificate-secret": { type: "string" },
  "seal-key-secret": { type: "string" },
  "ca-validity-days": { type: "string" },
  "serving-validity-days": { type: "string" },
  "certificate-check-seconds": { type: "string" },
  "mutating-webhook-configuration": { type: "string" },
  "validating-webhook-configuration": { type: "string" },
  "broker-url": { type: "string" },
  "lease-name": { type: "string" },
  "lease-duration-seconds": { type: "string" },
  "approval-retention-seconds": { type: "string" },
  "resync-seconds": { type: "string" },
  "sidecar-image": { type: "string" },
  "init-image": { type: "string" },
  "native-sidecar": { type: "string" },
  "sidecar-uid": { type: "string" },
  "sidecar-resources": { type: "string" },
} as const;

type Flag = keyof typeof FLAGS;

/** Parses flags, each of which may also come from PORTCULLIS_<FLAG_IN_UPPER_SNAKE_CASE>. */
export function loadSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): OperatorSettings {
  let values: Partial<Record<Flag, string>>;
  try {
    values = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new SettingsError((error as Error).message);
  }
  const get = (flag: Flag): string | undefined => values[flag] ?? env[`PORTCULLIS_${flag.toUpperCase().replace(/-/g, "_")}`];
  const text = (flag: Flag, fallback: string): string => get(flag) ?? fallback;
  const number = (flag: Flag, fallback: number, min: number, max: number): number => {
    const raw = get(flag);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max) throw new SettingsError(`--${flag} must be a number from ${min} to ${max}, not "${raw}"`);
    return value;
  };
  const list = (flag: Flag, fallback: string[]): string[] => get(flag)?.split(",").map((s) => s.trim()).filter(Boolean) ?? fallback;
  const bool = (flag: Flag, fallback: boolean): boolean => {
    const raw = get(flag);
    if (raw === undefined) return fallback;
    if (raw !== "true" && raw !== "false") throw new SettingsError(`--${flag} must be true or false, not "${raw}"`);
    return raw === "true";
  };

  const namespace = text("namespace", env.POD_NAMESPACE ?? "portcullis-system");
  const service = `portcullis-operator.${namespace}.svc`;
  const kubeconfig = get("kubeconfig");
  return {
    ...(kubeconfig ? { kubeconfig } : {}),
    namespace,
    identity: text("identity", env.POD_NAME ?? `${env.HOSTNAME ?? "operator"}-${process.pid}`),
    serviceAccountUsername: text("service-account-username", `system:serviceaccount:${namespace}:portcullis-operator`),
    listenHost: text("listen-host", "0.0.0.0"),
    webhookPort: number("webhook-port", 9443, 0, 65535),
    caProbePort: number("ca-probe-port", 9444, 0, 65535),
    brokerPort: number("broker-port", 8443, 0, 65535),
    healthPort: number("health-port", 8080, 0, 65535),
    certificateDnsNames: list("certificate-dns-names", [service, `portcullis-operator.${namespace}.svc.cluster.local`]),
    certificateIpAddresses: list("certificate-ip-addresses", []),
    certificateSecret: text("certificate-secret", "portcullis-operator-tls"),
    sealKeySecret: text("seal-key-secret", "portcullis-injection-seal"),
    caValidityDays: number("ca-validity-days", 365, 0.0001, 3650),
    servingValidityDays: number("serving-validity-days", 90, 0.0001, 3650),
    certificateCheckSeconds: number("certificate-check-seconds", 60, 1, 86400),
    mutatingWebhookConfiguration: text("mutating-webhook-configuration", "portcullis"),
    validatingWebhookConfiguration: text("validating-webhook-configuration", "portcullis"),
    brokerUrl: text("broker-url", `https://${service}:8443`),
    leaseName: text("lease-name", "portcullis-operator"),
    leaseDurationSeconds: number("lease-duration-seconds", 15, 2, 600),
    approvalRetentionSeconds: number("approval-retention-seconds", 7 * 86400, 0, 365 * 86400),
    resyncSeconds: number("resync-seconds", 300, 1, 86400),
    sidecarImage: text("sidecar-image", "ghcr.io/portcullis-dev/portcullis-sidecar:0.1.0"),
    initImage: text("init-image", "ghcr.io/portcullis-dev/portcullis-init:0.1.0"),
    nativeSidecar: bool("native-sidecar", true),
    sidecarUid: number("sidecar-uid", 1337, 1, 2147483647),
    ...optional("sidecarResources", resourcesFlag(get("sidecar-resources"))),
  };
}

export interface SidecarResources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;

/** --sidecar-resources: JSON like {"requests":{"cpu":"50m","memory":"128Mi"},"limits":{"memory":"256Mi"}}. */
function resourcesFlag(raw: string | undefined): SidecarResources | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new SettingsError(`--sidecar-resources must be JSON such as {"requests":{"cpu":"50m"},"limits":{"memory":"256Mi"}}, not ${JSON.stringify(raw)}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new SettingsError("--sidecar-resources must be a JSON object with requests and limits");
  for (const [section, quantities] of Object.entries(value)) {
    if (section !== "requests" && section !== "limits") throw new SettingsError(`--sidecar-resources: unknown field "${section}" (only requests and limits)`);
    if (quantities === null || typeof quantities !== "object" || Array.isArray(quantities)) throw new SettingsError(`--sidecar-resources: ${section} must be an object of quantities`);
    for (const [name, quantity] of Object.entries(quantities as Record<string, unknown>)) {
      if (typeof quantity !== "string" || !QUANTITY.test(quantity)) throw new SettingsError(`--sidecar-resources: ${section}.${name} must be a quantity such as "50m" or "64Mi", not ${JSON.stringify(quantity)}`);
    }
  }
  return value;
}
