#!/usr/bin/env bash
# The production build of tern: a release build guided by a profile of tern itself at work
# (LLVM's IR-level profile-guided optimization, PGO). The compiler then knows which branches and
# calls are hot: it lays the hot paths out together and inlines along them. Measured side by side
# on a proxied 1 KiB request (README, Benchmarks): about 15% less user time than the plain
# `swift build -c release`, the same behaviour (the same sources, only laid out differently).
#
# Steps, each in its own build directory (ignored by git, kept between runs):
#   1. an instrumented release build (.build-pgo-train/), which counts what every branch does;
#   2. training: that binary as `tern proxy` in front of a local nginx origin (scripts/lib/origin.sh)
#      under wrk: 1 KiB GETs (with wrk's one field, and with eleven browser-like fields, which get
#      gzipped, chunked responses), the same over TLS, 1 MiB bodies, POSTs with a 4 KiB body,
#      memory-cache hits; and `tern GET` of a 16 MiB body (the agent's bulk read) and of a 1 KiB
#      one. About 45 s. Paths no training run takes are laid out as cold, not left out;
#   3. the counts merged with the toolchain's own llvm-profdata into
#      .build-pgo/profiles/tern-KEY.profdata, KEY a hash of the sources (Sources/, Package.swift) and
#      of this training;
#   4. the release build with that profile (.build-pgo/).
# Steps 1-3 run only when there is no profile for the tree as it is: a second run on the same tree
# takes seconds. A new profile is named in the compiler's flags, so the release build then
# compiles every Swift module again with it (3 to 5 minutes on 2 cores; the first run, about 10).
#
# Besides the profile, every module (tern's and its dependencies') is compiled without lexical
# lifetimes (scripts/lib/release-flags.sh): the optimizer may then end an object's life after its
# last use rather than at the end of its variable's scope, which lets it pair off and remove more
# retains and releases (434 -> 376 per proxied request, 1.2% less CPU; README, Benchmarks). Swift
# never promised more than that (an object needed past its last use is kept alive with
# withExtendedLifetime); scripts/test-release.sh runs the test suite on a build made so. And with
# cross-module optimization, which lets the optimizer inline and specialize one module's functions
# in the modules that call them (0.7% less CPU per proxied request, session 18).
#
# Usage: scripts/build-release.sh        prints the binary's path on its last line of stdout
#   (build messages go to stderr). Compiler flags: scripts/lib/release-flags.sh.
# Needs nginx, wrk and openssl (apt-get install -y nginx-light wrk openssl); loopback only.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/lib/origin.sh"
. "$root/scripts/lib/load.sh"
for tool in nginx wrk openssl; do
    command -v "$tool" >/dev/null || { echo "build-release: $tool is missing (apt-get install -y nginx-light wrk openssl)" >&2; exit 2; }
done
toolchain="$(dirname "$(readlink -f "$(command -v swift)")")"
profdata_tool="$toolchain/llvm-profdata"  # the system's llvm-profdata may not read this compiler's format
runtime="$(ls "$toolchain"/../lib/clang/*/lib/linux/libclang_rt.profile-"$(uname -m)".a 2>/dev/null | head -1)"
[ -x "$profdata_tool" ] || { echo "build-release: no llvm-profdata beside $(command -v swift)" >&2; exit 2; }
[ -n "$runtime" ] || { echo "build-release: no libclang_rt.profile in the Swift toolchain" >&2; exit 2; }

. "$root/scripts/lib/release-flags.sh"
common=(-c release --product tern --package-path "$root" "${release_swiftc_flags[@]}")
# `swift build` does not link the profile runtime for -ir-profile-generate by itself: it is named here.
train_build=(swift build "${common[@]}" --scratch-path "$root/.build-pgo-train"
    -Xswiftc -Xfrontend -Xswiftc -ir-profile-generate
    -Xlinker "$runtime" -Xlinker -u__llvm_profile_runtime)
