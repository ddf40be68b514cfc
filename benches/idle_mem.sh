#!/usr/bin/env bash
# What does an idle keep-alive connection cost? tapir against nginx + kernel.
#
# Usage (root):  sudo bash benches/idle_mem.sh
# Environment:
#   COUNTS="1000 10000"  connection counts to try
#   SKIP_TAPIR=1 / SKIP_NGINX=1
#   TAPIR_BIN=PATH       run this tapir binary instead of building a release one
#   IDLE_CONNS=PATH      use this idle_conns binary instead of building it
#
# For each count and server: start the server fresh (keepalive_timeout 300s),
# warm it with one request, read its RSS and the kernel's Slab, then let
# benches/src/bin/idle_conns open COUNT connections, make one GET /1k.html on
# each and hold them idle; read RSS and Slab again, check how many are still
# established, and divide.
#
# tapir keeps its connections in user space, so its cost is its RSS delta.
# nginx's cost is its worker's RSS delta plus the kernel's socket memory,
# which shows up in Slab. Slab is machine-wide and also holds the *client's*
# sockets, present in both runs: so the nginx kernel share is estimated as
# Slab delta (nginx run) - Slab delta (tapir run, same count), i.e. the
# server-side sockets only. With SKIP_TAPIR the raw Slab delta is shown.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

COUNTS=${COUNTS:-1000 10000}
SKIP_TAPIR=${SKIP_TAPIR:-0}
SKIP_NGINX=${SKIP_NGINX:-0}
HOLD_SECS=120 # upper bound; the script kills the client as soon as it has measured

bench_init
bench_need curl:curl ip:iproute2 ping:iputils-ping pgrep:procps ss:iproute2 nginx:nginx-light
www_prepare

CLIENT=${IDLE_CONNS:-}
if [[ -z $CLIENT ]]; then
    log "building idle_conns (release)"
    (cd "$BENCH_REPO" && cargo build --release --quiet -p tapir-benches --bin idle_conns)
    CLIENT=$BENCH_REPO/target/release/idle_conns
fi
[[ $SKIP_TAPIR == 1 ]] || build_tapir
[[ $SKIP_NGINX == 1 ]] || nginx_net

RESULTS=$WORK/idle.tsv
: >"$RESULTS"

# measure SERVER COUNT — one fresh server, COUNT idle connections; appends to $RESULTS.
measure() {
    local server=$1 count=$2 ns addr pid
    if [[ $server == tapir ]]; then
        tapir_start 300s || die "tapir did not start"
        ns=$TAPIR_NS addr=$TAPIR_ADDR pid=$TAPIR_PID
    else
        nginx_start 300s || die "nginx did not start"
        ns=$NGINX_CLI_NS addr=$NGINX_ADDR pid=$NGINX_WORKER
    fi
    check_200 "$ns" "http://$addr/1k.html" # warm-up: file caches, first-use allocations
    sleep 1
    local rss0 slab0 rss1 slab1 est
    rss0=$(rss_kb "$pid")
    slab0=$(slab_kb)

    local out=$WORK/client.out
    : >"$out"
    ip netns exec "$ns" "$CLIENT" "$addr" "$count" /1k.html "$HOLD_SECS" >"$out" 2>"$WORK/client.err" &
    local client=$!
    bench_track "$client"
    # Bounded wait for "ready": 10000 sequential requests take a few seconds.
    for _ in $(seq 600); do
        grep -q '^ready' "$out" && break
        kill -0 "$client" 2>/dev/null || break
        sleep 0.1
    done
    grep -q '^ready' "$out" || { cat "$WORK/client.err" >&2; die "idle_conns did not get ready against $server"; }
    sleep 2 # let delayed ACKs and timers settle
    rss1=$(rss_kb "$pid")
    slab1=$(slab_kb)
    est=$(ip netns exec "$ns" ss -Htn state established "dst $addr" | wc -l)
    local opened failed
    read -r _ opened failed <"$out"
    if [[ -s $WORK/client.err ]]; then log "client: $(cat "$WORK/client.err")"; fi
    stop_pid "$client"
    if [[ $server == tapir ]]; then tapir_stop; else nginx_stop; fi

    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$count" "$opened" "$est" \
        $((rss1 - rss0)) $((slab1 - slab0)) "$failed" >>"$RESULTS"
    log "$server: $opened opened ($failed failed), $est established at measurement; RSS +$((rss1 - rss0)) KiB, Slab +$((slab1 - slab0)) KiB"
    sleep 2 # let the client's sockets leave the kernel before the next run
}

for count in $COUNTS; do
    [[ $SKIP_TAPIR == 1 ]] || measure tapir "$count"
    [[ $SKIP_NGINX == 1 ]] || measure nginx "$count"
done

echo
echo "Bytes per idle connection (divided by connections still established at measurement)."
echo "nginx kernel = Slab delta of the nginx run minus that of the tapir run (client sockets cancel)."
awk -F'\t' '
    { k = $1 SUBSEP $2; est[k] = $4; rss[k] = $5 * 1024; slab[k] = $6 * 1024
      if (!($2 in seen)) { seen[$2] = 1; order[++nc] = $2 } }
    function per(v, n) { return n > 0 ? sprintf("%.0f", v / n) : "n/a" }
    END {
        printf "%8s | %10s %12s | %10s %12s %14s %12s\n", "conns", "tapir est", "tapir RSS/c",
            "nginx est", "nginx RSS/c", "nginx kernel/c", "nginx total/c"
        for (i = 1; i <= nc; i++) {
            c = order[i]; t = "tapir" SUBSEP c; g = "nginx" SUBSEP c
            tr = (t in est) ? per(rss[t], est[t]) : "-"
            if (g in est) {
                gr = per(rss[g], est[g])
                if (t in est) { kern = per(slab[g] - slab[t], est[g]); tot = per(rss[g] + slab[g] - slab[t], est[g]) }
                else { kern = per(slab[g], est[g]) " (raw)"; tot = per(rss[g] + slab[g], est[g]) " (raw)" }
            } else { gr = "-"; kern = "-"; tot = "-" }
            printf "%8s | %10s %12s | %10s %12s %14s %12s\n", c, (t in est) ? est[t] : "-", tr,
                (g in est) ? est[g] : "-", gr, kern, tot
        }
    }' "$RESULTS"
