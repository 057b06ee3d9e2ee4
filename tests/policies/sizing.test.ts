import type { StackValidationPolicy } from "@pulumi/policy";
import { stackPolicy } from "../../policies/common";
import { hostSizedForClients, machineMemoryMiB, nodeNeeds } from "../../policies/sizing";
import { changed, res, runStack } from "./harness";

const node = res("ephemery:node:EphemeryNode", "alpha", { node: "alpha" });
const host = res("ephemery:host:Host", "alpha-host", { node: "alpha", kind: "aws" }, node);
const el = res("ephemery:execution:ExecutionClient", "alpha-execution", { role: "execution", client: "geth" }, node);
const cl = res("ephemery:consensus:ConsensusClient", "alpha-consensus", { role: "consensus", client: "lighthouse" }, node);
const vc = res("ephemery:validator:ValidatorClient", "alpha-validator", { role: "validator", client: "lighthouse" }, node);
const instance = res("aws:ec2/instance:Instance", "alpha-host-instance", { instanceType: "m6i.xlarge" }, host);
const volume = res("aws:ebs/volume:Volume", "alpha-host-data", { size: 100 }, host);
const bnode = res("ephemery:node:EphemeryNode", "beta", { node: "beta" });
const bhost = res("ephemery:host:Host", "beta-host", { node: "beta", kind: "hcloud" }, bnode);
const compose = res("ephemery:containers:ComposeProject", "beta-compose", { node: "beta", services: [{ role: "execution", client: "nethermind" }, { role: "consensus", client: "teku" }] }, bnode);
const server = res("hcloud:index/server:Server", "beta-host-server", { serverType: "cpx41" }, bhost);
const hvolume = res("hcloud:index/volume:Volume", "beta-host-data", { size: 100 }, bhost);
const happy = [node, host, el, cl, vc, instance, volume, bnode, bhost, compose, server, hvolume];

describe("host-sized-for-clients", () => {
  const policy = stackPolicy(hostSizedForClients) as StackValidationPolicy;

  test("the program's defaults (m6i.xlarge, cpx41, volumes sized by the client table) pass", () => {
    expect(nodeNeeds({ execution: "geth", consensus: "lighthouse", validator: "lighthouse" })).toEqual({ diskGiB: 100, memoryMiB: 16384 });
    expect(runStack(policy, happy)).toEqual([]);
  });

  test("reports an EBS volume and a Hetzner volume smaller than the clients need", () => {
    const small = happy.map((r) => (r === volume ? changed(volume, (v) => { v.props.size = 60; }) : r === hvolume ? changed(hvolume, (v) => { v.props.size = 40; }) : r));
    const v = runStack(policy, small);
    expect(v.map((x) => x.urn)).toEqual([volume.urn, hvolume.urn]);
    expect(v[0].message).toMatch(/must hold at least 100 GiB for geth \+ lighthouse \+ lighthouse validator; it has 60 GiB/);
    expect(v[1].message).toMatch(/hcloud\.volumeGiB/);
  });

  test("reports machines with too little memory", () => {
    const small = happy.map((r) => (r === instance ? changed(instance, (i) => { i.props.instanceType = "t3.large"; }) : r === server ? changed(server, (s) => { s.props.serverType = "cx22"; }) : r));
    const v = runStack(policy, small);
    expect(v.map((x) => x.urn)).toEqual([instance.urn, server.urn]);
    expect(v[0].message).toMatch(/at least 16384 MiB .* t3\.large has 8192 MiB/);
  });

  test("reports a machine type the tables do not know, until the config names its memory", () => {
    const odd = happy.map((r) => (r === instance ? changed(instance, (i) => { i.props.instanceType = "x2idn.large"; }) : r));
    expect(runStack(policy, odd)[0].message).toMatch(/must be known .* machineMemoryMiB/);
    expect(runStack(policy, odd, { machineMemoryMiB: { "x2idn.large": 32768 } })).toEqual([]);
  });

  test.each([["m6i.xlarge", 16384], ["c6i.2xlarge", 16384], ["r6i.large", 16384], ["t3.medium", 4096], ["m7a.2xlarge", 32768], ["m6i.nano", undefined]])(
    "aws %s has %p MiB", (type, mib) => expect(machineMemoryMiB("aws", type)).toBe(mib),
  );
});
