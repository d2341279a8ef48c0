// The postgres entry of the protocol registry: its runtime per Resource and
// its listener (the PostgreSQL frontend/backend protocol).
import type { ProtocolGateway } from "../../runtime/registry.js";
import { type PostgresResourceRuntime, PostgresListener } from "./listener.js";
import { postgresRuntime } from "./runtime.js";

export const postgresGateway: ProtocolGateway<PostgresResourceRuntime> = {
  protocol: "postgres",
  runtime: postgresRuntime,
  listener: ({ hooks, ...options }) => new PostgresListener({ ...options, ...hooks }),
};
