#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (the moto AWS
# emulator, shellcheck), then checks formatting and lints, then runs every test.
# Integration tests start their own moto server on a free loopback port; nothing leaves 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

# A one-shot build (CI, a fresh clone) gains nothing from incremental caches, and they are
# gigabytes next to the AWS SDK's. Set CARGO_INCREMENTAL=1 to keep them when iterating.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
fi

# shellcheck source=scripts/python-tools.sh
. scripts/python-tools.sh
ensure_python_tools

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test --workspace
