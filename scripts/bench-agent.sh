#!/usr/bin/env bash
# Agent (TernClient) vs AsyncHTTPClient 1.37, side by side against one local origin.
#
# Builds the Benchmarks package in release, runs its AgentBenchmarks target with
# package-benchmark and prints the medians side by side with the ratios the issue sets:
#   agent req/s ÷ AHC req/s                  target ≥ 1.5
#   agent CPU µs/request ÷ AHC CPU µs/request target ≤ 0.667
#   agent peak RSS ÷ AHC peak RSS             target ≤ 1
#
# Usage: scripts/bench-agent.sh [--filter REGEX] [--origin nginx] [--keep]
#   --filter REGEX     run only the benchmarks whose name contains a match, e.g. 1KiB or 16MiB
#   --origin nginx     serve /1k and /16m from nginx (one worker, sendfile, files in the page cache)
#                      rather than BenchOrigin. BenchOrigin sends one hot 64 KiB buffer over and over
#                      and takes about 90% of a core doing it, so a 16 MiB download's rate there is
#                      the origin's; nginx costs far less, so the clients' own costs set the rate.
#   BENCH_MAX_SECONDS  measured seconds per benchmark per round (default 4; five benchmarks: the
#                      two clients' two cases, and the floor of the 16 MiB case, a bare recv loop)
#   BENCH_ROUNDS       rounds over all five benchmarks (default 3), pooled into one median
#   BENCH_ORIGIN_PORT  use an origin already listening on 127.0.0.1:PORT instead of spawning
#                      Benchmarks' BenchOrigin for each benchmark
#   --keep             keep the JMH exports (the path is printed)
# Only loopback is used. Takes about three minutes once built.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
package="$root/Benchmarks"
filter=""
origin=benchorigin
keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --filter) filter="$2"; shift 2 ;;
        --origin) origin="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

export BENCH_MAX_SECONDS="${BENCH_MAX_SECONDS:-4}"
rounds="${BENCH_ROUNDS:-3}"
out="$(mktemp -d "${TMPDIR:-/tmp}/bench-agent.XXXXXX")"
nginx_pid=""
cleanup() {
    if [ -n "$nginx_pid" ]; then kill "$nginx_pid" 2>/dev/null || true; wait "$nginx_pid" 2>/dev/null || true; fi
    if [ "$keep" = 0 ]; then rm -rf "$out"; fi
}
trap cleanup EXIT

case "$origin" in
    benchorigin) ;;
    nginx)
        command -v nginx >/dev/null || { echo "bench-agent: nginx is missing (apt-get install -y nginx-light)" >&2; exit 2; }
        . "$root/scripts/lib/origin.sh"
        . "$root/scripts/lib/port.sh"
        port="$(free_port)"
        mkdir -p "$out/nginx"
        chmod 755 "$out"  # nginx's worker runs as another user
        origin_setup "$out/nginx" "$port" "sendfile on;" 16m:16777216
        nginx -c "$out/nginx/origin.conf" -p "$out/nginx" & nginx_pid=$!
        sleep 0.5
        export BENCH_ORIGIN_PORT="$port"
        echo "== origin: nginx on 127.0.0.1:$port (sendfile)" >&2
        ;;
    *) echo "bench-agent: unknown origin $origin (benchorigin, nginx)" >&2; exit 2 ;;
esac

echo "== building BenchOrigin (release)" >&2
swift build -c release --package-path "$package" --product BenchOrigin >&2

# The benchmark finds BenchOrigin next to its own executable in the release build directory.
export BENCH_ORIGIN_PATH="${BENCH_ORIGIN_PATH:-$(swift build -c release --package-path "$package" --show-bin-path)/BenchOrigin}"
# Each benchmark appends the CPU time its origin used, to show whether the origin was the limit.
export BENCH_ORIGIN_REPORT="$out/origin.txt"

# Rounds run agent and AHC benchmarks alternately, so a change in the machine's load during the
# run weighs on both sides; the medians are taken over the samples of all rounds together.
for round in $(seq 1 "$rounds"); do
    mkdir -p "$out/round$round"
    args=(benchmark run --target AgentBenchmarks --format jmh --path "$out/round$round" --no-progress)
    # package-benchmark matches --filter against the whole name; make it a substring match.
    if [ -n "$filter" ]; then args+=(--filter ".*(${filter}).*"); fi
    echo "== round $round/$rounds: AgentBenchmarks (release, ${BENCH_MAX_SECONDS}s per benchmark)" >&2
    swift package --package-path "$package" --allow-writing-to-directory "$out" "${args[@]}" >&2
done

if ! ls "$out"/round*/*.jmh.json >/dev/null 2>&1; then
    echo "no results were exported (see the output above)" >&2
    exit 1
fi
[ "$keep" = 1 ] && echo "JMH exports: $out/round*/" >&2

if [ -s "$BENCH_ORIGIN_REPORT" ]; then
    echo
    echo "Origin (separate process, not counted below), over each benchmark's whole run including warmup:"
    sed 's/^/  /' "$BENCH_ORIGIN_REPORT"
