/**
 * Names of the metrics our own programs publish: the validator-performance exporter (exporter/), the reset
 * program and the container-metrics script (both through node-exporter's textfile collector). Tests hold the
 * exporter and the scripts to these names.
 */

export const EXPORTER_METRICS = {
  beaconUp: "ephemery_beacon_api_up",
  beaconHeadSlot: "ephemery_beacon_head_slot",
  beaconSyncDistance: "ephemery_beacon_sync_distance",
  beaconSyncing: "ephemery_beacon_is_syncing",
  beaconElOffline: "ephemery_beacon_el_offline",
  beaconPeers: "ephemery_beacon_peers",
  beaconFinalizedEpoch: "ephemery_beacon_finalized_epoch",
  executionUp: "ephemery_execution_rpc_up",
  executionHead: "ephemery_execution_head_block",
  executionPeers: "ephemery_execution_peers",
  executionSyncing: "ephemery_execution_syncing",
  validatorsMonitored: "ephemery_validators_monitored",
  validatorActive: "ephemery_validator_active",
  validatorBalance: "ephemery_validator_balance_gwei",
  attestationDuties: "ephemery_validator_attestation_duties_total",
  attestationsMissed: "ephemery_validator_attestations_missed_total",
  attestationReward: "ephemery_validator_attestation_reward_gwei",
  attestationIdealReward: "ephemery_validator_attestation_ideal_reward_gwei",
  proposals: "ephemery_validator_proposals_total",
  proposalRewards: "ephemery_validator_proposal_reward_gwei_total",
  lastProcessedEpoch: "ephemery_exporter_last_processed_epoch",
  errors: "ephemery_exporter_errors_total",
} as const;

/** Written by the reset program to `<node dir>/node-exporter/ephemery.prom`. */
export const RESET_METRICS = {
  iteration: "ephemery_iteration",
  chainId: "ephemery_chain_id",
  nextReset: "ephemery_next_reset_timestamp_seconds",
  releaseStaged: "ephemery_release_staged",
  lastReset: "ephemery_last_reset_timestamp_seconds",
  lastResetDuration: "ephemery_last_reset_duration_seconds",
  resetFailures: "ephemery_reset_failures_total",
} as const;

/** Written by the reset program's release check to `<node dir>/node-exporter/ephemery-release.prom`. */
export const RELEASE_METRICS = {
  /** 1 when the newest verified release disagrees with ephemery:network.schedule. */
  scheduleMismatch: "ephemery_release_schedule_mismatch",
  /** One series (value 1) per fork the release activates that a pinned client version does not support. */
  forkUnsupported: "ephemery_release_fork_unsupported",
} as const;

/** Written by host-scripts/container-metrics.sh to `<node dir>/node-exporter/containers.prom`. */
export const CONTAINER_METRICS = {
  restarts: "ephemery_container_restarts_total",
  running: "ephemery_container_running",
} as const;

/** node-exporter metrics the rules and dashboards read (checked against a real node-exporter in the tests). */
export const NODE_EXPORTER_METRICS = [
  "node_filesystem_avail_bytes",
  "node_filesystem_size_bytes",
  "node_memory_MemAvailable_bytes",
  "node_memory_MemTotal_bytes",
  "node_cpu_seconds_total",
  "node_load1",
  "node_network_receive_bytes_total",
  "node_network_transmit_bytes_total",
] as const;

/** Port of the exporter inside its container. */
export const EXPORTER_PORT = 9106;
