#!/usr/bin/env bash
# tern proxy vs nginx (proxy_pass with an upstream keepalive pool), side by side in one run.
#
# One origin (an nginx serving static files) on CPU 0 with wrk; each proxy gets one worker pinned
# to CPU 1, in turn. For each case: requests/s, p99 latency, and the proxy's own CPU time per
# request (utime+stime from /proc, before and after the run; the part spent in user space is
# printed beside it), plus the ratios tern/nginx.
# Cases: 1 KiB keep-alive GETs, 1 MiB bodies, and 1 KiB over TLS (HTTPS termination).
#
# A third contender is no proxy anyone should run: the floor (Benchmarks' ProxyFloor), the I/O any
# reverse proxy on SwiftNIO's channels must do (read the request, write it on a pooled keep-alive
# upstream connection, read the response, write it back, one flush per read cycle, NIOSSL in front
# for TLS) and nothing else: no header rules, no routing, no limits. tern's CPU per request minus
# the floor's is what tern's own code costs; the floor's against nginx's is what NIO costs.
#
# Rounds: each case runs nginx, tern, then the floor, ROUNDS times; every round's ratios are
# printed, then the medians of the ratios (this machine is noisy: one round can move by a third).
#
# Usage: scripts/bench-proxy.sh [SECONDS] [ROUNDS]      (default 10 s per case and proxy, 3 rounds)
#
# CASES="1KiB 1MiB 1KiB-TLS" picks the cases (by default all three, and 1KiB and 1KiB-TLS for an A/B).
# tern is the production build, profile-guided (scripts/build-release.sh); PGO=0 measures the plain
# `swift build -c release` instead.
#
# Paired: scripts/bench-proxy.sh --paired [SECONDS] [ROUNDS]   (default 4 s, 12 rounds) loads nginx
# and tern at the same time, both pinned to CPU 1, each by its own wrk -c32 on CPU 0, and compares
# their CPU time per request over the same seconds. Whatever the machine does meanwhile (this one
# changes speed by a third from one run to the next) it does to both: tern against itself gives
# 1.000x with quartiles 0.994-1.005 this way, where one after the other (ABBA) two builds that
# differ by less than 1% gave rounds' ratios from 0.70 to 1.17. The one-after-the-other table
# above stays the default: it is the issue's protocol, each proxy alone on its core.
#
# A/B: scripts/bench-proxy.sh --against TERN_BINARY [SECONDS] [ROUNDS]   (default 4 s, 12 rounds)
# measures the tree's tern against another build of it (keep a copy of the binary from before a
# change: .build-pgo/release/tern, or .build/release/tern with PGO=0, so that both are built
# alike), and nothing else, paired as above; the summary gives the median and the quartiles of
# the rounds' ratios (new/base). A change smaller than the quartiles' spread is not one this
# machine can show (about 1% here).
#
# FIELDS: what the proxies add to what they forward. `same` (the default): both the same fields,
# those tern adds unless told not to: X-Forwarded-For, -Proto and -Host and Via on the way up, Via
# on the way down (nginx by proxy_set_header and add_header, as its operators configure it;
# nginx adds none of them by itself). `none`: neither adds any (tern with `x-forwarded off` and
# `via off`, nginx as it comes). `stock`: each as it comes, tern adding its four, nginx none (the
# protocol of the figures before session 16; it reads tern 2-5% dearer against nginx than `same`).
#
# Needs nginx, wrk and openssl (apt-get install -y nginx-light wrk openssl). Loopback only.
set -euo pipefail

against=""
paired=""
if [ "${1:-}" = "--against" ]; then
    against="${2:?--against needs a tern binary}"
    [ -x "$against" ] || { echo "bench-proxy: $against is not an executable" >&2; exit 2; }
    against="$(cd "$(dirname "$against")" && pwd)/$(basename "$against")"
    shift 2
elif [ "${1:-}" = "--paired" ]; then
    paired=1
    shift
