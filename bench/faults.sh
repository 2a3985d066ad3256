#!/usr/bin/env bash
# The longer fault campaign: every mutating call of apply and destroy, failed in each of three
# ways (lost answer, 500, throttle) at its 1st, 2nd, … call, against moto through the test proxy.
# Prints the campaign's totals line. Usage: bench/faults.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/python-tools.sh
. scripts/python-tools.sh
ensure_python_tools
GM_FAULT_ROUNDS="${1:-3}" cargo test -p geusemaker --test it -- \
  identity::every_mutating_call_can_fail_in_every_way --nocapture 2>&1 | grep -E "fault campaign|test result|panicked|: "
