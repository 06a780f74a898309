#!/usr/bin/env bash
# Cache hits: tern (memory tier), tern (Redis tier), nginx proxy_cache and Varnish, side by side
# in one run, each proxy with one worker pinned to CPU 1; wrk, the origin and redis-server on CPU 0.
#
# Every request is a hit on one hot 1 KiB URL (the origin says Cache-Control: max-age=3600).
# For each proxy: requests/s, p99 latency and the proxy's own CPU time per request (utime+stime
# of all its processes, from /proc, before and after). Rounds alternate the proxies; the table
# gives each figure's median over the rounds, and the ratios against Varnish.
#
# Usage: scripts/bench-cache.sh [SECONDS] [ROUNDS]     (default 10 s, 3 rounds)
# tern is the production build, profile-guided (scripts/build-release.sh); PGO=0 measures the plain
# `swift build -c release` instead.
# Needs nginx, varnish, redis-server, wrk and openssl (apt-get install -y nginx-light varnish redis-server wrk openssl).
set -euo pipefail

seconds="${1:-10}"
rounds="${2:-3}"
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/lib/origin.sh"
work="$(mktemp -d /tmp/tern-bench-cache.XXXXXX)"
for tool in nginx varnishd redis-server wrk taskset; do
    command -v "$tool" >/dev/null || { echo "bench-cache: $tool is missing (apt-get install -y nginx-light varnish redis-server wrk)" >&2; exit 2; }
done

. "$root/scripts/lib/build.sh"
build_tern

. "$root/scripts/lib/processes.sh"
cleanup() {
    stop_processes
    pkill -f "varnishd.*$work" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

origin_port=18190; nginx_port=18191; varnish_port=18192; tern_mem_port=18193; tern_redis_port=18194; redis_port=18195
origin_setup "$work" "$origin_port" 'add_header Cache-Control "max-age=3600"; etag on;'
mkdir -p "$work/nginx-cache"
chmod 777 "$work/nginx-cache"
cat > "$work/nginx-cache.conf" <<EOF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $work/proxy.pid;
error_log $work/logs/proxy.err;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    proxy_cache_path $work/nginx-cache levels=1:2 keys_zone=hot:10m max_size=256m;
    upstream origin { server 127.0.0.1:$origin_port; keepalive 128; }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_cache hot; proxy_cache_lock on;
            add_header X-Cache \$upstream_cache_status;
        }
    }
}
EOF
common="workers 1
access-log off
limits {
    keepalive-requests 1000000
}
upstream origin { server 127.0.0.1:$origin_port }
route / { proxy origin }"
printf 'listen tcp:%s:interface=127.0.0.1\ncache memory 256m\n%s\n' "$tern_mem_port" "$common" > "$work/tern-memory.conf"
# memory-tier=0: every hit is a Redis round trip (the tier under test).
printf 'listen tcp:%s:interface=127.0.0.1\ncache redis://127.0.0.1:%s/0 memory-tier=0\n%s\n' "$tern_redis_port" "$redis_port" "$common" > "$work/tern-redis.conf"

taskset -c 0 nginx -c "$work/origin.conf" -p "$work" & pids+=($!)
taskset -c 0 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
    --logfile "$work/logs/redis.log" & pids+=($!)
sleep 0.5

taskset -c 1 nginx -c "$work/nginx-cache.conf" -p "$work" & nginx_pid=$!; pids+=($nginx_pid)
taskset -c 1 varnishd -F -n "$work/varnish" -a "127.0.0.1:$varnish_port" -b "127.0.0.1:$origin_port" -s malloc,256m \
    -p thread_pools=1 -p thread_pool_min=8 > "$work/logs/varnish.log" 2>&1 & varnish_pid=$!; pids+=($varnish_pid)
taskset -c 1 "$tern" proxy --config "$work/tern-memory.conf" --log-level warning & tern_mem_pid=$!; pids+=($tern_mem_pid)
taskset -c 1 "$tern" proxy --config "$work/tern-redis.conf" --log-level warning & tern_redis_pid=$!; pids+=($tern_redis_pid)
sleep 2
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)

hz=$(getconf CLK_TCK)
# CPU ticks of a process and its children (Varnish works in a child process).
cpu_ticks() {
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# run PID URL: prints "req/s p99_ms cpu_us_per_req"
run() {
    local pid="$1" url="$2"
    curl -s -o /dev/null "$url"; curl -s -o /dev/null "$url"                  # fill the cache
    wrk -t1 -c64 -d1s "$url" >/dev/null 2>&1 || true                          # warm up
    local before; before=$(cpu_ticks "$pid")
    local out; out=$(taskset -c 0 wrk -t1 -c64 -d"${seconds}s" --latency "$url")
    local after; after=$(cpu_ticks "$pid")
    local requests; requests=$(echo "$out" | awk '/requests in/ {print $1}')
    local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    local p99; p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    local errors; errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
    local cpu_us; cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    [ -n "$errors" ] && echo "bench-cache: $url: $errors" >&2
    echo "$rps $p99 $cpu_us"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

names=(nginx varnish tern-memory tern-redis)
urls=("http://127.0.0.1:$nginx_port/1k" "http://127.0.0.1:$varnish_port/1k" "http://127.0.0.1:$tern_mem_port/1k" "http://127.0.0.1:$tern_redis_port/1k")
procs=("$nginx_worker" "$varnish_pid" "$tern_mem_pid" "$tern_redis_pid")

for i in 0 1 2 3; do
    echo "${names[$i]}: $(curl -s -D - -o /dev/null "${urls[$i]}" | grep -i -E '^(x-cache|cache-status|age|x-varnish):' | tr -d '\r' | tr '\n' ' ')" >&2
done
for round in $(seq 1 "$rounds"); do
    for i in 0 1 2 3; do
        read -r rps p99 cpu <<<"$(run "${procs[$i]}" "${urls[$i]}")"
        echo "$rps" >> "$work/${names[$i]}.rps"; echo "${p99%ms}" >> "$work/${names[$i]}.p99"; echo "$cpu" >> "$work/${names[$i]}.cpu"
        echo "round $round ${names[$i]}: $rps req/s, p99 $p99, $cpu µs CPU/req" >&2
    done
done

printf '\ncache hits, 1 KiB, tern as its %s; one worker each pinned to CPU 1; wrk -t1 -c64 on CPU 0; %ss × %s rounds, medians\n' "$build_kind" "$seconds" "$rounds"
printf '%-12s %12s %10s %14s %14s %14s\n' proxy "requests/s" "p99 ms" "CPU µs/req" "rps/varnish" "CPU/varnish"
v_rps=$(median < "$work/varnish.rps"); v_cpu=$(median < "$work/varnish.cpu")
for name in "${names[@]}"; do
    rps=$(median < "$work/$name.rps"); p99=$(median < "$work/$name.p99"); cpu=$(median < "$work/$name.cpu")
    awk -v n="$name" -v r="$rps" -v p="$p99" -v c="$cpu" -v vr="$v_rps" -v vc="$v_cpu" \
        'BEGIN { printf "%-12s %12.0f %10s %14.1f %13.2fx %13.2fx\n", n, r, p, c, r / vr, c / vc }'
done