fi
seconds="${1:-$([ -n "$against$paired" ] && echo 4 || echo 10)}"
rounds="${2:-$([ -n "$against$paired" ] && echo 12 || echo 3)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
# cases DEFAULT: the cases to run, as name:scheme:path, from $CASES (names) or DEFAULT.
cases() {
    for name in ${CASES:-$1}; do
        case "$name" in
            1KiB) echo "1KiB:http:/1k" ;;
            1MiB) echo "1MiB:http:/1m" ;;
            1KiB-TLS) echo "1KiB-TLS:https:/1k" ;;
            *) echo "bench-proxy: unknown case $name (1KiB, 1MiB, 1KiB-TLS)" >&2; return 2 ;;
        esac
    done
}
cases "" >/dev/null || exit 2  # a loop over $(cases …) would skip a bad name silently
. "$root/scripts/lib/origin.sh"
work="$(mktemp -d /tmp/tern-bench-proxy.XXXXXX)"
for tool in nginx wrk openssl taskset; do
    command -v "$tool" >/dev/null || { echo "bench-proxy: $tool is missing (apt-get install -y nginx-light wrk openssl)" >&2; exit 2; }
done

. "$root/scripts/lib/build.sh"
build_tern
# The floor is built with the same flags, in a build directory of its own (the agent benchmarks'
# build uses none; sharing one would rebuild NIO at every switch).
if [ -z "$against$paired" ]; then
    echo "building the floor (Benchmarks' ProxyFloor, release)…" >&2
    floor_build=(swift build -c release --product ProxyFloor --package-path "$root/Benchmarks" --scratch-path "$root/Benchmarks/.build-floor" -Xswiftc -enforce-exclusivity=unchecked)
    "${floor_build[@]}" >&2
    floor="$("${floor_build[@]}" --show-bin-path)/ProxyFloor"
fi

. "$root/scripts/lib/processes.sh"
trap cleanup EXIT
# alive NAME PID…: stop here, rather than print rounds of nothing, when a contender did not start
# (a port in use, say: its own message says which).
alive() {
    local name="$1"; shift
    for pid in "$@"; do
        kill -0 "$pid" 2>/dev/null || { echo "bench-proxy: $name did not start (see above)" >&2; exit 1; }
    done
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

origin_port=18090; nginx_port=18091; nginx_tls_port=18092; tern_port=18093; tern_tls_port=18094
floor_port=18095; floor_tls_port=18096; base_port=18097; base_tls_port=18098

origin_setup "$work" "$origin_port" "" 1m:1048576
fields="${FIELDS:-same}"
nginx_fields=""
tern_fields=""
case "$fields" in
    same) nginx_fields='proxy_set_header X-Forwarded-For $remote_addr; proxy_set_header X-Forwarded-Proto $scheme; proxy_set_header X-Forwarded-Host $http_host; proxy_set_header Via "1.1 nginx"; add_header Via "1.1 nginx";' ;;
    none) tern_fields=$'x-forwarded off\nvia off' ;;
    stock) ;;
    *) echo "bench-proxy: FIELDS is same, none or stock, not $fields" >&2; exit 2 ;;
esac
cat > "$work/nginx-proxy.conf" <<EOF
worker_processes 1;
worker_cpu_affinity 10;
daemon off;
pid $work/proxy.pid;
error_log $work/logs/proxy.err;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream origin { server 127.0.0.1:$origin_port; keepalive 128; }
    server {
        listen 127.0.0.1:$nginx_port;
        listen 127.0.0.1:$nginx_tls_port ssl;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; $nginx_fields }
    }
}
EOF
cat > "$work/tern.conf" <<EOF
listen tcp:$tern_port:interface=127.0.0.1
listen ssl:$tern_tls_port:interface=127.0.0.1:privateKey=$work/key.pem:certKey=$work/cert.pem
workers 1
access-log off
limits {
    keepalive-requests 1000000
}
upstream origin { server 127.0.0.1:$origin_port }
route / { proxy origin }
$tern_fields
EOF
sed -e "s/:$tern_port:/:$base_port:/" -e "s/:$tern_tls_port:/:$base_tls_port:/" "$work/tern.conf" > "$work/base.conf"

