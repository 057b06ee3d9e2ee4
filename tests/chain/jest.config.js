/**
 * The live-chain tier (`npm run test:chain`): real geth and prysm from scripts/client-binaries.sh, imported as
 * images by scripts/client-images.sh, on the real Docker engine. Three files at a time: a chain mostly waits for its
 * slots (the lifecycle file waits ~17 min for an activation), and the three long files (one node, two nodes, the
 * lifecycle) passed side by side on two cores, so the tier takes about as long as its longest file.
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
  maxWorkers: 3,
  reporters: ["default", "<rootDir>/tests/support/summaryReporter.js"],
  globalSetup: "<rootDir>/tests/support/globalSetup.ts",
  globalTeardown: "<rootDir>/tests/support/globalTeardown.ts",
};
