// Files the gateway writes into the trust directory the app containers read
// (the pod CA, the agent's kubeconfig and service-account files): replaced
// whole, so a reader never sees one half written, and readable by the app
// containers' users.
import { rename, writeFile } from "node:fs/promises";

export async function writeTrustFile(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text, { mode: 0o644 });
  await rename(`${path}.tmp`, path);
}
