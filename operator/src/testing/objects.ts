// Objects for tests of the operator and of the e2e suites that use its pure
// functions: a Resource with just what routing needs, and an in-memory cache.
import type { IResource } from "@portcullis/crds";
import type { Cache } from "../controllers/conditions.js";

/** A postgres Resource in namespace "agents" reached at host:port, served on `listener`. */
export function routedResource(name: string, host: string, port: number, listener: number, transparent: boolean): IResource {
  return {
    apiVersion: "portcullis.dev/v1alpha1",
    kind: "Resource",
    metadata: { name, namespace: "agents" },
    spec: { protocol: "postgres", endpoint: { host, port }, listener: { port: listener }, transparent },
  };
}

/** A Cache over a fixed list, as the informers provide one. */
export function objectCache<T extends { metadata?: { name?: string; namespace?: string } }>(objects: T[]): Cache<T> {
  return {
    get: (namespace, name) => objects.find((o) => (o.metadata?.namespace ?? "") === namespace && o.metadata?.name === name),
    list: (namespace) => objects.filter((o) => namespace === undefined || o.metadata?.namespace === namespace),
  };
}
