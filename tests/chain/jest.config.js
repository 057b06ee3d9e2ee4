/**
 * The live-chain tier (`npm run test:chain`): real geth and prysm from scripts/client-binaries.sh, imported as
 * images by scripts/client-images.sh, on the real Docker engine. One file at a time: chains share two cores.
 */
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
module.exports = {
  rootDir: root,
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/chain"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 900000,
  maxWorkers: 1,
  reporters: ["default", "<rootDir>/tests/support/summaryReporter.js"],
  globalSetup: "<rootDir>/tests/support/globalSetup.ts",
  globalTeardown: "<rootDir>/tests/support/globalTeardown.ts",
};
