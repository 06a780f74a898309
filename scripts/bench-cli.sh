#!/usr/bin/env bash
# Benchmark of the `tern` command-line client against curl and httpie on one local server.
#
#   scripts/bench-cli.sh [--runs N] [--size BYTES] [--server python|nginx] [--no-build]
#
# Measures, per invocation of `GET http://127.0.0.1:PORT/file`:
#   - wall time (hyperfine when installed, else a timed loop),
#   - peak resident memory (GNU time's "Maximum resident set size"), and
#   - CPU time, user + system (GNU time; in 10 ms steps, so for large bodies).
# and prints the ratios to curl. tern is built in release (static Swift stdlib) first.
# Installs what it misses when it can: hyperfine and time (apt-get), httpie (pip).
# Only 127.0.0.1 is ever contacted.
set -euo pipefail

RUNS=200
SIZE=1024
SERVER=auto
BUILD=1
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS="$2"; shift 2 ;;
        --size) SIZE="$2"; shift 2 ;;
        --server) SERVER="$2"; shift 2 ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "bench-cli: unknown argument $1" >&2; exit 64 ;;
    esac
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d /tmp/tern-bench.XXXXXX)"
chmod 755 "$WORK"   # nginx workers run as another user
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    if have apt-get && [ "$(id -u)" = 0 ]; then
        (apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$@" >/dev/null 2>&1; }) || true
    fi
}

have hyperfine || apt_install hyperfine
[ -x /usr/bin/time ] || apt_install time
have http || pip install -q httpie >/dev/null 2>&1 || true

# --- tern, release build -------------------------------------------------------------------------
# Its own build folder: the static flags would otherwise rebuild .build/release from scratch
# each time this and the proxy benchmarks take turns.
TERN="$ROOT/.build-static/release/tern"
if [ "$BUILD" = 1 ]; then
    echo "building tern (release, static Swift stdlib)..." >&2
    (cd "$ROOT" && swift build -c release --product tern --static-swift-stdlib \
        -Xswiftc -enforce-exclusivity=unchecked --scratch-path "$ROOT/.build-static" >&2)
fi
[ -x "$TERN" ] || { echo "bench-cli: $TERN not found (build it or drop --no-build)" >&2; exit 1; }

# --- the server ----------------------------------------------------------------------------------
mkdir -p "$WORK/www"
head -c "$SIZE" /dev/urandom > "$WORK/www/file"
. "$ROOT/scripts/lib/port.sh"
PORT=$(free_port)
if [ "$SERVER" = auto ]; then
    if have nginx || [ -x /usr/sbin/nginx ]; then SERVER=nginx; else SERVER=python; fi
fi
if [ "$SERVER" = nginx ]; then
    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    mkdir -p "$WORK/nginx/logs"
    cat > "$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log;
events { worker_connections 256; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK/www;
    }
}
EOF
    "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
    SERVER_PID=$!
else
    python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
    SERVER_PID=$!
fi
URL="http://127.0.0.1:$PORT/file"
for _ in $(seq 1 50); do
    curl -sf -o /dev/null "$URL" && break
    sleep 0.1
done
curl -sf -o /dev/null "$URL" || { echo "bench-cli: the $SERVER server did not start" >&2; exit 1; }

# Sanity: every client fetches the same bytes.
"$TERN" GET "$URL" </dev/null > "$WORK/tern.out" || true
cmp -s "$WORK/tern.out" "$WORK/www/file" || { head -c 300 "$WORK/tern.out" >&2; ls -la "$WORK/www" >&2; echo "bench-cli: tern's output differs from the file" >&2; exit 1; }

declare -A CMD
CMD[curl]="curl -s $URL"
CMD[tern]="$TERN GET $URL"
NAMES="curl tern"
if have http; then
    CMD[httpie]="http --ignore-stdin GET $URL"
    NAMES="curl tern httpie"
else
    echo "bench-cli: httpie not available; skipping it" >&2