# The profile belongs to the sources and the training it was made from; the build uses the one
# for the tree as it is.
key="$(cd "$root" && find Sources Package.swift scripts/build-release.sh scripts/lib/origin.sh scripts/lib/load.sh scripts/lib/release-flags.sh \
    -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
profiles="$root/.build-pgo/profiles"
profile="$profiles/tern-$key.profdata"
final_build=(swift build "${common[@]}" --scratch-path "$root/.build-pgo"
    -Xswiftc -Xfrontend -Xswiftc "-ir-profile-use=$profile")

release() {
    echo "build-release: the release build with the profile…" >&2
    "${final_build[@]}" >&2
    echo "$("${final_build[@]}" --show-bin-path)/tern"
}
if [ -f "$profile" ]; then
    echo "build-release: the profile for this tree is there (${profile#"$root/"})" >&2
    release
    exit 0
fi

echo "build-release: the instrumented build…" >&2
"${train_build[@]}" >&2
trainee="$("${train_build[@]}" --show-bin-path)/tern"

work="$(mktemp -d /tmp/tern-build-release.XXXXXX)"
. "$root/scripts/lib/processes.sh"
trap cleanup EXIT

origin_port=18590; port=18593; tls_port=18594
# gzip: a request that accepts it (the browser-like fields) gets a chunked response.
origin_setup "$work" "$origin_port" "gzip on; gzip_types *; gzip_min_length 0;" 1m:1048576 16m:16777216
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
cat > "$work/tern.conf" <<EOF
listen tcp:$port:interface=127.0.0.1
listen ssl:$tls_port:interface=127.0.0.1:privateKey=$work/key.pem:certKey=$work/cert.pem
workers 1
access-log off
cache memory 64m
limits {
    keepalive-requests 1000000
}
upstream origin { server 127.0.0.1:$origin_port }
route /cached/ {
    proxy origin
    strip-prefix /cached
}
route / {
    proxy origin
    cache off
}
EOF
nginx -c "$work/origin.conf" -p "$work" & origin=$!
pids+=($origin)
mkdir -p "$work/profiles"
export LLVM_PROFILE_FILE="$work/profiles/tern-%p.profraw"
"$trainee" proxy --config "$work/tern.conf" --log-level warning & proxy=$!
pids+=($proxy)
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port" && exec 4<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null && break
    sleep 0.2
done
for pid in "$origin" "$proxy"; do
    kill -0 "$pid" 2>/dev/null || { echo "build-release: the origin or the proxy to train did not start (see above)" >&2; exit 1; }
done

echo "build-release: training…" >&2
# A load that fails (the proxy gone) shows as its rate; the proxy's exit status says why, below.
load() { wrk -t1 "$@" | awk '/Requests\/sec/ { print "  " $2 " requests/s" }' >&2 || true; }
load -c64 -d12s "http://127.0.0.1:$port/1k"
load -c64 -d5s "${browser_fields[@]}" "http://127.0.0.1:$port/1k"
load -c64 -d8s "https://127.0.0.1:$tls_port/1k"
load -c16 -d5s "http://127.0.0.1:$port/1m"
load -c64 -d5s "http://127.0.0.1:$port/cached/1k"
# nginx answers a POST to a file 405: the proxy's side (a request body streamed upstream) is what counts.
printf 'wrk.method = "POST"\nwrk.body = string.rep("x", 4096)\nwrk.headers["Content-Type"] = "text/plain"\n' > "$work/post.lua"
load -c16 -d3s -s "$work/post.lua" "http://127.0.0.1:$port/1k"
for _ in 1 2 3 4 5; do
    "$trainee" GET "http://127.0.0.1:$origin_port/16m" > /dev/null
    "$trainee" GET "http://127.0.0.1:$origin_port/1k" > /dev/null
done
kill -TERM "$proxy"
wait "$proxy" || { echo "build-release: the proxy in training did not exit cleanly (see above); no profile made" >&2; exit 1; }

rm -rf "$profiles"  # an older tree's: never used again
mkdir -p "$profiles"
"$profdata_tool" merge -o "$profile.new" "$work"/profiles/*.profraw
mv "$profile.new" "$profile"
release
