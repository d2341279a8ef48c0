// The store settings parser lives with the operator, which validates the same
// ConfigMaps when it reconciles AccessPolicies; the sidecar uses it from there.
export * from "@portcullis/operator/recording/store-settings";
