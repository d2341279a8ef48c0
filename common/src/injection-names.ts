// Names and paths the injector owns inside a pod. The broker and the sidecar
// rely on the same names (the broker checks that the pod it serves carries
// the gateway container), so they live in one place.

/** The gateway sidecar container. */
export const SIDECAR_CONTAINER = "portcullis-gateway";
/** The init container that installs the transparent-mode iptables rules. */
export const INIT_CONTAINER = "portcullis-init";

/** Projected volume: the audience-bound ServiceAccount token and the broker's CA, mounted only into the sidecar. */
export const IDENTITY_VOLUME = "portcullis-identity";
/** Evidence spool: the sidecar writes session events here before they reach the object store. */
export const SPOOL_VOLUME = "portcullis-spool";
/** /tmp of the sidecar, whose root filesystem is read-only. */
export const TMP_VOLUME = "portcullis-tmp";
/** /run of the init container: iptables takes its xtables lock there and the root filesystem is read-only. */
export const INIT_RUN_VOLUME = "portcullis-init-run";

export const IDENTITY_MOUNT_PATH = "/var/run/secrets/portcullis";
export const TOKEN_FILE = "token";
export const CA_FILE = "ca.crt";
export const SPOOL_MOUNT_PATH = "/var/lib/portcullis/spool";

/** Audience of the projected token; the broker accepts no other. */
export const TOKEN_AUDIENCE = "portcullis";

/**
 * The label that opts a Secret in for Portcullis: the operator reads (and the broker hands sidecars) only
 * Secrets labelled portcullis.dev/credentials=true.
 */
export const CREDENTIALS_LABEL = "portcullis.dev/credentials";
export const CREDENTIALS_LABEL_SELECTOR = `${CREDENTIALS_LABEL}=true`;

/** Annotation recording what the injector added (see record.ts). */
export const INJECTED_ANNOTATION = "portcullis.dev/injected";

/** Container and volume names a user's pod must not use, because the injector owns them. */
export const RESERVED_CONTAINER_NAMES = [SIDECAR_CONTAINER, INIT_CONTAINER];
/** The pod's trust directory: the gateway writes its per-pod CA there, app containers read it (transparent HTTPS). */
export const TRUST_VOLUME = "portcullis-trust";
export const RESERVED_VOLUME_NAMES = [IDENTITY_VOLUME, SPOOL_VOLUME, TMP_VOLUME, INIT_RUN_VOLUME, TRUST_VOLUME];

export const TRUST_MOUNT_PATH = "/var/run/portcullis-trust";
/** The per-pod CA's certificate alone (NODE_EXTRA_CA_CERTS). */
export const POD_CA_FILE = "pod-ca.crt";
/** The system's CA certificates and the per-pod CA (SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE). */
export const TRUST_BUNDLE_FILE = "ca-bundle.crt";
/** The kubeconfig pointing kubectl and client libraries at the kubernetes Resources' listeners (KUBECONFIG). */
export const AGENT_KUBECONFIG_FILE = "kubeconfig";
/**
 * Transparent kubernetes Resources: the directory of the trust volume mounted in the app containers where
 * in-cluster clients read their service account (ca.crt: the pod's CA; token: a placeholder; namespace).
 */
export const TRUST_SERVICE_ACCOUNT_DIR = "serviceaccount";
export const SERVICE_ACCOUNT_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
