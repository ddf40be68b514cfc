#!/usr/bin/env bash
# Recovery under random loss: tapir's TCP against Linux's, same run.
#
# Usage (root):  sudo bash benches/loss.sh
# Environment:
#   LOSSES="0 1 5 10"  loss percentages, applied to each direction
#   ROUNDS=3           downloads per loss and server (the median is reported)
#   SIZE_MIB=10        file size
#   TAPIR_BIN=PATH     run this binary instead of building target/release/tapir
#
# Topology as in compare.sh: curl in tapir-bench downloads from tapir over
# its TAP; curl in nginx-cli downloads from nginx (Linux TCP, CUBIC, SACK,
# RACK-TLP) over a veth. Loss is `iptables -m statistic --mode random` on the
# client's side of each link, INPUT and OUTPUT (this kernel has no netem).
# Every download is bounded by curl --max-time 120. Prints seconds and MB/s
# per loss, the tapir ÷ Linux time ratio, and tapir's counters at the end.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOSSES=${LOSSES:-"0 1 5 10"}
ROUNDS=${ROUNDS:-3}
SIZE_MIB=${SIZE_MIB:-10}

bench_init
bench_need curl:curl ip:iproute2 ping:iputils-ping pgrep:procps nginx:nginx-light iptables:iptables

www_prepare
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$WORK/www/big.bin"
chmod a+r "$WORK/www/big.bin"
build_tapir
tapir_start 15s || die "tapir did not start"
nginx_net
nginx_start 15s || die "nginx did not start"

# set_loss NS DEV PERCENT — replace the namespace's drop rules.
set_loss() {
    local ns=$1 dev=$2 pct=$3
    ip netns exec "$ns" iptables -F INPUT
    ip netns exec "$ns" iptables -F OUTPUT
    [[ $pct == 0 ]] && return 0
    local p
    p=$(awk -v x="$pct" 'BEGIN { printf "%.4f", x / 100 }')
    ip netns exec "$ns" iptables -A INPUT -i "$dev" -m statistic --mode random --probability "$p" -j DROP
    ip netns exec "$ns" iptables -A OUTPUT -o "$dev" -m statistic --mode random --probability "$p" -j DROP
}

# fetch NS URL — seconds for one byte-exact download ("fail" otherwise).
fetch() {
    local out=$WORK/download t
    rm -f "$out"
    t=$(ip netns exec "$1" curl -sS --noproxy '*' --max-time 120 -o "$out" -w '%{time_total}' "$2" 2>/dev/null) || {
        echo fail
        return
    }
    if cmp -s "$out" "$WORK/www/big.bin"; then echo "$t"; else echo fail; fi
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "fail"; else print a[int((NR + 1) / 2)] }'; }

printf '\n%-6s %-28s %-28s %s\n' loss "tapir s (MB/s)" "Linux s (MB/s)" "tapir/Linux time"
for pct in $LOSSES; do
    set_loss "$TAPIR_NS" tap0 "$pct"
    set_loss "$NGINX_CLI_NS" nb-cli "$pct"
    tt=() lt=()
    for _ in $(seq "$ROUNDS"); do
        tt+=("$(fetch "$TAPIR_NS" "http://$TAPIR_ADDR/big.bin")")
        lt+=("$(fetch "$NGINX_CLI_NS" "http://$NGINX_ADDR/big.bin")")
    done
    tm=$(printf '%s\n' "${tt[@]}" | grep -v fail | median)
    lm=$(printf '%s\n' "${lt[@]}" | grep -v fail | median)
    rate() { awk -v s="$1" -v m="$SIZE_MIB" 'BEGIN { if (s == "fail" || s == 0) print "-"; else printf "%.1f", m * 1.048576 / s }'; }
    ratio=$(awk -v a="$tm" -v b="$lm" 'BEGIN { if (a == "fail" || b == "fail" || b == 0) print "-"; else printf "%.2f", a / b }')
    printf '%-6s %-28s %-28s %s\n' "$pct%" "$tm ($(rate "$tm")) [${tt[*]}]" "$lm ($(rate "$lm")) [${lt[*]}]" "$ratio"
done
set_loss "$TAPIR_NS" tap0 0
kill -USR2 "$TAPIR_PID"
sleep 0.5
printf '\ntapir counters after all runs:\n'
awk '/^tapir stats$/ { block = "" } { block = block $0 "\n" } END { printf "%s", block }' "$WORK/tapir.log" |
    grep -E '^(Tcp|TcpExt):' || true
