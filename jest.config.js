// Two projects: "unit" (pure logic, no processes) and "e2e" (a real
// kube-apiserver and etcd started once per run by e2e/src/jest/global-setup.ts).
// TypeScript is transformed by SWC into ES modules; jest runs them natively
// (node --experimental-vm-modules), because @kubernetes/client-node is ESM-only.
const transform = {
  "^.+\\.ts$": ["@swc/jest", { jsc: { parser: { syntax: "typescript" }, target: "es2023" }, module: { type: "es6" } }],
};

const common = {
  transform,
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  testEnvironment: "node",
  testEnvironmentOptions: { globalsCleanup: "on" },
  modulePathIgnorePatterns: ["<rootDir>/.*/dist/"],
};

export default {
  verbose: true,
  projects: [
    {
      ...common,
      displayName: "unit",
      testMatch: ["<rootDir>/*/src/**/*.test.ts", "<rootDir>/crds/models/src/**/*.test.ts"],
      testPathIgnorePatterns: ["\\.e2e\\.test\\.ts$", "/node_modules/"],
    },
    {
      ...common,
      displayName: "e2e",
      setupFilesAfterEnv: ["<rootDir>/e2e/src/jest/timeouts.ts"],
      testMatch: ["<rootDir>/e2e/src/**/*.e2e.test.ts"],
      // Compiled by `make build`: jest loads global hooks outside its ESM module graph.
      globalSetup: "<rootDir>/e2e/dist/jest/global-setup.js",
      globalTeardown: "<rootDir>/e2e/dist/jest/global-teardown.js",
    },
  ],
};
