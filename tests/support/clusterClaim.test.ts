/**
 * The k8s tier's one-cluster claim (tests/support/kubernetes.ts): a second cluster must refuse to start, and so
 * never delete the running one's bridge when it stops. Uses its own claim file, never the tier's.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { claimTestCluster, releaseTestCluster } from "./kubernetes";

let dir: string;
let claim: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-claim-"));
  claim = path.join(dir, "cluster.pid");
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test("a claim held by a live process is refused, naming that process", async () => {
  const holder = spawn("sleep", ["30"]);
  try {
    fs.writeFileSync(claim, String(holder.pid));
    expect(() => claimTestCluster(claim)).toThrow(new RegExp(`another Kubernetes test cluster runs on this machine \\(pid ${holder.pid},`));
    expect(fs.readFileSync(claim, "utf8")).toBe(String(holder.pid));
    releaseTestCluster(claim);
    expect(fs.readFileSync(claim, "utf8")).toBe(String(holder.pid));
  } finally {
    holder.kill();
  }
});

test("a claim whose process is gone is taken over, and released by its new holder only", async () => {
  const gone = spawn("true");
  await new Promise((r) => gone.once("exit", r));
  fs.writeFileSync(claim, String(gone.pid));
  claimTestCluster(claim);
  expect(fs.readFileSync(claim, "utf8")).toBe(String(process.pid));
  // The same process may claim again (jest runs a tier's files in one worker, one after another).
  claimTestCluster(claim);
  releaseTestCluster(claim);
  expect(fs.existsSync(claim)).toBe(false);
});
