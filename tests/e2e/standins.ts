/**
 * Client stand-ins for the engine tier: one small busybox image whose `geth` and `lighthouse` are a script that
 * runs the very entry commands lib/clients generates (geth init + geth, lighthouse beacon_node / validator_client),
 * keeps a node identity in the data volume as the real clients do, and answers eth_chainId / web3_clientVersion
 * and the beacon genesis on the API port the flags name. Built locally (no registry), tagged with pinned versions.
 */
import { busyboxImage, docker } from "../support/dockerd";

/** Repository of the stand-in; tags are versions so the images-pinned policy accepts them. */
export const STANDIN_REPOSITORY = "ephemery-e2e/client";

export const STANDIN = `#!/bin/sh
# Stand-in for an Ethereum client (pulumi-ephemery engine tier). $0 names the client.
set -eu
client=$(basename "$0")
flag() { for a in "$@"; do case "$a" in "$FLAG"=*) echo "\${a#*=}"; return;; esac; done; }
identity() {
  [ -f "$1" ] && return 0
  mkdir -p "$(dirname "$1")"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' > "$1"
}
mkdir -p /www/cgi-bin /www/eth/v1/beacon
printf '%s\\n' "$client $*" > /tmp/argv
case "$client $1" in
  "geth init")
    # As real geth v1.16.7: writes the genesis into empty chain data, is a no-op for the same genesis, and fails
    # for another one ("database contains incompatible genesis").
    mkdir -p /data/geth/chaindata
    for genesis; do :; done
    if [ -f /data/geth/chaindata/genesis.json ] && ! cmp -s "$genesis" /data/geth/chaindata/genesis.json; then
      echo "Fatal: Failed to write genesis block: database contains incompatible genesis" >&2; exit 1
    fi
    cp "$genesis" /data/geth/chaindata/genesis.json
    exit 0 ;;
  "geth "*)
    [ -d /data/geth/chaindata ] || { echo "geth stand-in: chain data missing (geth init did not run)" >&2; exit 1; }
    identity /data/geth/nodekey
    FLAG=--http.port; port=$(flag "$@")
    T=/ephemery/testnet/current
    . "$T/nodevars_env.txt"
    echo "$CHAIN_ID" > /tmp/chainid ;;
  "lighthouse beacon_node")
    identity /data/beacon/network/key
    FLAG=--http-port; port=$(flag "$@")
    FLAG=--testnet-dir; T=$(flag "$@")
    . "$T/nodevars_env.txt"
    printf '{"data":{"genesis_time":"%s","genesis_validators_root":"0x00","genesis_fork_version":"0x1000101b"}}' "$GENESIS_TIME" > /www/eth/v1/beacon/genesis ;;
  "lighthouse account")
    # The key installer exports / imports slashing protection through the client's own tool (EIP-3076 JSON).
    # Stands in for lighthouse's slashing_protection.sqlite in the datadir: the last interchange imported is the
    # database, and the export writes it back (a test may write it to stand in for signing since); without one,
    # an empty interchange of the testnet's chain, as lighthouse exports a database with no records.
    FLAG=--datadir; D=$(flag "$@")
    db="\${D:-/data}/standin-slashing-protection.json"
    case "$*" in
      *"slashing-protection export"*)
        for out; do :; done
        FLAG=--testnet-dir; T=$(flag "$@")
        if [ -s "$db" ]; then cp "$db" "$out"
        else printf '{"metadata":{"interchange_format_version":"5","genesis_validators_root":"%s"},"data":[]}' "$(cat "$T/genesis_validators_root.txt")" > "$out"; fi ;;
      *"slashing-protection import"*)
        for f; do :; done
        cp "$f" "$db" ;;
      *) echo "stand-in does not know: $client $*" >&2; exit 2 ;;
    esac
    exit 0 ;;
  "lighthouse validator_client")
    FLAG=--http-port; port=$(flag "$@")
    ls /data/validators > /tmp/validators ;;
  *) echo "stand-in does not know: $client $*" >&2; exit 2 ;;
esac
[ -n "$port" ] || { echo "$client stand-in: no API port flag in: $*" >&2; exit 2; }
httpd -f -p "$port" -h /www &
pid=$!
trap 'kill $pid; exit 0' TERM INT
wait
`;

