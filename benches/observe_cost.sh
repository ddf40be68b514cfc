#!/usr/bin/env bash
# What do pcap capture and ACK traces cost on keep-alive requests/s?
#
# Usage (root):  sudo bash benches/observe_cost.sh
# Environment:
#   ROUNDS=3        rounds; each runs every mode once, in rotating order
#   SECS=8          wrk duration per run
#   MODES="off pcap trace"
#   TAPIR_BIN=PATH  run this tapir binary instead of building a release one
#   OUT_DIR=DIR     where pcap and trace files go (default: the scratch dir
#                   in /tmp; /dev/shm separates tapir's cost from the disk's)
#
# One tapir (fresh per run) in a namespace, `wrk -t1 -c50` keep-alive on
# /1k.html from the namespace's kernel. Modes: off (counters only: they are
# plain integer increments and cannot be turned off), pcap (`[net] pcap`
# to a file in /tmp), trace (`[trace] connections`). Prints req/s per run
# and the median per mode with its ratio to off.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
MODES=${MODES:-off pcap trace}

bench_init
bench_need wrk:wrk curl:curl ip:iproute2 ping:iputils-ping
www_prepare
build_tapir

OUT=$(mktemp -d "${OUT_DIR:-$WORK}/tapir-observe-cost.XXXXXX")
declare -A RESULTS
run_mode() {
    local mode=$1
    tapir_conf "$WORK/tapir.toml" 15s
    case $mode in
        pcap) sed -i "s|^mtu = 1500|mtu = 1500\npcap = \"$OUT/cap.pcap\"|" "$WORK/tapir.toml" ;;
        trace) printf '\n[trace]\nconnections = "%s"\n' "$OUT/trace.csv" >>"$WORK/tapir.toml" ;;
    esac
    printf '\n[control]\nsocket = "off"\n' >>"$WORK/tapir.toml"
    if ! ip netns list | awk '{print $1}' | grep -qx "$TAPIR_NS"; then ns_create "$TAPIR_NS"; fi
    ip netns exec "$TAPIR_NS" "$TAPIR_BIN" --config "$WORK/tapir.toml" >>"$WORK/tapir.log" 2>&1 &
    TAPIR_PID=$!
    bench_track "$TAPIR_PID"
    wait_ping "$TAPIR_NS" "$TAPIR_ADDR" tapir "$TAPIR_PID" || { cat "$WORK/tapir.log" >&2; exit 1; }
    check_200 "$TAPIR_NS" "http://$TAPIR_ADDR/1k.html"
    local out rps
    out=$(ip netns exec "$TAPIR_NS" wrk -t1 -c50 -d"${SECS}s" "http://$TAPIR_ADDR/1k.html")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    tapir_stop
    local size=""
    [[ $mode == pcap ]] && size=" pcap $(du -ch "$OUT"/cap.pcap* 2>/dev/null | tail -1 | cut -f1)"
    [[ $mode == trace ]] && size=" trace $(du -h "$OUT/trace.csv" 2>/dev/null | cut -f1)"
    rm -f "$OUT/cap.pcap" "$OUT/cap.pcap.1" "$OUT/trace.csv"
    log "$mode: $rps req/s$size"
    RESULTS[$mode]+="$rps "
}

read -r -a modes <<<"$MODES"
for ((round = 0; round < ROUNDS; round++)); do
    for ((i = 0; i < ${#modes[@]}; i++)); do
        run_mode "${modes[$(((i + round) % ${#modes[@]}))]}"
    done
done

rmdir "$OUT" 2>/dev/null || true

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median <<<"${RESULTS[off]:-0}")
printf '\n%-6s %12s %8s   runs\n' mode "median rps" "vs off"
for mode in "${modes[@]}"; do
    m=$(median <<<"${RESULTS[$mode]}")
    printf '%-6s %12.0f %7.3fx   %s\n' "$mode" "$m" "$(awk -v a="$m" -v b="$base" 'BEGIN {print (b > 0 ? a / b : 0)}')" "${RESULTS[$mode]}"
done
