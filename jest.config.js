/** Default tier: unit, component (mocks) and host-side tests. The engine tier has its own config. */
module.exports = {
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  testPathIgnorePatterns: ["/node_modules/", "/tests/e2e/", "/tests/chain/", "/tests/local/", "/tests/k8s/"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 60000,
  // Jest's default on this 2-core machine is one worker, so the files ran one after another; most of the slow
  // ones wait on Docker, sshd, Prometheus or child processes rather than the CPU, so three overlap that waiting.
  // `npx jest --maxWorkers=1` still runs them serially.
  maxWorkers: 3,
  reporters: ["default", "<rootDir>/tests/support/summaryReporter.js"],
  globalSetup: "<rootDir>/tests/support/globalSetup.ts",
  globalTeardown: "<rootDir>/tests/support/globalTeardown.ts",
};
