// Types and small helpers for reading libpg-query's parse trees, which are
// JSON: every node is an object with one key naming its kind, and typed
// fields hold bare bodies. Shared by the modules that walk those trees.
import type { Node } from "libpg-query";

type NodeKindOf<N> = N extends unknown ? keyof N : never;
export type NodeKind = NodeKindOf<Node>;
export type NodeBody<K extends NodeKind> = Extract<Node, Record<K, unknown>>[K];

export type Fields = Record<string, unknown>;

export const isObject = (value: unknown): value is Fields => typeof value === "object" && value !== null;

/** The node's kind and body. */
export function unwrap(node: Node): [NodeKind, unknown] {
  const [entry] = Object.entries(node);
  if (!entry) return ["Null" as NodeKind, {}];
  return entry as [NodeKind, unknown];
}
