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

# Values are rendered in at the marker below (lib/reset/values.ts), each single-quoted (lists as bash arrays):
# they are data, never code. shellcheck cannot see them in the source file.
# shellcheck disable=SC2153,SC2016
set -euo pipefail

# @@VALUES@@

readonly RELEASES_DIR="$TESTNET_DIR/releases"
readonly STAGING_DIR="$STATE_DIR/staging"
readonly JOURNAL="$STATE_DIR/switch.journal"
readonly MARKER="$STATE_DIR/iteration"
# Holds the iteration a verified switch still owes a re-deposit run (REDEPOSIT_JS set); removed once it is done.
readonly REDEPOSIT_DUE="$STATE_DIR/redeposit-due"
readonly BACKOFF_FILE="$STATE_DIR/query-backoff"
# Read by every consensus client at start: one provider URL, or empty for genesis sync (chosen here, never at `pulumi up`).
readonly CHECKPOINT_FILE="$TESTNET_DIR/checkpoint-sync-url"
# What a checkpoint URL may look like before it is written where a client reads it.
readonly SAFE_URL=$CHECKPOINT_URL_RE
readonly SAFE_NAME='^(\./)?[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*/?$'
readonly ROLES="execution consensus validator"

MODE=""
NOW=0
INSTALLED=""
STAGED=""
QUERY_FAILED=0
FAILURES=""          # the failure count of this run, kept in memory so the metric is right even when state/ is full
RATE_LIMITED_FOR=""  # seconds the release source asked us to wait (403/429), set by latest_tag
CHECKPOINT_CHOSEN=0  # this run already wrote $CHECKPOINT_FILE

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

# Replaces path with exactly content, or leaves the old file as it was: every step is checked before the mv, so a
# full or read-only disk never leaves an empty file where the failure count, a metric or the journal was.
write_atomic() { # path content
  local tmp
  if ! tmp=$(mktemp "$(dirname "$1")/.${1##*/}.XXXXXX" 2>/dev/null); then
    log "could not create a file next to $1 (disk full or read-only?); kept the old one"
    return 1
  fi
  if printf '%s' "$2" 2>/dev/null > "$tmp" && cmp -s "$tmp" <(printf '%s' "$2") && sync -- "$tmp" 2>/dev/null &&
     chmod 0644 "$tmp" && mv -f "$tmp" "$1"; then
    return 0
  fi
  rm -f -- "$tmp"
  log "could not write $1 (disk full or read-only?); kept the old one"
  return 1
}
write_file() { write_atomic "$1" "$2"$'\n'; }
read_file() { if [ -f "$1" ]; then head -c 4096 "$1" | tr -d '[:space:]'; fi; }

failures() {
  local n
  if [ -n "$FAILURES" ]; then echo "$FAILURES"; return; fi
  n=$(read_file "$STATE_DIR/failures"); is_uint "${n:-x}" && echo "$n" || echo 0
}
count_failure() {
  FAILURES=$(( $(failures) + 1 ))
  write_file "$STATE_DIR/failures" "$FAILURES" || log "the failure is counted in the metric only: $STATE_DIR/failures could not be written"
}

metrics_text() {
  local it="${INSTALLED:-0}" staged=0 last ts=0 dur=0
  [ -n "$STAGED" ] && staged=1
  last=$(head -c 4096 "$STATE_DIR/last-reset" 2>/dev/null || true)
  if [[ "$last" =~ ^([0-9]+)\ ([0-9]+)$ ]]; then ts=${BASH_REMATCH[1]}; dur=${BASH_REMATCH[2]}; fi
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
  }
}
write_metrics() {
  local text
  mkdir -p "$TEXTFILE_DIR" || return 1
  text=$(metrics_text) || return 1
  write_file "$TEXTFILE_DIR/ephemery.prom" "$text"
}

