/**
 * Sizing: a provisioned host has the disk and memory its clients need. Per-client needs come from the
 * client modules (lib/clients: `minDiskGiB`, `defaultMemoryMiB`), the same numbers the program sizes with.
 */
import { consensusClients, executionClients, requiredDiskGiB, requiredMemoryMiB, validatorClients } from "../lib/clients";
import type { ContainerSpec } from "../lib/clients/types";
import type { HostConfig } from "../lib/config/schema";
import { CLIENT_TYPES, COMPOSE_TYPE, Facts, indexByUrn, label, nodeOf, StackRule, Violation, asArray } from "./common";

const GiB = 1024;

/**
 * Memory per EC2 instance size, MiB, from the AWS "Amazon EC2 instance types" specifications: general
 * purpose (m5/m6i/m6a/m7i/m7a...) has 4 GiB per vCPU, compute optimised (c*) 2 GiB, memory optimised (r*) 8 GiB;
 * burstable t3/t3a sizes are listed one by one.
 */
const AWS_VCPUS: Record<string, number> = { large: 2, xlarge: 4, "2xlarge": 8, "4xlarge": 16, "8xlarge": 32, "12xlarge": 48, "16xlarge": 64 };
const AWS_GIB_PER_VCPU: Record<string, number> = { m: 4, c: 2, r: 8 };
const AWS_BURSTABLE: Record<string, number> = { micro: 1, small: 2, medium: 4, large: 8, xlarge: 16, "2xlarge": 32 };

/** Memory per Hetzner Cloud server type, MiB, from Hetzner's cloud server price list (GB as Hetzner counts it). */
const HCLOUD_GIB: Record<string, number> = {
  cx22: 4, cx23: 4, cx32: 8, cx33: 8, cx42: 16, cx43: 16, cx52: 32, cx53: 32,
  cpx11: 2, cpx21: 4, cpx31: 8, cpx41: 16, cpx51: 32,
  cax11: 4, cax21: 8, cax31: 16, cax41: 32,
  ccx13: 8, ccx23: 16, ccx33: 32, ccx43: 64, ccx53: 128, ccx63: 192,
};

/** Memory of a machine type in MiB, or undefined when the tables do not know it. */
export function machineMemoryMiB(kind: "aws" | "hcloud", type: string, extra: Record<string, number> = {}): number | undefined {
  if (extra[type] !== undefined) return extra[type];
  if (kind === "hcloud") return HCLOUD_GIB[type] === undefined ? undefined : HCLOUD_GIB[type] * GiB;
  const m = /^([a-z]+)(\d+)([a-z-]*)\.([a-z0-9]+)$/.exec(type);
  if (!m) return undefined;
  const [, family, , , size] = m;
  if (family === "t") return AWS_BURSTABLE[size] === undefined ? undefined : AWS_BURSTABLE[size] * GiB;
  const perVcpu = AWS_GIB_PER_VCPU[family];
  return perVcpu === undefined || AWS_VCPUS[size] === undefined ? undefined : perVcpu * AWS_VCPUS[size] * GiB;
}

export interface NodeClients {
  execution?: string;
  consensus?: string;
  validator?: string;
}

/** The clients each node runs, from client components or compose services. */
export function clientsByNode(resources: Facts[]): Map<string, NodeClients> {
  const byUrn = indexByUrn(resources);
  const out = new Map<string, NodeClients>();
  const note = (node: string, role: string, client: string) => {
    const n = out.get(node) ?? {};
    if (role === "execution" || role === "consensus" || role === "validator") n[role] = client;
    out.set(node, n);
  };
  for (const r of resources) {
    if ((Object.values(CLIENT_TYPES) as string[]).includes(r.type)) note(nodeOf(r, byUrn) ?? r.name, r.props.role, r.props.client);
    if (r.type === COMPOSE_TYPE) for (const s of asArray<any>(r.props.services)) note(r.props.node, s.role, s.client);
  }
  return out;
}

