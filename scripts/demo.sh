#!/usr/bin/env bash
# The main job with no AWS account: builds geusemaker, starts a local moto AWS emulator on a
# free loopback port, and runs apply → status → monitor → destroy on examples/web-server.yaml.
# The emulator stops when this script ends.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/python-tools.sh
. scripts/python-tools.sh
ensure_python_tools

echo "== building geusemaker"
cargo build --quiet --bin geusemaker
gm=$PWD/target/debug/geusemaker

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The emulator reads its stdin until it closes: fd 3 closes when this script exits, and so it stops.
exec 3> >(python3 scripts/moto_launcher.py "$port" --quiet > "$work/moto.log" 2>&1)
for _ in $(seq 1 200); do
  grep -q ready "$work/moto.log" 2>/dev/null && break
  sleep 0.1
done
grep -q ready "$work/moto.log" || { echo "moto did not start:"; cat "$work/moto.log"; exit 1; }

export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1
export GEUSEMAKER_STATE="$work/state.db"
spec=examples/web-server.yaml

run() {
  printf '\n$ geusemaker %s\n' "$*"
  "$gm" "$@"
}

echo "== moto is at $AWS_ENDPOINT_URL; state in $GEUSEMAKER_STATE"
run validate -f "$spec"
run plan -f "$spec"
run apply -f "$spec" --yes
run apply -f "$spec" --yes
run status -f "$spec"
run monitor -f "$spec"
run list
run destroy -f "$spec" --yes
echo
echo "Demo finished: the deployment was created, re-applied as a no-op, inspected and destroyed."
