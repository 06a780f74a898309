# Sourced by the benchmark scripts that measure tern as it runs in production. `build_tern` sets
# `tern` to the binary to measure and `build_kind` to what it is: the profile-guided production
# build (scripts/build-release.sh), or with PGO=0 in the environment the plain
# `swift build -c release`. Build messages go to stderr. Needs `root` (the repository).
build_tern() {
    if [ "${PGO:-1}" = 0 ]; then
        echo "building tern (release, no profile)…" >&2
        swift build -c release --product tern --package-path "$root" -Xswiftc -enforce-exclusivity=unchecked >&2
        tern="$(swift build -c release --product tern --package-path "$root" --show-bin-path)/tern"
        build_kind="plain release build"
    else
        echo "building tern (release, profile-guided: scripts/build-release.sh)…" >&2
        tern="$("$root/scripts/build-release.sh" | tail -1)"
        build_kind="profile-guided release build"
    fi
}
