# The compiler flags of tern's production build (scripts/build-release.sh) besides its profile, for
# `swift build` and `swift test`:
# - exclusivity checks off (the benchmarks' setting since session 1);
# - lexical lifetimes off, so that the optimizer may end an object's life after its last use and
#   pair off more retains and releases (README, Benchmarks, session 17);
# - cross-module optimization, so that a module's small and generic functions may be inlined into,
#   and specialized for, the modules that call them (NIO's into each other and into ours). Session
#   18, paired against the build without it: 0.993x the CPU per proxied request both ways round;
#   the saving is spread thin, no function's share of the profile moved on its own.
# scripts/test-release.sh runs the test suite on a build made with them.
release_swiftc_flags=(-Xswiftc -enforce-exclusivity=unchecked -Xswiftc -Xfrontend -Xswiftc -enable-lexical-lifetimes=false
    -Xswiftc -cross-module-optimization)