fi

echo "server: $SERVER on 127.0.0.1:$PORT, body $SIZE bytes, $RUNS runs each"
echo "tern binary: $(du -h "$TERN" | cut -f1), $(ldd "$TERN" 2>/dev/null | wc -l) shared libraries"
echo

# --- wall time -----------------------------------------------------------------------------------
# MEAN holds the median when hyperfine measured it (robust to load from other processes on
# a shared machine); the timed-loop fallback can only give the mean.
declare -A MEAN
declare -A AVG
STAT=median
if have hyperfine; then
    ARGS=()
    for n in $NAMES; do ARGS+=(-n "$n" "${CMD[$n]}"); done
    hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$WORK/h.json" "${ARGS[@]}" >&2
    for n in $NAMES; do
        MEAN[$n]=$(python3 -c "import json,sys; d=json.load(open('$WORK/h.json')); print([r['median'] for r in d['results'] if r['command']=='$n'][0])")
        AVG[$n]=$(python3 -c "import json,sys; d=json.load(open('$WORK/h.json')); print([r['mean'] for r in d['results'] if r['command']=='$n'][0])")
    done
else
    STAT=mean
    for n in $NAMES; do
        start=$(date +%s.%N)
        for _ in $(seq 1 "$RUNS"); do ${CMD[$n]} </dev/null >/dev/null; done
        end=$(date +%s.%N)
        MEAN[$n]=$(python3 -c "print(($end - $start) / $RUNS)")
        AVG[$n]=${MEAN[$n]}
    done
fi

# --- peak memory and CPU time -------------------------------------------------------------------
# Five runs each under GNU time: the least peak RSS, and the median CPU time (user + system, in
# the 10 ms steps the kernel counts in; meaningful for large bodies, --size 1073741824 say).
declare -A RSS
declare -A CPU
for n in $NAMES; do
    best=""
    cpus=""
    for _ in 1 2 3 4 5; do
        report=$(/usr/bin/time -v ${CMD[$n]} 2>&1 </dev/null >/dev/null)
        kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' <<<"$report")
        cpus+="$(awk -F': ' '/User time/ {u = $2} /System time/ {s = $2} END {print u + s}' <<<"$report") "
        if [ -z "$best" ] || [ "$kb" -lt "$best" ]; then best=$kb; fi
    done
    RSS[$n]=$best
    CPU[$n]=$(python3 -c "import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))" $cpus)
done

# --- table ---------------------------------------------------------------------------------------
printf '%-8s %13s %10s %11s %14s %10s %12s %10s\n' client "wall $STAT ms" "vs curl" "mean ms" "peak RSS (MB)" "vs curl" "CPU ms" "vs curl"
for n in $NAMES; do
    python3 - "$n" "${MEAN[$n]}" "${MEAN[curl]}" "${AVG[$n]}" "${RSS[$n]}" "${RSS[curl]}" "${CPU[$n]}" "${CPU[curl]}" <<'EOF'
import sys
name, mean, curl_mean, avg, rss, curl_rss = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
cpu, curl_cpu = float(sys.argv[7]), float(sys.argv[8])
cpu_ratio = f"{cpu/curl_cpu:9.2f}x" if curl_cpu > 0 else f"{'n/a':>10}"
print(f"{name:<8} {mean*1000:13.2f} {mean/curl_mean:9.2f}x {avg*1000:11.2f} {rss/1024:14.1f} {rss/curl_rss:9.2f}x {cpu*1000:12.0f} {cpu_ratio}")
EOF
done
python3 - "${MEAN[tern]}" "${MEAN[curl]}" "$STAT" <<'EOF'
import sys
ratio = float(sys.argv[1]) / float(sys.argv[2])
verdict = "within" if ratio <= 1.5 else "NOT within"
print(f"\ntern/curl wall-time ratio ({sys.argv[3]}) {ratio:.2f}: {verdict} the 1.5x target")
EOF
