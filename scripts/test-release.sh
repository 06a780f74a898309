#!/usr/bin/env bash
# The test suite on a release build compiled with the production build's flags
# (scripts/lib/release-flags.sh): what the optimizer may do there that a debug build never does
# (an object's life ending at its last use, with lexical lifetimes off) is then tested too. The
# README's test command runs the debug build; run this one after changes to code whose correctness
# could depend on how long an object lives (weak references, unsafe pointers into objects, deinit
# with effects). A cold build takes about 7 minutes on 2 cores (kept in .build-release-tests/), the
# run about 3.
#
# Usage: scripts/test-release.sh [swift test options, e.g. --filter NAME]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
. "$root/scripts/lib/release-flags.sh"
exec swift test -c release --package-path "$root" --scratch-path "$root/.build-release-tests" \
    -Xswiftc -enable-testing "${release_swiftc_flags[@]}" "$@"
