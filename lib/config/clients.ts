/** The client names the program supports; one module per client lives in lib/clients. */
export const EXECUTION_CLIENTS = ["geth", "nethermind", "besu", "reth", "erigon"] as const;
export const CONSENSUS_CLIENTS = ["lighthouse", "teku", "prysm", "nimbus", "lodestar"] as const;
export const VALIDATOR_CLIENTS = CONSENSUS_CLIENTS;

export type ExecutionClientName = (typeof EXECUTION_CLIENTS)[number];
export type ConsensusClientName = (typeof CONSENSUS_CLIENTS)[number];
export type ValidatorClientName = (typeof VALIDATOR_CLIENTS)[number];
