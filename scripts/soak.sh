#!/usr/bin/env bash
# Soak: wrk through tern proxy to a local origin for a long time, twice: with keep-alive, and with
# a new connection per request (Connection: close). Reports wrk's errors and non-2xx answers, and
# tern's resident memory at the start, after warm-up and at the end of each run.
#
# Usage: scripts/soak.sh [SECONDS] [WARMUP_SECONDS]   (defaults: 600 and 30, per mode)
# Needs nginx (the origin) and wrk: apt-get install -y nginx-light wrk. Loopback only; stops by itself.
set -euo pipefail

seconds="${1:-600}"
warmup="${2:-30}"
connections="${SOAK_CONNECTIONS:-32}"
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/lib/origin.sh"
work="$(mktemp -d /tmp/tern-soak.XXXXXX)"
for tool in nginx wrk; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is missing (apt-get install -y nginx-light wrk)" >&2; exit 2; }
done

echo "building tern (release)…" >&2
swift build -c release --product tern --package-path "$root" -Xswiftc -enforce-exclusivity=unchecked >&2
built="$(swift build -c release --product tern --package-path "$root" -Xswiftc -enforce-exclusivity=unchecked --show-bin-path)/tern"

. "$root/scripts/lib/processes.sh"
trap cleanup EXIT

# A copy: a rebuild during a long soak must not swap the binary under the running proxy.
tern="$work/tern"
cp "$built" "$tern"
origin_port=18290; tern_port=18291
origin_setup "$work" "$origin_port"
cat > "$work/tern.conf" <<CONF
listen tcp:$tern_port:interface=127.0.0.1
workers 1
access-log off
limits {
    keepalive-requests 10000000
}
upstream origin { server 127.0.0.1:$origin_port }
route / { proxy origin }
CONF

nginx -c "$work/origin.conf" -p "$work" & pids+=($!)
"$tern" proxy --config "$work/tern.conf" --log-level warning 2>"$work/logs/tern.err" & tern_pid=$!; pids+=($tern_pid)
sleep 1

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$tern_pid/status"; }
url="http://127.0.0.1:$tern_port/1k"

# soak NAME [wrk header args…]
soak() {
    local name="$1"; shift
    local start; start=$(rss_kib)
    wrk -t1 -c"$connections" -d"${warmup}s" "$@" "$url" > "$work/warmup.txt"
    local warm; warm=$(rss_kib)
    wrk -t1 -c"$connections" -d"${seconds}s" "$@" "$url" > "$work/run.txt"
    local end; end=$(rss_kib)
    local requests; requests=$(awk '/requests in/ {print $1}' "$work/run.txt")
    local rps; rps=$(awk '/Requests\/sec/ {print $2}' "$work/run.txt")
    local errors; errors=$(cat "$work/warmup.txt" "$work/run.txt" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
    printf '%-14s %10s requests %10s req/s  RSS KiB: start %s, after warm-up %s, end %s (%+d after warm-up)  errors: %s\n' \
        "$name" "$requests" "$rps" "$start" "$warm" "$end" $((end - warm)) "${errors:-none}"
    kill -0 "$tern_pid" || { echo "soak: tern died" >&2; exit 1; }
}

printf 'soak: tern %s, wrk -t1 -c%s, %ss warm-up then %ss per mode, origin nginx serving 1 KiB\n' \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')" "$connections" "$warmup" "$seconds"
soak keep-alive
soak new-conn -H "Connection: close"
if [ -s "$work/logs/tern.err" ]; then echo "tern's log (warnings and errors):"; tail -20 "$work/logs/tern.err"; fi