export const RPC_CGI = `#!/bin/sh
body=$(head -c "\${CONTENT_LENGTH:-0}")
printf 'Content-Type: application/json\\r\\n\\r\\n'
case "$body" in
  *web3_clientVersion*) printf '{"jsonrpc":"2.0","id":1,"result":"Geth/%s"}' "$(cat /etc/standin-version)" ;;
  *) printf '{"jsonrpc":"2.0","id":1,"result":"0x%x"}' "$(cat /tmp/chainid)" ;;
esac
`;

/** Builds (or reuses) the stand-in at `version` and returns its pinned reference, e.g. ephemery-e2e/client:1.0.0. */
export function standinImage(version: string): string {
  const built = busyboxImage("ephemery-e2e-standin", {
    "usr/local/bin/geth": { content: STANDIN, mode: 0o755 },
    "usr/local/bin/lighthouse": { content: STANDIN, mode: 0o755 },
    "www/cgi-bin/index.cgi": { content: RPC_CGI, mode: 0o755 },
    "etc/standin-version": { content: `${version}\n` },
  });
  const ref = `${STANDIN_REPOSITORY}:${version}`;
  docker(["tag", built, ref]);
  return ref;
}

/** The image id behind a reference (what "runs the new image" is checked against). */
export function imageId(ref: string): string {
  return docker(["image", "inspect", "-f", "{{.Id}}", ref]).trim();
}

/**
 * The monitoring stack's images have no override in the config, so stand-ins take their pinned references
 * (prom/prometheus:v3.7.3, ...) on the test engine: only where the reference is absent or already a stand-in,
 * never over a real image. Each answers HTTP on the port its flags (or Grafana's env) name and survives the
 * SIGHUP the program sends Prometheus and Alertmanager after a config change.
 */
const MONITORING_STANDIN = `#!/bin/sh
set -eu
port=\${GF_SERVER_HTTP_PORT:-}
for a in "$@"; do
  case "$a" in --web.listen-address=*|--listen=*) port=\${a##*:} ;; esac
done
[ -n "$port" ] || { echo "monitoring stand-in $0: no listen port in: $*" >&2; exit 2; }
mkdir -p /www && echo "$(basename "$0") stand-in" > /www/index.html && echo ok > /www/metrics
httpd -f -p "$port" -h /www &
pid=$!
trap '' HUP
trap 'kill $pid; exit 0' TERM INT
while kill -0 $pid 2>/dev/null; do wait $pid || true; done
`;

const STANDIN_LABEL = "ephemery.e2e-standin";

export function monitoringStandins(images: Record<string, string>): void {
  const bins = ["prometheus", "alertmanager", "node_exporter", "node", "grafana"];
  const base = busyboxImage("ephemery-e2e-monitoring", Object.fromEntries(bins.map((b) => [`usr/local/bin/${b}`, { content: MONITORING_STANDIN, mode: 0o755 }])));
  const entrypoints: Record<string, string[]> = {
    prometheus: ["/usr/local/bin/prometheus"],
    alertmanager: ["/usr/local/bin/alertmanager"],
    grafana: ["/usr/local/bin/grafana"],
    nodeExporter: ["/usr/local/bin/node_exporter"],
    validatorExporter: [],
  };
  for (const [key, ref] of Object.entries(images)) {
    if (!(key in entrypoints)) continue;
    let existing = "";
    try { existing = docker(["image", "inspect", "-f", `{{index .Config.Labels "${STANDIN_LABEL}"}}`, ref]).trim(); } catch { existing = "absent"; }
    if (existing === base) continue;
    if (existing !== "absent" && !existing.startsWith("ephemery-e2e-monitoring:")) continue; // a real image: use it as it is
    const tmp = `ephemery-e2e-commit-${process.pid}-${key}`;
    docker(["create", "--name", tmp, base, "true"]);
    try {
      docker(["commit", "--change", `ENTRYPOINT ${JSON.stringify(entrypoints[key])}`, "--change", 'CMD []', "--change", `LABEL ${STANDIN_LABEL}=${base}`, tmp, ref]);
    } finally {
      docker(["rm", "-f", tmp]);
    }
  }
}
