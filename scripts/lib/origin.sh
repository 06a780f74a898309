# Sourced by the benchmark scripts: the nginx origin they measure against, one worker serving
# static files from WORK/www (made here: the 1 KiB file, and any others of the sizes given).
#
#   origin_setup WORK PORT [SERVER_DIRECTIVES] [SIZE_NAME:BYTES ...]
#
# writes WORK/origin.conf (one worker, no access log, keep-alive without a request limit) and
# WORK/www/1k (plus e.g. `1m:1048576`). SERVER_DIRECTIVES go in its server block, e.g.
# `expires 1h;` for a cache to keep what it serves. Start it with
#   nginx -c "$WORK/origin.conf" -p "$WORK"
origin_setup() {
    local work="$1" port="$2" directives="${3:-}"
    shift 2
    if [ $# -gt 0 ]; then shift; fi
    chmod 755 "$work"  # nginx workers run as www-data
    mkdir -p "$work/www" "$work/logs"
    head -c 1024 /dev/zero | tr '\0' 'x' > "$work/www/1k"
    local file
    for file in "$@"; do
        head -c "${file#*:}" /dev/zero | tr '\0' 'x' > "$work/www/${file%%:*}"
    done
    cat > "$work/origin.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/origin.pid;
error_log $work/logs/origin.err;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    server { listen 127.0.0.1:$port; root $work/www; $directives }
}
CONF
}
