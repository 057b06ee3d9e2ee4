import type { ResourceValidationPolicy } from "@pulumi/policy";
import { resourcePolicy } from "../../policies/common";
import { DEFAULT_PRIVATE_PORTS, firewallKeepsPrivatePortsClosed, isPublicBindAddress, privatePortsNotPublished, sshNotOpenToWorld } from "../../policies/network";
import { changed, res, runResource } from "./harness";

const p2p = { containerPort: 30303, hostPort: 30303, protocol: "tcp", purpose: "p2p", bindAddress: "0.0.0.0" };
const rpc = { containerPort: 8545, hostPort: 8545, protocol: "tcp", purpose: "rpc", bindAddress: "127.0.0.1" };
const engine = { containerPort: 8551, protocol: "tcp", purpose: "engine", bindAddress: "127.0.0.1" };
const el = res("ephemery:execution:ExecutionClient", "alpha-execution", { name: "alpha-execution", role: "execution", client: "geth", image: "ethereum/client-go:v1.16.7", ports: [p2p, rpc, engine], command: [] });
const compose = res("ephemery:containers:ComposeProject", "alpha-compose", { node: "alpha", services: [el.props] });
const container = res("docker:index/container:Container", "raw", { image: "sha256:0", ports: [{ internal: 30303, external: 30303, ip: "0.0.0.0", protocol: "tcp" }, { internal: 8551, external: 8551, ip: "127.0.0.1", protocol: "tcp" }] });

describe("private-ports-not-published", () => {
  const policy = resourcePolicy(privatePortsNotPublished) as ResourceValidationPolicy;

  test("passes for p2p on all addresses and APIs on loopback", () => {
    for (const r of [el, compose, container]) expect(runResource(policy, r)).toEqual([]);
  });

  test("reports a private-purpose port bound on all addresses, in a client component and a compose service", () => {
    const open = changed(el, (e) => { e.props.ports[1].bindAddress = "0.0.0.0"; });
    expect(runResource(policy, open)[0].message).toMatch(/rpc port 8545\/tcp of alpha-execution must not be published on 0\.0\.0\.0/);
    const openCompose = changed(compose, (c) => { c.props.services[0].ports[1].bindAddress = "0.0.0.0"; });
    expect(runResource(policy, openCompose)[0].message).toMatch(/service alpha-execution must not be published/);
  });

  test("reports a raw container publishing a known API port on 0.0.0.0 or with no ip", () => {
    const open = changed(container, (c) => { c.props.ports[1].ip = "0.0.0.0"; });
    expect(runResource(policy, open)[0].message).toMatch(/must not publish port 8551 .* on 0\.0\.0\.0/);
    const noIp = changed(container, (c) => { delete c.props.ports[1].ip; });
    expect(runResource(policy, noIp)).toHaveLength(1);
  });

  test("follows the configured port list for raw containers", () => {
    const open = changed(container, (c) => { c.props.ports[1] = { internal: 7000, external: 7000, ip: "0.0.0.0", protocol: "tcp" }; });
    expect(runResource(policy, open)).toEqual([]);
    expect(runResource(policy, open, { privatePorts: [7000] })).toHaveLength(1);
  });

  test("default port list holds the program's API defaults and no p2p port", () => {
    expect(DEFAULT_PRIVATE_PORTS).toEqual(expect.arrayContaining([8545, 8546, 8551, 5052, 5062, 6060, 5054, 5064, 9090, 9093, 3000, 9100]));
    expect(DEFAULT_PRIVATE_PORTS).not.toContain(30303);
    expect(DEFAULT_PRIVATE_PORTS).not.toContain(9000);
  });

  test.each([
    ["0.0.0.0", true], ["", true], ["::", true], ["203.0.113.9", true],
    ["127.0.0.1", false], ["::1", false], ["10.1.2.3", false], ["192.168.1.2", false], ["172.20.0.1", false], ["100.100.1.1", false], ["fd00::1", false],
  ])("bind address %p public: %p", (ip, pub) => expect(isPublicBindAddress(ip)).toBe(pub));
});

