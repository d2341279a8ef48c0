// What a standalone gateway needs to reach a test PostgreSQL: the Secret with
// the server's SCRAM login and a plaintext postgres Resource per name, each on
// a free listener port. Suites add the AccessPolicies they test.
import { freePort } from "../controlplane/processes.js";
import type { RunningPostgres } from "../postgres/server.js";

export async function databaseManifests(server: RunningPostgres, ...resources: string[]): Promise<object[]> {
  const secret = { apiVersion: "v1", kind: "Secret", metadata: { name: "db" }, stringData: { username: server.users.scram.username, password: server.users.scram.password } };
  const resource = async (name: string): Promise<object> => ({
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name },
    spec: { protocol: "postgres", endpoint: { host: "127.0.0.1", port: server.port, tls: { mode: "disable" } }, listener: { port: await freePort() }, credentials: { secretRef: { name: "db" } } },
  });
  return [secret, ...(await Promise.all(resources.map(resource)))];
}
