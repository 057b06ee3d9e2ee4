/**
 * Network: APIs that control a node (JSON-RPC, engine, beacon, keymanager) and its monitoring stay off the
 * internet, in containers, compose services and cloud firewalls alike.
 */
import { DEFAULT_METRICS_PORT, ENGINE_PORT } from "../lib/clients/common";
import { PortSpec, PRIVATE_PORT_PURPOSES } from "../lib/clients/types";
import { consensusSchema, executionSchema, validatorSchema } from "../lib/config/schema";
import { monitoringSchema } from "../lib/config/monitoring";
import { asArray, CLIENT_TYPES, COMPOSE_TYPE, CONTAINER_TYPE, Facts, label, MONITORING_TYPE, ResourceRule } from "./common";

const el = executionSchema.parse({});
const cl = consensusSchema.parse({});
const vc = validatorSchema.shape.keymanagerPort.parse(undefined);
const mon = monitoringSchema.parse({});

/**
 * Ports that must stay private when a raw container or firewall names only a number: the program's own
 * defaults, plus the clients' usual API and metrics ports (prysm 4000/3500/8080/8081, teku 5051/8008,
 * lodestar 9596, besu 9545).
 */
export const DEFAULT_PRIVATE_PORTS: number[] = [...new Set([
  el.rpcPort, el.wsPort, ENGINE_PORT, cl.beaconApiPort, vc,
  DEFAULT_METRICS_PORT.execution, DEFAULT_METRICS_PORT.consensus, DEFAULT_METRICS_PORT.validator,
  mon.prometheusPort, mon.alertmanagerPort, mon.grafanaPort, mon.nodeExporterPort,
  4000, 3500, 8080, 8081, 5051, 8008, 9596, 9545,
])].sort((a, b) => a - b);

const WORLD = ["0.0.0.0/0", "::/0"];

/** True when a bind address is reachable from the internet: all interfaces, or a public unicast address. */
export function isPublicBindAddress(ip: string | undefined): boolean {
  const a = (ip ?? "").trim().replace(/^\[|\]$/g, "").toLowerCase();
  if (a === "" || a === "0.0.0.0" || a === "::") return true;
  if (a === "localhost" || a === "::1" || /^127\./.test(a)) return false;
  // Private networks (RFC 1918, shared CGNAT space, IPv6 ULA and link-local) are not the internet.
  if (/^10\./.test(a) || /^192\.168\./.test(a) || /^172\.(1[6-9]|2\d|3[01])\./.test(a) || /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./.test(a)) return false;
  if (/^f[cd][0-9a-f]{2}:/.test(a) || /^fe[89ab][0-9a-f]:/.test(a)) return false;
  return true;
}

/** The port facts a resource carries: client components, compose services and the monitoring stack. */
function portFacts(r: Facts): { owner: string; port: PortSpec }[] {
  if ((Object.values(CLIENT_TYPES) as string[]).includes(r.type) || r.type === MONITORING_TYPE) {
    return asArray<PortSpec>(r.props.ports).map((port) => ({ owner: r.props.name ?? r.name, port }));
  }
  if (r.type === COMPOSE_TYPE) {
    return asArray<{ name: string; ports: PortSpec[] }>(r.props.services)
      .flatMap((s) => asArray<PortSpec>(s.ports).map((port) => ({ owner: `service ${s.name}`, port })));
  }
  return [];
}

export interface PrivatePortsConfig {
  privatePorts: number[];
}

const privatePortsConfig: ResourceRule<PrivatePortsConfig>["config"] = {
  privatePorts: {
    type: "array",
    items: { type: "integer" },
    default: DEFAULT_PRIVATE_PORTS,
    description: "Port numbers of APIs and metrics that must never face the internet (raw containers and firewall rules).",
  },
};

export const privatePortsNotPublished: ResourceRule<PrivatePortsConfig> = {
  name: "private-ports-not-published",
  description: "Checks whether a container publishes a JSON-RPC, engine, beacon, keymanager, metrics or monitoring port on a public address.",
  config: privatePortsConfig,
  check(r, config) {
    const out: string[] = [];
    for (const { owner, port } of portFacts(r)) {
      if (!PRIVATE_PORT_PURPOSES.includes(port.purpose) || port.hostPort === undefined || !isPublicBindAddress(port.bindAddress)) continue;
      out.push(`The ${port.purpose} port ${port.hostPort}/${port.protocol} of ${owner} must not be published on ${port.bindAddress}. ` +
        `Bind it to 127.0.0.1: turn off execution.exposeRpc, consensus.exposeBeaconApi or monitoring.exposePublicly, and reach it over an SSH tunnel.`);
    }
    if (r.type === CONTAINER_TYPE) {
      for (const p of asArray<{ internal: number; external?: number; ip?: string; protocol?: string }>(r.props.ports)) {
        const port = [p.internal, p.external].find((n) => n !== undefined && config.privatePorts.includes(n));
        if (port === undefined || !isPublicBindAddress(p.ip)) continue;
        out.push(`Container ${label(r)} must not publish port ${p.external ?? p.internal} (container port ${p.internal}) on ${p.ip || "0.0.0.0"}: ` +
          `${port} is an API or metrics port. Set the port's ip to 127.0.0.1, or leave it unpublished on the node's Docker network.`);
      }
    }
    return out;
  },
};

