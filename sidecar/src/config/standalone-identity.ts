// Who sessions run as when there is no operator: in a cluster the broker
// derives the identity from the pod's verified token; standalone there is no
// token, so the identity is the local user's, named so that nobody mistakes
// it for a cluster identity (a "standalone:" user name).
import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import type { ConfigBundle } from "@portcullis/common/config/bundle";

/** The same fields the broker puts in a bundle; uid is empty because no API server authenticated anyone. */
export type StandaloneIdentity = ConfigBundle["identity"];

function localUserName(): string {
  try {
    return userInfo().username;
  } catch {
    // No passwd entry for this UID (common in containers): the numeric UID still says who it is.
    return process.getuid ? `uid-${process.getuid()}` : "unknown";
  }
}

/**
 * The defaults: user `standalone:<OS user>`, namespace "default", pod name =
 * host name, and a fresh pod UID per process (ApprovalRequests carry it, so
 * one run's requests are told apart from the next's).
 */
export function defaultStandaloneIdentity(): StandaloneIdentity {
  return {
    username: `standalone:${localUserName()}`,
    uid: "",
    groups: [],
    namespace: "default",
    serviceAccount: "",
    // Lower case, like a pod name: ApprovalRequest names are derived from it.
    podName: hostname().toLowerCase(),
    podUid: randomUUID(),
  };
}
