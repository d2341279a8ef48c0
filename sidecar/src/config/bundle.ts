// The configuration a gateway runs with. In operator mode the broker sends it
// (GET /v1/config); in standalone mode it is built from a local manifests file
// by the same functions the broker uses, so both modes mean the same thing.
export type {
  BrokeredPolicy,
  BrokeredResource,
  ConfigBundle,
  RecordingSettings,
  ResourceCredentials,
} from "@portcullis/operator/broker/effective-config";
export type { IdentityFacts, ResourceFacts, SqlFacts } from "@portcullis/operator/webhooks/validate/cel";
