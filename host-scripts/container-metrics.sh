#!/usr/bin/env bash
# Publishes the restart count and running state of this node's containers for node-exporter's textfile
# collector (the ContainerRestarting alert reads them). Run from cron every minute by the MonitoringStack.
set -euo pipefail
# @@VALUES@@

out="$TEXTFILE_DIR/containers.prom"
install -d -m 0755 "$TEXTFILE_DIR"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# Containers are named <node>-<role>; other nodes' containers on the same engine are left out.
mapfile -t names < <(docker ps -a --format '{{.Names}}' | while read -r n; do [[ "$n" == "$NODE"-* ]] && echo "$n"; done | sort)

{
  echo "# HELP ephemery_container_restarts_total Times Docker restarted the container (RestartCount; starts over when it is recreated)."
  echo "# TYPE ephemery_container_restarts_total counter"
  for n in "${names[@]}"; do
    echo "ephemery_container_restarts_total{container=\"$n\"} $(docker inspect --format '{{.RestartCount}}' "$n")"
  done
  echo "# HELP ephemery_container_running 1 while the container runs."
  echo "# TYPE ephemery_container_running gauge"
  for n in "${names[@]}"; do
    running=0
    [ "$(docker inspect --format '{{.State.Running}}' "$n")" = "true" ] && running=1
    echo "ephemery_container_running{container=\"$n\"} $running"
  done
} >"$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
