#!/usr/bin/env bash
# The main job: converge the `local` stack (one full node on this workstation's Docker engine).
# Extra arguments go to `pulumi up` (e.g. `npm run local -- --diff`).
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "local: $*" >&2; exit 1; }

command -v docker >/dev/null 2>&1 || die "Docker is needed: install Docker Engine (https://docs.docker.com/engine/install/) and start it."
docker info >/dev/null 2>&1 || die "the Docker engine does not answer: start it (sudo systemctl start docker) and make sure your user may use it."
if ! command -v pulumi >/dev/null 2>&1; then
  if [ -f .toolchain/env.sh ]; then
    # shellcheck disable=SC1091
    source .toolchain/env.sh
  else
    die "the Pulumi CLI is needed: install it (https://www.pulumi.com/docs/install/), or build it offline with: npm run toolchain"
  fi
fi
[ -d node_modules ] || npm ci --no-audit --no-fund

# The local stack keeps its state in ./.pulumi-state (Pulumi.yaml) and has no secrets of its own;
# its passphrase only guards the stack's secrets provider. Set your own to change it.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-ephemery-local}"
mkdir -p .pulumi-state
npx ephemery config check --stack local
pulumi stack select local --create >/dev/null
pulumi up --stack local --yes "$@"
