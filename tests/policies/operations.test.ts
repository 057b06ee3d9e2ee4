import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { resourcePolicy, stackPolicy } from "../../policies/common";
import { checkpointSyncUsesHttps, nodeHasResetJob, validatorsHaveAlerting } from "../../policies/operations";
import { changed, res, runResource, runStack } from "./harness";

const node = res("ephemery:node:EphemeryNode", "alpha", { node: "alpha", runtime: "docker", validator: true, monitoring: true, checkpointSyncUrls: ["https://checkpoint-sync.ephemery.ethpandaops.io"] });
const reset = res("ephemery:reset:ResetJob", "alpha-reset", { node: "alpha", enabled: true, schedule: "* * * * *" }, node);
const monitoring = res("ephemery:monitoring:MonitoringStack", "alpha-monitoring", { node: "alpha", alerts: 12, ports: [] }, node);
const vc = res("ephemery:validator:ValidatorClient", "alpha-validator", { role: "validator", client: "lighthouse" }, node);
const happy = [node, reset, monitoring, vc];

describe("node-has-reset-job", () => {
  const policy = stackPolicy(nodeHasResetJob) as StackValidationPolicy;
  test("passes with an enabled reset job", () => expect(runStack(policy, happy)).toEqual([]));
  test("reports a node without a reset job, on the node", () => {
    expect(runStack(policy, [node, monitoring, vc])).toEqual([{ urn: node.urn, message: expect.stringMatching(/Node "alpha" must have a reset job/) }]);
  });
  test("reports a disabled reset job, on the job", () => {
    const off = changed(reset, (r) => { r.props.enabled = false; });
    expect(runStack(policy, [node, off, monitoring, vc])).toEqual([{ urn: reset.urn, message: expect.stringMatching(/must be enabled/) }]);
  });
});

describe("validators-have-alerting", () => {
  const policy = stackPolicy(validatorsHaveAlerting) as StackValidationPolicy;
  test("passes for a validator node with alerting, and for a full node without monitoring", () => {
    expect(runStack(policy, happy)).toEqual([]);
    const fullNode = changed(node, (n) => { n.props.validator = false; });
    expect(runStack(policy, [fullNode, reset])).toEqual([]);
  });
  test("reports a validator node without monitoring", () => {
    const v = runStack(policy, [node, reset, vc]);
    expect(v).toEqual([{ urn: node.urn, message: expect.stringMatching(/Node "alpha" runs validators, so it must run monitoring/) }]);
  });
  test("reports monitoring without alert rules (false, 0 or none)", () => {
    for (const alerts of [false, 0, undefined]) {
      const quiet = changed(monitoring, (m) => { m.props.alerts = alerts; });
      expect(runStack(policy, [node, reset, quiet, vc])).toEqual([{ urn: monitoring.urn, message: expect.stringMatching(/must have alert rules/) }]);
    }
  });
  test("counts validator keys as running validators even without the node flag", () => {
    const keys = res("ephemery:keys:ValidatorKeys", "alpha-keys", { node: "alpha", pubkeys: [] }, node);
    const unflagged = changed(node, (n) => { n.props.validator = false; });
    expect(runStack(policy, [unflagged, reset, keys])).toHaveLength(1);
  });
});

describe("checkpoint-sync-uses-https", () => {
  const policy = resourcePolicy(checkpointSyncUsesHttps) as ResourceValidationPolicy;
  const cl = res("ephemery:consensus:ConsensusClient", "alpha-consensus", { role: "consensus", client: "lighthouse", command: ["exec lighthouse bn --checkpoint-sync-url=https://ephemery.beaconstate.ethstaker.cc"] });
  test("passes for https, and for http on loopback by default", () => {
    expect(runResource(policy, node)).toEqual([]);
    expect(runResource(policy, cl)).toEqual([]);
    expect(runResource(policy, changed(node, (n) => { n.props.checkpointSyncUrls = ["http://127.0.0.1:5052"]; }))).toEqual([]);
  });
  test("reports http in node settings and in a consensus client's flags", () => {
    const v = runResource(policy, changed(node, (n) => { n.props.checkpointSyncUrls.push("http://checkpointz.bordel.wtf"); }));
    expect(v[0].message).toMatch(/"http:\/\/checkpointz\.bordel\.wtf" of "alpha" .* must use https/);
    expect(runResource(policy, changed(cl, (c) => { c.props.command = ["lodestar beacon --checkpointSyncUrl http://203.0.113.8:5052"]; }))).toHaveLength(1);
  });
  test("reports loopback http when the config forbids it", () => {
    const local = changed(node, (n) => { n.props.checkpointSyncUrls = ["http://localhost:5052"]; });
    expect(runResource(policy, local, { allowLoopbackHttp: false })).toHaveLength(1);
  });
});