on_exit() {
  local rc=$?
  [ -n "$MODE" ] || return 0
  if [ "$rc" -ne 0 ]; then
    count_failure
    log "failed (exit $rc); failures so far: $(failures)"
  fi
  write_metrics || log "could not write metrics to $TEXTFILE_DIR; the old ones stay"
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

# --- HTTP (curl on Debian hosts, busybox wget elsewhere), every transfer bounded in size and time ---

HTTP_STATUS=000
HTTP_ERROR=""

# GET url into out: at most max_bytes (ulimit -f stops a body without Content-Length too) and max_sec overall.
# Sets HTTP_STATUS (000 when nothing answered) and HTTP_ERROR; succeeds only on a 2xx within both bounds.
http_fetch() { # url out max_bytes max_sec [headers-file]
  local url=$1 out=$2 max=$3 secs=$4 hdr=${5:-/dev/null} rc=0 size
  HTTP_STATUS=000; HTTP_ERROR=""
  if command -v curl >/dev/null 2>&1; then
    HTTP_STATUS=$(ulimit -f $(( max / 1024 + 1 )); timeout -k 5 "$(( secs + 5 ))" curl -sSL --proto =http,https --proto-redir =http,https \
      --max-redirs 5 --connect-timeout 10 --max-time "$secs" --max-filesize "$max" -D "$hdr" -o "$out" -w '%{http_code}' -- "$url" 2>/dev/null) || rc=$?
  else
    (ulimit -f $(( max / 1024 + 1 )); timeout -k 5 "$secs" wget -q -T "$secs" -O "$out" "$url" 2>/dev/null) || rc=$?
    [ "$rc" = 0 ] && HTTP_STATUS=200
  fi
  [[ "$HTTP_STATUS" =~ ^[0-9]{3}$ ]] || HTTP_STATUS=000
  size=$(stat -c %s -- "$out" 2>/dev/null || echo 0)
  if [ "$rc" = 63 ] || [ "$size" -gt "$max" ]; then HTTP_ERROR="the answer is larger than $max bytes"
  elif [ "$rc" = 28 ] || [ "$rc" = 124 ] || [ "$rc" = 137 ]; then HTTP_ERROR="no complete answer within ${secs}s"
  elif [ "$rc" != 0 ]; then HTTP_ERROR="no answer (exit $rc)"
  elif [[ ! "$HTTP_STATUS" =~ ^2 ]]; then HTTP_ERROR="HTTP $HTTP_STATUS"
  else return 0
  fi
  return 1
}

# http_get url outfile: an archive download; http_get url: a small JSON answer on stdout.
http_get() { # url [outfile]
  if [ -n "${2:-}" ]; then
    http_fetch "$1" "$2" "$ARCHIVE_MAX_BYTES" "$ARCHIVE_MAX_TIME_SEC" || { log "download of $1: $HTTP_ERROR"; return 1; }
    return 0
  fi
  probe_get "$1" || return 1
  printf '%s' "$PROBE_BODY"
}
http_post_json() { # url body
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --connect-timeout 2 --max-time 5 --max-filesize "$PROBE_MAX_BYTES" -H 'Content-Type: application/json' --data "$2" -- "$1" | head -c "$PROBE_MAX_BYTES"
  else
    timeout 5 wget -q -T 5 -O - --header 'Content-Type: application/json' --post-data "$2" "$1" | head -c "$PROBE_MAX_BYTES"
  fi
}

# The one value of a JSON string field matching value_re; fails when the key is absent, repeated or malformed.
json_field() { # body key value_re
  local hits
  hits=$(printf '%s' "$1" | grep -oE "\"$2\"[[:space:]]*:[[:space:]]*\"[^\"]{0,100}\"" | head -n 3 || true)
  [ -n "$hits" ] && [ "$(printf '%s\n' "$hits" | wc -l)" = 1 ] || return 1
  hits=${hits#*:}; hits=${hits#"${hits%%[![:space:]]*}"}; hits=${hits#\"}; hits=${hits%\"}
  [[ "$hits" =~ ^($3)$ ]] || return 1
  printf '%s' "$hits"
}

# A header's value from a curl -D file (the last response's, after redirects), digits only.
header_uint() { # file name
  local v
  v=$(tr -d '\r' < "$1" | grep -i "^$2:" | tail -n 1 | sed 's/^[^:]*:[[:space:]]*//' || true)
  [[ "$v" =~ ^[0-9]{1,12}$ ]] && echo "$((10#$v))"
}

# Sets LATEST_TAG (and RATE_LIMITED_FOR on a 403/429); run it in this shell, not in $(...).
LATEST_TAG=""
latest_tag() {
  local body hdr tag wait_sec reset rc=0
  RATE_LIMITED_FOR=""; LATEST_TAG=""
  body=$(mktemp "$STATE_DIR/.latest.XXXXXX") && hdr=$(mktemp "$STATE_DIR/.latest-headers.XXXXXX") || return 1
  http_fetch "$RELEASE_LATEST_URL" "$body" "$API_MAX_BYTES" "$API_MAX_TIME_SEC" "$hdr" || rc=1
  if [ "$rc" = 1 ]; then
    if [ "$HTTP_STATUS" = 403 ] || [ "$HTTP_STATUS" = 429 ]; then
      wait_sec=$(header_uint "$hdr" retry-after || true)
      if [ -z "$wait_sec" ]; then
        reset=$(header_uint "$hdr" x-ratelimit-reset || true)
        if [ -n "$reset" ] && [ "$reset" -gt "$NOW" ]; then wait_sec=$(( reset - NOW )); fi
      fi
      wait_sec=${wait_sec:-$RATE_LIMIT_WAIT_SEC}
      [ "$wait_sec" -le "$RATE_LIMIT_MAX_WAIT_SEC" ] || wait_sec=$RATE_LIMIT_MAX_WAIT_SEC
      RATE_LIMITED_FOR=$wait_sec
      log "release source $RELEASE_LATEST_URL is rate limiting us (HTTP $HTTP_STATUS); not asking again for ${wait_sec}s"
    else
      log "release source $RELEASE_LATEST_URL did not answer properly: $HTTP_ERROR"
    fi
    rm -f -- "$body" "$hdr"
    return 1
  fi
  tag=$(json_field "$(cat -- "$body")" tag_name '[A-Za-z0-9._-]+' || true)
  rm -f -- "$body" "$hdr"
  if [[ ! "$tag" =~ ^ephemery-[0-9]{1,9}$ ]]; then
    log "release source $RELEASE_LATEST_URL answered without one tag_name of the form ephemery-<iteration> (got \"$tag\")"
    return 1
  fi
  LATEST_TAG=$tag
}

# Back-off of the release query, in $BACKOFF_FILE as "<not before> <failed or unchanged answers in a row>".
backoff_get() { # field (1 not-before, 2 streak)
  local v; v=$(head -c 100 "$BACKOFF_FILE" 2>/dev/null | tr -s '[:space:]' ' ' || true)
  if [[ "$v" =~ ^([0-9]{1,12})\ ([0-9]{1,4})\ ?$ ]]; then echo "${BASH_REMATCH[$1]}"; else echo 0; fi
}
backoff_clear() { if [ -f "$BACKOFF_FILE" ]; then rm -f -- "$BACKOFF_FILE"; fi; }
backoff_more() { # [at-least-seconds]
  local streak delay i
  streak=$(( $(backoff_get 2) + 1 ))
  delay=$OVERDUE_RETRY_MIN_SEC
  for (( i = 1; i < streak && delay < OVERDUE_RETRY_MAX_SEC; i++ )); do delay=$(( delay * 2 )); done
  [ "$delay" -gt "$OVERDUE_RETRY_MAX_SEC" ] && delay=$OVERDUE_RETRY_MAX_SEC
  [ -n "${1:-}" ] && [ "$1" -gt "$delay" ] && delay=$1
  write_file "$BACKOFF_FILE" "$(( NOW + delay )) $streak" || true
  log "next query of the release source not before $(( NOW + delay )) (in ${delay}s)"
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

# --- the Kubernetes runtime: the node is one StatefulSet pod (K8S_POD); the reset runs in a CronJob pod ---
#
# "stop the clients" is scaling the StatefulSet to 0 and waiting until its pod is gone, "start" scaling it to 1.
# The API is reached with curl and the pod's own service-account token, read from its file into a 0600 header
# file (never argv or env); every answer is bounded like any other probe.

# @@INCLUDE kube-api.sh@@
# One scalar of a JSON answer (a dotted path), read by node as data; nothing when absent.
json_path() { # file path
  "${EPHEMERY_NODE:-node}" -e 'let v; try { v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch { process.exit(1); }
for (const k of process.argv[2].split(".")) v = v == null ? undefined : v[k];
if (v !== undefined && v !== null && typeof v !== "object") process.stdout.write(String(v));' "$1" "$2"
}
K8S_OUT=""
k8s_get() { # path: the answer's body into K8S_OUT (a file); fails unless 200 or 404
  K8S_OUT=$(mktemp "$STATE_DIR/.kube.XXXXXX") || return 1
  kube_api GET "$1" "$K8S_OUT" && { [ "$K8S_STATUS" = 200 ] || [ "$K8S_STATUS" = 404 ]; }
}
k8s_sts_path() { echo "/apis/apps/v1/namespaces/$K8S_NAMESPACE/statefulsets/$K8S_STATEFULSET/scale"; }
k8s_replicas() {
  local r=""
  # A Scale of 0 replicas has no spec.replicas at all (omitempty).
  if k8s_get "$(k8s_sts_path)" && [ "$K8S_STATUS" = 200 ] && r=$(json_path "$K8S_OUT" spec.replicas); then r=${r:-0}; fi
  rm -f -- "$K8S_OUT"
  is_uint "${r:-x}" || die "cannot read the scale of statefulset $K8S_NAMESPACE/$K8S_STATEFULSET (HTTP $K8S_STATUS); check the reset's Role and that the node is deployed"
  echo "$r"
}
k8s_scale() { # replicas
  local out; out=$(mktemp "$STATE_DIR/.kube.XXXXXX")
  if ! kube_api PATCH "$(k8s_sts_path)" "$out" "{\"spec\":{\"replicas\":$1}}" || [ "$K8S_STATUS" != 200 ]; then
    rm -f -- "$out"
    die "could not scale statefulset $K8S_NAMESPACE/$K8S_STATEFULSET to $1 (HTTP $K8S_STATUS); check the reset's Role"
  fi
  rm -f -- "$out"
}
K8S_POD_IP=""
K8S_POD_STATE=""
k8s_pod_state() { # sets K8S_POD_STATE (gone | running | other) and, for a running pod, K8S_POD_IP; run it in this shell
  local phase="" deleting="" state
  K8S_POD_IP=""; K8S_POD_STATE=other
  k8s_get "/api/v1/namespaces/$K8S_NAMESPACE/pods/$K8S_POD" || { rm -f -- "$K8S_OUT"; return 0; }
  if [ "$K8S_STATUS" = 404 ]; then state=gone
  else
    phase=$(json_path "$K8S_OUT" status.phase || true); deleting=$(json_path "$K8S_OUT" metadata.deletionTimestamp || true)
    K8S_POD_IP=$(json_path "$K8S_OUT" status.podIP || true)
    [[ "$K8S_POD_IP" =~ ^[0-9a-fA-F.:]{2,45}$ ]] || K8S_POD_IP=""
    if [ "$phase" = Running ] && [ -z "$deleting" ] && [ -n "$K8S_POD_IP" ]; then state=running; else state=other; fi
  fi
  rm -f -- "$K8S_OUT"
  K8S_POD_STATE=$state
}
# A client URL rendered as http://{pod}:<port>: the node pod's address now (clients listen on the pod's address).
client_url() { # url
  local ip
  if [ "$RUNTIME" != kubernetes ]; then printf '%s' "$1"; return; fi
  k8s_pod_state
  [ "$K8S_POD_STATE" = running ] || return 1
  ip=$K8S_POD_IP; [[ "$ip" == *:* ]] && ip="[$ip]"
  printf '%s' "${1//\{pod\}/$ip}"
}

# --- containers ---

container_of() { case "$1" in execution) echo "$EL_CONTAINER" ;; consensus) echo "$CL_CONTAINER" ;; validator) echo "$VC_CONTAINER" ;; esac; }
is_running() {
  [ -n "$1" ] || return 1
  # The pod's containers run together: a role is "running" while the operator's StatefulSet wants its pod.
  if [ "$RUNTIME" = kubernetes ]; then local r; r=$(k8s_replicas) || exit 1; [ "$r" -ge 1 ]; return; fi
  [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null || true)" = true ]
}
# COMPOSE_ARGS selects the node's project (-p node -f file): passed as argv, never evaluated.
compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "${COMPOSE_ARGS[@]}" "$@"; else docker-compose "${COMPOSE_ARGS[@]}" "$@"; fi
}