const sg = res("aws:ec2/securityGroup:SecurityGroup", "alpha-sg", {
  ingress: [
    { protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: ["203.0.113.4/32"], ipv6CidrBlocks: [], description: "SSH" },
    { protocol: "tcp", fromPort: 30303, toPort: 30303, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"], description: "p2p tcp/30303" },
  ],
});
const fw = res("hcloud:index/firewall:Firewall", "beta-firewall", {
  rules: [
    { direction: "in", protocol: "tcp", port: "22", sourceIps: ["203.0.113.4/32"], description: "SSH" },
    { direction: "in", protocol: "udp", port: "9000", sourceIps: ["0.0.0.0/0", "::/0"] },
    { direction: "in", protocol: "icmp", sourceIps: ["0.0.0.0/0"] },
  ],
});

describe("firewall-keeps-private-ports-closed", () => {
  const policy = resourcePolicy(firewallKeepsPrivatePortsClosed) as ResourceValidationPolicy;

  test("passes for p2p open to the world and SSH open to one address", () => {
    expect(runResource(policy, sg)).toEqual([]);
    expect(runResource(policy, fw)).toEqual([]);
  });

  test("reports an AWS rule opening an API port to 0.0.0.0/0, and one to ::/0", () => {
    const v4 = changed(sg, (s) => s.props.ingress.push({ protocol: "tcp", fromPort: 8551, toPort: 8551, cidrBlocks: ["0.0.0.0/0"] }));
    expect(runResource(policy, v4)[0].message).toMatch(/must not open tcp\/8551 from 0\.0\.0\.0\/0: it covers private port\(s\) 8551/);
    const v6 = changed(sg, (s) => s.props.ingress.push({ protocol: "tcp", fromPort: 5052, toPort: 5052, ipv6CidrBlocks: ["::/0"] }));
    expect(runResource(policy, v6)[0].message).toMatch(/from ::\/0/);
  });

  test("reports an all-protocols rule and a port range that spans API ports", () => {
    const all = changed(sg, (s) => s.props.ingress.push({ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }));
    expect(runResource(policy, all)[0].message).toMatch(/all\/0-65535/);
    const range = changed(fw, (f) => f.props.rules.push({ direction: "in", protocol: "tcp", port: "8000-9000", sourceIps: ["::/0"] }));
    expect(runResource(policy, range)[0].message).toMatch(/8545, 8546, 8551/);
  });

  test("reports standalone AWS rule resources", () => {
    const rule = res("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "r", { ipProtocol: "tcp", fromPort: 9090, toPort: 9090, cidrIpv4: "0.0.0.0/0" });
    expect(runResource(policy, rule)).toHaveLength(1);
    const egress = res("aws:ec2/securityGroupRule:SecurityGroupRule", "e", { type: "egress", protocol: "tcp", fromPort: 9090, toPort: 9090, cidrBlocks: ["0.0.0.0/0"] });
    expect(runResource(policy, egress)).toEqual([]);
  });
});

describe("ssh-not-open-to-world", () => {
  const policy = resourcePolicy(sshNotOpenToWorld) as ResourceValidationPolicy;

  test("passes for SSH limited to one address", () => {
    expect(runResource(policy, sg)).toEqual([]);
    expect(runResource(policy, fw)).toEqual([]);
  });

  test("reports SSH open to 0.0.0.0/0 (AWS) and ::/0 (Hetzner)", () => {
    const aws = changed(sg, (s) => { s.props.ingress[0].cidrBlocks = ["0.0.0.0/0"]; });
    expect(runResource(policy, aws)[0].message).toMatch(/SSH on "alpha-sg" .* should not be open to the world \(tcp\/22 from 0\.0\.0\.0\/0\)/);
    const h = changed(fw, (f) => { f.props.rules[0].sourceIps = ["::/0"]; });
    expect(runResource(policy, h)).toHaveLength(1);
  });

  test("reports a custom SSH port from config or from the rule's description", () => {
    const custom = changed(sg, (s) => { s.props.ingress[0] = { protocol: "tcp", fromPort: 2222, toPort: 2222, cidrBlocks: ["0.0.0.0/0"] }; });
    expect(runResource(policy, custom)).toEqual([]);
    expect(runResource(policy, custom, { sshPorts: [2222] })).toHaveLength(1);
    const described = changed(custom, (s) => { s.props.ingress[0].description = "SSH"; });
    expect(runResource(policy, described)).toHaveLength(1);
  });
});
