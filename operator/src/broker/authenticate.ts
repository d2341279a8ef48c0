// Who is calling the broker. A sidecar presents its projected ServiceAccount
// token (audience "portcullis"); the API server verifies it with a TokenReview,
// and the broker then checks that the pod the token is bound to still exists,
// is the same pod (same UID), runs as the token's service account and was
// injected by Portcullis. Only then does the caller get configuration,
// credentials or approvals.
import { createHash } from "node:crypto";
import type { AuthenticationV1Api, V1Pod, V1UserInfo } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION, TOKEN_AUDIENCE } from "@portcullis/common/injection-names";
import { ephemeralContainerRefusals, podRefusals } from "../webhooks/inject/refusals.js";
import { checkInjection } from "../webhooks/inject/seal.js";
import { podServiceAccount } from "@portcullis/common/config/select";
import type { BrokerSources } from "./sources.js";
import type { SidecarIdentity } from "@portcullis/common/config/bundle";

export const BROKER_AUDIENCE = TOKEN_AUDIENCE;
const POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";
const SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:";
const CACHE_TTL_MS = 30_000;
const CACHE_MAX_ENTRIES = 10_000;

export class BrokerAuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
    this.name = "BrokerAuthError";
  }
}

interface CachedReview {
  identity: SidecarIdentity;
  validUntil: number;
}

/** Successful TokenReviews by sha256 of the token, so the token itself is never held as a key. */
export class TokenReviewCache {
  private readonly entries = new Map<string, CachedReview>();

  constructor(private readonly maxEntries = CACHE_MAX_ENTRIES) {}

  get(key: string, now: number): SidecarIdentity | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.validUntil <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.identity;
  }

  set(key: string, identity: SidecarIdentity, validUntil: number, now: number): void {
    if (validUntil <= now) return;
    if (this.entries.size >= this.maxEntries) this.evict(now);
    this.entries.set(key, { identity, validUntil });
  }

  get size(): number {
    return this.entries.size;
  }

  private evict(now: number): void {
    for (const [key, entry] of this.entries) if (entry.validUntil <= now) this.entries.delete(key);
    // Still full: drop the oldest insertions (Map keeps insertion order).
    for (const key of this.entries.keys()) {
      if (this.entries.size < this.maxEntries) break;
      this.entries.delete(key);
    }
  }
}

export interface AuthenticateDeps {
  authApi: Pick<AuthenticationV1Api, "createTokenReview">;
  sources: Pick<BrokerSources, "pod" | "sealKey">;
  cache?: TokenReviewCache;
  now?: () => Date;
}

const tokenKey = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

/**
 * The exp claim of a JWT, read without verifying the signature. Only used to
 * shorten how long a review the API server already accepted is cached.
 */
