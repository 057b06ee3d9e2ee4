import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { resourcePolicy, stackPolicy } from "../../policies/common";
import { doppelgangerProtectionOn, keyMoveWaitsEnough, validatorKeyNotOwnedElsewhere, validatorKeyOnOneHost } from "../../policies/keys";
import { changed, res, runResource, runStack } from "./harness";

const K1 = "a1".repeat(48);
const K2 = "b2".repeat(48);
const K3 = "c3".repeat(48);
const nodeA = res("ephemery:node:EphemeryNode", "alpha", { node: "alpha", validator: true });
const nodeB = res("ephemery:node:EphemeryNode", "beta", { node: "beta", validator: true });
const keysA = res("ephemery:keys:ValidatorKeys", "alpha-keys", { node: "alpha", pubkeys: [K1, K2], doppelganger: true, moveWaitEpochs: 2, validatorClient: "lighthouse" }, nodeA);
const keysB = res("ephemery:keys:ValidatorKeys", "beta-keys", { node: "beta", pubkeys: [K3], doppelganger: true, moveWaitEpochs: 2, validatorClient: "teku" }, nodeB);

describe("validator-key-on-one-host", () => {
  const policy = stackPolicy(validatorKeyOnOneHost) as StackValidationPolicy;

  test("passes when each key is on one host", () => {
    expect(runStack(policy, [nodeA, nodeB, keysA, keysB])).toEqual([]);
  });

  test("reports a key on two hosts, naming both hosts and the second resource", () => {
    const dup = changed(keysB, (k) => k.props.pubkeys.push(K2));
    const v = runStack(policy, [nodeA, nodeB, keysA, dup]);
    expect(v).toHaveLength(1);
    expect(v[0].urn).toBe(keysB.urn);
    expect(v[0].message).toMatch(/must be installed on one host only: it is on "alpha" and "beta"/);
  });

  test("treats 0x-prefixed and upper-case spellings as the same key", () => {
    const dup = changed(keysB, (k) => k.props.pubkeys.push(`0x${K1.toUpperCase()}`));
    expect(runStack(policy, [nodeA, nodeB, keysA, dup])).toHaveLength(1);
  });

  test("finds the host through the parent when the keys resource has no node input", () => {
    const dup = changed(keysB, (k) => { delete k.props.node; k.props.pubkeys = [K1]; });
    expect(runStack(policy, [nodeA, nodeB, keysA, dup])[0].message).toMatch(/"alpha" and "beta"/);
  });
});

describe("validator-key-not-owned-elsewhere", () => {
  const policy = resourcePolicy(validatorKeyNotOwnedElsewhere) as ResourceValidationPolicy;

  test("passes with no foreign keys configured (the default) and with unrelated ones", () => {
    expect(runResource(policy, keysA)).toEqual([]);
    expect(runResource(policy, keysA, { ownedElsewhere: { "prod-stack": [K3] } })).toEqual([]);
  });

  test("reports a key another stack owns, naming the owner", () => {
    const v = runResource(policy, keysA, { ownedElsewhere: { "other-stack": [`0x${K2}`] } });
    expect(v).toHaveLength(1);
    expect(v[0].message).toMatch(/must not be installed on "alpha": "other-stack" runs it/);
  });
});

describe("doppelganger-protection-on", () => {
  const policy = resourcePolicy(doppelgangerProtectionOn) as ResourceValidationPolicy;
  test("passes when on", () => expect(runResource(policy, keysA)).toEqual([]));
  test("reports it off", () => {
    const v = runResource(policy, changed(keysA, (k) => { k.props.doppelganger = false; }));
    expect(v.map((x) => x.message)).toEqual([expect.stringMatching(/Doppelganger protection must be on .*"alpha"/)]);
  });
  test("ignores other resource types", () => {
    expect(runResource(policy, res("ephemery:node:EphemeryNode", "x", { doppelganger: false }))).toEqual([]);
  });
});

describe("key-move-waits-enough", () => {
  const policy = resourcePolicy(keyMoveWaitsEnough) as ResourceValidationPolicy;
  test("passes at the default threshold of 2 epochs", () => expect(runResource(policy, keysA)).toEqual([]));
  test("reports a shorter wait", () => {
    const v = runResource(policy, changed(keysA, (k) => { k.props.moveWaitEpochs = 1; }));
    expect(v[0].message).toMatch(/at least 2 epochs .* it waits 1/);
  });
  test("follows a configured threshold", () => {
    expect(runResource(policy, keysA, { minMoveWaitEpochs: 3 })[0].message).toMatch(/at least 3 epochs/);
  });
});