/** An ingress rule that admits the whole internet, normalised across AWS and Hetzner. */
export interface WorldRule {
  protocol: string;
  fromPort: number;
  toPort: number;
  source: string;
  description?: string;
}

function allPorts(protocol: string): boolean {
  return protocol === "-1" || protocol === "all";
}

export function worldOpenRules(r: Facts): WorldRule[] {
  const world = (cidrs: unknown) => asArray<string>(cidrs).filter((c) => WORLD.includes(c));
  const aws = (rule: any): WorldRule[] => {
    const protocol = String(rule.protocol ?? rule.ipProtocol ?? "").toLowerCase();
    const span = allPorts(protocol) ? { fromPort: 0, toPort: 65535 } : { fromPort: Number(rule.fromPort), toPort: Number(rule.toPort) };
    const sources = [...world(rule.cidrBlocks), ...world(rule.ipv6CidrBlocks), ...world([rule.cidrIpv4, rule.cidrIpv6])];
    return sources.map((source) => ({ protocol, ...span, source, description: rule.description }));
  };
  switch (r.type) {
    case "aws:ec2/securityGroup:SecurityGroup":
      return asArray(r.props.ingress).flatMap(aws);
    case "aws:ec2/securityGroupRule:SecurityGroupRule":
      return r.props.type === "ingress" ? aws(r.props) : [];
    case "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
      return aws(r.props);
    case "hcloud:index/firewall:Firewall":
      return asArray<any>(r.props.rules)
        .filter((rule) => rule.direction === "in" && ["tcp", "udp"].includes(rule.protocol))
        .flatMap((rule) => {
          const span = hcloudPorts(String(rule.port ?? "any"));
          return world(rule.sourceIps).map((source) => ({ protocol: rule.protocol, ...span, source, description: rule.description }));
        });
    default:
      return [];
  }
}

/** Hetzner writes one port, a range `from-to`, or `any`. */
function hcloudPorts(port: string): { fromPort: number; toPort: number } {
  if (port === "any" || port === "") return { fromPort: 0, toPort: 65535 };
  const [from, to] = port.split("-").map(Number);
  return { fromPort: from, toPort: to ?? from };
}

function describe(rule: WorldRule): string {
  const ports = rule.fromPort === rule.toPort ? `${rule.fromPort}` : `${rule.fromPort}-${rule.toPort}`;
  return `${rule.protocol === "-1" ? "all" : rule.protocol}/${ports} from ${rule.source}`;
}

export const firewallKeepsPrivatePortsClosed: ResourceRule<PrivatePortsConfig> = {
  name: "firewall-keeps-private-ports-closed",
  description: "Checks whether an AWS security group or Hetzner firewall opens an API, metrics or monitoring port to 0.0.0.0/0 or ::/0.",
  config: privatePortsConfig,
  check(r, config) {
    return worldOpenRules(r).flatMap((rule) => {
      const hit = config.privatePorts.filter((p) => p >= rule.fromPort && p <= rule.toPort);
      return hit.length === 0
        ? []
        : [`Firewall ${label(r)} must not open ${describe(rule)}: it covers private port(s) ${hit.join(", ")}. ` +
          `Open only the p2p ports to the world, and restrict API access to your own addresses (a /32) or an SSH tunnel.`];
    });
  },
};

export interface SshConfig {
  sshPorts: number[];
}

export const sshNotOpenToWorld: ResourceRule<SshConfig> = {
  name: "ssh-not-open-to-world",
  description: "Checks whether an AWS security group or Hetzner firewall lets the whole internet reach SSH.",
  config: {
    sshPorts: { type: "array", items: { type: "integer" }, default: [22], description: "SSH ports (add yours when hosts[].ssh.port differs)." },
  },
  check(r, config) {
    return worldOpenRules(r)
      .filter((rule) => /\bssh\b/i.test(rule.description ?? "") || config.sshPorts.some((p) => p >= rule.fromPort && p <= rule.toPort))
      .map((rule) => `SSH on ${label(r)} should not be open to the world (${describe(rule)}). ` +
        `Set hosts[].aws.sshAllowedCidrs or hosts[].hcloud.sshAllowedCidrs to your own addresses, e.g. ["203.0.113.4/32"].`);
  },
};
