#!/usr/bin/env bash
# Counts what tern does per proxied 1 KiB request that the CPU time on this noisy machine cannot
# show reliably: retains and releases (swift_retain, swift_release) and mallocs, each per request,
# with the functions that make the most retains and releases, and those that malloc. Steady where a timing is not: the
# same build gives counts within about 2% run after run (the requests in flight at either end of
# the recording are the error), where its CPU time per request moves by a third.
#
# How: uprobes on swift_retain and swift_release (in the libswiftCore the binary loads), malloc (libc)
# and ProxyHandler.finishExchange (once per request, in the binary), recorded with call chains
# for 6 s of a 12 s wrk run (-c64) through the proxy to an nginx origin serving 1 KiB. Probes slow
# the proxy down a lot: the rate means nothing here, only the counts per request.
#
# Usage: scripts/proxy-refcounts.sh [TERN_BINARY ...]   (default: the tree's release build)
#   BROWSER=1   wrk sends eleven browser-like request fields (User-Agent, Accept, Cookie, Referer,
#               Sec-Fetch-*…) besides its Host, as real clients do; by default it sends Host alone
#   CACHE=1     the route caches (`cache memory 64m`, the origin's 1 KiB fresh for an hour): every
#               request but the first is a memory-tier hit
#   KEEP=DIR    keep each binary's `perf script` output in DIR (for finding the call sites)
#   TYPES=1     also count them by the type of the object retained or released (the probes read the
#               object's type metadata pointer, named from the binary's and libswiftCore's symbols;
#               `null`: a nil reference, whose release is a call that returns at once; `heap`: a
#               type whose metadata the runtime made, NIO's generic classes among them)
# Needs root, perf (apt-get install -y linux-perf), nginx, wrk and python3.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/lib/origin.sh"
for tool in perf nginx wrk python3 taskset; do
    command -v "$tool" >/dev/null || { echo "proxy-refcounts: $tool is missing" >&2; exit 2; }
