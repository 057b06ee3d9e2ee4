/** `ephemery keys backups|restore` on a kind kubernetes host: refused with where its keys are, no SSH attempted. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { runCli } from "../support/cli";

let work: string;
let stackFile: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-cli-k8s-keys-"));
  stackFile = path.join(work, "Pulumi.test.yaml");
  fs.writeFileSync(stackFile, yaml.dump({ config: {
    "ephemery:hosts": [{ name: "k1", kind: "kubernetes", kubernetes: {}, validator: { feeRecipient: `0x${"22".repeat(20)}`, keys: {} } }],
    "ephemery:kubeconfig": { secure: "v1:AAAA" },
  } }));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test.each([["backups"], ["restore", "--backup", "20260101T000000Z-abcdef"]])("keys %s on a kubernetes host names where its keys are", async (...args) => {
  const r = await runCli(["keys", ...args, "--host", "k1", "--file", stackFile]);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain('host "k1" runs on Kubernetes: its keys are the Secret k1-validator-keys and its slashing protection is in the PVC validator-data-k1-0');
});
