#!/usr/bin/env bash
# ephemery-reset: carries one Ephemery node across the network's 28-day resets.
#
#   ephemery-reset ensure   install the latest verified release before the clients exist (run by `pulumi up`);
#                           the last line of stdout is `iteration=<N>`
#   ephemery-reset run      what cron runs every minute: catch up, pre-stage, switch at the new EL genesis
#   ephemery-reset status   print the installed and staged iterations and the next reset
#
# Crash-safe: a switch is journalled phase by phase in $STATE_DIR/switch.journal; every step can run twice, and
# the next run finishes an interrupted switch. Nothing is wiped before the new release is downloaded and verified.
# Time is injectable for tests: EPHEMERY_NOW=<unix seconds>, or EPHEMERY_CLOCK_FILE=<file holding unix seconds>.
# EPHEMERY_NODE=<path> picks the node binary that runs the release checker.

# Values are rendered in at the marker below (lib/reset/values.ts), single-quoted on purpose: COMPOSE holds a
# command substitution that runs when used. shellcheck cannot see them in the source file.
# shellcheck disable=SC2153,SC2016
set -euo pipefail

# @@VALUES@@

readonly RELEASES_DIR="$TESTNET_DIR/releases"
readonly STAGING_DIR="$STATE_DIR/staging"
readonly JOURNAL="$STATE_DIR/switch.journal"
readonly MARKER="$STATE_DIR/iteration"
readonly SAFE_NAME='^(\./)?[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$'
readonly ROLES="execution consensus validator"

MODE=""
NOW=0
INSTALLED=""
STAGED=""
QUERY_FAILED=0

