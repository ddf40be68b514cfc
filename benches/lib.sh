# shellcheck shell=bash
# Shared helpers for benches/compare.sh and benches/idle_mem.sh. Sourced, not run.
#
# Topology (all of it in network namespaces this file creates and removes):
#
#   tapir-bench:  kernel (wrk, 10.7.0.1/24) ── TAP tap0 ── tapir (10.7.0.2)
#   nginx-cli:    kernel (wrk, 10.8.0.2/24) ── veth ── nginx-srv: kernel + nginx (10.8.0.1)
#
# Everything created is recorded and torn down by bench_cleanup, which the
# sourcing script gets as an EXIT trap (also on error and on Ctrl-C).

BENCH_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAPIR_NS=tapir-bench
NGINX_SRV_NS=nginx-srv
NGINX_CLI_NS=nginx-cli
TAPIR_ADDR=10.7.0.2
NGINX_ADDR=10.8.0.1
# shellcheck disable=SC2034 # used by the scripts that source this file
CLK_TCK=$(getconf CLK_TCK)

BENCH_CREATED_NS=()
BENCH_PIDS=()
TAPIR_PID=
NGINX_MASTER=
NGINX_WORKER=
WORK=

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

bench_init() {
    [[ $(id -u) -eq 0 ]] || die "needs root (namespaces, TAP): sudo bash $0"
    WORK=$(mktemp -d /tmp/tapir-bench.XXXXXX)
    chmod 755 "$WORK" # nginx's worker runs as an unprivileged user
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # Many connections: raise the descriptor limit for everything we start.
    ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
    if ! command -v cargo >/dev/null 2>&1; then
        for dir in "${HOME:-/root}/.cargo/bin" "/home/${SUDO_USER:-nobody}/.cargo/bin"; do
            if [[ -x $dir/cargo ]]; then PATH="$dir:$PATH"; break; fi
        done
    fi
}

