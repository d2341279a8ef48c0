// The key injection seals are made with (seal.ts): 32 random bytes in a Secret
// in the operator's namespace, made by whichever replica starts first and read
// by the others, so every replica's webhook and broker agree. It is never
// rotated automatically: pods sealed with a key stay verifiable for their
// lifetime. Rotating it by hand (delete the Secret, restart the operator)
// means recreating the injected pods.
import { randomBytes } from "node:crypto";
import type { CoreV1Api, V1Secret } from "@kubernetes/client-node";
import { isStatus } from "../../kube/client.js";
import { SEAL_KEY_BYTES } from "./seal.js";

const KEY_FIELD = "key";

function keyOf(secret: V1Secret, where: string): Buffer {
  const encoded = secret.data?.[KEY_FIELD];
  const key = encoded === undefined ? undefined : Buffer.from(encoded, "base64");
  if (key?.length !== SEAL_KEY_BYTES) throw new Error(`Secret ${where} has no ${SEAL_KEY_BYTES}-byte "${KEY_FIELD}"; delete it so the operator makes a new one (injected pods must then be recreated)`);
  return key;
}

/** Reads the seal key, creating the Secret when it does not exist yet (another replica may win the race). */
export async function loadSealKey(core: Pick<CoreV1Api, "readNamespacedSecret" | "createNamespacedSecret">, namespace: string, name: string): Promise<Buffer> {
  const where = `${namespace}/${name}`;
  try {
    return keyOf(await core.readNamespacedSecret({ name, namespace }), where);
  } catch (error) {
    if (!isStatus(error, 404)) throw error;
  }
  const body: V1Secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace, labels: { "app.kubernetes.io/part-of": "portcullis" } },
    type: "Opaque",
    data: { [KEY_FIELD]: randomBytes(SEAL_KEY_BYTES).toString("base64") },
  };
  try {
    return keyOf(await core.createNamespacedSecret({ namespace, body }), where);
  } catch (error) {
    if (!isStatus(error, 409)) throw error;
    return keyOf(await core.readNamespacedSecret({ name, namespace }), where);
  }
}
