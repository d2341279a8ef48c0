// The containers and volumes the injector adds. patch.ts decides where they
// go; this file decides what they are.
import type { V1Container, V1EnvVar, V1Probe, V1SecurityContext, V1Volume } from "@kubernetes/client-node";
import type { IResource } from "@portcullis/crds";
import {
  CA_FILE,
  IDENTITY_MOUNT_PATH,
  IDENTITY_VOLUME,
  INIT_CONTAINER,
  INIT_RUN_VOLUME,
  SIDECAR_CONTAINER,
  SPOOL_MOUNT_PATH,
  SPOOL_VOLUME,
  TMP_VOLUME,
  TOKEN_AUDIENCE,
  TOKEN_FILE,
  TRUST_MOUNT_PATH,
  TRUST_VOLUME,
} from "@portcullis/common/injection-names";
import { needsPodTrust } from "@portcullis/common/config/agent-tls";
import type { InjectionSettings } from "./settings.js";

function fieldEnv(name: string, fieldPath: string): V1EnvVar {
  return { name, valueFrom: { fieldRef: { fieldPath } } };
}

function healthProbe(settings: InjectionSettings, periodSeconds: number, failureThreshold: number): V1Probe {
  return { httpGet: { path: "/healthz", port: settings.metricsPort }, periodSeconds, failureThreshold };
}

function sidecarSecurityContext(settings: InjectionSettings): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: settings.sidecarUid,
    runAsGroup: settings.sidecarUid,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
  };
}

/**
 * The gateway sidecar. It learns its configuration and credentials from the broker, authenticated by the
 * projected token; the pod identity comes from the downward API, never from anything the agent controls.
 */
export function gatewayContainer(resources: IResource[], settings: InjectionSettings): V1Container {
  const names = resources.map((resource) => resource.metadata?.name ?? "");
  const container: V1Container = {
    name: SIDECAR_CONTAINER,
    image: settings.sidecarImage,
    env: [
      { name: "PORTCULLIS_BROKER_URL", value: settings.brokerUrl },
      { name: "PORTCULLIS_RESOURCES", value: names.join(",") },
      { name: "PORTCULLIS_METRICS_PORT", value: String(settings.metricsPort) },
      { name: "PORTCULLIS_TOKEN_FILE", value: `${IDENTITY_MOUNT_PATH}/${TOKEN_FILE}` },
      { name: "PORTCULLIS_BROKER_CA_FILE", value: `${IDENTITY_MOUNT_PATH}/${CA_FILE}` },
      { name: "PORTCULLIS_SPOOL_DIR", value: SPOOL_MOUNT_PATH },
      ...(resources.some((resource) => needsPodTrust(resource.spec)) ? [{ name: "PORTCULLIS_TRUST_DIR", value: TRUST_MOUNT_PATH }] : []),
      fieldEnv("POD_NAME", "metadata.name"),
      fieldEnv("POD_NAMESPACE", "metadata.namespace"),
      fieldEnv("POD_UID", "metadata.uid"),
    ],
    ports: [
      ...resources.map((resource) => ({ name: `pc-${resource.spec.listener.port}`, containerPort: resource.spec.listener.port, protocol: "TCP" })),
      { name: "pc-metrics", containerPort: settings.metricsPort, protocol: "TCP" },
    ],
    // The startup probe holds back the app containers (native mode) until the gateway has its configuration.
    startupProbe: healthProbe(settings, 1, 120),
    readinessProbe: healthProbe(settings, 5, 3),
    resources: settings.resources,
    securityContext: sidecarSecurityContext(settings),
    volumeMounts: [
      { name: IDENTITY_VOLUME, mountPath: IDENTITY_MOUNT_PATH, readOnly: true },
      { name: SPOOL_VOLUME, mountPath: SPOOL_MOUNT_PATH },
      { name: TMP_VOLUME, mountPath: "/tmp" },
      ...(resources.some((resource) => needsPodTrust(resource.spec)) ? [{ name: TRUST_VOLUME, mountPath: TRUST_MOUNT_PATH }] : []),
    ],
  };
  return settings.nativeSidecar ? { ...container, restartPolicy: "Always" } : container;
}

/**
 * The init container that installs the iptables rules. The only Portcullis container with privileges:
 * root with NET_ADMIN and NET_RAW (iptables needs both), nothing else, and it exits before the agent starts.
 */
export function iptablesInitContainer(script: string, settings: InjectionSettings): V1Container {
  return {
    name: INIT_CONTAINER,
    image: settings.initImage,
    command: ["/bin/sh", "-c", script],
    resources: settings.initResources,
    securityContext: {
      runAsNonRoot: false,
      runAsUser: 0,
      runAsGroup: 0,
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: [{ name: INIT_RUN_VOLUME, mountPath: "/run" }],
  };
}

/** The volumes the injected containers mount; the iptables volume only when there is an init container. */
export function injectedVolumes(settings: InjectionSettings, withInitContainer: boolean, withTrust = false): V1Volume[] {
  const volumes: V1Volume[] = [
    {
      name: IDENTITY_VOLUME,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: TOKEN_AUDIENCE,
              expirationSeconds: settings.tokenExpirationSeconds,
              path: TOKEN_FILE,
            },
          },
          { configMap: { name: settings.caBundleConfigMap, items: [{ key: CA_FILE, path: CA_FILE }] } },
        ],
      },
    },
    // No size limit: exceeding one evicts the pod and loses the evidence the spool is there to keep.
    { name: SPOOL_VOLUME, emptyDir: {} },
    { name: TMP_VOLUME, emptyDir: { sizeLimit: "64Mi" } },
  ];
  if (withInitContainer) volumes.push({ name: INIT_RUN_VOLUME, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } });
  // The pod CA's certificate and the agent's kubeconfig, written by the gateway, read by the app containers.
  if (withTrust) volumes.push({ name: TRUST_VOLUME, emptyDir: { medium: "Memory", sizeLimit: "1Mi" } });
  return volumes;
}
