#!/usr/bin/env bash
# The test command: installs what the tests need, builds, runs every test, and fails on any
# failing test or when no test ran at all.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT

swift build --build-tests
set +e
swift test 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

if [ "$status" -ne 0 ]; then
    echo "test: swift test failed (exit $status)" >&2
    exit "$status"
fi
# Swift Testing closes with "Test run with N tests in M suites passed".
summary=$(grep -E "Test run with [0-9]+ tests? .*passed" "$log" | tail -1 || true)
count=$(echo "$summary" | sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/')
if [ -z "$summary" ] || [ "${count:-0}" -eq 0 ]; then
    echo "test: no tests ran" >&2
    exit 1
fi
echo "test: $count tests passed"
