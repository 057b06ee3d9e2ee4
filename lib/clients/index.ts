/** The client registry: one module per client, one place that maps names to modules. */
import type { ConsensusConfig, ExecutionConfig, HostConfig, ValidatorConfig } from "../config/schema";
import { besu } from "./execution/besu";
import { erigon } from "./execution/erigon";
import { geth } from "./execution/geth";
import { nethermind } from "./execution/nethermind";
import { reth } from "./execution/reth";
import { lighthouse } from "./consensus/lighthouse";
import { lodestar } from "./consensus/lodestar";
import { nimbus } from "./consensus/nimbus";
import { prysm } from "./consensus/prysm";
import { teku } from "./consensus/teku";
import { lighthouseValidator } from "./validator/lighthouse";
import { lodestarValidator } from "./validator/lodestar";
import { nimbusValidator } from "./validator/nimbus";
import { prysmValidator } from "./validator/prysm";
import { tekuValidator } from "./validator/teku";
import { ConsensusClientModule, ContainerSpec, ExecutionClientModule, NodeContext, ValidatorClientModule } from "./types";

export const executionClients: Record<ExecutionConfig["client"], ExecutionClientModule> = { geth, nethermind, besu, reth, erigon };
export const consensusClients: Record<ConsensusConfig["client"], ConsensusClientModule> = { lighthouse, teku, prysm, nimbus, lodestar };
export const validatorClients: Record<NonNullable<ValidatorConfig["client"]>, ValidatorClientModule> = {
  lighthouse: lighthouseValidator,
  teku: tekuValidator,
  prysm: prysmValidator,
  nimbus: nimbusValidator,
  lodestar: lodestarValidator,
};

export interface NodeSpecs {
  execution: ContainerSpec;
  consensus: ContainerSpec;
  validator?: ContainerSpec;
}

export function validatorClientOf(host: HostConfig): NonNullable<ValidatorConfig["client"]> | undefined {
  return host.validator ? host.validator.client ?? host.consensus.client : undefined;
}

/** The client containers of one node, from its host config. Pure. */
export function buildNodeSpecs(ctx: NodeContext): NodeSpecs {
  const { host } = ctx;
  const execution = executionClients[host.execution.client].build(ctx);
  const consensus = consensusClients[host.consensus.client].build(ctx);
  const vcName = validatorClientOf(host);
  const validator = host.validator && vcName ? validatorClients[vcName].build({ ...ctx, validator: host.validator }) : undefined;
  return { execution, consensus, validator };
}

export function allSpecs(specs: NodeSpecs): ContainerSpec[] {
  return [specs.execution, specs.consensus, ...(specs.validator ? [specs.validator] : [])];
}

/** Disk a node's clients need (GiB), from the per-client table. */
export function requiredDiskGiB(host: HostConfig): number {
  return executionClients[host.execution.client].minDiskGiB + consensusClients[host.consensus.client].minDiskGiB + 20;
}

export function requiredMemoryMiB(specs: ContainerSpec[]): number {
  return specs.reduce((sum, s) => sum + s.memoryMiB, 0) + 1024;
}

export * from "./types";
export { containerName, volumeName } from "./common";

/** The node's public p2p ports, for cloud firewalls. */
export function p2pPortsOf(specs: NodeSpecs): { port: number; protocol: "tcp" | "udp" }[] {
  const seen = new Set<string>();
  const out: { port: number; protocol: "tcp" | "udp" }[] = [];
  for (const s of allSpecs(specs)) {
    for (const p of s.ports) {
      if (p.purpose !== "p2p" || p.hostPort === undefined) continue;
      const key = `${p.protocol}/${p.hostPort}`;
      if (!seen.has(key)) { seen.add(key); out.push({ port: p.hostPort, protocol: p.protocol }); }
    }
  }
  return out;
}

/**
 * What policies read from a client component or compose project: the container's shape, never secrets.
 * Components pass it as inputs (resource checks) and as outputs (stack checks see only outputs).
 */
export function specFacts(spec: ContainerSpec) {
  return { name: spec.name, role: spec.role, client: spec.client, image: spec.image, ports: spec.ports, command: spec.command, memoryMiB: spec.memoryMiB };
}