taskset -c 0 nginx -c "$work/origin.conf" -p "$work" & origin_pid=$!; pids+=($origin_pid)
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
user_ticks() { awk '{print $14}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# run PID URL: prints "req/s p99_ms cpu_us_per_req user_us_per_req [errors]"
run() {
    local pid="$1" url="$2"
    wrk -t1 -c64 -d1s "$url" >/dev/null 2>&1 || true   # warm up pools and caches
    local before; before=$(cpu_ticks "$pid")
    local user_before; user_before=$(user_ticks "$pid")
    local out; out=$(taskset -c 0 wrk -t1 -c64 -d"${seconds}s" --latency "$url")
    local after; after=$(cpu_ticks "$pid")
    local user_after; user_after=$(user_ticks "$pid")
    local requests; requests=$(echo "$out" | awk '/requests in/ {print $1}')
    local rps; rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    local p99; p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    local errors; errors=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
    local cpu_us; cpu_us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    local user_us; user_us=$(awk -v t=$((user_after - user_before)) -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    echo "$rps $p99 $cpu_us $user_us ${errors:+($errors)}"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# quartiles: "q1 q3" of the values on stdin (the medians of the lower and of the upper half)
quartiles() {
    sort -g | awk '
        function med(from, n) { return n % 2 ? v[from + (n - 1) / 2] : (v[from + n / 2 - 1] + v[from + n / 2]) / 2 }
        { v[NR] = $1 }
        END { if (NR < 2) { printf "-"; exit } h = int(NR / 2); printf "%.3f-%.3f", med(1, h), med(NR - h + 1, h) }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { print a / b }'; }

# run_pair PID_A URL_A PID_B URL_B: loads both at once (wrk -c32 each, on CPU 0) and prints
# "a_req/s a_cpu_us a_user_us b_req/s b_cpu_us b_user_us" per request, over the same seconds.
run_pair() {
    local a_pid="$1" a_url="$2" b_pid="$3" b_url="$4"
    wrk -t1 -c32 -d1s "$a_url" >/dev/null 2>&1 & wrk -t1 -c32 -d1s "$b_url" >/dev/null 2>&1; wait "$!" 2>/dev/null || true
    local a_before b_before a_user b_user
    a_before=$(cpu_ticks "$a_pid"); b_before=$(cpu_ticks "$b_pid"); a_user=$(user_ticks "$a_pid"); b_user=$(user_ticks "$b_pid")
    taskset -c 0 wrk -t1 -c32 -d"${seconds}s" "$a_url" > "$work/wrk-a.txt" 2>&1 & local a_wrk=$!
    taskset -c 0 wrk -t1 -c32 -d"${seconds}s" "$b_url" > "$work/wrk-b.txt" 2>&1 || true
    wait "$a_wrk" || true
    local a_after b_after a_user_after b_user_after
    a_after=$(cpu_ticks "$a_pid"); b_after=$(cpu_ticks "$b_pid"); a_user_after=$(user_ticks "$a_pid"); b_user_after=$(user_ticks "$b_pid")
    local a_n b_n
    a_n=$(awk '/requests in/ {print $1}' "$work/wrk-a.txt"); b_n=$(awk '/requests in/ {print $1}' "$work/wrk-b.txt")
    awk -v ac=$((a_after - a_before)) -v bc=$((b_after - b_before)) -v au=$((a_user_after - a_user)) -v bu=$((b_user_after - b_user)) \
        -v an="$a_n" -v bn="$b_n" -v hz="$hz" -v s="$seconds" \
        'BEGIN { printf "%.0f %.2f %.2f %.0f %.2f %.2f\n", an / s, ac / hz * 1e6 / an, au / hz * 1e6 / an, bn / s, bc / hz * 1e6 / bn, bu / hz * 1e6 / bn }'
}

# paired TITLE A_LABEL A_PID A_PORT A_TLS_PORT B_LABEL B_PID B_PORT B_TLS_PORT CASES: ROUNDS paired
# runs (run_pair) of each case, every round's figures, then the medians and quartiles of the
# rounds' ratios B/A.
paired() {
    local title="$1" a_label="$2" a_pid="$3" a_plain="$4" a_tls="$5" b_label="$6" b_pid="$7" b_plain="$8" b_tls="$9" case_list="${10}"
    printf '\n%s; both pinned to CPU 1 and loaded at the same time, each by wrk -t1 -c32 on CPU 0 with the origin; %ss per run, %s rounds\n' \
        "$title" "$seconds" "$rounds"
    summary=""
    for case in $(cases "$case_list"); do
        IFS=: read -r name scheme path <<<"$case"
        local a_url b_url
        if [ "$scheme" = https ]; then a_url="https://127.0.0.1:$a_tls$path"; b_url="https://127.0.0.1:$b_tls$path"
        else a_url="http://127.0.0.1:$a_plain$path"; b_url="http://127.0.0.1:$b_plain$path"; fi
        local rate_ratios="" cpu_ratios="" a_cpus="" b_cpus="" a_users="" b_users=""
        for round in $(seq "$rounds"); do
            read -r a_rps a_cpu a_usr b_rps b_cpu b_usr <<<"$(run_pair "$a_pid" "$a_url" "$b_pid" "$b_url")"
            printf '%-10s round %2s  %s %7s req/s %6s µs (%5s user)   %s %7s req/s %6s µs (%5s user)   %s/%s %5.3fx req/s %5.3fx CPU\n' \
                "$name" "$round" "$a_label" "$a_rps" "$a_cpu" "$a_usr" "$b_label" "$b_rps" "$b_cpu" "$b_usr" "$b_label" "$a_label" \
                "$(ratio "$b_rps" "$a_rps")" "$(ratio "$b_cpu" "$a_cpu")"
            rate_ratios+="$(ratio "$b_rps" "$a_rps")"$'\n'; cpu_ratios+="$(ratio "$b_cpu" "$a_cpu")"$'\n'
            a_cpus+="$a_cpu"$'\n'; b_cpus+="$b_cpu"$'\n'; a_users+="$a_usr"$'\n'; b_users+="$b_usr"$'\n'
        done
        summary+="$(printf '%-10s %s/%s %5.3fx req/s (quartiles %s), %5.3fx CPU per request (quartiles %s); CPU µs per request %s %.1f (%.1f user), %s %.1f (%.1f user)' \
            "$name" "$b_label" "$a_label" \
            "$(printf '%s' "$rate_ratios" | median)" "$(printf '%s' "$rate_ratios" | quartiles)" \
            "$(printf '%s' "$cpu_ratios" | median)" "$(printf '%s' "$cpu_ratios" | quartiles)" \
            "$a_label" "$(printf '%s' "$a_cpus" | median)" "$(printf '%s' "$a_users" | median)" \
            "$b_label" "$(printf '%s' "$b_cpus" | median)" "$(printf '%s' "$b_users" | median)")"$'\n'
    done
    printf '\nmedians of the rounds'"'"' ratios over %s rounds:\n%s' "$rounds" "$summary"
}

if [ -n "$against" ]; then
    taskset -c 1 "$against" proxy --config "$work/base.conf" --log-level warning & base_pid=$!; pids+=($base_pid)
    taskset -c 1 "$tern" proxy --config "$work/tern.conf" --log-level warning & tern_pid=$!; pids+=($tern_pid)
    sleep 1
    alive "a proxy or the origin" "$origin_pid" "$base_pid" "$tern_pid"
    paired "A/B: new = $tern ($build_kind), base = $against" base "$base_pid" "$base_port" "$base_tls_port" \
        new "$tern_pid" "$tern_port" "$tern_tls_port" "1KiB 1KiB-TLS"
    exit 0
fi

taskset -c 1 nginx -c "$work/nginx-proxy.conf" -p "$work" & nginx_pid=$!; pids+=($nginx_pid)
taskset -c 1 "$tern" proxy --config "$work/tern.conf" --log-level warning & tern_pid=$!; pids+=($tern_pid)
if [ -n "$paired" ]; then
    sleep 1
    alive "a proxy or the origin" "$origin_pid" "$nginx_pid" "$tern_pid"
    nginx_worker=$(pgrep -P "$nginx_pid" | head -1)
    paired "tern proxy ($build_kind) vs nginx $(nginx -v 2>&1 | sed 's/.*\///'), paired, fields: $fields" nginx "$nginx_worker" "$nginx_port" "$nginx_tls_port" \
        tern "$tern_pid" "$tern_port" "$tern_tls_port" "1KiB 1MiB 1KiB-TLS"
    exit 0
fi
taskset -c 1 "$floor" "$floor_port" "$origin_port" "$floor_tls_port" "$work/key.pem" "$work/cert.pem" >/dev/null & floor_pid=$!; pids+=($floor_pid)
sleep 1
alive "a proxy or the origin" "$origin_pid" "$nginx_pid" "$tern_pid" "$floor_pid"
nginx_worker=$(pgrep -P "$nginx_pid" | head -1)

printf '\ntern proxy (%s) vs nginx %s, and the NIO floor — one worker each pinned to CPU 1; wrk -t1 -c64 on CPU 0 with the origin; %ss per run, %s rounds; fields: %s\n' \
    "$build_kind" "$(nginx -v 2>&1 | sed 's/.*\///')" "$seconds" "$rounds" "$fields"
printf '%-18s %-6s %12s %10s %14s %10s\n' case proxy "requests/s" "p99" "CPU µs/req" "user µs"
summary=""
for case in $(cases "1KiB 1MiB 1KiB-TLS"); do
    IFS=: read -r name scheme path <<<"$case"
    if [ "$scheme" = https ]; then n_url="https://127.0.0.1:$nginx_tls_port$path"; t_url="https://127.0.0.1:$tern_tls_port$path"; f_url="https://127.0.0.1:$floor_tls_port$path"
    else n_url="http://127.0.0.1:$nginx_port$path"; t_url="http://127.0.0.1:$tern_port$path"; f_url="http://127.0.0.1:$floor_port$path"; fi
    rate_ratios=""; cpu_ratios=""; floor_ratios=""; over_floor=""; n_rates=""; t_rates=""; n_cpus=""; t_cpus=""; f_cpus=""
    n_users=""; t_users=""; f_users=""
    for round in $(seq "$rounds"); do
        read -r n_rps n_p99 n_cpu n_user n_err <<<"$(run "$nginx_worker" "$n_url")"
        read -r t_rps t_p99 t_cpu t_user t_err <<<"$(run "$tern_pid" "$t_url")"
        read -r f_rps f_p99 f_cpu f_user f_err <<<"$(run "$floor_pid" "$f_url")"
        printf '%-18s %-6s %12s %10s %14s %10s %s\n' "$name" nginx "$n_rps" "$n_p99" "$n_cpu" "$n_user" "${n_err:-}"
        printf '%-18s %-6s %12s %10s %14s %10s %s\n' "$name" tern "$t_rps" "$t_p99" "$t_cpu" "$t_user" "${t_err:-}"
        printf '%-18s %-6s %12s %10s %14s %10s %s\n' "$name" floor "$f_rps" "$f_p99" "$f_cpu" "$f_user" "${f_err:-}"
        awk -v a="$t_rps" -v b="$n_rps" -v c="$t_cpu" -v d="$n_cpu" -v f="$f_cpu" \
            'BEGIN { printf "%-18s %-6s %11.2fx %10s %13.2fx   (tern/floor CPU %.2fx, floor/nginx %.2fx)\n", "", "ratio", a / b, "", c / d, c / f, f / d }'
        rate_ratios+="$(ratio "$t_rps" "$n_rps")"$'\n'
        cpu_ratios+="$(ratio "$t_cpu" "$n_cpu")"$'\n'
        floor_ratios+="$(ratio "$f_cpu" "$n_cpu")"$'\n'
        over_floor+="$(ratio "$t_cpu" "$f_cpu")"$'\n'
        n_rates+="$n_rps"$'\n'; t_rates+="$t_rps"$'\n'; n_cpus+="$n_cpu"$'\n'; t_cpus+="$t_cpu"$'\n'; f_cpus+="$f_cpu"$'\n'
        n_users+="$n_user"$'\n'; t_users+="$t_user"$'\n'; f_users+="$f_user"$'\n'
    done
    summary+="$(printf '%-10s nginx %9.0f req/s %7.1f µs   tern %9.0f req/s %7.1f µs   ratio %5.2fx req/s %5.2fx CPU   floor %7.1f µs = %5.2fx nginx, tern = %5.2fx floor' "$name" \
        "$(printf '%s' "$n_rates" | median)" "$(printf '%s' "$n_cpus" | median)" \
        "$(printf '%s' "$t_rates" | median)" "$(printf '%s' "$t_cpus" | median)" \
        "$(printf '%s' "$rate_ratios" | median)" "$(printf '%s' "$cpu_ratios" | median)" \
        "$(printf '%s' "$f_cpus" | median)" "$(printf '%s' "$floor_ratios" | median)" "$(printf '%s' "$over_floor" | median)")"$'\n'
    summary+="$(printf '%-10s user space: nginx %7.1f µs   tern %7.1f µs   floor %7.1f µs per request' "" \
        "$(printf '%s' "$n_users" | median)" "$(printf '%s' "$t_users" | median)" "$(printf '%s' "$f_users" | median)")"$'\n'
done
printf '\nmedians over %s rounds (the ratio columns are the medians of each round'"'"'s ratio):\n%s' "$rounds" "$summary"
