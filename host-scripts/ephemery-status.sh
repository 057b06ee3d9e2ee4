#!/bin/sh
# Read-only facts for `ephemery status`, sent over SSH on standard input (or run locally for local hosts).
# Prints sections headed "@@<name>"; a missing file or tool leaves its section empty. Changes nothing.
set -u
# @@VALUES@@

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
DOCKER="docker"
if ! docker info >/dev/null 2>&1 && [ -n "$SUDO" ]; then DOCKER="$SUDO docker"; fi

section() { printf '\n@@%s\n' "$1"; }

section containers
# Names are filtered here rather than with --filter, whose regex rules differ between Docker versions.
$DOCKER ps -a --format '{{.Names}}	{{.State}}	{{.Status}}	{{.Image}}' 2>&1 | while IFS= read -r line; do
  case "$line" in "$NODE"-*) printf '%s\n' "$line" ;; *"	"*) ;; *) printf 'error\t%s\n' "$line" ;; esac
done

# The reset program's marker names the installed iteration; older installs only have the current link.
section marker
$SUDO cat "$STATE_DIR/iteration" 2>/dev/null
section current
readlink "$TESTNET_DIR/current" 2>/dev/null
section retention
$SUDO cat "$TESTNET_DIR/current/retention.vars" 2>/dev/null
section testnets
ls -1 "$TESTNET_DIR/releases" 2>/dev/null
section metrics
$SUDO cat "$TEXTFILE_DIR/ephemery.prom" 2>/dev/null
# Written by the reset program's release check: schedule disagreement, forks the pinned clients lack.
section release
$SUDO cat "$TEXTFILE_DIR/ephemery-release.prom" 2>/dev/null
section disk
if [ -d "$NODE_DIR" ]; then df -Pk "$NODE_DIR"; else df -Pk "$(dirname "$NODE_DIR")" 2>/dev/null || df -Pk /; fi
section token
if [ -n "$VC_CONTAINER" ]; then
  for p in $VC_TOKEN_PATHS; do
    # docker cp works on every image (no shell or cat needed inside) and on stopped containers.
    t="$($DOCKER cp "$VC_CONTAINER:$p" - 2>/dev/null | tar -xO 2>/dev/null)"
    if [ -n "$t" ]; then printf '%s\n' "$t"; break; fi
  done
fi
section end
