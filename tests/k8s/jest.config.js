/**
 * The Kubernetes tier (`npm run test:k8s`): a real etcd, kube-apiserver, controller manager, scheduler, containerd
 * and kubelet on this machine (tests/support/kubernetes.ts; binaries from scripts/k8s-binaries.sh). One file at
 * a time: the cluster shares two cores with everything else.
 */
const path = require("path");

const root = path.resolve(__dirname, "..", "..");
module.exports = {
  rootDir: root,
  preset: "ts-jest",
  testEnvironment: "node",
  roots: ["<rootDir>/tests/k8s"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["ts-jest", { diagnostics: false }] },
  testTimeout: 900000,
  maxWorkers: 1,
  reporters: ["default", "<rootDir>/tests/support/summaryReporter.js"],
};
