#!/usr/bin/env bash
# The run command: starts `labvisord --demo` (every reference simulator behind the real
# drivers and serial transports), runs a short scripted experiment through the `labvisor`
# CLI, and stops the daemon cleanly (SIGTERM: every driver to its safe state, exit 0).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product labvisord
swift build -c release --product labvisor
bin=$(swift build -c release --show-bin-path)

runtime=$(mktemp -d)
export LABVISOR_URL="unix://$runtime/labvisord.sock"
"$bin/labvisord" --demo --socket "$runtime/labvisord.sock" 2>"$runtime/labvisord.log" &
daemon=$!
cleanup() {
    kill "$daemon" 2>/dev/null || true
    rm -rf "$runtime"
}
trap cleanup EXIT

for _ in $(seq 100); do
    "$bin/labvisor" status >/dev/null 2>&1 && break
    sleep 0.1
done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$bin/labvisor" status
step "$bin/labvisor" list
step "$bin/labvisor" describe stage-x
# The experiment holds its instruments for its whole run; its calls act under the lease.
step "$bin/labvisor" lock stage-x stage-z laser-488 camera-1 -- env LABVISOR_CLI="$bin/labvisor" scripts/demo-experiment.sh
step "$bin/labvisor" leases
step "$bin/labvisor" get laser-488 emission

printf '\n\033[1m$ kill -TERM labvisord\033[0m\n'
kill -TERM "$daemon"
status=0
wait "$daemon" || status=$?
grep -E "stopped|safe state" "$runtime/labvisord.log" || true
echo "labvisord exited with status $status"
exit "$status"
