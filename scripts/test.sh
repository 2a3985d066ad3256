#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (the moto AWS
# emulator, shellcheck), then checks formatting and lints, then runs every test.
# Integration tests start their own moto server on a free loopback port; nothing leaves 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/python-tools.sh
. scripts/python-tools.sh
ensure_python_tools

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
