// Kubeconfig files for the test control plane's users.
import { stringify } from "yaml";
import type { KeyPairPem } from "@portcullis/common/pki/pki";

const base64 = (text: string): string => Buffer.from(text, "utf8").toString("base64");

/** A kubeconfig with one cluster, one user authenticated by a client certificate or a bearer token, and a current context. */
export function renderKubeconfig(server: string, caPem: string, user: string, credential: KeyPairPem | { token: string }): string {
  const auth =
    "token" in credential
      ? { token: credential.token }
      : { "client-certificate-data": base64(credential.certPem), "client-key-data": base64(credential.keyPem) };
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "portcullis-test", cluster: { server, "certificate-authority-data": base64(caPem) } }],
    users: [
      { name: user, user: auth },
    ],
    contexts: [{ name: user, context: { cluster: "portcullis-test", user, namespace: "default" } }],
    "current-context": user,
  });
}