# Whether a role's client is up now (adoption asks it): on Kubernetes, the pod past its init container.
is_up() {
  if [ "$RUNTIME" != kubernetes ]; then is_running "$1"; return; fi
  [ -n "$1" ] || return 1
  k8s_pod_state
  [ "$K8S_POD_STATE" = running ]
}

stop_role() {
  local c deadline r; c=$(container_of "$1")
  if [ "$RUNTIME" = kubernetes ]; then
    # One pod holds every role: the first call stops it, the others find it gone.
    [ -n "$c" ] || return 0
    r=$(k8s_replicas) || exit 1
    if [ "$r" != 0 ]; then log "stopping the node's pod (statefulset $K8S_STATEFULSET to 0 replicas)"; k8s_scale 0; fi
    deadline=$(( $(date +%s) + K8S_STOP_TIMEOUT_SEC ))
    while k8s_pod_state; [ "$K8S_POD_STATE" != gone ]; do
      [ "$(date +%s)" -lt "$deadline" ] || die "pod $K8S_NAMESPACE/$K8S_POD is still there ${K8S_STOP_TIMEOUT_SEC}s after scaling to 0; nothing was wiped, the next run tries again"
      sleep 2
    done
    return 0
  fi
  [ -n "$c" ] && docker inspect "$c" >/dev/null 2>&1 || return 0
  log "stopping $1 ($c)"
  if [ "$RUNTIME" = compose ]; then compose stop "$1" >/dev/null 2>&1 || docker stop "$c" >/dev/null; else docker stop "$c" >/dev/null; fi
}
start_role() {
  local c r; c=$(container_of "$1")
  if [ "$RUNTIME" = kubernetes ]; then
    r=$(k8s_replicas) || exit 1
    if [ "$r" = 0 ]; then log "starting the node's pod (statefulset $K8S_STATEFULSET to 1 replica)"; k8s_scale 1; fi
    return 0
  fi
  log "starting $1 ($c)"
  # --no-deps: start only what ran before the switch; a validator the operator stopped stays stopped.
  if [ "$RUNTIME" = compose ]; then compose up -d --no-deps "$1" >&2; else docker start "$c" >/dev/null; fi
}

