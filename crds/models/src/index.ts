// The Portcullis API types, generated from the CRD YAML in this package.
export * from "./generated/portcullis.dev/v1alpha1/index.js";
export * from "./manifests.js";