log() { printf '%s ephemery-reset[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$NODE" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

# --- time and schedule (the closed form of lib/ephemery.ts with the ephemery:network.schedule constants) ---

clock() {
  local t
  if [ -n "${EPHEMERY_NOW:-}" ]; then
    t=$EPHEMERY_NOW
  elif [ -n "${EPHEMERY_CLOCK_FILE:-}" ] && [ -f "$EPHEMERY_CLOCK_FILE" ]; then
    t=$(tr -d '[:space:]' < "$EPHEMERY_CLOCK_FILE")
  else
    t=$(date +%s)
  fi
  is_uint "$t" || die "the clock reads \"$t\"; EPHEMERY_NOW / EPHEMERY_CLOCK_FILE must hold unix seconds"
  printf '%s' "$t"
}
# A verified release is the truth for its own iteration (its genesis, chain id and period); the configured
# closed form only fills in for iterations with no release on disk yet.
release_var() { # iteration file key: a whole number from a verified release, or nothing
  local d="$TESTNET_DIR/releases/ephemery-$1" v
  [ -f "$d/$2" ] || return 0
  v=$(env_value "$d/$2" "$3")
  if is_uint "${v:-x}"; then echo "$v"; fi
}
period_of() { local p; p=$(release_var "$1" retention.vars GENESIS_RESET_INTERVAL); echo "${p:-$PERIOD_SEC}"; }
el_genesis() {
  local t prev
  t=$(release_var "$1" retention.vars GENESIS_TIMESTAMP)
  if [ -z "$t" ] && [ "$1" -gt 0 ]; then
    prev=$(release_var $(($1 - 1)) retention.vars GENESIS_TIMESTAMP)
    [ -n "$prev" ] && t=$(( prev + $(period_of $(($1 - 1))) ))
  fi
  echo "${t:-$(( BASE_TIME + $1 * PERIOD_SEC ))}"
}
cl_genesis() { local t; t=$(release_var "$1" nodevars_env.txt GENESIS_TIME); echo "${t:-$(( $(el_genesis "$1") + GENESIS_DELAY_SEC ))}"; }
chain_id() { local c; c=$(release_var "$1" retention.vars CHAIN_ID); echo "${c:-$(( CHAIN_ID_BASE + $1 ))}"; }
iteration_at() { # the iteration running at time $1: counted from the installed release when there is one
  local base
  if [ -n "${INSTALLED:-}" ]; then
    base=$(el_genesis "$INSTALLED")
    if [ "$1" -ge "$base" ]; then echo $(( INSTALLED + ($1 - base) / $(period_of "$INSTALLED") )); return; fi
  fi
  echo $(( ($1 - BASE_TIME) / PERIOD_SEC ))
}
tag_of() { echo "ephemery-$1"; }

# --- small state files, written atomically ---

write_file() { # path content
  local tmp
  tmp=$(mktemp "$1.XXXXXX")
  printf '%s\n' "$2" > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$1"
}
read_file() { if [ -f "$1" ]; then tr -d '[:space:]' < "$1"; fi; }

failures() { local n; n=$(read_file "$STATE_DIR/failures"); is_uint "${n:-x}" && echo "$n" || echo 0; }

write_metrics() {
  local it="${INSTALLED:-0}" staged=0 last ts=0 dur=0 tmp
  [ -n "$STAGED" ] && staged=1
  last=$(cat "$STATE_DIR/last-reset" 2>/dev/null || true)
  if [[ "$last" =~ ^([0-9]+)\ ([0-9]+)$ ]]; then ts=${BASH_REMATCH[1]}; dur=${BASH_REMATCH[2]}; fi
  mkdir -p "$TEXTFILE_DIR"
  tmp=$(mktemp "$TEXTFILE_DIR/.ephemery.prom.XXXXXX")
  {
    echo "# HELP ephemery_iteration Ephemery iteration installed on this node."
    echo "# TYPE ephemery_iteration gauge"
    echo "ephemery_iteration{node=\"$NODE\"} $it"
    echo "# HELP ephemery_chain_id Chain id of the installed iteration."
    echo "# TYPE ephemery_chain_id gauge"
    echo "ephemery_chain_id{node=\"$NODE\"} $([ -n "$INSTALLED" ] && chain_id "$INSTALLED" || echo 0)"
    echo "# HELP ephemery_next_reset_timestamp_seconds When the installed iteration ends (the next EL genesis)."
    echo "# TYPE ephemery_next_reset_timestamp_seconds gauge"
    echo "ephemery_next_reset_timestamp_seconds{node=\"$NODE\"} $([ -n "$INSTALLED" ] && el_genesis $((INSTALLED + 1)) || echo 0)"
    echo "# HELP ephemery_release_staged 1 when a newer release is downloaded and verified, waiting for its genesis."
    echo "# TYPE ephemery_release_staged gauge"
    echo "ephemery_release_staged{node=\"$NODE\"} $staged"
    echo "# HELP ephemery_last_reset_timestamp_seconds When the last switch to a new iteration finished."
    echo "# TYPE ephemery_last_reset_timestamp_seconds gauge"
    echo "ephemery_last_reset_timestamp_seconds{node=\"$NODE\"} $ts"
    echo "# HELP ephemery_last_reset_duration_seconds How long the last switch took, from stopping the clients to both checks passing."
    echo "# TYPE ephemery_last_reset_duration_seconds gauge"
    echo "ephemery_last_reset_duration_seconds{node=\"$NODE\"} $dur"
    echo "# HELP ephemery_reset_failures_total Runs of the reset program that failed (release source down, bad archive, failed check)."
    echo "# TYPE ephemery_reset_failures_total counter"
    echo "ephemery_reset_failures_total{node=\"$NODE\"} $(failures)"
  } > "$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$TEXTFILE_DIR/ephemery.prom"
}

on_exit() {
  local rc=$?
  [ -n "$MODE" ] || return 0
  if [ "$rc" -ne 0 ]; then
    write_file "$STATE_DIR/failures" "$(( $(failures) + 1 ))" || true
    log "failed (exit $rc); failures so far: $(failures)"
  fi
  write_metrics || log "could not write metrics to $TEXTFILE_DIR"
}

# --- installed and staged releases ---

installed_iteration() {
  local m link
  m=$(read_file "$MARKER")
  if is_uint "${m:-x}"; then echo "$m"; return; fi
  # No marker (older installs): trust the current link when it names a release.
  link=$(readlink "$TESTNET_DIR/current" 2>/dev/null || true)
  if [[ "$link" =~ ^releases/ephemery-([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}"; fi
}

# The newest verified release above the installed one (only verified releases are ever renamed into releases/).
staged_iteration() {
  local d n best=""
  for d in "$RELEASES_DIR"/ephemery-*; do
    [ -d "$d" ] || continue
    n=${d##*/ephemery-}
    is_uint "$n" || continue
    if [ -z "$INSTALLED" ] || [ "$n" -gt "$INSTALLED" ]; then
      if [ -z "$best" ] || [ "$n" -gt "$best" ]; then best=$n; fi
    fi
  done
  echo "$best"
}

# --- HTTP (curl on Debian hosts, busybox wget elsewhere) ---

http_get() { # url [outfile]
  local max=30
  [ -n "${2:-}" ] && max=900   # an archive may take a while on a slow link
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --connect-timeout 10 --max-time "$max" --retry 2 --retry-delay 2 -o "${2:-/dev/stdout}" "$1"
  else
    wget -q -T 30 -O "${2:--}" "$1"
  fi
}
http_post_json() { # url body
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --connect-timeout 2 --max-time 5 -H 'Content-Type: application/json' --data "$2" "$1"
  else
    wget -q -T 5 -O - --header 'Content-Type: application/json' --post-data "$2" "$1"
  fi
}

latest_tag() {
  local body tag
  if ! body=$(http_get "$RELEASE_LATEST_URL"); then
    log "release source $RELEASE_LATEST_URL did not answer"
    return 1
  fi
  tag=$(printf '%s' "$body" | grep -o '"tag_name"[[:space:]]*:[[:space:]]*"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/' || true)
  if [[ ! "$tag" =~ ^ephemery-[0-9]+$ ]]; then
    log "release source $RELEASE_LATEST_URL answered without a tag_name of the form ephemery-<iteration> (got \"$tag\")"
    return 1
  fi
  echo "$tag"
}

# --- verification of a downloaded archive ---

# Checks every member before anything is unpacked: no absolute paths, no `..`, no links out, only plain files,
# directories and links inside the release.
check_listing() { # archive
  local listing line type rest name target
  # -P lists names exactly as stored (GNU tar would otherwise strip a leading / or ../ before we can see it).
  if ! listing=$(tar -tvzPf "$1" 2>/dev/null); then
    log "archive is not a readable tar.gz"
    return 1
  fi
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    type=${line:0:1}
    # perms owner size date time name [-> target | link to target]
    read -r _ _ _ _ _ name rest <<< "$line"
    case "$type" in
      -|d) [ -z "$rest" ] || { log "archive member \"$name $rest\" has an unexpected name"; return 1; } ;;
      l) target=${rest#-> } ;;
      h) target=${rest#link to } ;;
      *) log "archive member $name is a special file (type $type)"; return 1 ;;
    esac
    if [[ ! "$name" =~ $SAFE_NAME ]] || [[ "/$name/" == */../* ]]; then
      log "archive member \"$name\" is an absolute path, climbs out with .., or has unexpected characters"
      return 1
    fi
    if [ "$type" = l ] || [ "$type" = h ]; then
      if [[ ! "$target" =~ $SAFE_NAME ]] || [[ "/$target/" == */../* ]] || { [ "$type" = l ] && [[ "$target" == */* ]]; }; then
        log "archive member $name links to \"$target\", outside the release"
        return 1
      fi
    fi
  done <<< "$listing"
}

env_value() { # file key: the value of `[export ]KEY="v"` without executing the file
  sed -n "s/^[[:space:]]*\(export[[:space:]]\{1,\}\)\{0,1\}$2=\"\{0,1\}\([^\"]*\)\"\{0,1\}[[:space:]]*\$/\2/p" "$1" | tr -d '\r' | head -n 1
}

# The checker is lib/reset/release.ts as JavaScript (RELEASE_CHECKER_JS): it parses every file as data and
# cross-checks them. It runs under the host's node (>= 18), else in the pinned Node image with no network and
# the release mounted read-only. Prints its KEY=value verdict; returns its exit code (0 accepted, 1 rejected).
run_release_checker() { # dir iteration
  local js="$STATE_DIR/release-check.js" major
  if [ "$(cat "$js" 2>/dev/null || true)" != "$RELEASE_CHECKER_JS" ]; then write_file "$js" "$RELEASE_CHECKER_JS"; fi
  # EPHEMERY_NODE names another node binary (tests force the image path with a missing one).
  major=$("${EPHEMERY_NODE:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
  if is_uint "${major:-x}" && [ "$major" -ge 18 ]; then
    timeout 120 "${EPHEMERY_NODE:-node}" --max-old-space-size=768 "$js" verify "$1" "$2" "$RELEASE_POLICY"
  else
    timeout 300 docker run --rm --network none --read-only --user 65534:65534 --memory 1g \
      -v "$1:/release:ro" -v "$js:/opt/release-check.js:ro" "$RELEASE_CHECK_IMAGE" \
      node --max-old-space-size=768 /opt/release-check.js verify /release "$2" "$RELEASE_POLICY"
  fi
}

verdict_value() { printf '%s\n' "$1" | sed -n "s/^$2=//p" | head -n 1; }

check_release_files() { # dir iteration tag
  local dir=$1 n=$2 tag=$3 out rc=0 mismatch
  out=$(run_release_checker "$dir" "$n") || rc=$?
  if [ "$rc" -ne 0 ] || [ "$(verdict_value "$out" verdict)" != ok ]; then
    log "release check failed for $tag: $(verdict_value "$out" reason)"
    [ -n "$(verdict_value "$out" reason)" ] || log "the release checker exited $rc without a verdict: install Node.js 18 or newer on the host, or let Docker pull $RELEASE_CHECK_IMAGE"
    return 1
  fi
  mismatch=$(verdict_value "$out" schedule_mismatch)
  write_release_metrics "$n" "$mismatch" "$(printf '%s\n' "$out" | sed -n 's/^unsupported_fork=//p')" &&
    write_file "$STATE_DIR/release-policy" "$RELEASE_POLICY"
  if [ -n "$mismatch" ]; then
    log "WARNING: $tag disagrees with the configured schedule ($mismatch); following the release, which is the network's own word (alert EphemeryScheduleMismatch)"
  fi
  printf '%s\n' "$out" | sed -n 's/^unsupported_fork=\([^ ]*\) \([^ ]*\) \([^ ]*\) \([^ ]*\) \([^ ]*\)$/\1 \2 \3 \4 \5/p' | while read -r fork epoch role client version; do
    log "WARNING: $tag activates $fork at epoch $epoch, which $client $version ($role) does not support; upgrade its image before the genesis (alert EphemeryForkUnsupported)"
  done
}

# A new policy (pulumi up with other client images or schedule settings) re-judges the newest release on disk,
# so a fork alert clears once the image is upgraded instead of waiting for the next release.
refresh_release_metrics() {
  local n dir
  [ "$(cat "$STATE_DIR/release-policy" 2>/dev/null || true)" != "$RELEASE_POLICY" ] || return 0
  n=$(staged_iteration); n=${n:-$(installed_iteration)}
  dir="$RELEASES_DIR/$(tag_of "${n:-none}")"
  if [ -n "$n" ] && [ -d "$dir" ] && ! check_release_files "$dir" "$n" "$(tag_of "$n")"; then
    log "ephemery-$n no longer passes the release check with this node's settings; it stays installed, see above"
  fi
  write_file "$STATE_DIR/release-policy" "$RELEASE_POLICY"
}

# Release-specific metrics in a textfile of their own: schedule disagreement and forks the pinned clients lack.
write_release_metrics() { # iteration "mismatch text" "unsupported lines"
  local tmp fork epoch role client version
  mkdir -p "$TEXTFILE_DIR"
  tmp=$(mktemp "$TEXTFILE_DIR/.ephemery-release.prom.XXXXXX")
  {
    echo "# HELP ephemery_release_schedule_mismatch 1 when the newest verified release disagrees with ephemery:network.schedule (period, genesis, delay or chain id)."
    echo "# TYPE ephemery_release_schedule_mismatch gauge"
    echo "ephemery_release_schedule_mismatch{node=\"$NODE\",iteration=\"$1\"} $([ -n "$2" ] && echo 1 || echo 0)"
    echo "# HELP ephemery_release_fork_unsupported 1 per fork the newest verified release activates that a pinned client version does not support."
    echo "# TYPE ephemery_release_fork_unsupported gauge"
    while read -r fork epoch role client version; do
      [ -n "$fork" ] || continue
      echo "ephemery_release_fork_unsupported{node=\"$NODE\",iteration=\"$1\",fork=\"$fork\",epoch=\"$epoch\",role=\"$role\",client=\"$client\",version=\"$version\"} 1"
    done <<< "$3"
  } > "$tmp" || { rm -f "$tmp"; return 1; }
  chmod 0644 "$tmp"
  mv -f "$tmp" "$TEXTFILE_DIR/ephemery-release.prom"
}

# Downloads, verifies and unpacks release N into releases/ephemery-N; never touches the running node.
stage_release() { # iteration
  local n=$1 tag url work root entries
  tag=$(tag_of "$n")
  [ -d "$RELEASES_DIR/$tag" ] && return 0
  url=${RELEASE_ARCHIVE_URL//\{tag\}/$tag}
  mkdir -p "$STAGING_DIR" "$RELEASES_DIR"
  work=$(mktemp -d "$STAGING_DIR/$tag.XXXXXX")
  log "staging $tag from $url"
  if ! http_get "$url" "$work/testnet-all.tar.gz"; then
    log "download of $url failed"; rm -rf "$work"; return 1
  fi
  if ! check_listing "$work/testnet-all.tar.gz"; then
    log "rejected $tag: unsafe or broken archive; nothing was changed"; rm -rf "$work"; return 1
  fi
  mkdir "$work/x"
  if ! tar -xzf "$work/testnet-all.tar.gz" -C "$work/x" --no-same-owner --no-same-permissions 2>/dev/null; then
    log "rejected $tag: the archive does not unpack"; rm -rf "$work"; return 1
  fi
  root="$work/x"
  # testnet-all.tar.gz is flat; accept one wrapping directory too.
  entries=("$root"/*)
  if [ ! -e "$root/config.yaml" ] && [ "${#entries[@]}" -eq 1 ] && [ -d "${entries[0]}" ]; then root=${entries[0]}; fi
  if ! check_release_files "$root" "$n" "$tag"; then
    log "rejected $tag: its files do not agree with each other, the tag or what this node's clients read; nothing was changed"; rm -rf "$work"; return 1
  fi
  if ! chmod -R u=rwX,go=rX "$root" || ! mv -T "$root" "$RELEASES_DIR/$tag"; then
    log "could not move $tag into $RELEASES_DIR"; rm -rf "$work"; return 1
  fi
  rm -rf "$work"
  log "staged $tag: verified (chain id $(chain_id "$n"), EL genesis $(el_genesis "$n"))"
}

# --- containers ---

container_of() { case "$1" in execution) echo "$EL_CONTAINER" ;; consensus) echo "$CL_CONTAINER" ;; validator) echo "$VC_CONTAINER" ;; esac; }
is_running() { [ -n "$1" ] && [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null || true)" = true ]; }
compose() { eval "$COMPOSE \"\$@\""; }

stop_role() {
  local c; c=$(container_of "$1")
  [ -n "$c" ] && docker inspect "$c" >/dev/null 2>&1 || return 0
  log "stopping $1 ($c)"
  if [ "$RUNTIME" = compose ]; then compose stop "$1" >/dev/null 2>&1 || docker stop "$c" >/dev/null; else docker stop "$c" >/dev/null; fi
}
start_role() {
  local c; c=$(container_of "$1")
  log "starting $1 ($c)"
  # --no-deps: start only what ran before the switch; a validator the operator stopped stays stopped.
  if [ "$RUNTIME" = compose ]; then compose up -d --no-deps "$1" >&2; else docker start "$c" >/dev/null; fi
}

# --- wiping chain data, keeping node identity ---

# Deletes everything in dir except the given paths (relative to dir) and the directories leading to them.
wipe_tree() { # dir keep...
  local dir=$1 entry name k keep_it
  shift
  [ -d "$dir" ] || return 0
  local keeps=("$@") sub
  shopt -s nullglob dotglob
  for entry in "$dir"/*; do
    name=${entry##*/}
    keep_it=0; sub=()
    for k in "${keeps[@]}"; do
      if [ "$k" = "$name" ]; then keep_it=1
      elif [ "${k%%/*}" = "$name" ]; then sub+=("${k#*/}")
      fi
    done
    [ "$keep_it" = 1 ] && continue
    if [ "${#sub[@]}" -gt 0 ] && [ -d "$entry" ] && [ ! -L "$entry" ]; then
      wipe_tree "$entry" "${sub[@]}"
    else
      rm -rf -- "$entry"
    fi
  done
  shopt -u nullglob dotglob
}

volume_dir() { docker volume inspect -f '{{.Mountpoint}}' "$1" 2>/dev/null || true; }

wipe_volume() { # role volume "wipe dirs" "keep paths"
  local role=$1 vol=$2 mp w k kept
  [ -n "$vol" ] || return 0
  mp=$(volume_dir "$vol")
  if [ -z "$mp" ]; then log "$role: no volume $vol yet, nothing to wipe"; return 0; fi
  if [ ! -d "$mp" ] || [ ! -w "$mp" ] || [ ! -x "$mp" ]; then
    die "$role: cannot write volume $vol at $mp; run the reset program as root (or with rootless Docker)"
  fi
  for w in $3; do
    kept=()
    for k in $4; do
      if [ "$w" = . ]; then kept+=("$k"); elif [ "${k#"$w"/}" != "$k" ]; then kept+=("${k#"$w"/}"); fi
    done
    wipe_tree "$mp/$w" "${kept[@]}"
  done
  log "$role: wiped [$3] in volume $vol, kept [${4:-nothing}]"
}

# The old chain's slashing-protection database is archived under the old iteration, never deleted.
archive_slashing_protection() { # old-iteration-label
  local label=$1 mp p src dest base s
  [ -n "$VC_VOLUME" ] && [ -n "$VC_SLASHING_PATHS" ] || return 0
  mp=$(volume_dir "$VC_VOLUME")
  [ -n "$mp" ] || return 0
  base="$ARCHIVE_DIR/$label/$VC_CLIENT-slashing-protection"
  for p in $VC_SLASHING_PATHS; do
    for src in "$mp/$p" "$mp/$p-wal" "$mp/$p-shm" "$mp/$p-journal"; do
      [ -e "$src" ] || continue
      s=${src#"$mp"/}
      dest="$base/$s"
      if [ -e "$dest" ] && diff -r "$src" "$dest" >/dev/null 2>&1; then
        rm -rf -- "$src"   # archived by an interrupted run already
        continue
      fi
      [ -e "$dest" ] && dest="$dest.$(date +%s)"
      mkdir -p "$(dirname "$dest")"
      chmod 0700 "$ARCHIVE_DIR" "$ARCHIVE_DIR/$label" 2>/dev/null || true
      cp -a "$src" "$dest.tmp"
      mv -T "$dest.tmp" "$dest"
      rm -rf -- "$src"
      log "archived slashing protection $s to $dest"
    done
  done
}

swap_current() { # tag
  local prev
  prev=$(readlink "$TESTNET_DIR/current" 2>/dev/null || true)
  if [ "$prev" != "releases/$1" ]; then
    if [ -n "$prev" ]; then ln -sfn "$prev" "$TESTNET_DIR/.previous.tmp" && mv -T "$TESTNET_DIR/.previous.tmp" "$TESTNET_DIR/previous"; fi
    ln -sfn "releases/$1" "$TESTNET_DIR/.current.tmp"
    mv -T "$TESTNET_DIR/.current.tmp" "$TESTNET_DIR/current"
  fi
  log "testnet dir now points at releases/$1${prev:+ (previous: $prev)}"
}

# --- the switch, journalled ---

journal_get() { sed -n "s/^$1=//p" "$JOURNAL" 2>/dev/null | head -n 1; }
journal_phase() { # phase
  local t; t=$(grep -v '^PHASE=' "$JOURNAL"); write_file "$JOURNAL" "$t"$'\n'"PHASE=$1"; sync "$JOURNAL" 2>/dev/null || true
  if [ "${EPHEMERY_RESET_PAUSE_AT:-}" = "$1" ]; then log "paused at $1 (EPHEMERY_RESET_PAUSE_AT)"; sleep 600 9>&-; fi
}

check_node() { # iteration "roles started"
  local n=$1 started=$2 want_cid want_cl deadline got_el="" got_cl="" el_ok=1 cl_ok=1 body
  want_cid=$(chain_id "$n"); want_cl=$(cl_genesis "$n")
  [[ " $started " == *" execution "* ]] && el_ok=0
  [[ " $started " == *" consensus "* ]] && cl_ok=0
  deadline=$(( $(date +%s) + ${EPHEMERY_CHECK_TIMEOUT_SEC:-$CHECK_TIMEOUT_SEC} ))
  while :; do
    if [ "$el_ok" = 0 ] && body=$(http_post_json "$EL_RPC_URL" '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' 2>/dev/null); then
      got_el=$(printf '%s' "$body" | grep -o '"result"[[:space:]]*:[[:space:]]*"0x[0-9a-fA-F]*"' | grep -o '0x[0-9a-fA-F]*' || true)
      [ -n "$got_el" ] && got_el=$(( 16#${got_el#0x} ))
      [ "$got_el" = "$want_cid" ] && el_ok=1
    fi
    if [ "$cl_ok" = 0 ] && body=$(http_get "$CL_API_URL/eth/v1/beacon/genesis" 2>/dev/null); then
      got_cl=$(printf '%s' "$body" | grep -o '"genesis_time"[[:space:]]*:[[:space:]]*"[0-9]*"' | grep -o '[0-9]*"$' | tr -d '"' || true)
      [ "$got_cl" = "$want_cl" ] && cl_ok=1
    fi
    if [ "$el_ok" = 1 ] && [ "$cl_ok" = 1 ]; then
      log "check passed: EL eth_chainId = $want_cid, CL genesis_time = $want_cl"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      [ "$el_ok" = 1 ] || log "check failed: EL at $EL_RPC_URL answers chain id \"$got_el\", expected $want_cid"
      [ "$cl_ok" = 1 ] || log "check failed: CL at $CL_API_URL answers genesis_time \"$got_cl\", expected $want_cl"
      return 1
    fi
    sleep 1
  done
}

switch_to() { # iteration
  local n=$1 tag running="" role
  tag=$(tag_of "$n")
  for role in $ROLES; do is_running "$(container_of "$role")" && running="$running $role"; done
  write_file "$JOURNAL" "TARGET=$n"$'\n'"FROM=${INSTALLED:-none}"$'\n'"STARTED=$(date +%s)"$'\n'"RUNNING=${running# }"$'\n'"PHASE=begun"
  log "switching from iteration ${INSTALLED:-none} to $n (running before: ${running:-nothing})"
  finish_switch
}

finish_switch() {
  local n from started running phase tag role e c
  n=$(journal_get TARGET); from=$(journal_get FROM); started=$(journal_get STARTED)
  running=$(journal_get RUNNING); phase=$(journal_get PHASE)
  if ! is_uint "${n:-x}" || ! is_uint "${started:-x}"; then die "journal $JOURNAL is unreadable; move it away to start over"; fi
  tag=$(tag_of "$n")
  [ -d "$RELEASES_DIR/$tag" ] || die "journal names $tag but releases/$tag is missing; move $JOURNAL away to start over"
  if [ "$phase" != begun ]; then log "resuming the switch to $tag from phase $phase"; fi
  case "$phase" in
    begun|stopped)
      for role in validator consensus execution; do stop_role "$role"; done
      journal_phase stopped
      if [ "$from" = none ]; then archive_slashing_protection "unknown-$started"; else archive_slashing_protection "$(tag_of "$from")"; fi
      journal_phase archived ;&
    archived)
      wipe_volume execution "$EL_VOLUME" "$EL_WIPE" "$EL_KEEP"
      journal_phase wiped-execution
      wipe_volume consensus "$CL_VOLUME" "$CL_WIPE" "$CL_KEEP"
      journal_phase wiped ;&
    wiped-execution)
      if [ "$phase" = wiped-execution ]; then
        wipe_volume consensus "$CL_VOLUME" "$CL_WIPE" "$CL_KEEP"
        journal_phase wiped
      fi ;&
    wiped)
      # geth and erigon run `init` themselves at start when their chaindata dir is missing (the wipe removed it),
      # from the genesis.json of the release `current` points at: the same code path as a first start.
      swap_current "$tag"
      write_file "$MARKER" "$n"
      sync "$MARKER" 2>/dev/null || true
      INSTALLED=$n
      journal_phase swapped ;&
    swapped)
      INSTALLED=$n
      for role in execution consensus validator; do
        [[ " $running " == *" $role "* ]] && start_role "$role"
      done
      journal_phase started ;&
    started)
      INSTALLED=$n
      e=$(( $(date +%s) - started ))
      rm -f "$JOURNAL"
      write_file "$STATE_DIR/last-reset" "$NOW $e"
      if [ -n "$running" ]; then
        check_node "$n" "$running" || { c=$?; write_file "$STATE_DIR/last-reset" "$NOW $(( $(date +%s) - started ))"; return "$c"; }
        e=$(( $(date +%s) - started ))
        write_file "$STATE_DIR/last-reset" "$NOW $e"
      fi
      log "switched to $tag in ${e}s" ;;
    *) die "journal $JOURNAL has unknown phase \"$phase\"; move it away to start over" ;;
  esac
}

