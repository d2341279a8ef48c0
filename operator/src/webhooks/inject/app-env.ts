// Explicit (non-transparent) Resources: the agent's containers get
// environment variables pointing at the sidecar's listeners on loopback.
//
// URL schemes: postgres://127.0.0.1:PORT[/DATABASE] for postgres,
// http://127.0.0.1:PORT for http (plain text on loopback: that traffic never
// leaves the pod's network namespace), and https://127.0.0.1:PORT for
// kubernetes, whose clients speak only TLS: the gateway answers with a
// certificate from the pod's CA, and KUBECONFIG points kubectl and client
// libraries at a kubeconfig the gateway writes (the listener, that CA, the
// pod's namespace). The gateway speaks TLS (verify-full unless the Resource
// says otherwise) to the real backend.
//
// A variable the user already set is never overwritten: the user's value
// wins and the admission response carries a warning.
import type { V1Container, V1EnvVar, V1Volume } from "@kubernetes/client-node";
import type { IResource } from "@portcullis/crds";
import {
  AGENT_KUBECONFIG_FILE,
  POD_CA_FILE,
  SERVICE_ACCOUNT_MOUNT_PATH,
  TRUST_BUNDLE_FILE,
  TRUST_MOUNT_PATH,
  TRUST_SERVICE_ACCOUNT_DIR,
  TRUST_VOLUME,
} from "@portcullis/common/injection-names";

/** `orders-db` → `PORTCULLIS_ORDERS_DB_URL`. */
export function resourceUrlEnvName(resourceName: string): string {
  return `PORTCULLIS_${resourceName.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_URL`;
}

/** Where a client reaches the Resource through the sidecar. */
export function listenerUrl(resource: IResource): string {
  const address = `127.0.0.1:${resource.spec.listener.port}`;
  if (resource.spec.protocol === "postgres") {
    const database = resource.spec.postgres?.database;
    return `postgres://${address}${database === undefined ? "" : `/${encodeURIComponent(database)}`}`;
  }
  return `${resource.spec.protocol === "kubernetes" ? "https" : "http"}://${address}`;
}

export interface ExplicitEnv {
  vars: V1EnvVar[];
  warnings: string[];
}

function libpqEnv(postgres: IResource[]): ExplicitEnv {
  if (postgres.length > 1) {
    const names = postgres.map((r) => r.metadata?.name ?? "").join('", "');
    return { vars: [], warnings: [`PGHOST and PGPORT are not set because several explicit postgres Resources ("${names}") serve this pod; use their PORTCULLIS_*_URL variables`] };
  }
  const [only] = postgres;
  if (only === undefined) return { vars: [], warnings: [] };
  const vars: V1EnvVar[] = [
    { name: "PGHOST", value: "127.0.0.1" },
    { name: "PGPORT", value: String(only.spec.listener.port) },
  ];
  const database = only.spec.postgres?.database;
  if (database !== undefined) vars.push({ name: "PGDATABASE", value: database });
  return { vars, warnings: [] };
}

/** The variables every app container gets for the explicit Resources (sorted by name). */
export function explicitResourceEnv(resources: IResource[]): ExplicitEnv {
  const explicit = resources.filter((resource) => resource.spec.transparent !== true);
  const byVar = new Map<string, IResource[]>();
  for (const resource of explicit) {
    const name = resourceUrlEnvName(resource.metadata?.name ?? "");
    byVar.set(name, [...(byVar.get(name) ?? []), resource]);
  }
  const vars: V1EnvVar[] = [];
  const warnings: string[] = [];
  for (const [name, owners] of byVar) {
    if (owners.length === 1 && owners[0] !== undefined) vars.push({ name, value: listenerUrl(owners[0]) });
    else warnings.push(`${name} is not set because Resources "${owners.map((r) => r.metadata?.name ?? "").join('" and "')}" map to the same variable name`);
  }
  const libpq = libpqEnv(explicit.filter((resource) => resource.spec.protocol === "postgres"));
  const kubeconfig = explicit.some((resource) => resource.spec.protocol === "kubernetes") ? [{ name: "KUBECONFIG", value: `${TRUST_MOUNT_PATH}/${AGENT_KUBECONFIG_FILE}` }] : [];
  return { vars: [...vars, ...libpq.vars, ...kubeconfig], warnings: [...warnings, ...libpq.warnings] };
}

