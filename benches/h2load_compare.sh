#!/usr/bin/env bash
# HTTP/2 load on tapir and nginx, same machine, same run: h2load with many
# streams over TLS (ALPN h2) and over h2c (prior knowledge).
#
# Usage (root):  sudo bash benches/h2load_compare.sh
# Environment:
#   REQUESTS=20000 CLIENTS=20 STREAMS=50   h2load -n/-c/-m
#   PATHS="/ /100k.html"                    paths to load
#   SKIP_NGINX=1                            tapir only
#   TAPIR_BIN=PATH                          this binary instead of a release build
#
# Topology as in compare.sh (lib.sh): tapir on its TAP in tapir-bench,
# nginx (one worker, the same self-signed P-256 certificate; `listen ...
# http2`, the form nginx 1.22 knows) behind a veth pair. Prints h2load's requests/s and its request counts per run.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-20}
STREAMS=${STREAMS:-50}
PATHS=${PATHS:-"/ /100k.html"}
SKIP_NGINX=${SKIP_NGINX:-0}

bench_init
bench_need h2load:nghttp2-client curl:curl ip:iproute2 ping:iputils-ping pgrep:procps \
    nginx:nginx-light openssl:openssl
www_prepare

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=bench -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod a+r "$WORK/key.pem"

TAPIR_EXTRA_CONF=$(printf '[tls]\nport = 443\ncert = "%s"\nkey = "%s"\n' "$WORK/cert.pem" "$WORK/key.pem")
export TAPIR_EXTRA_CONF
build_tapir
tapir_start 60s || die "tapir did not start"
log "tapir pid $TAPIR_PID on $TAPIR_ADDR"

if [[ $SKIP_NGINX != 1 ]]; then
    NGINX_EXTRA_CONF="
    server {
        listen $NGINX_ADDR:443 ssl http2 backlog=4096;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $WORK/www;
    }
    server {
        listen $NGINX_ADDR:8080 http2 backlog=4096;
        root $WORK/www;
    }"
    export NGINX_EXTRA_CONF
    nginx_net
    nginx_start 60s || die "nginx did not start"
    log "nginx master $NGINX_MASTER, worker $NGINX_WORKER on $NGINX_ADDR"
fi

run() { # NS URL
    local out
    out=$(ip netns exec "$1" timeout 120 h2load -n "$REQUESTS" -c "$CLIENTS" -m "$STREAMS" -t 1 "$2" 2>&1) ||
        { log "h2load $2 failed: $out"; return 0; }
    printf '%-34s %12s req/s   %s\n' "$2" \
        "$(awk '/^finished in/ {print $4}' <<<"$out")" \
        "$(grep '^requests:' <<<"$out" | sed 's/^requests: //')"
}

for path in $PATHS; do
    run "$TAPIR_NS" "https://$TAPIR_ADDR$path"
    run "$TAPIR_NS" "http://$TAPIR_ADDR$path"
    if [[ $SKIP_NGINX != 1 ]]; then
        run "$NGINX_CLI_NS" "https://$NGINX_ADDR$path"
        run "$NGINX_CLI_NS" "http://$NGINX_ADDR:8080$path"
    fi
done