export function tokenExpiry(token: string): Date | undefined {
  const payload = token.split(".")[1];
  if (!payload) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" && Number.isFinite(claims.exp) ? new Date(claims.exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}

function single(extra: V1UserInfo["extra"], key: string): string | undefined {
  const values = extra?.[key];
  return values?.length === 1 && values[0] ? values[0] : undefined;
}

/** system:serviceaccount:NAMESPACE:NAME split in its parts, or undefined for any other user. */
function serviceAccountOf(username: string): { namespace: string; serviceAccount: string } | undefined {
  if (!username.startsWith(SERVICE_ACCOUNT_PREFIX)) return undefined;
  const [namespace, serviceAccount, ...rest] = username.slice(SERVICE_ACCOUNT_PREFIX.length).split(":");
  return namespace && serviceAccount && rest.length === 0 ? { namespace, serviceAccount } : undefined;
}

/** The identity the API server vouched for, or why it is not one the broker accepts. */
function identityFromUser(user: V1UserInfo | undefined, token: string): SidecarIdentity {
  const username = user?.username ?? "";
  const podName = single(user?.extra, POD_NAME_EXTRA);
  const podUid = single(user?.extra, POD_UID_EXTRA);
  const account = serviceAccountOf(username);
  if (!account || !podName || !podUid) {
    throw new BrokerAuthError(
      403,
      `the broker requires a pod-bound projected ServiceAccount token (audience "${BROKER_AUDIENCE}"), ` +
        `as Portcullis mounts into the sidecar; the token of "${username || "an unnamed user"}" is not bound to a pod`,
    );
  }
  const expiresAt = tokenExpiry(token);
  return {
    username,
    uid: user?.uid ?? "",
    groups: [...(user?.groups ?? [])],
    namespace: account.namespace,
    serviceAccount: account.serviceAccount,
    podName,
    podUid,
    ...(expiresAt ? { tokenExpiresAt: expiresAt } : {}),
  };
}

async function reviewToken(token: string, authApi: AuthenticateDeps["authApi"]): Promise<SidecarIdentity> {
  const review = await authApi.createTokenReview({ body: { spec: { token, audiences: [BROKER_AUDIENCE] } } });
  const status = review.status;
  if (!status?.authenticated) {
    throw new BrokerAuthError(401, `the token was not accepted by the API server${status?.error ? `: ${status.error}` : ""}`);
  }
  // The API server only answers authenticated when the token is valid for one
  // of the requested audiences; checking again guards against authenticators
  // that ignore audiences.
  if (!status.audiences?.includes(BROKER_AUDIENCE)) {
    throw new BrokerAuthError(401, `the token is not valid for audience "${BROKER_AUDIENCE}"`);
  }
  return identityFromUser(status.user, token);
}

/**
 * Why the pod does not look like one the injector produced and could protect, or undefined.
 * Anyone who can create pods can write the annotation and containers named portcullis-*, and
 * images can be changed later: the pod must hold what the annotation records, under a seal made
 * with the operator's key over the pod as it is now, and nothing in it (an ephemeral debug
 * container included) may reach the gateway's token, spool or memory.
 */
function injectionProblem(pod: V1Pod, sealKey: Buffer): string | undefined {
  const annotation = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  if (annotation === undefined) return `was not injected by Portcullis (annotation ${INJECTED_ANNOTATION} is missing)`;
  const { record, problems } = checkInjection(pod, annotation, pod.metadata?.namespace ?? "", sealKey);
  if (record === undefined) return `is not a Portcullis-injected pod: ${problems.join(", and ")}`;
  if (problems.length) return `is not a Portcullis-injected pod: it carries annotation ${INJECTED_ANNOTATION}, but ${problems.join(", and ")}`;
  const unsafe = [...podRefusals(pod), ...ephemeralContainerRefusals(pod)];
  return unsafe.length ? `cannot be protected: ${unsafe.join("; ")}` : undefined;
}

/** The pod-side checks, run on every request (also for cached reviews), because pods go away. */
export function verifyPodBinding(identity: SidecarIdentity, sources: Pick<BrokerSources, "pod" | "sealKey">): V1Pod {
  const podRef = `${identity.namespace}/${identity.podName}`;
  const pod = sources.pod(identity.namespace, identity.podName);
  if (!pod) throw new BrokerAuthError(403, `pod ${podRef}, to which the token is bound, does not exist`);
  if (pod.metadata?.uid !== identity.podUid) {
    throw new BrokerAuthError(403, `pod ${podRef} has UID ${pod.metadata?.uid ?? "(none)"}, but the token is bound to UID ${identity.podUid}: it belongs to an earlier pod of that name`);
  }
  const serviceAccount = podServiceAccount(pod);
  if (serviceAccount !== identity.serviceAccount) {
    throw new BrokerAuthError(403, `pod ${podRef} runs as service account "${serviceAccount}", but the token is for "${identity.serviceAccount}"`);
  }
  const problem = injectionProblem(pod, sources.sealKey);
  if (problem) throw new BrokerAuthError(403, `pod ${podRef} ${problem}, so it gets no configuration`);
  return pod;
}

/** Verifies a sidecar's token and the pod it is bound to; throws BrokerAuthError when the caller is refused. */
export async function authenticateSidecar(token: string, deps: AuthenticateDeps): Promise<SidecarIdentity> {
  if (!token) throw new BrokerAuthError(401, "no bearer token: send the sidecar's projected ServiceAccount token in the Authorization header");
  const now = (deps.now ?? ((): Date => new Date()))().getTime();
  const key = tokenKey(token);
  let identity = deps.cache?.get(key, now);
  if (!identity) {
    identity = await reviewToken(token, deps.authApi);
    const expiry = identity.tokenExpiresAt?.getTime();
    // Without a readable expiry the review is not cached: it might outlive the token.
    if (expiry !== undefined) deps.cache?.set(key, identity, Math.min(now + CACHE_TTL_MS, expiry), now);
  }
  verifyPodBinding(identity, deps.sources);
  return identity;
}