done
if [ $# -eq 0 ]; then
    echo "building tern (release)…" >&2
    swift build -c release --product tern --package-path "$root" -Xswiftc -enforce-exclusivity=unchecked >&2
    set -- "$(swift build -c release --product tern --package-path "$root" --show-bin-path)/tern"
fi

work="$(mktemp -d /tmp/tern-refcounts.XXXXXX)"
. "$root/scripts/lib/processes.sh"
probes=()
cleanup() {
    stop_processes
    for probe in "${probes[@]}"; do perf probe -q -d "$probe" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

origin_port=18190; tern_port=18193
origin_setup "$work" "$origin_port" "${CACHE:+expires 1h;}"
cat > "$work/tern.conf" <<EOF
listen tcp:$tern_port:interface=127.0.0.1
workers 1
access-log off
${CACHE:+cache memory 64m}
limits {
    keepalive-requests 1000000
}
upstream origin { server 127.0.0.1:$origin_port }
route / { proxy origin }
EOF
taskset -c 0 nginx -c "$work/origin.conf" -p "$work" & pids+=($!)
sleep 0.5

add_probe() {  # add_probe NAME BINARY SYMBOL [ARGUMENTS…]
    perf probe -q -d "$1" 2>/dev/null || true
    perf probe -q -x "$2" -a "$1=$3 ${*:4}"
    probes+=("$1")
}
libc="$(readlink -f "$(ldd "$1" | awk '$1 == "libc.so.6" {print $3}')")"
add_probe ternmalloc "$libc" malloc

fields=()
if [ -n "${BROWSER:-}" ]; then
    . "$root/scripts/lib/load.sh"
    fields=("${browser_fields[@]}")
fi

for tern in "$@"; do
    tern="$(cd "$(dirname "$tern")" && pwd)/$(basename "$tern")"
    swiftcore="$(readlink -f "$(ldd "$tern" | awk '$1 == "libswiftCore.so" {print $3}')")"
    object=()
    [ -n "${TYPES:-}" ] && object=('isa=+0(%di):u64')  # the object's first word: its type metadata
    add_probe ternretain "$swiftcore" swift_retain "${object[@]}"
    add_probe ternrelease "$swiftcore" swift_release "${object[@]}"
    add_probe ternexchange "$tern" '$s9TernProxy0B7HandlerC14finishExchangeyyF'
    taskset -c 1 "$tern" proxy --config "$work/tern.conf" > "$work/logs/tern.log" 2>&1 &
    pid=$!
    pids+=($pid)
    sleep 1.5
    cp "/proc/$pid/maps" "$work/maps"  # where the binary and libswiftCore are loaded (TYPES)
    taskset -c 0 wrk -t1 -c64 -d12s "${fields[@]}" "http://127.0.0.1:$tern_port/1k" > "$work/wrk.txt" 2>&1 &
    sleep 1
    events=()
    for probe in ternretain ternrelease ternmalloc ternexchange; do
        events+=(-e "$(perf probe -l "$probe" 2>/dev/null | awk 'NR == 1 {print $1}')")  # GROUP:NAME
    done
    perf record -q "${events[@]}" -g -p "$pid" -o "$work/perf.data" -- sleep 6 > /dev/null 2>&1
    wait_until=$((SECONDS + 8)); while pgrep -x wrk >/dev/null && [ $SECONDS -lt $wait_until ]; do sleep 0.5; done
    kill "$pid" 2>/dev/null || true
    perf script -i "$work/perf.data" 2>/dev/null > "$work/perf.txt"
    if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work/perf.txt" "$KEEP/$(basename "$tern").perf.txt"; fi
    echo "== $tern"
    if [ -n "${TYPES:-}" ]; then
        for file in "$tern" "$swiftcore"; do  # data symbols (type metadata among them), by address
            { nm "$file"; nm -D "$file"; } 2>/dev/null | awk '$2 ~ /^[dDbBrRsSV]$/ {print $1, $3}'
            echo "== $file"
        done > "$work/symbols"
    fi
    python3 - "$work/perf.txt" "$work/maps" "${TYPES:+$work/symbols}" <<'PY' | swift demangle --simplified | cut -c1-150
import bisect, collections, re, sys
counts = collections.Counter(); callers = collections.Counter(); allocators = collections.Counter()
types = collections.Counter()
event = None; frames = []; isa = None
# TYPES: the loaded files' symbol tables, each at its load address (the mapping at file offset 0).
tables = []
if len(sys.argv) > 3 and sys.argv[3]:
    bases = {}
    for line in open(sys.argv[2]):
        fields = line.split()
        if len(fields) >= 6 and int(fields[2], 16) == 0: bases.setdefault(fields[5], int(fields[0].split("-")[0], 16))
    entries = []
    for line in open(sys.argv[3]):
        if line.startswith("== "):
            path = line[3:].strip()
            base = next((address for name, address in bases.items() if name.endswith("/" + path.split("/")[-1])), None)
            if base is not None and entries:
                entries.sort(); tables.append((base, [a for a, _ in entries], [n for _, n in entries]))
            entries = []
            continue
        address, name = line.split()
        entries.append((int(address, 16), name))
def type_name(value):
    if value == 0: return "null"
    for base, addresses, names in tables:
        if base <= value < base + addresses[-1] + 0x100000:
            index = bisect.bisect_right(addresses, value - base) - 1
            if index >= 0: return names[index]
    return "heap"
def finish():
    if event is None: return
    counts[event] += 1
    if isa is not None and event in ("ternretain", "ternrelease"): types[type_name(isa)] += 1
    if event in ("ternretain", "ternrelease"):
        for frame in frames[1:]:
            if not (frame.startswith("swift_") or frame.startswith("outlined")):
                callers[frame] += 1
                break
    if event == "ternmalloc":
        for frame in frames[1:]:
            if not (frame.startswith("swift_") or frame.startswith("outlined") or frame in ("malloc", "__libc_malloc")):
                allocators[frame] += 1
                break
for line in open(sys.argv[1]):
    if not line.strip():
        finish(); frames.clear(); event = None; continue
    if line[0] not in "\t ":
        match = re.search(r":(tern\w+):", line); event = match.group(1) if match else None
        match = re.search(r" isa=(\d+)", line); isa = int(match.group(1)) if match else None
        continue
    parts = line.strip().split(None, 1)
    if len(parts) == 2: frames.append(parts[1].split(" (")[0].split("+")[0])
finish()
requests = counts["ternexchange"]
if requests == 0: sys.exit("no request was counted")
per = lambda name: counts[name] / requests
print(f"{requests} requests: {per('ternretain') + per('ternrelease'):.0f} retains+releases, {per('ternmalloc'):.1f} mallocs per request")
for name, count in callers.most_common(15): print(f"  {count / requests:6.1f}  {name}")
print("mallocs by caller:")
for name, count in allocators.most_common(12): print(f"  {count / requests:6.2f}  {name}")
if types:
    print("retains and releases by the object's type:")
    for name, count in types.most_common(20): print(f"  {count / requests:6.1f}  {name}")
PY
    perf probe -q -d ternretain -d ternrelease -d ternexchange 2>/dev/null || true
done