# --- housekeeping ---

prune_releases() {
  local d n below=() keep=0 i
  for d in "$RELEASES_DIR"/ephemery-*; do
    [ -d "$d" ] || continue
    n=${d##*/ephemery-}
    is_uint "$n" && [ -n "$INSTALLED" ] && [ "$n" -lt "$INSTALLED" ] && below+=("$n")
  done
  [ "${#below[@]}" -gt 0 ] || return 0
  mapfile -t below < <(printf '%s\n' "${below[@]}" | sort -rn)
  for i in "${below[@]}"; do
    keep=$((keep + 1))
    if [ "$keep" -gt "$KEEP_TESTNETS" ]; then
      rm -rf -- "${RELEASES_DIR:?}/ephemery-$i"
      log "removed old release ephemery-$i (keeping $KEEP_TESTNETS previous)"
    fi
  done
}

# Whether to ask the release source now: every run when a switch is due, every POLL_INTERVAL_SEC in the
# pre-stage window, every IDLE_CHECK_INTERVAL_SEC otherwise (GitHub allows 60 anonymous API calls an hour).
should_query() {
  local last since next best
  [ "$MODE" = ensure ] && return 0
  [ -n "$INSTALLED" ] || return 0
  best=${STAGED:-$INSTALLED}
  [ "$best" -lt "$(iteration_at "$NOW")" ] && return 0
  last=$(read_file "$STATE_DIR/last-check"); is_uint "${last:-x}" || last=0
  since=$(( NOW - last )); [ "$since" -lt 0 ] && since=$IDLE_CHECK_INTERVAL_SEC
  next=$(el_genesis $((INSTALLED + 1)))
  if [ -z "$STAGED" ] && [ "$NOW" -ge $(( next - PRESTAGE_WINDOW_SEC )) ]; then
    [ "$since" -ge "$POLL_INTERVAL_SEC" ]; return
  fi
  [ "$since" -ge "$IDLE_CHECK_INTERVAL_SEC" ]
}

# A release is due once its EL genesis has come, or at once when the installed chain is over (catch up)
# or nothing is installed.
is_due() { # iteration
  [ -z "$INSTALLED" ] && return 0
  [ "$NOW" -ge "$(el_genesis "$1")" ] && return 0
  [ "$(iteration_at "$NOW")" -gt "$INSTALLED" ]
}

# Sets QUERY_FAILED when the release source failed or served a bad release; exits on anything worse.
converge() {
  local tag latest="" query_failed=0 target
  if [ -f "$JOURNAL" ]; then finish_switch; fi
  INSTALLED=$(installed_iteration)
  STAGED=$(staged_iteration)
  if should_query; then
    write_file "$STATE_DIR/last-check" "$NOW"
    if tag=$(latest_tag); then
      latest=${tag#ephemery-}
      if [ -n "$INSTALLED" ] && [ "$latest" -lt "$INSTALLED" ]; then
        log "the release source names $tag, older than the installed ephemery-$INSTALLED; ignoring it"
      elif [ "$latest" != "$INSTALLED" ]; then
        stage_release "$latest" || query_failed=1
        STAGED=$(staged_iteration)
      fi
    else
      query_failed=1
    fi
  fi
  target=$STAGED
  if [ -n "$target" ] && is_due "$target"; then
    switch_to "$target"
    STAGED=$(staged_iteration)
  elif [ -z "$INSTALLED" ]; then
    die "no release is installed and none could be fetched from $RELEASE_LATEST_URL; fix the release source (network.release) and run again"
  elif [ -n "$STAGED" ]; then
    [ "$MODE" = run ] && [ "$query_failed" = 0 ] && [ -n "$latest" ] && log "ephemery-$STAGED is staged; switching at its EL genesis $(el_genesis "$STAGED")"
  elif [ "$NOW" -ge "$(el_genesis $((INSTALLED + 1)))" ] && [ "$query_failed" = 0 ]; then
    log "iteration $((INSTALLED + 1)) should have begun but the release source still names ephemery-$INSTALLED; waiting"
  fi
  prune_releases
  QUERY_FAILED=$query_failed
}

status() {
  INSTALLED=$(installed_iteration); STAGED=$(staged_iteration)
  echo "node=$NODE"
  echo "node_dir=$NODE_DIR"
  echo "clients=$EL_CLIENT $CL_CLIENT${VC_CLIENT:+ $VC_CLIENT}"
  echo "installed=${INSTALLED:-none}"
  echo "staged=${STAGED:-none}"
  if [ -n "$INSTALLED" ]; then echo "chain_id=$(chain_id "$INSTALLED")"; echo "next_reset=$(el_genesis $((INSTALLED + 1)))"; fi
  echo "switch_in_progress=$([ -f "$JOURNAL" ] && journal_get PHASE || echo no)"
  echo "failures=$(failures)"
}

main() {
  case "${1:-}" in
    ensure|run) ;;
    status) status; return ;;
    *) echo "usage: ephemery-reset ensure|run|status" >&2; return 2 ;;
  esac
  mkdir -p "$STATE_DIR" "$TESTNET_DIR" "$RELEASES_DIR"
  exec 9>>"$STATE_DIR/reset.lock"
  if [ "$1" = ensure ]; then
    flock -w 900 9 || die "another reset run holds $STATE_DIR/reset.lock"
  elif ! flock -n 9; then
    log "another run holds the lock; leaving it to finish"
    return 0
  fi
  MODE=$1
  NOW=$(clock)
  trap on_exit EXIT
  rm -rf "${STAGING_DIR:?}"/*   # leftovers of interrupted downloads; we hold the lock
  converge
  refresh_release_metrics
  if [ "$MODE" = ensure ]; then
    # An installed release keeps `pulumi up` going when the source is down; cron retries within the minute.
    if [ "$QUERY_FAILED" = 1 ]; then
      write_file "$STATE_DIR/failures" "$(( $(failures) + 1 ))"
      log "could not check for a newer release; keeping ephemery-$INSTALLED"
    fi
    echo "iteration=$INSTALLED"
  elif [ "$QUERY_FAILED" = 1 ]; then
    exit 1
  fi
}

main "$@"