fi

python3 - "$out"/round*/*.jmh.json <<'PY'
import json, statistics, sys

# Requests per measured iteration (one batch); must match AgentBenchmarks.swift.
REQUESTS = {"64x concurrent 1KiB GET": 1024, "16MiB download": 1}
METRICS = {  # JMH key prefix -> short name; times are in µs, counts and bytes raw
    "Time (wall clock)": "wall",
    "CPU ns (process clock)": "cpu_ns",   # CLOCK_PROCESS_CPUTIME_ID
    "Time (total CPU)": "cpu_ticks",      # package-benchmark's cpuTotal: 10 ms scheduler ticks
    "Malloc (total)": "mallocs",
    "Memory (resident peak)": "rss",
}

# samples[benchmark][metric] = all raw samples; rounds[benchmark] = per-round medians
samples, rounds = {}, {}
for path in sys.argv[1:]:
    for element in json.load(open(path)):
        name = element["benchmark"].split(".", 3)[-1].replace("_", " ")
        per_round = {}
        for key, value in element.get("secondaryMetrics", {}).items():
            for prefix, short in METRICS.items():
                if key.startswith(prefix):
                    raw = value["rawData"][0]
                    samples.setdefault(name, {}).setdefault(short, []).extend(raw)
                    per_round[short] = statistics.median(raw)
        rounds.setdefault(name, []).append(per_round)

def figures(values, n):
    """Per-request figures from per-batch medians (a dict metric -> value)."""
    if "wall" not in values:
        return None
    cpu = values["cpu_ns"] / 1000.0 if "cpu_ns" in values else values.get("cpu_ticks")
    return dict(
        rps=n / (values["wall"] / 1e6),
        cpu=cpu / n if cpu is not None else None,
        mallocs=values["mallocs"] / n if "mallocs" in values else None,
        rss=values["rss"] / (1 << 20) if "rss" in values else None,
        wall=values["wall"],
    )

def fmt(value, digits=1):
    return "n/a" if value is None else f"{value:,.{digits}f}"

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

def fratio(value):
    return "n/a" if value is None else f"{value:.2f}x"

total_rounds = max((len(r) for r in rounds.values()), default=0)
print()
print(f"Agent vs AsyncHTTPClient 1.37 — medians over all measured iterations of {total_rounds} round(s);")
print("one iteration = one batch. CPU = process CPU time (user+system, all threads, CLOCK_PROCESS_CPUTIME_ID).")
for case, n in REQUESTS.items():
    a_name, h_name = f"agent {case}", f"AHC {case}"
    if a_name not in samples and h_name not in samples:
        continue
    agent = figures({k: statistics.median(v) for k, v in samples.get(a_name, {}).items()}, n)
    ahc = figures({k: statistics.median(v) for k, v in samples.get(h_name, {}).items()}, n)
    count = lambda name: len(samples.get(name, {}).get("wall", []))
    print()
    print(f"{case}  ({n} request(s) per iteration; samples: agent {count(a_name)}, AHC {count(h_name)})")
    print(f"  {'':20} {'agent':>12} {'AHC':>12} {'agent/AHC':>10}  {'target':8}  per-round agent/AHC")
    for label, key, digits, target in [
        ("requests/s", "rps", 0, ">= 1.50x"),
        ("CPU µs/request", "cpu", 1, "<= 0.67x"),
        ("peak RSS MiB", "rss", 1, "<= 1.00x"),
        ("mallocs/request", "mallocs", 1, ""),
        ("wall µs/iteration", "wall", 0, ""),
    ]:
        a = agent[key] if agent else None
        h = ahc[key] if ahc else None
        per_round = []
        for ra, rh in zip(rounds.get(a_name, []), rounds.get(h_name, [])):
            fa, fh = figures(ra, n), figures(rh, n)
            per_round.append(fratio(ratio(fa[key], fh[key]) if fa and fh else None))
        print(f"  {label:20} {fmt(a, digits):>12} {fmt(h, digits):>12} {fratio(ratio(a, h)):>10}  {target:8}  {' '.join(per_round)}")
    floor_name = f"floor {case}"
    if floor_name in samples:
        # A blocking recv(2) loop reading the same response: no client reading through the socket
        # can spend less CPU, whatever its design. Ratios only for the clients that ran.
        floor = figures({k: statistics.median(v) for k, v in samples[floor_name].items()}, n)
        line = f"  floor (recv loop, same response): {fmt(floor['cpu'])} µs CPU, {fmt(floor['rps'], 0)} downloads/s"
        if ahc:
            line += f"; the CPU target (0.67x AHC) is {fratio(ratio(ahc['cpu'] * 2 / 3, floor['cpu']))} the floor"
        for label, figs in (("agent", agent), ("AHC", ahc)):
            if figs:
                line += f"; {label} {fratio(ratio(figs['cpu'], floor['cpu']))} the floor"
        print(line)
print()
PY