/** Disk (GiB) and memory (MiB) a node needs, by the program's own formulas; undefined for unknown clients. */
export function nodeNeeds(c: NodeClients): { diskGiB: number; memoryMiB: number } | undefined {
  const el = c.execution ? executionClients[c.execution as keyof typeof executionClients] : undefined;
  const cl = c.consensus ? consensusClients[c.consensus as keyof typeof consensusClients] : undefined;
  if (!el || !cl) return undefined;
  const vc = c.validator ? validatorClients[c.validator as keyof typeof validatorClients] : undefined;
  // The formulas only read these fields; the policy knows client names, not whole host configs.
  const diskGiB = requiredDiskGiB({ execution: { client: el.name }, consensus: { client: cl.name } } as HostConfig);
  const memoryMiB = requiredMemoryMiB([el, cl, ...(vc ? [vc] : [])].map((m) => ({ memoryMiB: m.defaultMemoryMiB }) as ContainerSpec));
  return { diskGiB, memoryMiB };
}

function nodeOfCloud(r: Facts, byUrn: Map<string, Facts>): string | undefined {
  return nodeOf(r, byUrn) ?? r.props.tags?.["ephemery:node"] ?? r.props.labels?.["ephemery-node"];
}

export interface SizingConfig {
  machineMemoryMiB: Record<string, number>;
}

export const hostSizedForClients: StackRule<SizingConfig> = {
  name: "host-sized-for-clients",
  description: "Checks whether each provisioned host and data volume has the memory and disk its clients need.",
  config: {
    machineMemoryMiB: {
      type: "object",
      additionalProperties: { type: "integer" },
      default: {},
      description: "Memory (MiB) of instance or server types the built-in tables do not know, e.g. {\"x2idn.large\": 32768}.",
    },
  },
  check(resources, config) {
    const byUrn = indexByUrn(resources);
    const needs = clientsByNode(resources);
    const out: Violation[] = [];
    for (const r of resources) {
      const node = nodeOfCloud(r, byUrn);
      const need = node === undefined ? undefined : nodeNeeds(needs.get(node) ?? {});
      if (!node || !need) continue;
      const clients = needs.get(node)!;
      const who = `${clients.execution} + ${clients.consensus}${clients.validator ? ` + ${clients.validator} validator` : ""}`;
      if (r.type === "aws:ebs/volume:Volume" || r.type === "hcloud:index/volume:Volume") {
        const size = Number(r.props.size);
        if (size < need.diskGiB) {
          out.push({ urn: r.urn, message: `Data volume ${label(r)} of node "${node}" must hold at least ${need.diskGiB} GiB for ${who}; it has ${size} GiB. ` +
            `Raise hosts[].${r.type.startsWith("aws") ? "aws.dataVolumeGiB" : "hcloud.volumeGiB"} or unset it (the default is sized for the clients).` });
        }
      }
      const machine = r.type === "aws:ec2/instance:Instance" ? { kind: "aws" as const, type: r.props.instanceType, key: "aws.instanceType" }
        : r.type === "hcloud:index/server:Server" ? { kind: "hcloud" as const, type: r.props.serverType, key: "hcloud.serverType" } : undefined;
      if (machine && typeof machine.type === "string") {
        const mem = machineMemoryMiB(machine.kind, machine.type, config.machineMemoryMiB);
        if (mem === undefined) {
          out.push({ urn: r.urn, message: `The memory of ${machine.kind} type "${machine.type}" (${label(r)}) must be known to check node "${node}". Add it to the machineMemoryMiB policy config, e.g. {"${machine.type}": 16384}.` });
        } else if (mem < need.memoryMiB) {
          out.push({ urn: r.urn, message: `Machine ${label(r)} of node "${node}" must have at least ${need.memoryMiB} MiB of memory for ${who}; ${machine.type} has ${mem} MiB. Pick a larger hosts[].${machine.key}.` });
        }
      }
    }
    return out;
  },
};
