import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { resourcePolicy, stackPolicy } from "../../policies/common";
import { clientPairKnownToWork, imagesPinned } from "../../policies/images";
import { changed, res, runResource, runStack } from "./harness";

const DIGEST = `sha256:${"e".repeat(64)}`;
const cl = res("ephemery:consensus:ConsensusClient", "alpha-consensus", { name: "alpha-consensus", role: "consensus", client: "lighthouse", image: "sigp/lighthouse:v8.0.1", ports: [], command: [] });
const compose = res("ephemery:containers:ComposeProject", "beta-compose", {
  node: "beta",
  services: [
    { name: "beta-execution", role: "execution", client: "geth", image: `ethereum/client-go@${DIGEST}` },
    { name: "beta-consensus", role: "consensus", client: "lodestar", image: "chainsafe/lodestar:v1.36.0" },
  ],
});
const pulled = res("docker:index/remoteImage:RemoteImage", "alpha-consensus-image", { name: "sigp/lighthouse:v8.0.1" });
const container = res("docker:index/container:Container", "alpha-consensus-container", { image: DIGEST });

describe("images-pinned", () => {
  const policy = resourcePolicy(imagesPinned) as ResourceValidationPolicy;

  test("passes for version tags, digests and image ids", () => {
    for (const r of [cl, compose, pulled, container]) expect(runResource(policy, r)).toEqual([]);
  });

  test.each([["sigp/lighthouse:latest"], ["sigp/lighthouse"], ["sigp/lighthouse:stable"]])("reports %p on a client component", (image) => {
    const v = runResource(policy, changed(cl, (c) => { c.props.image = image; }));
    expect(v[0].message).toMatch(/must be pinned to a version tag or a digest/);
  });

  test("reports an unpinned compose service, a pulled image and a raw container, each naming where", () => {
    expect(runResource(policy, changed(compose, (c) => { c.props.services[1].image = "chainsafe/lodestar"; }))[0].message).toMatch(/service beta-consensus/);
    expect(runResource(policy, changed(pulled, (p) => { p.props.name = "sigp/lighthouse:latest"; }))[0].message).toMatch(/\(name of "alpha-consensus-image"/);
    expect(runResource(policy, changed(container, (c) => { c.props.image = "grafana/grafana:latest"; }))).toHaveLength(1);
  });

  test("reports a reference that is not an image reference", () => {
    expect(runResource(policy, changed(cl, (c) => { c.props.image = "Not An Image"; }))[0].message).toMatch(/must be a valid reference/);
  });
});

describe("client-pair-known-to-work", () => {
  const policy = stackPolicy(clientPairKnownToWork) as StackValidationPolicy;
  const nodeA = res("ephemery:node:EphemeryNode", "alpha", { node: "alpha" });
  const el = res("ephemery:execution:ExecutionClient", "alpha-execution", { role: "execution", client: "geth", image: "ethereum/client-go:v1.16.7" }, nodeA);
  const clA = { ...cl, parent: nodeA.urn };

  test("passes for listed pairs, docker and compose runtimes alike", () => {
    expect(runStack(policy, [nodeA, el, clA, compose])).toEqual([]);
  });

  test("reports an unlisted pair on the node's consensus client", () => {
    const teku = changed(clA, (c) => { c.props.client = "teku"; });
    const v = runStack(policy, [nodeA, el, teku]);
    expect(v).toEqual([{ urn: clA.urn, message: expect.stringMatching(/Node "alpha" should pair clients known to run Ephemery; geth\/teku is not in the list/) }]);
    expect(runStack(policy, [nodeA, el, teku], { extraPairs: ["geth/teku"] })).toEqual([]);
  });

  test("reports an unlisted pair in a compose project", () => {
    const v = runStack(policy, [changed(compose, (c) => { c.props.services[0].client = "reth"; })]);
    expect(v[0].message).toMatch(/reth\/lodestar/);
  });
});