# --- wiping chain data, keeping node identity ---
#
# The volumes belong to containers that run as root and can write anything into them, links included. Nothing
# here follows a link: a volume's own path is resolved and must be Docker's, every directory the wipe walks into
# must be a real directory, and entries are removed with rm, which removes a link itself, never what it names.

VOLUME_ROOT=""
docker_volume_root() {
  local root
  if [ -z "$VOLUME_ROOT" ]; then
    root=$(docker info -f '{{.DockerRootDir}}' 2>/dev/null || true)
    [ -n "$root" ] && VOLUME_ROOT=$(realpath -e -- "$root/volumes" 2>/dev/null || true)
  fi
  echo "$VOLUME_ROOT"
}

# The volume's mountpoint when it is the real directory Docker keeps for it, nothing (exit 0) when the volume does
# not exist, and a logged refusal (exit 1) when the mountpoint is anything else.
volume_dir() { # volume
  local mp root real
  if [ "$RUNTIME" = kubernetes ]; then
    # The volume is the claim mounted at its path in the reset pod: a real directory, reached through no link.
    [ -e "$1" ] || [ -L "$1" ] || return 0
    real=$(realpath -e -- "$1" 2>/dev/null || true)
    if [ -L "$1" ] || [ ! -d "$1" ] || [ "$real" != "$1" ]; then
      log "REFUSED: volume $1 resolves to \"${real:-nothing}\", not to the claim mounted there; not touching it"
      return 1
    fi
    echo "$1"; return 0
  fi
  mp=$(docker volume inspect -f '{{.Mountpoint}}' -- "$1" 2>/dev/null || true)
  [ -n "$mp" ] || return 0
  root=$(docker_volume_root)
  real=$(realpath -e -- "$mp" 2>/dev/null || true)
  if [ -z "$root" ] || [ "$real" != "$root/$1/_data" ] || [ "$mp" != "$real" ] || [ -L "$mp" ] || [ ! -d "$mp" ]; then
    log "REFUSED: volume $1 is at \"$mp\" (resolves to \"${real:-nothing}\"), not at Docker's own $root/$1/_data; not touching it"
    return 1
  fi
  echo "$mp"
}

# Fails when rel (under mp) passes through a link or something that is not a directory.
check_real_path() { # mp rel
  local p=$1 part parts
  IFS=/ read -ra parts <<< "$2"
  for part in "${parts[@]}"; do
    [ -z "$part" ] || [ "$part" = . ] && continue
    p="$p/$part"
    if [ -L "$p" ]; then log "REFUSED: $p is a link (to \"$(readlink -- "$p")\"), where the client keeps a directory"; return 1; fi
    if [ -e "$p" ] && [ ! -d "$p" ]; then log "REFUSED: $p is not a directory"; return 1; fi
  done
}

# walk_tree wipe dir keep...: deletes everything in dir except the given paths (relative to dir) and the
# directories leading to them. walk_tree probe dir keep...: succeeds when the wipe would delete something.
walk_tree() { # action dir keep...
  local action=$1 dir=$2 entry name k keep_it sub found=1
  shift 2
  if [ -L "$dir" ]; then log "REFUSED: $dir is a link (to \"$(readlink -- "$dir")\"), not following it"; return 2; fi
  [ -d "$dir" ] || return 1
  local keeps=("$@")
  for entry in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry##*/}
    keep_it=0; sub=()
    for k in "${keeps[@]}"; do
      if [ "$k" = "$name" ]; then keep_it=1
      elif [ "${k%%/*}" = "$name" ]; then sub+=("${k#*/}")
      fi
    done
    [ "$keep_it" = 1 ] && continue
    if [ "${#sub[@]}" -gt 0 ] && [ -d "$entry" ] && [ ! -L "$entry" ]; then
      walk_tree "$action" "$entry" "${sub[@]}" && found=0
    elif [ "$action" = probe ]; then
      return 0
    else
      rm -rf --one-file-system -- "$entry"
    fi
  done
  [ "$action" = probe ] && return "$found"
  return 0
}