# bench_need CMD:PACKAGE... — install the Debian packages whose commands are missing.
bench_need() {
    local missing=() pair
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

bench_cleanup() {
    local rc=$? pid ns
    set +e
    for pid in "${BENCH_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        local alive=0
        for pid in "${BENCH_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.2
    done
    for pid in "${BENCH_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    for ns in "${BENCH_CREATED_NS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
    wait 2>/dev/null
    for ns in "${BENCH_CREATED_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null || log "warning: could not delete namespace $ns"
    done
    [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
    exit "$rc"
}

# ns_create NAME — a fresh namespace with lo up, removed by bench_cleanup.
ns_create() {
    local ns=$1
    if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
        die "namespace $ns already exists (left by a killed run?); remove it with: ip netns del $ns"
    fi
    ip netns add "$ns"
    BENCH_CREATED_NS+=("$ns")
    ip -n "$ns" link set lo up
}

# bench_track PID — kill PID (and wait for it) in bench_cleanup.
bench_track() { BENCH_PIDS+=("$1"); }

# stop_pid PID — TERM, up to 2 s grace, then KILL; reaps it.
stop_pid() {
    local pid=$1
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for _ in $(seq 20); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# wait_ping NS ADDR WHAT PID — bounded wait (10 s) until ADDR answers from NS.
wait_ping() {
    local ns=$1 addr=$2 what=$3 pid=${4:-}
    for _ in $(seq 20); do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        ip netns exec "$ns" ping -n -q -c1 -W1 "$addr" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    log "$what did not answer ping at $addr within 10 s"
    return 1
}

# www_prepare — copy www/ to $WORK/www and add the fixtures the loads need.
www_prepare() {
    mkdir -p "$WORK/www"
    if [[ -d $BENCH_REPO/www ]]; then cp -a "$BENCH_REPO/www/." "$WORK/www/"; fi
    [[ -f $WORK/www/index.html ]] || printf '<!doctype html><title>tapir</title>\n' >"$WORK/www/index.html"
    make_fixture "$WORK/www/1k.html" 1024
    make_fixture "$WORK/www/100k.html" 102400
    chmod -R a+rX "$WORK/www"
}

# check_200 NS URL — die unless URL answers 200 from namespace NS.
check_200() {
    local code
    code=$(ip netns exec "$1" curl -s -o /dev/null -w '%{http_code}' --max-time 5 --noproxy '*' "$2" || true)
    [[ $code == 200 ]] || die "$2 answered '$code', not 200"
}

# make_fixture PATH BYTES — an HTML-ish file of exactly BYTES bytes, unless PATH exists.
make_fixture() {
    local path=$1 bytes=$2
    [[ -f $path ]] && return 0
    { yes 'tapir bench fixture: the quick brown fox jumps over the lazy dog.' || true; } |
        head -c "$bytes" >"$path"
}

# build_tapir — build the release binary, unless TAPIR_BIN names one already.
build_tapir() {
    if [[ -n ${TAPIR_BIN:-} ]]; then
        log "using TAPIR_BIN=$TAPIR_BIN"
        return
    fi
    log "building tapir (release)"
    (cd "$BENCH_REPO" && cargo build --release --quiet --bin tapir)
    TAPIR_BIN=$BENCH_REPO/target/release/tapir
}

# tapir_conf PATH KEEPALIVE_TIMEOUT — a config like the kernel tests', serving $WORK/www,
# with $TAPIR_EXTRA_CONF (more tables) appended.
tapir_conf() {
    cat >"$1" <<EOF
[net]
tap = "tap0"
host_addr = "10.7.0.1/24"
addr = "$TAPIR_ADDR"
mtu = 1500

[http]
port = 80
root = "$WORK/www"
keepalive_timeout = "$2"
keepalive_requests = 1000
${TAPIR_EXTRA_CONF:-}
EOF
}

# tapir_start KEEPALIVE_TIMEOUT — start tapir in $TAPIR_NS (created if needed); sets TAPIR_PID.
tapir_start() {
    if ! ip netns list | awk '{print $1}' | grep -qx "$TAPIR_NS"; then ns_create "$TAPIR_NS"; fi
    tapir_conf "$WORK/tapir.toml" "$1"
    ip netns exec "$TAPIR_NS" "$TAPIR_BIN" --config "$WORK/tapir.toml" >>"$WORK/tapir.log" 2>&1 &
    TAPIR_PID=$! # `ip netns exec` execs in place: this is tapir's own pid
    bench_track "$TAPIR_PID"
    if ! wait_ping "$TAPIR_NS" "$TAPIR_ADDR" tapir "$TAPIR_PID"; then
        log "tapir failed to start; its output:"
        cat "$WORK/tapir.log" >&2
        return 1
    fi
}

tapir_stop() { stop_pid "$TAPIR_PID"; TAPIR_PID=; }

# nginx_net — the nginx-srv/nginx-cli pair joined by a veth, 10.8.0.1 ↔ 10.8.0.2.
nginx_net() {
    ns_create "$NGINX_SRV_NS"
    ns_create "$NGINX_CLI_NS"
    # Created inside nginx-srv with its peer moved straight to nginx-cli:
    # nothing ever appears in the host's namespace.
    ip -n "$NGINX_SRV_NS" link add nb-srv type veth peer name nb-cli netns "$NGINX_CLI_NS"
    ip -n "$NGINX_SRV_NS" addr add 10.8.0.1/24 dev nb-srv
    ip -n "$NGINX_CLI_NS" addr add 10.8.0.2/24 dev nb-cli
    ip -n "$NGINX_SRV_NS" link set nb-srv mtu 1500 up
    ip -n "$NGINX_CLI_NS" link set nb-cli mtu 1500 up
    if [[ ${NGINX_OFFLOADS:-on} == off ]]; then
        if command -v ethtool >/dev/null 2>&1; then
            log "veth offloads off (TSO/GSO/GRO), like tapir's TAP without vnet headers"
            ip netns exec "$NGINX_SRV_NS" ethtool -K nb-srv tso off gso off gro off >/dev/null
            ip netns exec "$NGINX_CLI_NS" ethtool -K nb-cli tso off gso off gro off >/dev/null
        else
            log "warning: NGINX_OFFLOADS=off needs ethtool; leaving offloads on"
        fi
    fi
    wait_ping "$NGINX_CLI_NS" "$NGINX_ADDR" "nginx-srv veth" || die "veth pair does not work"
}

# nginx_conf PATH KEEPALIVE_TIMEOUT — with $NGINX_EXTRA_CONF (more server blocks) in http {}
nginx_conf() {
    local mime='types { text/html html; text/css css; application/javascript js; }'
    [[ -f /etc/nginx/mime.types ]] && mime='include /etc/nginx/mime.types;'
    mkdir -p "$WORK/nginx/tmp"
    cat >"$1" <<EOF
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 32768; }
http {
    $mime
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=20s;
    open_file_cache_valid 30s;
    access_log off;
    keepalive_requests 1000;
    keepalive_timeout $2;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    server {
        listen $NGINX_ADDR:80 backlog=4096;
        root $WORK/www;
        index index.html;
    }
    ${NGINX_EXTRA_CONF:-}
}
EOF
}

# nginx_start KEEPALIVE_TIMEOUT — sets NGINX_MASTER and NGINX_WORKER.
nginx_start() {
    nginx_conf "$WORK/nginx/nginx.conf" "$1"
    ip netns exec "$NGINX_SRV_NS" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" \
        -c "$WORK/nginx/nginx.conf" >>"$WORK/nginx/stdout.log" 2>&1 &
    NGINX_MASTER=$!
    bench_track "$NGINX_MASTER"
    NGINX_WORKER=
    for _ in $(seq 50); do
        kill -0 "$NGINX_MASTER" 2>/dev/null || break
        NGINX_WORKER=$(pgrep -P "$NGINX_MASTER" | head -n1 || true)
        if [[ -n $NGINX_WORKER ]] &&
            ip netns exec "$NGINX_CLI_NS" curl -s -o /dev/null --max-time 1 --noproxy '*' "http://$NGINX_ADDR/"; then
            return 0
        fi
        sleep 0.2
    done
    log "nginx failed to start:"
    cat "$WORK/nginx/error.log" "$WORK/nginx/stdout.log" >&2 2>/dev/null
    return 1
}

nginx_stop() { stop_pid "$NGINX_MASTER"; NGINX_MASTER=; NGINX_WORKER=; }

# cpu_ticks PID — utime + stime of the whole process, in clock ticks.
cpu_ticks() {
    # Fields after "pid (comm) ": state is $1, so utime (field 14) is $12.
    sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# rss_kb PID — resident set size (VmRSS) in KiB.
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# slab_kb — the kernel's slab memory (all caches, whole machine) in KiB.
slab_kb() { awk '/^Slab:/ {print $2}' /proc/meminfo; }

# busy_ticks — CPU ticks spent not idle on all cores (user+nice+system+irq+softirq).
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
