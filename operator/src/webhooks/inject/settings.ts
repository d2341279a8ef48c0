// What the injector puts into a pod, apart from what the Resources and
// AccessPolicies say. The operator builds this from its own flags; the
// defaults match the operator's flag defaults so tests and a plain
// `portcullis-operator` run inject the same thing.
import type { V1ResourceRequirements } from "@kubernetes/client-node";

export interface InjectionSettings {
  /** The gateway sidecar image. */
  sidecarImage: string;
  /** Image of the init container that installs the transparent-mode iptables rules (needs iptables and /bin/sh). */
  initImage: string;
  /**
   * true: the sidecar is an init container with restartPolicy Always (Kubernetes >= 1.29), so it starts
   * before, and stops after, every other container. false: a classic container, first in spec.containers.
   */
  nativeSidecar: boolean;
  /** UID and GID the sidecar runs as; the iptables rules let this UID's traffic out unchanged. */
  sidecarUid: number;
  /** requests and limits of the sidecar container. */
  resources: V1ResourceRequirements;
  /** requests and limits of the short-lived iptables init container. */
  initResources: V1ResourceRequirements;
  /** HTTPS URL of the operator's broker API, where the sidecar fetches its configuration and credentials. */
  brokerUrl: string;
  /** ConfigMap (key ca.crt) the operator keeps in every injected namespace: the CA that signs the broker's certificate. */
  caBundleConfigMap: string;
  /** Lifetime of the projected ServiceAccount token the sidecar presents to the broker (Kubernetes minimum: 600). */
  tokenExpirationSeconds: number;
  /** Port of the sidecar's /metrics and /healthz, on all interfaces so the kubelet can probe it. */
  metricsPort: number;
}

export const defaultInjectionSettings: InjectionSettings = {
  sidecarImage: "ghcr.io/portcullis-dev/portcullis-sidecar:0.1.0",
  initImage: "ghcr.io/portcullis-dev/portcullis-init:0.1.0",
  nativeSidecar: true,
  sidecarUid: 1337,
  resources: {
    requests: { cpu: "50m", memory: "128Mi" },
    limits: { memory: "256Mi" },
  },
  initResources: {
    requests: { cpu: "10m", memory: "16Mi" },
    limits: { cpu: "100m", memory: "64Mi" },
  },
  brokerUrl: "https://portcullis-operator.portcullis-system.svc:8443",
  caBundleConfigMap: "portcullis-ca",
  tokenExpirationSeconds: 600,
  metricsPort: 15090,
};

/** Everything wrong with the settings, as messages naming the field; empty when they are usable. */
export function injectionSettingsProblems(settings: InjectionSettings): string[] {
  const problems: string[] = [];
  if (settings.sidecarImage.trim() === "") problems.push("sidecarImage is empty");
  if (settings.initImage.trim() === "") problems.push("initImage is empty");
  if (!Number.isInteger(settings.sidecarUid) || settings.sidecarUid < 1) {
    // UID 0 would make the sidecar root, and its traffic exemption would exempt every root process.
    problems.push(`sidecarUid must be a positive integer (not root), got ${settings.sidecarUid}`);
  }
  if (!Number.isInteger(settings.tokenExpirationSeconds) || settings.tokenExpirationSeconds < 600) {
    problems.push(`tokenExpirationSeconds must be an integer of at least 600 (the Kubernetes minimum), got ${settings.tokenExpirationSeconds}`);
  }
  if (!Number.isInteger(settings.metricsPort) || settings.metricsPort < 1024 || settings.metricsPort > 65535) {
    problems.push(`metricsPort must be between 1024 and 65535 (the sidecar runs without privileges), got ${settings.metricsPort}`);
  }
  if (!/^https:\/\/[^\s/]+/.test(settings.brokerUrl)) problems.push(`brokerUrl must be an https:// URL, got "${settings.brokerUrl}"`);
  if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(settings.caBundleConfigMap)) {
    problems.push(`caBundleConfigMap must be a ConfigMap name, got "${settings.caBundleConfigMap}"`);
  }
  return problems;
}

/**
 * Whether the API server's version supports native sidecars (init containers with restartPolicy Always):
 * on by default from Kubernetes 1.29. `minor` may carry a suffix such as "29+".
 */
export function nativeSidecarsSupported(version: { major: string; minor: string }): boolean {
  const major = Number.parseInt(version.major, 10);
  const minor = Number.parseInt(version.minor, 10);
  if (Number.isNaN(major) || Number.isNaN(minor)) return false;
  return major > 1 || (major === 1 && minor >= 29);
}
