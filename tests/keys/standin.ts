/**
 * A stand-in validator client for host-side tests: reads the lighthouse layout the installer writes (as the
 * real client does, from a copy in /data/keys), "loads" every key whose keystore and password files exist,
 * except one named in /data/reject (a key the client refuses), and serves the keymanager listing
 * GET /eth/v1/keystores on 127.0.0.1:$PORT (host networking: no bridge needed). Its slashing-protection tools read and write /data/slashing.json.
 */
import { busyboxImage } from "../support/dockerd";

const ENTRY = `#!/bin/sh
set -eu
rm -rf /data/keys && mkdir -p /data/keys /www/eth/v1
cp -Rp /ephemery/validator-keys/current/. /data/keys/ 2>/dev/null || true
reject=$(cat /data/reject 2>/dev/null || true)
defs=/data/keys/lighthouse/validator_definitions.yml
{
  printf '{"data":['
  sep=''
  for pk in $(grep -o 'voting_public_key: "0x[0-9a-f]*"' "$defs" 2>/dev/null | grep -o '0x[0-9a-f]*'); do
    [ "$pk" = "$reject" ] && continue
    [ -s "/data/keys/lighthouse/keystores/$pk.json" ] && [ -f "/data/keys/lighthouse/secrets/$pk" ] || continue
    printf '%s{"validating_pubkey":"%s","derivation_path":"","readonly":false}' "$sep" "$pk"
    sep=','
  done
  printf ']}'
} > /www/eth/v1/keystores
# PID 1 ignores SIGTERM without a handler: exit at once so "docker stop" does not wait for its timeout.
httpd -f -p "127.0.0.1:$PORT" -h /www &
pid=$!
trap 'kill "$pid" 2>/dev/null; exit 0' TERM INT
wait "$pid"
`;

export function standinImage(): string {
  return busyboxImage("ephemery-standin-vc", { "standin.sh": { content: ENTRY, mode: 0o755 } });
}

export const standinTools = (gvr: string) => ({
  SP_EXPORT: `cat /data/slashing.json 2>/dev/null || printf '{"metadata":{"interchange_format_version":"5","genesis_validators_root":"${gvr}"},"data":[]}'`,
  SP_IMPORT: "cat > /data/imported-$(date +%s%N).json",
  API_TOKEN_PATH: "/data/api-token.txt",
});
