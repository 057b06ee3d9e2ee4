#!/usr/bin/env bash
# The main job: one node on this workstation's Docker engine, in one of two worlds (scripts/local.ts decides):
#   online: the real Ephemery, from the tracked template Pulumi.local.yaml (stack `workstation`);
#   devnet: a local Ephemery-shaped network (`--devnet`, or when the release source cannot be reached).
# Usage: npm run local [-- --devnet | --online] [-- --start-docker] [-- <pulumi up flags>]
#        npm run local:destroy   (same as npm run local -- --destroy)
# Nothing here writes to tracked files: stack files it makes are git-ignored, state lives in ./.pulumi-state.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "local: $*" >&2; exit 1; }

start_docker=0
for a in "$@"; do [[ "$a" == --start-docker ]] && start_docker=1; done

# How to start the engine, for this machine: systemd, another init, or by hand.
docker_hint() {
  if [[ -d /run/systemd/system ]]; then
    echo "  start it:            sudo systemctl start docker"
  elif command -v service >/dev/null 2>&1 && [[ -x /etc/init.d/docker ]]; then
    echo "  start it:            sudo service docker start"
  fi
  echo "  or, without an init system, for this session only (as root):"
  echo "                       sudo sh -c 'dockerd >/var/log/dockerd.log 2>&1 &'"
  echo "  or let this script do that:  npm run local -- --start-docker"
  echo "  then check:          docker info"
  echo "  as a non-root user, also: sudo usermod -aG docker \"\$USER\" (and log in again)"
}

if ! command -v docker >/dev/null 2>&1; then
  echo "local: Docker is needed and the docker command is missing." >&2
  echo "  install it: sudo apt-get install -y docker.io docker-compose (Debian/Ubuntu), or https://docs.docker.com/engine/install/" >&2
  exit 1
fi
if ! docker info >/dev/null 2>&1; then
  dockerd_bin=$(command -v dockerd || true)
  if [[ "$(id -u)" == 0 && -n "$dockerd_bin" ]]; then
    if [[ $start_docker == 0 && -t 0 ]]; then
      read -r -p "local: no Docker engine answers. Start $dockerd_bin for this session now? [y/N] " reply
      [[ "$reply" =~ ^[yY] ]] && start_docker=1
    fi
    if [[ $start_docker == 1 ]]; then
      mkdir -p .pulumi-state
      echo "local: starting $dockerd_bin for this session (log: .pulumi-state/dockerd.log)"
      nohup "$dockerd_bin" >.pulumi-state/dockerd.log 2>&1 &
      for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
      docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s; see .pulumi-state/dockerd.log"
    fi
  fi
  if ! docker info >/dev/null 2>&1; then
    { echo "local: no Docker engine answers on ${DOCKER_HOST:-/var/run/docker.sock}."; docker_hint; } >&2
    exit 1
  fi
fi
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  die "compose is needed: install the Docker compose plugin, or: sudo apt-get install -y docker-compose"
fi
if ! command -v pulumi >/dev/null 2>&1; then
  if [[ -f .toolchain/env.sh ]]; then
    # shellcheck disable=SC1091
    source .toolchain/env.sh
  else
    die "the Pulumi CLI is needed: install it (https://www.pulumi.com/docs/install/), or build it offline with: npm run toolchain"
  fi
fi
[[ -d node_modules ]] || npm ci --no-audit --no-fund

# The local stacks keep their state in ./.pulumi-state (Pulumi.yaml); this passphrase only guards their secrets
# provider on this machine. Set your own to change it.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-ephemery-local}"
mkdir -p .pulumi-state
exec node node_modules/ts-node/dist/bin.js --transpile-only scripts/local.ts "$@"
