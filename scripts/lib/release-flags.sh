# The compiler flags of tern's production build (scripts/build-release.sh) besides its profile, for
# `swift build` and `swift test`: exclusivity checks off (the benchmarks' setting since session 1)
# and lexical lifetimes off, so that the optimizer may end an object's life after its last use and
# pair off more retains and releases (README, Benchmarks, session 17). scripts/test-release.sh runs
# the test suite on a build made with them.
release_swiftc_flags=(-Xswiftc -enforce-exclusivity=unchecked -Xswiftc -Xfrontend -Xswiftc -enable-lexical-lifetimes=false)
