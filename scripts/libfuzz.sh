#!/usr/bin/env bash
# libFuzzer (swiftc -sanitize=fuzzer) on the proxy.conf reader and the RESP decoder, from the
# Fuzz/ package. Crashes are written to Fuzz/crashes/; each becomes a regression case in
# ConfigFuzzTests or RESPDecoderFuzzTests.
#
# (Release: in debug, SwiftPM renames an executable's main, and libFuzzer brings its own.)
# Usage: scripts/libfuzz.sh [SECONDS] [config|resp|all]     (default 60 s each, all)
set -euo pipefail
seconds="${1:-60}"
which="${2:-all}"
root="$(cd "$(dirname "$0")/.." && pwd)"
fuzz="$root/Fuzz"
scratch="$fuzz/.build-fuzz"
mkdir -p "$fuzz/crashes"
build() {
    swift build -c release --package-path "$fuzz" --scratch-path "$scratch" --product "$1" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library >&2
}
run() {
    local product="$1"
    build "$product"
    local binary; binary="$(swift build -c release --package-path "$fuzz" --scratch-path "$scratch" --show-bin-path)/$product"
    local corpus; corpus="$(mktemp -d /tmp/tern-fuzz-corpus.XXXXXX)"
    echo "== $product for ${seconds}s"
    "$binary" -max_total_time="$seconds" -max_len=4096 -artifact_prefix="$fuzz/crashes/$product-" "$corpus" 2>&1 \
        | grep -E "^(#[0-9]+.*(DONE|INITED)|Done|==.*ERROR|SUMMARY)" || true
    rm -rf "$corpus"
}
case "$which" in
    config) run FuzzConfig ;;
    resp) run FuzzRESP ;;
    all) run FuzzConfig; run FuzzRESP ;;
esac
ls "$fuzz/crashes" | grep -q . && { echo "crashes in $fuzz/crashes:"; ls "$fuzz/crashes"; exit 1; } || echo "no crash"
