#!/usr/bin/env bash
# Validator keys on one node: staged install, backups with rotation, restore, release (keys leaving the host).
#   ephemery-keys install            stdin: base64 tar bundle (keys/, SHA256SUMS, optional slashing-protection.json)
#   ephemery-keys release            stdin: the pubkeys the host keeps; keys leaving it are backed up and their
#                                    slashing protection is printed (EIP-3076) between BEGIN/END marker lines
#   ephemery-keys backups            one line per backup: id, key count, whether it holds slashing protection
#   ephemery-keys restore ID         keys and slashing protection of backup ID, with the same checks and rollback
#   ephemery-keys remove             release every key (the component's delete)
# The client reads KEYS_ROOT/current, a relative symlink swapped with rename(2): it sees the old set or the new.
set -euo pipefail
umask 077

# @@VALUES@@

SETS="$KEYS_ROOT/sets"
BACKUPS="$BACKUPS_DIR"
MOVE_WAIT_SEC="${KEYS_MOVE_WAIT_SEC:-0}"
[[ "$MOVE_WAIT_SEC" =~ ^[0-9]{1,7}$ ]] || { echo "ephemery-keys: KEYS_MOVE_WAIT_SEC must be a number of seconds, got \"$MOVE_WAIT_SEC\"" >&2; exit 1; }

# This run's own staging dir and interchange copy, removed however the run ends; another run's are never touched.
OWN_STAGE=""
OWN_IMPORT=""
cleanup_own() {
  if [ -n "$OWN_STAGE" ]; then rm -rf "$OWN_STAGE"; fi
  if [ -n "$OWN_IMPORT" ]; then rm -f "$OWN_IMPORT"; fi
}
trap cleanup_own EXIT