# The keep paths of one wipe dir, relative to it.
keeps_under() { # wipe-dir "keep paths"
  local k
  for k in $2; do
    if [ "$1" = . ]; then echo "$k"; elif [ "${k#"$1"/}" != "$k" ]; then echo "${k#"$1"/}"; fi
  done
}

# Refuses (exit 1) unless the volume and each of its wipe dirs are what they should be; prints the mountpoint.
checked_volume() { # role volume "wipe dirs"
  local mp w
  mp=$(volume_dir "$2") || return 1
  [ -n "$mp" ] || return 0
  for w in $3; do check_real_path "$mp" "$w" || return 1; done
  echo "$mp"
}

# Whether a client's volume holds chain data (anything its reset would wipe); refusals count as data.
has_chain_data() { # volume "wipe dirs" "keep paths"
  local mp w kept rc
  [ -n "$1" ] || return 1
  mp=$(checked_volume "" "$1" "$2" 2>/dev/null) || return 0
  [ -n "$mp" ] || return 1
  for w in $2; do
    mapfile -t kept < <(keeps_under "$w" "$3")
    rc=0; walk_tree probe "$mp/$w" "${kept[@]}" || rc=$?
    [ "$rc" = 1 ] || return 0
  done
  return 1
}

wipe_volume() { # role volume "wipe dirs" "keep paths"
  local role=$1 vol=$2 mp w kept
  [ -n "$vol" ] || return 0
  if ! mp=$(checked_volume "$role" "$vol" "$3"); then
    die "$role: refusing to wipe volume $vol: it is not the plain directory tree Docker made (see above). Inspect it (docker run --rm -v $vol:/v busybox ls -la /v), remove the link, then run ephemery-reset run again"
  fi
  if [ -z "$mp" ]; then log "$role: no volume $vol yet, nothing to wipe"; return 0; fi
  if [ ! -w "$mp" ] || [ ! -x "$mp" ]; then
    die "$role: cannot write volume $vol at $mp; run the reset program as root (or with rootless Docker)"
  fi
  for w in $3; do
    mapfile -t kept < <(keeps_under "$w" "$4")
    walk_tree wipe "$mp/$w" "${kept[@]}" || [ $? = 1 ] || die "$role: refusing to wipe $mp/$w (see above); nothing else of it was removed"
  done
  log "$role: wiped [$3] in volume $vol, kept [${4:-nothing}]"
}

# Before anything stops: every volume a switch will touch must be sound, or the node keeps running as it is.
precheck_volumes() {
  if ! checked_volume execution "$EL_VOLUME" "$EL_WIPE" >/dev/null || ! checked_volume consensus "$CL_VOLUME" "$CL_WIPE" >/dev/null ||
     { [ -n "$VC_VOLUME" ] && ! checked_slashing_volume >/dev/null; }; then
    die "refusing to switch: a client volume is not the plain directory tree Docker made (see above); the node keeps running on iteration ${INSTALLED:-unknown}. Remove the link, then run ephemery-reset run again"
  fi
}

# The validator volume's mountpoint when it and every slashing-protection path in it are real files and dirs.
checked_slashing_volume() {
  local mp p src
  mp=$(volume_dir "$VC_VOLUME") || return 1
  [ -n "$mp" ] || return 0
  for p in $VC_SLASHING_PATHS; do
    check_real_path "$mp" "$(dirname -- "$p")" || return 1
    for src in "$mp/$p" "$mp/$p-wal" "$mp/$p-shm" "$mp/$p-journal"; do
      if [ -L "$src" ]; then log "REFUSED: $src is a link (to \"$(readlink -- "$src")\"), where the validator keeps its slashing protection"; return 1; fi
    done
  done
  echo "$mp"
}

