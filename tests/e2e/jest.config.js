/**
 * The engine tier (`npm run test:e2e`): the real Pulumi CLI from scripts/toolchain.sh, real SSH test hosts and
 * the real Docker engine. One file at a time: the operations of a stack run in order and share the machine.
 */
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
module.exports = {
  rootDir: root,
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/e2e"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 600000,
  maxWorkers: 1,
  reporters: ["default", "<rootDir>/tests/support/summaryReporter.js"],
  globalSetup: "<rootDir>/tests/support/globalSetup.ts",
  globalTeardown: "<rootDir>/tests/support/globalTeardown.ts",
};
