/**
 * What each flag of each `ephemery` command does, with its default: printed by `ephemery <command> --help`.
 * Flags that mean the same everywhere are described once; a command's own meaning takes precedence.
 * tests/cli/help.test.ts fails when a command gains a flag that has no line here.
 */
import { DEFAULT_PROBE_TIMEOUT_MS } from "../lib/checkpoint";
import type { Command } from "./command";
import { HOST_QUESTIONS } from "./commands/init";

const COMMON: Record<string, string> = {
  stack: "the stack whose Pulumi.<NAME>.yaml is read (default: $PULUMI_STACK, else local)",
  file: "read this stack file instead of Pulumi.<stack>.yaml (not with --stack)",
  json: "print machine-readable JSON instead of text (default: text)",
  host: "the host (hosts[].name) to act on",
  identity: "SSH private key file (default: the agent at $SSH_AUTH_SOCK, then ~/.ssh/id_ed25519, id_ecdsa, id_rsa)",
  "known-hosts": "known_hosts file that host keys are checked against (default: ~/.ssh/known_hosts)",
  "accept-new-host-keys": "trust and record the key of a host not yet in known_hosts (default: refuse unknown hosts)",
  at: "the moment to compute for, in unix seconds (default: now)",
  out: "the directory to write into",
};

const BY_COMMAND: Record<string, Record<string, string>> = {
  status: { timeout: "seconds each host may take to answer (default: 15)" },
  "checkpoint probe": {
    iteration: "the iteration whose genesis the providers must serve (default: the current one)",
    timeout: `milliseconds each provider may take to answer (default: ${DEFAULT_PROBE_TIMEOUT_MS})`,
  },
  dashboard: {
    prometheus: "tunnel to Prometheus instead of Grafana (default: Grafana)",
    fleet: "tunnel to the fleet monitor's Grafana on the ephemery:fleet host instead of a node's",
    "local-port": "local port of the tunnel (default: 0, any free port)",
  },
  "keys validate": {
    "password-file": "a file holding the one password of every keystore (default: passwords not checked)",
    "password-env": "an environment variable holding the one password of every keystore",
    "passwords-dir": "a directory with one password file per keystore (<keystore name>.txt or <pubkey>)",
    "expected-count": "fail unless the source holds exactly this many keys (default: any number)",
    threads: "worker threads for the password checks (default: one per core)",
  },
  "keys backups": {},
  "keys restore": { backup: "the backup id to restore, as `ephemery keys backups` lists it" },
  "keys generate": {
    "mnemonic-file": "a file holding an existing BIP-39 mnemonic, or a pipe such as <(pulumi config get mnemonic) for one kept as a Pulumi secret",
    "new-mnemonic": "make a new 24-word mnemonic and print it once on stderr (default: off)",
    count: "how many validator keys to make",
    "start-index": "the first EIP-2334 validator index (m/12381/3600/<i>/0/0) (default: 0)",
    "password-file": "a file holding the password every keystore is encrypted with (a final newline is dropped)",
    "withdrawal-address": "the execution address withdrawals go to: 0x01 credentials, or 0x02 with --compounding",
    compounding: "0x02 (compounding) credentials for --withdrawal-address (default: 0x01)",
    "withdrawal-credentials": "full 32-byte 0x01/0x02 withdrawal credentials instead of an address",
    "amount-gwei": "deposit amount in gwei: exactly 32000000000 for 0x01, 1 to 2048 ETH for 0x02 (default: 32000000000)",
    "network-config": "the release's config.yaml: its GENESIS_FORK_VERSION signs the deposits",
    "fork-version": "the network's GENESIS_FORK_VERSION, 0x + 8 hex, instead of --network-config",
    "network-name": "network_name written into the deposit data (default: ephemery)",
    kdf: "keystore key derivation: scrypt (n=2^18, r=8, p=1) or pbkdf2 (c=2^18) (default: scrypt)",
    "genesis-name": "name of the ephemery-genesis validators file written, <NAME>.txt (default: validators)",
    out: "a new or empty directory for the keys (it appears only when every key is written and checked)",
  },
  "keys deposit": {
    "deposit-data": "the deposit_data-*.json to send (as keys generate or the deposit CLI wrote it)",
    pubkey: "send only this validator's deposit; repeat for more (default: every deposit in the file)",
    host: "send through this host of the stack: SSH tunnels to its JSON-RPC and beacon API, and its installed release's config.yaml names the network (instead of --rpc-url)",
    "rpc-url": "JSON-RPC URL of an execution node of the network, instead of --host",
    "funding-key-file": "a file (mode 0600) holding the execution-layer private key that pays the deposits",
    "network-config": "the release's config.yaml: DEPOSIT_CONTRACT_ADDRESS, DEPOSIT_CHAIN_ID and GENESIS_FORK_VERSION (default with --host: the host's installed one)",
    "deposit-contract": "the deposit contract address, instead of --network-config",
    "chain-id": "the chain id the node must be on, instead of --network-config",
    "fork-version": "the GENESIS_FORK_VERSION the deposits must be signed for, instead of --network-config",
    "dry-run": "show what would be sent and send nothing (default: off)",
    yes: "send without asking (default: refuse and print what would be sent)",
    "skip-checks": "send without checking roots and signatures locally first (the contract still checks the root) (default: off)",
  },
  "keys exit": {
    pubkey: "a validator to exit; repeat for more (required)",
    host: "exit through this host of the stack: SSH tunnels to its keymanager and beacon API, the token read from its validator container (instead of the URLs)",
    "keymanager-url": "the validator client's keymanager API, instead of --host",
    "token-file": "a file holding the keymanager API token (default with --host: read from the host's validator container)",
    "beacon-url": "a beacon node of the network that publishes the exits, instead of --host",
    epoch: "the epoch the exits are signed for (default: the validator client's current epoch)",
    yes: "exit without asking (default: ask, and refuse when there is no terminal)",
  },
  init: {
    stack: "the stack the file is written for, Pulumi.<NAME>.yaml (default: dev)",
    dir: "the project directory to write into (default: the nearest directory with Pulumi.yaml)",
    force: "overwrite an existing stack file without asking (default: ask)",
    "non-interactive": "take every answer from flags and never prompt (default: prompt)",
    ...Object.fromEntries(HOST_QUESTIONS.map((q) => [q.flag, `${q.prompt}${defaultText(q.defaultOf)}`])),
  },
  "config check": { release: "a release's config.yaml: also check that every pinned client supports the forks it activates" },
  "reset plan": { release: "a release's config.yaml: add which forks it activates and which pinned clients lack them" },
  "monitoring render": { out: "the directory to write <DIR>/<node>/... into (required)" },
};

function defaultText(defaultOf: ((h: Record<string, unknown>) => string | undefined) | undefined): string {
  try {
    const d = defaultOf?.({});
    return d === undefined ? "" : ` (default: ${d === "" ? "none" : d})`;
  } catch {
    return "";
  }
}

export function flagHelp(cmd: Command, flag: string): string | undefined {
  return BY_COMMAND[cmd.path.join(" ")]?.[flag] ?? COMMON[flag];
}

/** `ephemery <command> --help`: usage, summary and every flag with what it does and its default. */
export function commandHelp(cmd: Command): string {
  const flags = Object.entries(cmd.options).map(([name, o]) => [`--${name}${o.type === "string" ? " VALUE" : ""}`, flagHelp(cmd, name) ?? ""]);
  const width = Math.max(0, ...flags.map(([f]) => f.length));
  return [
    `usage: ${cmd.usage}`,
    `  ${cmd.summary}`,
    ...(flags.length ? ["", "Options:", ...flags.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`)] : []),
    "",
  ].join("\n");
}