log() { printf '%s ephemery-keys[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NODE" "$*" >&2; }
die() { log "error: $*"; exit 1; }

new_id() { printf '%s-%s' "$(date -u +%Y%m%dT%H%M%SZ)" "$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"; }

container_exists() { docker inspect "$CONTAINER" >/dev/null 2>&1; }
container_running() { [ "$(docker inspect -f '{{.State.Running}}' "$CONTAINER" 2>/dev/null || true)" = "true" ]; }

stop_client() {
  if container_running; then
    log "stopping $CONTAINER"
    docker stop -t "$STOP_GRACE_SEC" "$CONTAINER" >/dev/null
  fi
}

start_client() {
  if container_exists; then
    log "starting $CONTAINER"
    docker start "$CONTAINER" >/dev/null
  fi
}

# Runs a client tool in a one-off container of the validator's image with its data volume; stdin/stdout pass through.
client_tool() {
  docker run --rm -i --network none --user 0:0 \
    -v "$DATA_VOLUME:/data" -v "$KEYS_ROOT:/ephemery/validator-keys:ro" -v "$TESTNET_ROOT:/ephemery/testnet:ro" \
    --entrypoint /bin/sh "$IMAGE" -c "$1"
}

volume_exists() { docker volume inspect "$DATA_VOLUME" >/dev/null 2>&1; }

current_set() { if [ -L "$KEYS_ROOT/current" ]; then readlink "$KEYS_ROOT/current"; fi; }

installed_pubkeys() {
  local cur
  cur=$(current_set)
  if [ -n "$cur" ] && [ -f "$KEYS_ROOT/$cur/pubkeys.txt" ]; then cat "$KEYS_ROOT/$cur/pubkeys.txt"; fi
}

# Points `current` at sets/<id> atomically (a relative link, so it resolves inside containers too).
swap_to() {
  ln -sfn "$1" "$KEYS_ROOT/current.new"
  mv -Tf "$KEYS_ROOT/current.new" "$KEYS_ROOT/current"
  sync -f "$KEYS_ROOT" 2>/dev/null || sync
}

secure_tree() {
  chown -R 0:0 "$1"
  find "$1" -type d -exec chmod 0700 {} +
  find "$1" -type f -exec chmod 0600 {} +
}

# EIP-3076 export of the whole slashing-protection database into $1 (empty when there is no database yet).
export_slashing_protection() {
  local out="$1"
  : > "$out"
  if ! volume_exists; then log "no data volume $DATA_VOLUME yet: nothing to export"; return 0; fi
  if ! client_tool "$SP_EXPORT" > "$out.tmp"; then
    rm -f "$out.tmp"
    die "exporting slashing protection failed; the client was left stopped and the keys unchanged. Check: docker logs $CONTAINER"
  fi
  mv -f "$out.tmp" "$out"
}

import_slashing_protection() {
  local file="$1"
  check_interchange_root "$file"
  log "importing slashing protection from $(basename "$file")"
  client_tool "$SP_IMPORT" < "$file" >/dev/null || die "importing slashing protection failed; the keys were not changed"
}

# Each set lists the digests of the interchanges imported for it, so the same file is imported once.
IMPORTED_LIST="imported-interchanges.txt"
interchange_digest() { sha256sum < "$1" | cut -d' ' -f1; }
already_imported() { # set-dir file
  [ -f "$1/$IMPORTED_LIST" ] && grep -qxF "$(interchange_digest "$2")" "$1/$IMPORTED_LIST"
}
record_import() { # set-dir file
  interchange_digest "$2" >> "$1/$IMPORTED_LIST"
  chmod 0600 "$1/$IMPORTED_LIST"
}

# Keys unchanged but a new interchange in the upload (keys moved back, or a file added to the key source):
# the client stops while it is imported, then must load the same keys again.
import_for_current() {
  local cur="$1" file="$2" id reason had_client=false
  check_interchange_root "$file"
  id=$(new_id)
  container_exists && had_client=true
  stop_client
  backup_current "$id"
  import_slashing_protection "$file"
  record_import "$KEYS_ROOT/$cur" "$file"
  [ "$had_client" = true ] || return 0
  start_client
  reason=$(verify_loaded "$KEYS_ROOT/$cur/pubkeys.txt") || die "slashing protection imported, but after the restart: $reason"
}

# The interchange must belong to the chain the node runs (the pubkeys were checked on the workstation).
check_interchange_root() {
  local file="$1" want have
  want=$(tr -d ' \n\r' < "$TESTNET_ROOT/current/genesis_validators_root.txt" 2>/dev/null || true)
  have=$(grep -o '"genesis_validators_root"[[:space:]]*:[[:space:]]*"0x[0-9a-fA-F]*"' "$file" | head -n1 | grep -o '0x[0-9a-fA-F]*' || true)
  grep -q '"interchange_format_version"[[:space:]]*:[[:space:]]*"5"' "$file" || die "$(basename "$file") is not an EIP-3076 version 5 interchange"
  [ -n "$have" ] || die "$(basename "$file") has no genesis_validators_root"
  # The chain comes from the installed release, never from the file: without it nothing is imported.
  [[ "$want" =~ ^0x[0-9a-fA-F]{64}$ ]] || die "the release's genesis_validators_root.txt ($TESTNET_ROOT/current) is missing or malformed, so the chain of $(basename "$file") cannot be checked; run the reset job (ephemery-reset ensure) to install the release, then retry"
  if [ "${have,,}" != "${want,,}" ]; then
    die "$(basename "$file") is for genesis_validators_root $have but this node runs $want (another Ephemery iteration); refusing to import"
  fi
}

# Copies the active set and the slashing-protection export into backups/<id>; keeps the newest KEEP_BACKUPS.
backup_current() {
  local id="$1" cur
  cur=$(current_set)
  if [ -z "$cur" ] && ! volume_exists; then log "nothing to back up yet"; return 0; fi
  local dir="$BACKUPS/$id"
  install -d -m 0700 "$BACKUPS" "$dir.partial"
  if [ -n "$cur" ] && [ -d "$KEYS_ROOT/$cur" ]; then cp -a "$KEYS_ROOT/$cur" "$dir.partial/keys"; fi
  export_slashing_protection "$dir.partial/slashing-protection.json"
  date -u +%Y-%m-%dT%H:%M:%SZ > "$dir.partial/created"
  secure_tree "$dir.partial"
  mv -T "$dir.partial" "$dir"
  log "backup $id written"
  rotate_backups
}

rotate_backups() {
  local old
  # Ids start with a UTC timestamp: name order is age order.
  find "$BACKUPS" -mindepth 1 -maxdepth 1 -type d -name '2*' ! -name '*.partial' -printf '%f\n' | sort -r | tail -n +"$((KEEP_BACKUPS + 1))" |
    while read -r old; do rm -rf "${BACKUPS:?}/$old"; log "rotated out backup $old"; done
}

# The keymanager token the client wrote into its volume: data from the container, so bounded and checked.
api_token() {
  local token
  token=$(docker exec "$CONTAINER" cat "$API_TOKEN_PATH" 2>/dev/null | head -c 4096 | head -n1 || true)
  [ -n "$token" ] || return 1
  if [[ ! "$token" =~ ^[A-Za-z0-9._~+/=-]{1,1024}$ ]]; then
    log "the keymanager token in $CONTAINER:$API_TOKEN_PATH is not a plain token (letters, digits, . _ ~ + / = -, 1024 at most): not sent"
    return 1
  fi
  printf '%s' "$token"
}

# The pubkeys the running client reports through its keymanager API (lower-case hex, no 0x), sorted.
# The token reaches curl as a config file on stdin (printf is a builtin), never on a command line `ps` shows.
loaded_pubkeys() {
  local token
  token=$(api_token || true)
  { [ -z "$token" ] || printf 'header = "Authorization: Bearer %s"\n' "$token"; } |
    curl -fsS --max-time 5 --max-filesize 1048576 -K - "http://127.0.0.1:$KEYMANAGER_PORT/eth/v1/keystores" |
    grep -o '"validating_pubkey"[[:space:]]*:[[:space:]]*"0x[0-9a-fA-F]*"' | grep -o '0x[0-9a-fA-F]*' | sed 's/^0x//' | tr 'A-F' 'a-f' | sort
}

# Waits until the client reports exactly the expected keys; prints the reason and fails otherwise.
verify_loaded() {
  local expected="$1" deadline got=""
  deadline=$(( $(date +%s) + VERIFY_TIMEOUT_SEC ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    if got=$(loaded_pubkeys 2>/dev/null) && [ "$got" = "$(sort "$expected")" ]; then
      log "$CONTAINER loaded exactly the $(grep -c . "$expected" || true) expected key(s)"
      return 0
    fi
    container_running || break
    sleep 1
  done
  local missing extra
  missing=$(comm -23 <(sort "$expected") <(printf '%s\n' "$got" | sed '/^$/d') | sed 's/^/0x/' | tr '\n' ' ')
  extra=$(comm -13 <(sort "$expected") <(printf '%s\n' "$got" | sed '/^$/d') | sed 's/^/0x/' | tr '\n' ' ')
  if ! container_running; then
    echo "$CONTAINER stopped after the key change (see: docker logs $CONTAINER)"
  else
    echo "$CONTAINER did not load the expected keys within ${VERIFY_TIMEOUT_SEC}s; missing: ${missing:-none}; unexpected: ${extra:-none}"
  fi
  return 1
}

# Activates sets/<new> (already in place) with backup, optional import, wait, start, check, rollback.
activate() {
  local new="$1" import_file="${2:-}" id prev reason
  id=$(new_id)
  prev=$(current_set)
  local had_client=false
  container_exists && had_client=true
  stop_client
  backup_current "$id"
  if [ -n "$import_file" ]; then
    import_slashing_protection "$import_file"
    record_import "$SETS/$new" "$import_file"
  fi
  # The client is stopped: point `current` at the new set first, since prysm's wallet import reads the keys there.
  swap_to "sets/$new"
  if [ "$(cat "$SETS/$new/client.txt")" = "prysm" ]; then
    # On a first deploy the validator's volume does not exist yet; prysm reads keys only from its wallet, so make
    # the volume now (compose and the Docker provider both adopt a volume of that name) and import into it.
    volume_exists || docker volume create --label ephemery.role=validator "$DATA_VOLUME" >/dev/null
    log "importing keystores into the prysm wallet"
    client_tool "rm -rf /data/wallet && $PRYSM_WALLET_IMPORT" >/dev/null || {
      if [ -n "$prev" ]; then swap_to "$prev"; else rm -f "$KEYS_ROOT/current"; fi
      rm -rf "${SETS:?}/$new"
      die "prysm wallet import failed; keys unchanged"
    }
  fi
  log "keys swapped: current -> sets/$new ($(grep -c . "$SETS/$new/pubkeys.txt" || true) key(s))"
  if [ "$MOVE_WAIT_SEC" -gt 0 ] && [ "$had_client" = true ]; then
    log "keys moved from another host: waiting ${MOVE_WAIT_SEC}s before the client may sign"
    sleep "$MOVE_WAIT_SEC"
  fi
  if [ "$had_client" != true ]; then
    log "no $CONTAINER yet: it loads the keys when it is created"
    cleanup_sets
    return 0
  fi
  start_client
  if reason=$(verify_loaded "$SETS/$new/pubkeys.txt"); then
    cleanup_sets
    return 0
  fi
  log "check failed: $reason"
  stop_client
  if [ -n "$prev" ]; then swap_to "$prev"; else rm -f "$KEYS_ROOT/current"; fi
  # The slashing-protection database is never rolled back: it may hold signatures made since the start.
  start_client
  rm -rf "${SETS:?}/$new"
  die "rolled back to the previous keys (${prev:-none}): $reason"
}

# Sets other than the active one are dropped: backups hold copies.
cleanup_sets() {
  local cur s
  cur=$(current_set)
  for s in "$SETS"/*; do
    [ -e "$s" ] || continue
    [ "sets/$(basename "$s")" = "$cur" ] || rm -rf "$s"
  done
}

cmd_install() {
  install -d -m 0700 "$KEYS_ROOT" "$SETS"
  local id stage
  id=$(new_id)
  stage="$KEYS_ROOT/staging.$id"
  install -d -m 0700 "$stage"
  OWN_STAGE="$stage"
  base64 -d > "$stage/bundle.tar" || die "the upload is not valid base64; run pulumi up again"
  tar -xf "$stage/bundle.tar" -C "$stage" --no-same-owner --no-same-permissions || die "the upload is not a valid tar; run pulumi up again"
  rm -f "$stage/bundle.tar"
  (cd "$stage" && sha256sum --quiet --strict -c SHA256SUMS) >&2 || die "checksums of the uploaded keys do not match; nothing was changed, run pulumi up again"
  local cur
  cur=$(current_set)
  if [ -n "$cur" ] && [ -f "$KEYS_ROOT/$cur/SHA256SUMS" ] && cmp -s "$KEYS_ROOT/$cur/SHA256SUMS" <(grep ' keys/' "$stage/SHA256SUMS"); then
    log "keys unchanged ($(grep -c . "$KEYS_ROOT/$cur/pubkeys.txt" || true) key(s))"
    if [ -f "$stage/slashing-protection.json" ] && ! already_imported "$KEYS_ROOT/$cur" "$stage/slashing-protection.json"; then
      import_for_current "$cur" "$stage/slashing-protection.json"
      echo "unchanged; imported slashing protection"
      return 0
    fi
    echo "unchanged"
    return 0
  fi
  grep ' keys/' "$stage/SHA256SUMS" > "$stage/keys/SHA256SUMS"
  secure_tree "$stage"
  local import_file=""
  if [ -f "$stage/slashing-protection.json" ]; then
    import_file="$KEYS_ROOT/import.$id.json"
    OWN_IMPORT="$import_file"
    mv "$stage/slashing-protection.json" "$import_file"
    check_interchange_root "$import_file"
  fi
  mv -T "$stage/keys" "$SETS/$id"
  rm -rf "$stage"
  activate "$id" "$import_file"
  echo "installed $id"
}

cmd_release() {
  local keep leaving id
  keep=$(sed 's/^0x//' | tr 'A-F' 'a-f' | sed '/^$/d' | sort -u)
  leaving=$(comm -23 <(installed_pubkeys | sort -u) <(printf '%s\n' "$keep" | sed '/^$/d'))
  if [ -z "$leaving" ]; then echo "released 0"; return 0; fi
  log "$(printf '%s\n' "$leaving" | grep -c .) key(s) leave this host: stopping the client and exporting slashing protection"
  id=$(new_id)
  stop_client
  backup_current "$id"
  # Nothing signs here until the install step of this same update puts the remaining keys back.
  install -d -m 0700 "$SETS/$id-empty"
  : > "$SETS/$id-empty/pubkeys.txt"
  swap_to "sets/$id-empty"
  cleanup_sets
  echo "-----BEGIN SLASHING PROTECTION-----"
  cat "$BACKUPS/$id/slashing-protection.json"
  echo
  echo "-----END SLASHING PROTECTION-----"
  echo "released $(printf '%s\n' "$leaving" | grep -c .)"
}

cmd_backups() {
  local d id
  [ -d "$BACKUPS" ] || return 0
  for d in $(find "$BACKUPS" -mindepth 1 -maxdepth 1 -type d -name '2*' ! -name '*.partial' -printf '%f\n' | sort -r); do
    id="$d"
    local n=0 sp=no
    [ -f "$BACKUPS/$id/keys/pubkeys.txt" ] && n=$(grep -c . "$BACKUPS/$id/keys/pubkeys.txt" || true)
    [ -s "$BACKUPS/$id/slashing-protection.json" ] && sp=yes
    printf '%s\t%s\t%s\t%s\n' "$id" "$(cat "$BACKUPS/$id/created" 2>/dev/null || echo -)" "$n" "$sp"
  done
}

cmd_restore() {
  local id="${1:-}"
  [[ "$id" =~ ^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}$ ]] || die "backup id \"$id\" is not valid; list them with: ephemery keys backups --host $NODE"
  [ -d "$BACKUPS/$id/keys" ] || die "backup $id does not exist or holds no keys; list them with: ephemery keys backups --host $NODE"
  (cd "$BACKUPS/$id/keys" && [ ! -f SHA256SUMS ] || sed 's| keys/| |' SHA256SUMS | sha256sum --quiet --strict -c -) >&2 || die "backup $id is damaged (checksums differ); choose another backup"
  install -d -m 0700 "$SETS"
  local new
  new="$(new_id)-restore"
  cp -a "$BACKUPS/$id/keys" "$SETS/$new"
  local import_file=""
  if [ -s "$BACKUPS/$id/slashing-protection.json" ]; then
    import_file="$KEYS_ROOT/import.$new.json"
    OWN_IMPORT="$import_file"
    cp "$BACKUPS/$id/slashing-protection.json" "$import_file"
    check_interchange_root "$import_file"
  fi
  activate "$new" "$import_file"
  echo "restored $id"
}

# One run at a time per node (pulumi up, the CLI's restore, a second workstation): a run swaps links and
# drops sets that another run may be about to activate. Waits KEYS_LOCK_WAIT_SEC (default 600) at most.
take_lock() {
  [[ "${KEYS_LOCK_WAIT_SEC:-600}" =~ ^[0-9]{1,6}$ ]] || die "KEYS_LOCK_WAIT_SEC must be a number of seconds, got \"${KEYS_LOCK_WAIT_SEC}\""
  install -d -m 0700 "$KEYS_ROOT"
  exec 9>"$KEYS_ROOT/.lock"
  if ! flock -w "${KEYS_LOCK_WAIT_SEC:-600}" 9; then
    die "another ephemery-keys run (install, release, restore or remove) has held $KEYS_ROOT/.lock for ${KEYS_LOCK_WAIT_SEC:-600}s; let it finish (see its log), then run again"
  fi
}

case "${1:-}" in
  install | release | remove | restore) take_lock ;;
esac
case "${1:-}" in
  install) cmd_install ;;
  release) cmd_release ;;
  # The node's keys are going away with it (pulumi destroy): so does the lock, and the directory once empty.
  remove) cmd_release < /dev/null && rm -f "$KEYS_ROOT/.lock" && { rmdir "$KEYS_ROOT" 2>/dev/null || true; } ;;
  backups) cmd_backups ;;
  restore) cmd_restore "${2:-}" ;;
  *) die "usage: $0 install|release|remove|backups|restore ID" ;;
esac
