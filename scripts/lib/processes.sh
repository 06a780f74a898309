# Sourced by the scripts that start servers for a run. Each server started in the background is
# added to `pids` (`… & pids+=($!)`); on exit they are all stopped, then the run's `$work`
# directory is removed:
#
#   work="$(mktemp -d …)"
#   . "$root/scripts/lib/processes.sh"
#   trap cleanup EXIT
#
# A script with more to undo defines its own `cleanup` after sourcing this, calling
# `stop_processes` in it.
pids=()
stop_processes() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
cleanup() {
    stop_processes
    rm -rf "$work"
}
