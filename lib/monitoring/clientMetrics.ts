/**
 * Which metric answers "where is the head", "how many peers", "can the validator reach its beacon node" for each
 * client. Client metric names differ; where a client has no dependable metric, the answer comes from the
 * validator-performance exporter, which asks the standard APIs (beacon API, JSON-RPC) the same question for every
 * client. Rules and dashboards use only these expressions, so every query names a metric a target exports.
 */
import type { ConsensusConfig, ExecutionConfig, ValidatorConfig } from "../config/schema";
import { EXPORTER_METRICS } from "./exporterMetrics";

export interface MetricSource {
  /** PromQL selecting the value (one series per node); the `{job=...}` matcher is added by `select`. */
  expr: string;
  /** The metric names the expression reads. */
  metrics: string[];
  /** Where the metric comes from, for the README table. */
  source: string;
}

export interface ExecutionMetrics { head: MetricSource; peers: MetricSource }
export interface ConsensusMetrics { head: MetricSource; finalizedEpoch: MetricSource; peers: MetricSource; syncDistance: MetricSource }
export interface ValidatorMetrics { beaconReachable: MetricSource }

const fromClient = (metric: string, source: string, labels = ""): MetricSource => ({ expr: `${metric}{job="%JOB%"${labels}}`, metrics: [metric], source });
const fromExporter = (metric: string, source: string): MetricSource => ({ expr: `${metric}{job="exporter"}`, metrics: [metric], source });

const EIP2159 = "EIP-2159 common metric";
const ELHEAD_RPC = fromExporter(EXPORTER_METRICS.executionHead, "exporter: JSON-RPC eth_blockNumber");
const ELPEERS_RPC = fromExporter(EXPORTER_METRICS.executionPeers, "exporter: JSON-RPC net_peerCount");

export const EXECUTION_METRICS: Record<ExecutionConfig["client"], ExecutionMetrics> = {
  geth: {
    head: fromClient("chain_head_block", "geth /debug/metrics/prometheus (chain/head/block)"),
    peers: fromClient("p2p_peers", "geth /debug/metrics/prometheus (p2p/peers)"),
  },
  nethermind: {
    head: fromClient("ethereum_blockchain_height", `nethermind /metrics, ${EIP2159}`),
    peers: fromClient("ethereum_peer_count", `nethermind /metrics, ${EIP2159}`),
  },
  besu: {
    head: fromClient("ethereum_blockchain_height", `besu /metrics, ${EIP2159}`),
    peers: fromClient("ethereum_peer_count", `besu /metrics, ${EIP2159}`),
  },
  reth: {
    head: fromClient("reth_blockchain_tree_canonical_chain_height", "reth /metrics"),
    peers: fromClient("reth_network_connected_peers", "reth /metrics"),
  },
  // Erigon's own names changed between v2 and v3 (stage gauges); the standard JSON-RPC answers do not.
  erigon: { head: ELHEAD_RPC, peers: ELPEERS_RPC },
};

const STANDARD_BEACON = "beacon-metrics standard (ethereum/beacon-metrics)";
const SYNC_DISTANCE = fromExporter(EXPORTER_METRICS.beaconSyncDistance, "exporter: beacon API /eth/v1/node/syncing sync_distance");
const standardConsensus = (client: string): ConsensusMetrics => ({
  head: fromClient("beacon_head_slot", `${client} /metrics, ${STANDARD_BEACON}`),
  finalizedEpoch: fromClient("beacon_finalized_epoch", `${client} /metrics, ${STANDARD_BEACON}`),
  peers: fromClient("libp2p_peers", `${client} /metrics, ${STANDARD_BEACON}`),
  syncDistance: SYNC_DISTANCE,
});

export const CONSENSUS_METRICS: Record<ConsensusConfig["client"], ConsensusMetrics> = {
  lighthouse: standardConsensus("lighthouse"),
  teku: standardConsensus("teku"),
  nimbus: standardConsensus("nimbus"),
  lodestar: standardConsensus("lodestar"),
  prysm: {
    ...standardConsensus("prysm"),
    // Prysm counts peers per connection state instead of the standard libp2p_peers.
    peers: fromClient("p2p_peer_count", "prysm /metrics (per state)", `,state="Connected"`),
  },
};

/** The exporter probes the validator's own beacon endpoint on the same network: down for it means down for the VC. */
const BEACON_PROBE = fromExporter(EXPORTER_METRICS.beaconUp, "exporter: beacon API /eth/v1/node/syncing at the VC's beacon URL");

export const VALIDATOR_METRICS: Record<NonNullable<ValidatorConfig["client"]>, ValidatorMetrics> = {
  lighthouse: { beaconReachable: fromClient("vc_beacon_nodes_available_count", "lighthouse VC /metrics") },
  teku: { beaconReachable: BEACON_PROBE },
  prysm: { beaconReachable: BEACON_PROBE },
  nimbus: { beaconReachable: BEACON_PROBE },
  lodestar: { beaconReachable: BEACON_PROBE },
};

/** The expression with the job matcher of the client's scrape job filled in. */
export function select(m: MetricSource, job: string): string {
  return m.expr.replace("%JOB%", job);
}
