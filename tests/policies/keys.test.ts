import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { resourcePolicy, stackPolicy } from "../../policies/common";
import { doppelgangerProtectionOn, keyMoveWaitsEnough, validatorKeyNotOwnedElsewhere, validatorKeyOnOneHost, validatorKeysSingleReplica } from "../../policies/keys";
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

describe("keys on kind kubernetes nodes (ephemery:kubernetes:ValidatorKeys)", () => {
  const k8sNode = (name: string) => res("ephemery:kubernetes:KubernetesNode", name, { node: name, namespace: "ephemery" });
  const k8sKeys = (name: string, pubkeys: string[], replicas = 1) =>
    res("ephemery:kubernetes:ValidatorKeys", `${name}-keys`, { node: name, pubkeys, doppelganger: true, moveWaitEpochs: 2, validatorClient: "lighthouse", replicas, workload: `statefulset/ephemery/${name}` }, k8sNode(name));
  const onePolicy = stackPolicy(validatorKeyOnOneHost) as StackValidationPolicy;

  test("one key on two kubernetes nodes is blocked, naming both and how a key leaves a cluster node", () => {
    const v = runStack(onePolicy, [k8sNode("k1"), k8sNode("k2"), k8sKeys("k1", [K1]), k8sKeys("k2", [K2, K1])]);
    expect(v).toHaveLength(1);
    expect(v[0].message).toMatch(/it is on "k1" and "k2"/);
    expect(v[0].message).toMatch(/leaves a kind kubernetes node the same way, in one pulumi up/);
  });

  test("one key on a kubernetes node and an SSH host is blocked, whichever comes first", () => {
    expect(runStack(onePolicy, [nodeA, keysA, k8sNode("k1"), k8sKeys("k1", [K3, K2])]).map((x) => x.message))
      .toEqual([expect.stringMatching(/it is on "alpha" and "k1".*in one pulumi up: its release step stops the pod/)]);
    expect(runStack(onePolicy, [k8sNode("k1"), k8sKeys("k1", [K1]), nodeA, keysA]).map((x) => x.message))
      .toEqual([expect.stringMatching(/it is on "k1" and "alpha"/)]);
    expect(runStack(onePolicy, [nodeA, keysA, k8sNode("k1"), k8sKeys("k1", [K3])])).toEqual([]);
  });

  test("the per-key policies read kubernetes keys too", () => {
    const k = k8sKeys("k1", [K1]);
    expect(runResource(resourcePolicy(doppelgangerProtectionOn) as ResourceValidationPolicy, changed(k, (x) => { x.props.doppelganger = false; }))).toHaveLength(1);
    expect(runResource(resourcePolicy(keyMoveWaitsEnough) as ResourceValidationPolicy, changed(k, (x) => { x.props.moveWaitEpochs = 1; }))).toHaveLength(1);
    expect(runResource(resourcePolicy(validatorKeyNotOwnedElsewhere) as ResourceValidationPolicy, k, { ownedElsewhere: { prod: [K1] } })).toHaveLength(1);
  });

  // The planned StatefulSet itself, as the program creates it (a child of the KubernetesNode).
  const k8sSts = (name: string, pubkeys: string[], replicas: unknown = 1) =>
    res("kubernetes:apps/v1:StatefulSet", `${name}-statefulset-${name}`, { metadata: { name, namespace: "ephemery", annotations: { "ephemery.dev/validator-pubkeys": pubkeys.join(",") } }, spec: { replicas } }, k8sNode(name));

  test("two planned StatefulSets with one key are blocked once, even beside the keys facts of the same nodes", () => {
    expect(runStack(onePolicy, [k8sNode("k1"), k8sNode("k2"), k8sSts("k1", [K1]), k8sSts("k2", [K2])])).toEqual([]);
    expect(runStack(onePolicy, [k8sNode("k1"), k8sNode("k2"), k8sSts("k1", [K1]), k8sSts("k2", [K1, K2])]).map((x) => x.message))
      .toEqual([expect.stringMatching(/it is on "k1" and "k2".*its release step stops the pod/)]);
    expect(runStack(onePolicy, [k8sNode("k1"), k8sNode("k2"), k8sKeys("k1", [K1]), k8sSts("k1", [K1]), k8sKeys("k2", [K1]), k8sSts("k2", [K1])])).toHaveLength(1);
    // A node's keys facts and its own StatefulSet are one place.
    expect(runStack(onePolicy, [k8sNode("k1"), k8sKeys("k1", [K1]), k8sSts("k1", [K1])])).toEqual([]);
  });

  describe("validator-keys-single-replica", () => {
    const policy = resourcePolicy(validatorKeysSingleReplica) as ResourceValidationPolicy;
    test("reads the planned StatefulSet: replicas other than 1 with pubkeys are blocked; without pubkeys any count passes", () => {
      expect(runResource(policy, k8sSts("k1", [K1]))).toEqual([]);
      expect(runResource(policy, k8sSts("k1", [], 3))).toEqual([]);
      expect(runResource(policy, k8sSts("k1", [K1, K2], 2)).map((x) => x.message))
        .toEqual([expect.stringMatching(/2 validator key\(s\) of "k1" must run in one pod: its StatefulSet \(statefulset\/ephemery\/k1\) has replicas 2/)]);
      expect(runResource(policy, k8sSts("k1", [K1], 0))).toHaveLength(1);
      // No replicas field: the API server's default, 1.
      expect(runResource(policy, changed(k8sSts("k1", [K1]), (x) => { delete x.props.spec.replicas; }))).toEqual([]);
    });
    test("passes for one replica, and for no keys at any count", () => {
      expect(runResource(policy, k8sKeys("k1", [K1]))).toEqual([]);
      expect(runResource(policy, k8sKeys("k1", [], 3))).toEqual([]);
    });
    test("blocks replicas above 1 (and a missing count) for a node with keys, naming the workload", () => {
      expect(runResource(policy, k8sKeys("k1", [K1, K2], 2)).map((x) => x.message))
        .toEqual([expect.stringMatching(/2 validator key\(s\) of "k1" must run in one pod: its StatefulSet \(statefulset\/ephemery\/k1\) has replicas 2/)]);
      expect(runResource(policy, changed(k8sKeys("k1", [K1]), (x) => { delete x.props.replicas; }))).toHaveLength(1);
    });
    test("does not read host keys", () => {
      expect(runResource(policy, changed(keysA, (x) => { x.props.replicas = 5; }))).toEqual([]);
    });
  });
});
