/**
 * The main-job tier (`npm run test:local`): runs `npm run local` and `npm run local:destroy` exactly as a user
 * does, on this machine's real Docker engine, offline, so the devnet world is chosen. One chain at a time.
 */
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
module.exports = {
  rootDir: root,
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/local"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 1800000,
  maxWorkers: 1,
  reporters: ["default", "<rootDir>/tests/support/summaryReporter.js"],
  globalSetup: "<rootDir>/tests/support/globalSetup.ts",
  globalTeardown: "<rootDir>/tests/support/globalTeardown.ts",
};
