#!/usr/bin/env bash
# Sends every attack of scripts/hardening_attacks.py to tern proxy and to nginx (both proxying to
# the same local origin) and prints both answers side by side. docs/hardening.md holds the table.
#
# Usage: scripts/hardening-compare.sh [--markdown]
# Needs nginx and python3 (apt-get install -y nginx-light python3). Loopback only.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/tern-hardening.XXXXXX)"
for tool in nginx python3; do
    command -v "$tool" >/dev/null || { echo "hardening-compare: $tool is missing (apt-get install -y nginx-light python3)" >&2; exit 2; }
done

echo "building tern…" >&2
swift build --product tern --package-path "$root" >&2
tern="$(swift build --product tern --package-path "$root" --show-bin-path)/tern"

. "$root/scripts/lib/processes.sh"
trap cleanup EXIT

chmod 755 "$work"
mkdir -p "$work/www" "$work/logs"
echo ok > "$work/www/index.html"
origin_port=18190; nginx_port=18191; tern_port=18192

# The origin answers every method (POST included) with a small body.
cat > "$work/origin.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/origin.pid;
error_log $work/logs/origin.err;
events { worker_connections 1024; }
http {
    access_log off;
    server { listen 127.0.0.1:$origin_port; location / { return 200 "ok\n"; } }
}
CONF
# Both proxies: the same limits where nginx has a name for them (8 KiB URI, 32 KiB of fields,
# 2 s header timeout so the slow attack finishes quickly).
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/logs/nginx.err;
events { worker_connections 1024; }
http {
    access_log off;
    client_header_timeout 2s;
    large_client_header_buffers 4 8k;
    upstream origin { server 127.0.0.1:$origin_port; keepalive 16; }
    server {
        listen 127.0.0.1:$nginx_port;
        location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
CONF
cat > "$work/tern.conf" <<CONF
listen tcp:$tern_port:interface=127.0.0.1
workers 1
access-log off
limits {
    header-timeout 2s
    max-uri-length 8k
    max-header-size 32k
}
upstream origin { server 127.0.0.1:$origin_port }
route / { proxy origin }
CONF

nginx -c "$work/origin.conf" -p "$work" & pids+=($!)
nginx -c "$work/nginx.conf" -p "$work" & pids+=($!)
"$tern" proxy --config "$work/tern.conf" --log-level "${TERN_LOG_LEVEL:-warning}" & pids+=($!)
sleep 1

printf 'nginx %s vs tern (%s)\n\n' "$(nginx -v 2>&1 | sed 's/.*\///')" "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
python3 "$root/scripts/hardening_attacks.py" "$@" tern=127.0.0.1:$tern_port nginx=127.0.0.1:$nginx_port
