// Masking of PostgreSQL result values: what the gateway imports.
export { compileMasking, MaskingConfigError, type Masker } from "./compile-masking.js";
export type { MaskedRow, ResultMaskPlan } from "./result-plan.js";
export type { ResultColumn } from "./result-columns.js";
