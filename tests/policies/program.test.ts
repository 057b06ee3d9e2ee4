/**
 * The real program (index.ts) under mocks, for a multi-host stack, judged by the whole pack the way the
 * engine runs it: remediations and resource validations on each resource's inputs, then stack validations
 * on the outputs (components' inputs reach those through what the resource pass recorded).
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import type { ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { unknownCheckingProxy } from "@pulumi/policy";
import { Facts, forgetInputs } from "../../policies/common";
import { ALL_POLICIES, levelOf } from "../../policies/pack";
import { RecordedResource, runProgram } from "../support/mocks";
import { runResource, runStack, urnOf, wire } from "./harness";

const FEE = "0x8943545177806ED17B9F23F0a21ee5948eCaa776";
const K1 = "a1".repeat(48);
const K2 = "b2".repeat(48);
const K3 = "c3".repeat(48);
let keyDir: string;
let privateKey: string;

beforeAll(() => {
  keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "ephemery-policy-keys-"));
  process.env.EPHEMERY_KEY_DIR = path.join(keyDir, "ssh");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(keyDir, "id")]);
  privateKey = fs.readFileSync(path.join(keyDir, "id"), "utf8");
});
afterAll(() => fs.rmSync(keyDir, { recursive: true, force: true }));

const hosts = (overrides: { alphaExposeRpc?: boolean } = {}) => [
  { name: "alpha", address: "192.0.2.10", validator: { feeRecipient: FEE }, execution: { exposeRpc: overrides.alphaExposeRpc ?? false } },
  { name: "beta", address: "192.0.2.11", runtime: "compose", consensus: { client: "lodestar" }, validator: { feeRecipient: FEE } },
  { name: "gamma", kind: "aws", aws: { region: "eu-central-1", sshAllowedCidrs: ["203.0.113.4/32"] } },
];

/** Resources other engineers' components will register (keys, monitoring), with the agreed inputs. */
function addCompanions(keys: Record<string, string[]>) {
  for (const [node, pubkeys] of Object.entries(keys)) {
    new pulumi.ComponentResource("ephemery:keys:ValidatorKeys", `${node}-keys`, { node, pubkeys, doppelganger: true, moveWaitEpochs: 2, validatorClient: "lighthouse" });
    new pulumi.ComponentResource("ephemery:monitoring:MonitoringStack", `${node}-monitoring`, { node, alerts: 12, ports: [] });
  }
}

async function settle(count: () => number) {
  let last = -1;
  while (count() !== last) {
    last = count();
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function evaluate(config: Record<string, unknown>, extra: () => void) {
  const { resources } = await runProgram({ "ephemery:sshPrivateKey": privateKey, ...config }, { secretKeys: ["ephemery:sshPrivateKey"] });
  extra();
  await settle(() => resources.length);
  return judge(resources);
}

function factsOf(resources: RecordedResource[]): Facts[] {
  const byName = new Map(resources.map((r) => [r.name, r]));
  return resources.map((r) => {
    const parent = r.parent ? byName.get(r.parent) : undefined;
    return { type: r.type, name: r.name, urn: urnOf(r.type, r.name), props: r.inputs, parent: parent ? urnOf(parent.type, parent.name) : undefined };
  });
}

/** Every violation the pack reports, with its level, plus the resources a remediation had to change. */
function judge(resources: RecordedResource[]) {
  forgetInputs();
  const facts = factsOf(resources);
  const found: { policy: string; level: string; message: string; urn?: string }[] = [];
  for (const policy of ALL_POLICIES) {
    const level = levelOf(policy.name);
    if ("validateStack" in policy) continue;
    for (const r of facts) for (const v of runResource(policy as ResourceValidationPolicy, r)) found.push({ policy: policy.name, level, ...v });
  }
  // Stack validations get outputs; a component's outputs are not its inputs, so give them none.
  const outputs = facts.map((r) => (r.type.startsWith("ephemery:") ? { ...r, props: {} } : r));
  for (const policy of ALL_POLICIES) {
    if (!("validateStack" in policy)) continue;
    for (const v of runStack(policy as StackValidationPolicy, outputs)) found.push({ policy: policy.name, level: levelOf(policy.name), ...v });
  }
  return { resources, found, facts };
}

/** The remediation run on each resource's inputs with the program's secrets marked as the engine marks them. */
async function needsSecretRemediation(resources: RecordedResource[]): Promise<string[]> {
  const policy = ALL_POLICIES.find((p) => p.name === "secret-inputs-are-secret") as ResourceValidationPolicy;
  const changedNames: string[] = [];
  for (const r of resources) {
    const wireProps = Object.fromEntries(Object.entries(r.inputs).map(([k, v]) => [k, r.secretInputs.includes(k) ? { [pulumi.runtime.specialSigKey]: pulumi.runtime.specialSecretSig, value: v } : v]));
    const props = unknownCheckingProxy(wire.deserializeProperties({ toJavaScript: () => wireProps }, true));
    const args = { type: r.type, name: r.name, urn: urnOf(r.type, r.name), props, opts: {} } as unknown as ResourceValidationArgs;
    if (await policy.remediateResource!(args)) changedNames.push(r.name);
  }
  return changedNames;
}

describe("the real program judged by the pack", () => {
  test("a clean three-host stack (docker, compose, AWS) passes every policy and needs no remediation", async () => {
    const { resources, found } = await evaluate({ "ephemery:hosts": hosts() }, () => addCompanions({ alpha: [K1, K2], beta: [K3] }));
    expect(resources.filter((r) => r.type === "ephemery:node:EphemeryNode")).toHaveLength(3);
    expect(resources.some((r) => r.type === "aws:ec2/securityGroup:SecurityGroup")).toBe(true);
    expect(found).toEqual([]);
    expect(await needsSecretRemediation(resources)).toEqual([]);
  });

  test("one pubkey on two hosts is a mandatory violation naming the keys resource and both hosts", async () => {
    const { found } = await evaluate({ "ephemery:hosts": hosts() }, () => addCompanions({ alpha: [K1, K2], beta: [K3, K2] }));
    expect(found).toEqual([{
      policy: "validator-key-on-one-host",
      level: "mandatory",
      urn: urnOf("ephemery:keys:ValidatorKeys", "beta-keys"),
      message: expect.stringMatching(/on "alpha" and "beta"/),
    }]);
  });

  test("an engine port published on 0.0.0.0 (a raw container) and RPC exposed by config are mandatory violations naming the resources", async () => {
    const { found } = await evaluate({ "ephemery:hosts": hosts({ alphaExposeRpc: true }) }, () => {
      addCompanions({ alpha: [K1], beta: [K3] });
      new docker.Container("rogue-engine", { image: "ethereum/client-go:v1.16.7", ports: [{ internal: 8551, external: 8551, ip: "0.0.0.0" }] });
    });
    const byResource = found.filter((f) => f.policy === "private-ports-not-published").map((f) => [f.level, f.urn?.split("::").pop()]);
    expect(byResource).toEqual(expect.arrayContaining([
      ["mandatory", "rogue-engine"],
      ["mandatory", "alpha-execution"],
      ["mandatory", "alpha-execution-container"],
    ]));
    expect(found.find((f) => f.urn?.endsWith("rogue-engine"))!.message).toMatch(/port 8551/);
    expect(found.filter((f) => f.policy !== "private-ports-not-published")).toEqual([]);
  });
});