export interface ContainerEnvResult {
  container: V1Container;
  /** Names that were added. */
  added: string[];
  warnings: string[];
}

/** Appends the variables the container does not set itself; the ones it does set are left alone, with a warning. */
export function addEnvToContainer(container: V1Container, vars: V1EnvVar[]): ContainerEnvResult {
  const existing = container.env ?? [];
  const taken = new Set(existing.map((v) => v.name));
  const added = vars.filter((v) => !taken.has(v.name));
  const warnings = vars
    .filter((v) => taken.has(v.name))
    .map((v) => `container "${container.name}" already sets ${v.name}; Portcullis left it as it is instead of setting "${v.value ?? ""}", so clients using it may not reach the gateway`);
  if (added.length > 0 && (container.envFrom?.length ?? 0) > 0) {
    warnings.push(
      `container "${container.name}" uses envFrom; Portcullis variables (${added.map((v) => v.name).join(", ")}) take precedence over the same names from envFrom`,
    );
  }
  if (added.length === 0) return { container, added: [], warnings };
  return { container: { ...container, env: [...existing, ...added] }, added: added.map((v) => v.name), warnings };
}

/** Where the app containers' TLS clients find the pod CA: OpenSSL, curl and Python read the bundle, Node adds the CA. */
export function trustEnv(): V1EnvVar[] {
  const bundle = `${TRUST_MOUNT_PATH}/${TRUST_BUNDLE_FILE}`;
  return [
    { name: "SSL_CERT_FILE", value: bundle },
    { name: "CURL_CA_BUNDLE", value: bundle },
    { name: "REQUESTS_CA_BUNDLE", value: bundle },
    { name: "NODE_EXTRA_CA_CERTS", value: `${TRUST_MOUNT_PATH}/${POD_CA_FILE}` },
  ];
}

/**
 * The pod's projected volumes with a token for the API server (a serviceAccountToken source without an
 * audience: the kube-api-access volume the ServiceAccount admission plugin adds). With it the agent
 * would reach the API server around the gateway.
 */
export function apiServerTokenVolumes(volumes: readonly V1Volume[]): Set<string> {
  return new Set(volumes.filter((volume) => volume.projected?.sources?.some((source) => source.serviceAccountToken && !source.serviceAccountToken.audience)).map((volume) => volume.name));
}

/**
 * Transparent kubernetes: in-cluster clients read the service account at its usual path, so there the
 * container gets the gateway's files (the pod's CA, a placeholder token, the namespace); its mounts of
 * the real token (`tokenVolumes`, which the injector also removes from the pod) go.
 */
export function withGatewayServiceAccount(container: V1Container, tokenVolumes: ReadonlySet<string>): V1Container {
  const mounts = (container.volumeMounts ?? []).filter((mount) => !tokenVolumes.has(mount.name) && mount.mountPath.replace(/\/+$/, "") !== SERVICE_ACCOUNT_MOUNT_PATH);
  return { ...container, volumeMounts: [...mounts, { name: TRUST_VOLUME, mountPath: SERVICE_ACCOUNT_MOUNT_PATH, subPath: TRUST_SERVICE_ACCOUNT_DIR, readOnly: true }] };
}

/** The trust directory, read-only, unless the container already mounts something there. */
export function addTrustMount(container: V1Container): V1Container {
  if ((container.volumeMounts ?? []).some((mount) => mount.mountPath === TRUST_MOUNT_PATH)) return container;
  return { ...container, volumeMounts: [...(container.volumeMounts ?? []), { name: TRUST_VOLUME, mountPath: TRUST_MOUNT_PATH, readOnly: true }] };
}