# The old chain's slashing-protection database is archived under the old iteration, never deleted.
archive_slashing_protection() { # old-iteration-label
  local label=$1 mp p src dest base s
  [ -n "$VC_VOLUME" ] && [ -n "$VC_SLASHING_PATHS" ] || return 0
  mp=$(checked_slashing_volume) || die "validator: refusing to archive slashing protection from volume $VC_VOLUME (see above); nothing was moved. Remove the link, then run ephemery-reset run again"
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

# --- what the clients answer (values matched with strict patterns, never evaluated) ---

el_chain_id() {
  local body v url
  url=$(client_url "$EL_RPC_URL") || return 1
  body=$(http_post_json "$url" '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' 2>/dev/null) || return 1
  v=$(json_field "$body" result '0x[0-9a-fA-F]{1,12}') || return 1
  echo $(( 16#${v#0x} ))
}

PROBE_BODY=""
probe_get() { # url: a beacon API answer into PROBE_BODY, bounded like every probe
  local tmp rc=0
  PROBE_BODY=""
  tmp=$(mktemp "$STATE_DIR/.probe.XXXXXX") || return 1
  if http_fetch "$1" "$tmp" "$PROBE_MAX_BYTES" "$PROBE_MAX_TIME_SEC"; then PROBE_BODY=$(cat -- "$tmp"); else rc=1; fi
  rm -f -- "$tmp"
  return "$rc"
}

GENESIS_TIME_ANSWER=""
GENESIS_ROOT_ANSWER=""
beacon_genesis() { # beacon-api-url: sets GENESIS_TIME_ANSWER and GENESIS_ROOT_ANSWER (lower case) from /eth/v1/beacon/genesis
  GENESIS_TIME_ANSWER=""; GENESIS_ROOT_ANSWER=""
  probe_get "$1/eth/v1/beacon/genesis" || return 1
  GENESIS_TIME_ANSWER=$(json_field "$PROBE_BODY" genesis_time '[0-9]{1,12}' || true)
  GENESIS_ROOT_ANSWER=$(json_field "$PROBE_BODY" genesis_validators_root '0x[0-9a-fA-F]{64}' || true)
  GENESIS_ROOT_ANSWER=${GENESIS_ROOT_ANSWER,,}
  [ -n "$GENESIS_TIME_ANSWER" ]
}

# The finalized epoch a beacon API reports for its head state.
finalized_epoch() { # beacon-api-url
  local obj
  probe_get "$1/eth/v1/beacon/states/head/finality_checkpoints" || return 1
  obj=$(printf '%s' "$PROBE_BODY" | grep -oE '"finalized"[[:space:]]*:[[:space:]]*\{[^{}]{0,300}\}' | head -n 2 || true)
  [ -n "$obj" ] && [ "$(printf '%s\n' "$obj" | wc -l)" = 1 ] || return 1
  json_field "$obj" epoch '[0-9]{1,18}'
}

# The release's genesis_validators_root.txt, lower case, when it is one 32-byte hex value.
release_root() { # release dir
  local r
  r=$(head -c 200 "$1/genesis_validators_root.txt" 2>/dev/null | tr -d '[:space:]' || true)
  r=${r,,}
  [[ "$r" =~ ^0x[0-9a-f]{64}$ ]] && echo "$r"
}

# --- checkpoint sync: where a consensus client with an empty database starts ---

set_checkpoint() { # url-or-empty reason
  local content=""
  [ -n "$1" ] && content="$1"$'\n'
  write_atomic "$CHECKPOINT_FILE" "$content" || die "could not write $CHECKPOINT_FILE, which the consensus client reads at start; free space in $TESTNET_DIR and run again"
  CHECKPOINT_CHOSEN=1
  log "checkpoint sync: ${1:-none, the consensus client starts from genesis.ssz} ($2)"
}

# The first provider that serves this iteration's chain (genesis time and validators root of the installed
# release) and has finality; else genesis sync.
choose_checkpoint() {
  local want_time want_root url epoch
  write_file "$STATE_DIR/checkpoint-checked" "$NOW" || true
  want_time=$(env_value "$TESTNET_DIR/current/nodevars_env.txt" GENESIS_TIME)
  want_root=$(release_root "$TESTNET_DIR/current" || true)
  if [[ ! "$want_time" =~ ^[0-9]{1,12}$ ]] || [ -z "$want_root" ]; then
    set_checkpoint "" "the installed release has no GENESIS_TIME or genesis_validators_root.txt to check providers against"
    return
  fi
  for url in $CHECKPOINT_URLS; do
    while [ "${url%/}" != "$url" ]; do url=${url%/}; done
    if [[ ! "$url" =~ $SAFE_URL ]]; then
      log "checkpoint provider \"$url\" skipped: only http(s)://host[:port][/path] of letters, digits and . _ / - is used"
      continue
    fi
    if ! beacon_genesis "$url"; then log "checkpoint provider $url skipped: /eth/v1/beacon/genesis: ${HTTP_ERROR:-no single well-formed genesis_time in the answer}"; continue; fi
    if [ "$GENESIS_TIME_ANSWER" != "$want_time" ] || [ "$GENESIS_ROOT_ANSWER" != "$want_root" ]; then
      log "checkpoint provider $url skipped: it serves genesis_time \"$GENESIS_TIME_ANSWER\", genesis_validators_root \"$GENESIS_ROOT_ANSWER\"; this iteration's are $want_time, $want_root"
      continue
    fi
    if ! epoch=$(finalized_epoch "$url"); then log "checkpoint provider $url skipped: no finalized epoch in /eth/v1/beacon/states/head/finality_checkpoints"; continue; fi
    if [ "$(( 10#$epoch ))" -le 0 ]; then log "checkpoint provider $url skipped: nothing finalized yet (epoch 0)"; continue; fi
    set_checkpoint "$url" "it serves this iteration's chain, finalized epoch $epoch"
    return
  done
  set_checkpoint "" "no provider serves this iteration's chain with finality"
}

# A node whose consensus volume is empty joins mid-iteration: look for a provider (again every few minutes).
maybe_choose_checkpoint() {
  local last
  [ "$CHECKPOINT_CHOSEN" = 0 ] && [ -n "$INSTALLED" ] && [ ! -f "$JOURNAL" ] || return 0
  if has_chain_data "$CL_VOLUME" "$CL_WIPE" "$CL_KEEP"; then
    [ -f "$CHECKPOINT_FILE" ] || set_checkpoint "" "the consensus client has its own chain data"
    return 0
  fi
  last=$(read_file "$STATE_DIR/checkpoint-checked"); is_uint "${last:-x}" || last=0
  if [ "$MODE" = ensure ] || [ ! -f "$CHECKPOINT_FILE" ] || [ $(( NOW - last )) -ge "$CHECKPOINT_RECHECK_SEC" ] || [ "$NOW" -lt "$last" ]; then
    choose_checkpoint
  fi
}

# --- a node without a marker: decide from what its running clients answer, never guess ---

refuse_adoption() { # evidence why
  die "there is no $MARKER, and $2 ($1). Refusing to guess which chain this node's data belongs to: nothing was stopped, archived or wiped. If the node is on iteration N, write it with: echo N > $MARKER; to start it fresh, stop its clients and remove their volumes; then run ephemery-reset again"
}

has_validator_data() {
  local mp
  [ -n "$VC_VOLUME" ] || return 1
  mp=$(volume_dir "$VC_VOLUME" 2>/dev/null) || return 0
  [ -n "$mp" ] && [ -n "$(ls -A -- "$mp")" ]
}

# Marks the node as on iteration n without touching its data, once the CL's genesis_validators_root is the release's.
adopt() { # iteration evidence
  local n=$1 tag want_root
  tag=$(tag_of "$n")
  want_root=$(release_root "$RELEASES_DIR/$tag" || true)
  [ -n "$want_root" ] || refuse_adoption "$2" "release $tag has no genesis_validators_root.txt to check the consensus client's answer against"
  [ "$GENESIS_ROOT_ANSWER" = "$want_root" ] || refuse_adoption "$2" "the consensus client's genesis_validators_root is not release $tag's ($want_root)"
  swap_current "$tag"
  write_file "$MARKER" "$n"
  INSTALLED=$n
  log "adopted: the running clients are on iteration $n ($2); wrote $MARKER, wiped nothing, slashing protection untouched"
}

adopt_or_install() { # the newest staged iteration
  local n=$1 el_up=0 cl_up=0 cid="" k evidence
  is_up "$EL_CONTAINER" && el_up=1
  is_up "$CL_CONTAINER" && cl_up=1
  if [ "$el_up" = 0 ] && [ "$cl_up" = 0 ] && ! has_chain_data "$EL_VOLUME" "$EL_WIPE" "$EL_KEEP" &&
     ! has_chain_data "$CL_VOLUME" "$CL_WIPE" "$CL_KEEP" && ! has_validator_data; then
    switch_to "$n"   # a new node: nothing to keep
    return
  fi
  [ "$el_up" = 1 ] && cid=$(el_chain_id || true)
  GENESIS_TIME_ANSWER=""; GENESIS_ROOT_ANSWER=""
  [ "$cl_up" = 1 ] && { beacon_genesis "$(client_url "$CL_API_URL" || true)" || true; }
  evidence="EL eth_chainId ${cid:-no answer}, CL genesis_time ${GENESIS_TIME_ANSWER:-no answer}, genesis_validators_root ${GENESIS_ROOT_ANSWER:-no answer}"
  if [ -z "$cid" ] || [ -z "$GENESIS_TIME_ANSWER" ]; then
    refuse_adoption "$evidence" "the node has client data but its execution and consensus clients are not both running and answering"
  fi
  k=$(( cid - CHAIN_ID_BASE ))
  if [ "$k" -lt 0 ] || [ "$k" -gt "$n" ] || [ "$GENESIS_TIME_ANSWER" != "$(cl_genesis "$k")" ]; then
    refuse_adoption "$evidence" "its clients do not agree on one Ephemery iteration at or below the latest release ($n)"
  fi
  if [ "$k" = "$n" ]; then
    adopt "$n" "$evidence"
  elif [ "$NOW" -ge "$(el_genesis "$n")" ]; then
    log "no $MARKER; the running clients are on iteration $k ($evidence), which is over: switching to $n"
    INSTALLED=$k
    switch_to "$n"
  else
    stage_release "$k" || refuse_adoption "$evidence" "release $(tag_of "$k"), which the clients are on, could not be staged to check them against"
    adopt "$k" "$evidence"
  fi
}

check_node() { # iteration "roles started"
  local n=$1 started=$2 want_cid want_cl deadline got_el="" got_cl="" el_ok=1 cl_ok=1
  want_cid=$(chain_id "$n"); want_cl=$(cl_genesis "$n")
  [[ " $started " == *" execution "* ]] && el_ok=0
  [[ " $started " == *" consensus "* ]] && cl_ok=0
  deadline=$(( $(date +%s) + ${EPHEMERY_CHECK_TIMEOUT_SEC:-$CHECK_TIMEOUT_SEC} ))
  while :; do
    if [ "$el_ok" = 0 ] && got_el=$(el_chain_id); then
      [ "$got_el" = "$want_cid" ] && el_ok=1
    fi
    if [ "$cl_ok" = 0 ] && beacon_genesis "$(client_url "$CL_API_URL" || true)"; then
      got_cl=$GENESIS_TIME_ANSWER
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
  precheck_volumes
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
      # A reset starts the new chain from its genesis.ssz (every provider still serves the old one); a first
      # install joins a chain that may be weeks old, so a provider proven to serve it is worth using.
      if [ "$from" = none ]; then choose_checkpoint; else set_checkpoint "" "iteration $n starts from its genesis state"; fi
      write_file "$MARKER" "$n"
      sync "$MARKER" 2>/dev/null || true
      INSTALLED=$n
      journal_phase swapped ;&
    swapped)
      INSTALLED=$n
      # A reset (not a first install) owes this host's non-genesis validators a deposit on the new chain.
      if [ -n "$REDEPOSIT_JS" ] && [ "$from" != none ]; then write_file "$REDEPOSIT_DUE" "$n"; fi
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

# --- re-deposit after a reset ---

# The program is lib/keys/redeposit.ts bundled (REDEPOSIT_JS, written by `pulumi up`). Like the release checker it
# runs under the host's node (>= 20), else in the pinned Node image, with only the paths it needs mounted. Its
# per-iteration record makes a second run safe; the funding key stays in its 0600 file (never argv).
run_redeposit() { # iteration
  local major
  major=$("${EPHEMERY_NODE:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true)
  if is_uint "${major:-x}" && [ "$major" -ge 20 ]; then
    timeout "$REDEPOSIT_TIMEOUT_SEC" "${EPHEMERY_NODE:-node}" --max-old-space-size=1024 "$REDEPOSIT_JS" run "$1" "$REDEPOSIT_SETTINGS"
  else
    # Directories, not the key file: a bind mount of a missing file would make a directory in its place.
    mkdir -p "$REDEPOSIT_RECORD_DIR" "$TEXTFILE_DIR"
    install -d -m 0700 "${REDEPOSIT_FUNDING_KEY%/*}"
    timeout "$REDEPOSIT_TIMEOUT_SEC" docker run --rm --network host --read-only --memory 1g \
      -v "$REDEPOSIT_JS:$REDEPOSIT_JS:ro" -v "$REDEPOSIT_KEYS_DIR:$REDEPOSIT_KEYS_DIR:ro" -v "$TESTNET_DIR:$TESTNET_DIR:ro" \
      -v "${REDEPOSIT_FUNDING_KEY%/*}:${REDEPOSIT_FUNDING_KEY%/*}:ro" -v "$REDEPOSIT_RECORD_DIR:$REDEPOSIT_RECORD_DIR" -v "$TEXTFILE_DIR:$TEXTFILE_DIR" \
      "$RELEASE_CHECK_IMAGE" node --max-old-space-size=1024 "$REDEPOSIT_JS" run "$1" "$REDEPOSIT_SETTINGS"
  fi
}

# Runs while a verified switch owes it (every cron run retries), and only against an EL on the installed chain.
maybe_redeposit() {
  local due got rc=0
  [ -n "$REDEPOSIT_JS" ] && [ -n "$INSTALLED" ] && [ ! -f "$JOURNAL" ] || return 0
  due=$(read_file "$REDEPOSIT_DUE")
  [ -n "$due" ] || return 0
  if [ "$due" != "$INSTALLED" ]; then rm -f "$REDEPOSIT_DUE"; return 0; fi
  got=$(el_chain_id || true)
  if [ "$got" != "$(chain_id "$INSTALLED")" ]; then
    log "re-deposit for iteration $INSTALLED waits: the EL at $EL_RPC_URL answers chain id \"$got\", expected $(chain_id "$INSTALLED")"
    return 0
  fi
  log "re-depositing this host's validators that iteration $INSTALLED's genesis lacks"
  run_redeposit "$INSTALLED" || rc=$?
  if [ "$rc" = 0 ]; then
    rm -f "$REDEPOSIT_DUE"
    log "re-deposit for iteration $INSTALLED done"
  else
    log "re-deposit for iteration $INSTALLED did not finish (exit $rc, see above); the next run tries again"
  fi
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
# A back-off (an overdue release, a failing source, a rate limit) holds for every run but `ensure`.
should_query() {
  local last since next best not_before
  [ "$MODE" = ensure ] && return 0
  not_before=$(backoff_get 1)
  if [ "$NOW" -lt "$not_before" ]; then log "not asking the release source before $not_before (backing off)"; return 1; fi
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

# Whether the installed chain is over and no newer release is staged (the source is late, or failing).
is_overdue() { [ -n "$INSTALLED" ] && [ -z "$STAGED" ] && [ "$NOW" -ge "$(el_genesis $((INSTALLED + 1)))" ]; }

# Sets QUERY_FAILED when the release source failed or served a bad release; exits on anything worse.
converge() {
  local tag latest="" query_failed=0 target queried=0
  if [ -f "$JOURNAL" ]; then finish_switch; fi
  INSTALLED=$(installed_iteration)
  STAGED=$(staged_iteration)
  if should_query; then
    queried=1
    write_file "$STATE_DIR/last-check" "$NOW"
    if latest_tag; then
      tag=$LATEST_TAG
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
  if [ "$queried" = 1 ]; then
    if [ -n "$RATE_LIMITED_FOR" ]; then backoff_more "$RATE_LIMITED_FOR"
    elif [ "$query_failed" = 1 ] || is_overdue; then backoff_more
    else backoff_clear
    fi
  fi
  target=$STAGED
  if [ -n "$target" ] && [ -z "$INSTALLED" ] && [ ! -f "$JOURNAL" ]; then
    adopt_or_install "$target"
    STAGED=$(staged_iteration)
  elif [ -n "$target" ] && is_due "$target"; then
    switch_to "$target"
    STAGED=$(staged_iteration)
  elif [ -z "$INSTALLED" ]; then
    die "no release is installed and none could be fetched from $RELEASE_LATEST_URL; fix the release source (network.release) and run again"
  elif [ -n "$STAGED" ]; then
    [ "$MODE" = run ] && [ "$query_failed" = 0 ] && [ -n "$latest" ] && log "ephemery-$STAGED is staged; switching at its EL genesis $(el_genesis "$STAGED")"
  elif [ "$NOW" -ge "$(el_genesis $((INSTALLED + 1)))" ] && [ "$query_failed" = 0 ]; then
    log "iteration $((INSTALLED + 1)) should have begun but the release source still names ephemery-$INSTALLED; waiting"
  fi
  maybe_choose_checkpoint
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
  local url; url=$(read_file "$CHECKPOINT_FILE")
  if [[ "$url" =~ $SAFE_URL ]]; then echo "checkpoint_sync_url=$url"; else echo "checkpoint_sync_url=none"; fi
  echo "release_query_not_before=$(backoff_get 1)"
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
    flock -w "$LOCK_WAIT_SEC" 9 || die "another reset run holds $STATE_DIR/reset.lock"
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
  if [ "$MODE" = run ]; then maybe_redeposit; fi
  if [ "$MODE" = ensure ]; then
    # An installed release keeps `pulumi up` going when the source is down; cron retries within the minute.
    if [ "$QUERY_FAILED" = 1 ]; then
      count_failure
      log "could not check for a newer release; keeping ephemery-$INSTALLED"
    fi
    echo "iteration=$INSTALLED"
  elif [ "$QUERY_FAILED" = 1 ]; then
    exit 1
  fi
}

main "$@"
