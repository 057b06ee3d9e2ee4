#!/usr/bin/env bash
# Prepares a machine to run an Ephemery node: Docker (with compose), cron, and the node's directory.
# Idempotent: safe on every `pulumi up`, on fresh cloud-init machines and on long-lived hosts alike.
set -euo pipefail

# @@VALUES@@

log() { printf '%s bootstrap: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }

have() { command -v "$1" >/dev/null 2>&1; }

apt_install() {
  if have apt-get; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  elif have dnf; then
    dnf install -y -q "$@"
  else
    log "no apt-get or dnf: install $* by hand"
    exit 1
  fi
}

# Provisioned machines keep chain data on their own volume, mounted where Docker keeps its volumes.
# DATA_DEVICE is empty for existing machines.
# The device name comes from the cloud API and goes into /etc/fstab: a plain /dev path only.
if [ -n "$DATA_DEVICE" ] && [[ ! "$DATA_DEVICE" =~ ^/dev/[A-Za-z0-9._:/-]+$ ]]; then
  log "data volume device \"$DATA_DEVICE\" is not a plain /dev path; refusing to write it into /etc/fstab"
  exit 1
fi
if [ -n "$DATA_DEVICE" ] && ! mountpoint -q /var/lib/docker; then
  for _ in $(seq 1 120); do [ -e "$DATA_DEVICE" ] && break; sleep 5; done
  [ -e "$DATA_DEVICE" ] || { log "data volume $DATA_DEVICE did not appear within 10 minutes"; exit 1; }
  if ! blkid "$DATA_DEVICE" >/dev/null 2>&1; then
    log "formatting $DATA_DEVICE"
    mkfs.ext4 -q -L ephemery-data "$DATA_DEVICE"
  fi
  if have systemctl; then systemctl stop docker docker.socket >/dev/null 2>&1 || true; fi
  install -d -m 0710 /var/lib/docker
  grep -qF "$DATA_DEVICE /var/lib/docker " /etc/fstab || echo "$DATA_DEVICE /var/lib/docker ext4 defaults,nofail 0 2" >> /etc/fstab
  mount /var/lib/docker
  log "data volume mounted at /var/lib/docker"
fi

if ! have docker; then
  log "installing Docker"
  apt_install docker.io
fi
if ! docker compose version >/dev/null 2>&1 && ! have docker-compose; then
  log "installing Docker Compose"
  apt_install docker-compose-plugin || apt_install docker-compose
fi
if ! have crontab && [ ! -d /etc/cron.d ]; then
  log "installing cron"
  apt_install cron
fi
# The reset job relies on cron; start it where systemd runs the machine.
if have systemctl && [ -d /run/systemd/system ]; then
  systemctl enable --now docker >/dev/null 2>&1 || true
  systemctl enable --now cron >/dev/null 2>&1 || systemctl enable --now crond >/dev/null 2>&1 || true
fi

install -d -m 0755 "$DATA_DIR"
install -d -m 0755 "$NODE_DIR" "$NODE_DIR/bin" "$NODE_DIR/state" "$NODE_DIR/testnet" "$NODE_DIR/node-exporter"
install -d -m 0700 "$NODE_DIR/jwt" "$NODE_DIR/validator-keys" "$NODE_DIR/backups" "$NODE_DIR/archive"
log "ready: $(docker --version)"
