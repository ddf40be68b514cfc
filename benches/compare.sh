#!/usr/bin/env bash
# tapir against nginx, same machine, same run, same files, same wrk loads.
#
# Usage (root):  sudo bash benches/compare.sh
# Environment:
#   ROUNDS=2        rounds; each round runs every load on both servers
#   DURATION=5      seconds per wrk run
#   CONNS=50        wrk connections
#   SKIP_TAPIR=1    nginx only (e.g. to check the nginx half)
#   SKIP_NGINX=1    tapir only
#   TAPIR_BIN=PATH  run this binary instead of building target/release/tapir
#   NGINX_OFFLOADS=off  turn TSO/GSO/GRO off on nginx's veth (needs ethtool)
#
# Topology: wrk in namespace tapir-bench talks to tapir over its TAP
# (10.7.0.2); wrk in nginx-cli talks to nginx in nginx-srv over a veth pair
# (10.8.0.1). Runs are interleaved (tapir, nginx, nginx, tapir, ...) so drift
# on a noisy machine hits both. Per run it prints requests/s, p99 latency and
# the server process's own CPU time per request (utime+stime from
# /proc/PID/stat; for nginx, the single worker), plus whole-machine busy CPU
# per request (which includes wrk and the kernel's side of either path).
# Then a table of means and tapir ÷ nginx ratios.
#
# Caveats: the kernel work of delivering packets is charged differently on
# the two paths (tapir's TAP writes run the client's kernel receive path in
# tapir's syscalls; nginx's kernel TCP is its own stime); the whole-machine
# column is the fairer total. CPU ticks are 1/CLK_TCK s coarse; use DURATION
# >= 5 for per-request figures worth comparing.
set -euo pipefail

# shellcheck source=benches/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
SKIP_TAPIR=${SKIP_TAPIR:-0}
SKIP_NGINX=${SKIP_NGINX:-0}

bench_init
bench_need wrk:wrk curl:curl ip:iproute2 ping:iputils-ping pgrep:procps nginx:nginx-light

www_prepare
RESULTS=$WORK/results.tsv
: >"$RESULTS"

SERVERS=()
if [[ $SKIP_TAPIR != 1 ]]; then
    build_tapir
    tapir_start 15s || die "tapir did not start"
    log "tapir pid $TAPIR_PID on $TAPIR_ADDR"
    SERVERS+=(tapir)
fi
if [[ $SKIP_NGINX != 1 ]]; then
    command -v nginx >/dev/null || die "nginx not installed"
    nginx_net
    nginx_start 15s || die "nginx did not start"
    log "nginx master $NGINX_MASTER, worker $NGINX_WORKER on $NGINX_ADDR"
    SERVERS+=(nginx)
