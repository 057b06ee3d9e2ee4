# shellcheck shell=bash disable=SC2154
# kube_api: the Kubernetes API from inside a pod, with curl and the pod's own projected service-account token, read
# from its file into a 0600 header file (never argv or env); every answer bounded in size (API_MAX_BYTES) and time
# (API_MAX_TIME_SEC). Included where a script has the line `# @@INCLUDE kube-api.sh@@` (lib/hostScripts.ts): the
# reset CronJob (ephemery-reset.sh) and the keys export Job (keys-export.sh). The caller defines die().
readonly SA_DIR=/var/run/secrets/kubernetes.io/serviceaccount
K8S_STATUS=000
kube_api() { # method path out [merge-patch body, or @file]
  local host=${KUBERNETES_SERVICE_HOST:-} port=${KUBERNETES_SERVICE_PORT:-} hdr rc=0 body=()
  [[ "$host" =~ ^[0-9A-Za-z.:-]{1,253}$ && "$port" =~ ^[0-9]{1,5}$ ]] || die "KUBERNETES_SERVICE_HOST / KUBERNETES_SERVICE_PORT (\"$host\" / \"$port\") do not name the API server; this program runs in its Kubernetes pod only (the reset CronJob, the keys export Job)"
  [[ "$host" == *:* ]] && host="[$host]"
  hdr=$(mktemp "${TMPDIR:-/tmp}/.kube-auth.XXXXXX") || die "cannot create a private file for the API token"
  { printf 'Authorization: Bearer '; head -c 16384 "$SA_DIR/token" | tr -d '\r\n'; printf '\n'; } > "$hdr"
  [ -n "${4:-}" ] && body=(-H 'Content-Type: application/merge-patch+json' --data-binary "$4")
  K8S_STATUS=$(timeout -k 5 "$(( API_MAX_TIME_SEC + 5 ))" curl -sS --proto =https --max-time "$API_MAX_TIME_SEC" --max-filesize "$API_MAX_BYTES" \
    --cacert "$SA_DIR/ca.crt" -H @"$hdr" -X "$1" "${body[@]}" -o "$3" -w '%{http_code}' -- "https://$host:$port$2" 2>/dev/null) || rc=$?
  rm -f -- "$hdr"
  [[ "$K8S_STATUS" =~ ^[0-9]{3}$ ]] || K8S_STATUS=000
  [ "$rc" = 0 ]
}
