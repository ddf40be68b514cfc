#!/usr/bin/env bash
# Run every check tapir has, as CI does: formatting, lints, unit tests and the
# kernel tests (real TAP devices inside throwaway network namespaces).
#
# Usage (as root, on a fresh Debian/Ubuntu machine or this one):
#   sudo bash scripts/test.sh
#
# Installs the tools the kernel tests drive (curl, wrk, ping, nghttp, h2load,
# openssl, ...), then runs
# cargo fmt --check, clippy -D warnings and cargo test. Stops at the first
# failure. Network traffic stays inside namespaces the tests create.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/test.sh: needs root (TAP devices and network namespaces); run: sudo bash scripts/test.sh" >&2
    exit 1
fi

# cargo may live in the invoking user's home when run through sudo.
if ! command -v cargo >/dev/null 2>&1; then
    for dir in "${HOME:-/root}/.cargo/bin" "/home/${SUDO_USER:-nobody}/.cargo/bin"; do
        if [[ -x "$dir/cargo" ]]; then
            export PATH="$dir:$PATH"
            break
        fi
    done
fi
command -v cargo >/dev/null 2>&1 || { echo "scripts/test.sh: cargo not found (install Rust via rustup)" >&2; exit 1; }

echo "==> installing test tools"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
    wrk curl nghttp2-client iproute2 iptables iputils-ping tcpdump hping3 \
    nginx-light procps ca-certificates ethtool openssl python3 python3-prometheus-client \
    chromium fonts-dejavu-core >/dev/null

# Namespaces left by an earlier test run that was killed before it could
# clean up. Names are tapir-test-PID-N; skip those whose test process is alive
# (another run in progress on this machine).
sweep_test_namespaces() {
    local ns owner pid
    for ns in $(ip netns list | awk '$1 ~ /^tapir-test-[0-9]+-[0-9]+$/ {print $1}'); do
        owner=${ns#tapir-test-}
        owner=${owner%%-*}
        [[ -d /proc/$owner ]] && continue
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}
sweep_test_namespaces
trap sweep_test_namespaces EXIT

echo "==> cargo fmt --check"
cargo fmt --all -- --check

echo "==> cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

echo "==> cargo test"
cargo test --workspace

# cargo test has exited, so any tapir-test namespace of its test binaries leaked.
sleep 0.2
leftover=$(ip netns list | awk '$1 ~ /^tapir-test-/ {print $1}' | while read -r ns; do
    owner=${ns#tapir-test-}
    [[ -d /proc/${owner%%-*} ]] || echo "$ns"
done)
if [[ -n $leftover ]]; then
    echo "scripts/test.sh: tests leaked network namespaces: $leftover" >&2
    exit 1
fi
echo "==> all checks passed"
