#!/usr/bin/env bash
# Placeholder until the reset program lands (reset issue).
set -euo pipefail
# @@VALUES@@
echo "ephemery-reset: $*"