fi
((${#SERVERS[@]})) || die "nothing to measure (SKIP_TAPIR and SKIP_NGINX both set)"
for path in /1k.html /100k.html; do
    [[ $SKIP_TAPIR == 1 ]] || check_200 "$TAPIR_NS" "http://$TAPIR_ADDR$path"
    [[ $SKIP_NGINX == 1 ]] || check_200 "$NGINX_CLI_NS" "http://$NGINX_ADDR$path"
done

# Loads: name|path|extra wrk argument
LOADS=(
    "keepalive-1k|/1k.html|"
    "close-1k|/1k.html|Connection: close"
    "keepalive-100k|/100k.html|"
)

# to_us VALUE — wrk's "1.23ms" / "456.00us" / "1.02s" in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000;
        else if (v ~ /s$/) print n * 1000000; else print n }'
}

# run_one ROUND LOAD SERVER
run_one() {
    local round=$1 load=$2 server=$3 name path header ns addr pid
    IFS='|' read -r name path header <<<"$load"
    if [[ $server == tapir ]]; then
        ns=$TAPIR_NS addr=$TAPIR_ADDR pid=$TAPIR_PID
    else
        ns=$NGINX_CLI_NS addr=$NGINX_ADDR pid=$NGINX_WORKER
    fi
    kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) is gone"
    local args=(-t1 "-c$CONNS" "-d${DURATION}s" --latency)
    [[ -n $header ]] && args+=(-H "$header")

    local cpu0 busy0 cpu1 busy1 out
    cpu0=$(cpu_ticks "$pid")
    busy0=$(busy_ticks)
    out=$(ip netns exec "$ns" timeout $((DURATION + 15)) wrk "${args[@]}" "http://$addr$path" 2>&1) ||
        { log "wrk failed against $server:"; echo "$out" >&2; die "wrk failed"; }
    cpu1=$(cpu_ticks "$pid")
    busy1=$(busy_ticks)

    local requests rps p99 errors non2xx
    requests=$(awk '/ requests in / {print $1; exit}' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(to_us "$(awk '$1 == "99%" {print $2; exit}' <<<"$out")")
    errors=$(awk -F': ' '/Socket errors/ {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
    [[ -n $requests && $requests -gt 0 ]] || { echo "$out" >&2; die "$server completed no requests"; }

    local cpu_us sys_us
    cpu_us=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$requests" -v hz="$CLK_TCK" \
        'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
    sys_us=$(awk -v a="$busy0" -v b="$busy1" -v n="$requests" -v hz="$CLK_TCK" \
        'BEGIN {printf "%.2f", (b - a) * 1e6 / hz / n}')
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$server" "$rps" "$p99" \
        "$cpu_us" "$sys_us" "$requests" "${errors:-none}${non2xx:+ non2xx=$non2xx}" >>"$RESULTS"
    printf '%-6s %-15s %-6s %12s req/s  p99 %9s us  server %8s us/req  machine %8s us/req  %s\n' \
        "r$round" "$name" "$server" "$rps" "$p99" "$cpu_us" "$sys_us" \
        "${errors:+errors: $errors}${non2xx:+ non-2xx: $non2xx}"
}

log "$ROUNDS round(s) x ${#LOADS[@]} loads x ${#SERVERS[@]} server(s), ${DURATION}s each, $CONNS connections"
for round in $(seq "$ROUNDS"); do
    for load in "${LOADS[@]}"; do
        # Alternate which server goes first, so neither always runs "warm".
        if ((round % 2 == 1)); then order=("${SERVERS[@]}"); else order=(); for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[i]}"); done; fi
        for server in "${order[@]}"; do
            run_one "$round" "$load" "$server"
        done
    done
done

echo
echo "Means over $ROUNDS round(s); ratio = tapir / nginx (req/s: >1 is better for tapir; p99 and CPU: <1 is better)."
awk -F'\t' '
    { k = $2 SUBSEP $3; n[k]++; rps[k] += $4; p99[k] += $5; cpu[k] += $6; sys[k] += $7
      if (!($2 in seen)) { seen[$2] = 1; order[++nl] = $2 } }
    function mean(a, k) { return (k in n) ? a[k] / n[k] : "" }
    function ratio(a, l) {
        t = l SUBSEP "tapir"; g = l SUBSEP "nginx"
        if (!(t in n) || !(g in n) || a[g] == 0) return "n/a"
        return sprintf("%.2f", (a[t] / n[t]) / (a[g] / n[g]))
    }
    function cell(a, k, fmt) { return (k in n) ? sprintf(fmt, mean(a, k)) : "-" }
    END {
        printf "%-15s | %10s %10s %6s | %9s %9s %6s | %8s %8s %6s | %8s %8s %6s\n",
            "load", "tapir r/s", "nginx r/s", "ratio", "tapir p99", "nginx p99", "ratio",
            "tapir us", "nginx us", "ratio", "mach us", "mach us", "ratio"
        printf "%-15s | %10s %10s %6s | %9s %9s %6s | %8s %8s %6s | %8s %8s %6s\n",
            "", "", "", "", "(us)", "(us)", "", "/req", "/req", "", "tapir", "nginx", ""
        for (i = 1; i <= nl; i++) {
            l = order[i]; t = l SUBSEP "tapir"; g = l SUBSEP "nginx"
            printf "%-15s | %10s %10s %6s | %9s %9s %6s | %8s %8s %6s | %8s %8s %6s\n", l,
                cell(rps, t, "%.0f"), cell(rps, g, "%.0f"), ratio(rps, l),
                cell(p99, t, "%.0f"), cell(p99, g, "%.0f"), ratio(p99, l),
                cell(cpu, t, "%.2f"), cell(cpu, g, "%.2f"), ratio(cpu, l),
                cell(sys, t, "%.2f"), cell(sys, g, "%.2f"), ratio(sys, l)
        }
    }' "$RESULTS"
if grep -qv $'\tnone$' "$RESULTS"; then
    echo
    echo "Runs with socket errors or non-2xx responses:"
    awk -F'\t' '$9 != "none" {print "  round " $1 ", " $2 ", " $3 ": " $9}' "$RESULTS"
fi
