#!/usr/bin/env bash
# Build tapir in release mode and run it with the default configuration.
#
# Usage (as root: tapir creates a TAP device and configures its link):
#   sudo bash scripts/run.sh [extra tapir arguments]
#
# Then, from the same machine: curl http://10.7.0.2/ (addresses in conf/tapir.toml).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo >/dev/null 2>&1; then
    for dir in "${HOME:-/root}/.cargo/bin" "/home/${SUDO_USER:-nobody}/.cargo/bin"; do
        if [[ -x "$dir/cargo" ]]; then
            export PATH="$dir:$PATH"
            break
        fi
    done
fi

cargo build --release --bin tapir
exec target/release/tapir --config conf/tapir.toml "$@"
