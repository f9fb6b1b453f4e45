#!/usr/bin/env bash
# The test command: installs what the tests need, builds, and runs every test twice: once
# plainly (tests in parallel) and once under ThreadSanitizer (one at a time), with the Python
# client's pytest suite between the two passes (against the debug daemon) (`LockedState` uses pthread mutexes so TSan sees
# our locking). Fails on any failing test, any TSan report, or when no test ran at all.
#
# Hardware tests run the real libudev code against umockdev testbeds. They need umockdev's
# preload library; each of them re-runs itself in a child process under `umockdev-wrapper`
# (Sources/LabvisorDriverTesting/UmockdevReexec.swift), so a plain `swift test` runs them too.
# Every pass must show them passing (REQUIRED_SUITES), so they can never silently not run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

# Suites that must have run and passed in every pass.
REQUIRED_SUITES=(UdevDiscoveryTests UmockdevSerialTests UmockdevDaemonTests DiscoveryServiceTests USBDeviceTests USBTransferTests USBStreamTests UVCCameraTests LibUVCCrossCheckTests)

log=$(mktemp)
passlog=$(mktemp)
trap 'rm -f "$log" "$passlog"' EXIT

# The suites that start processes (child daemons, umockdev re-runs): in the plain pass they
# run after the in-process ones, not beside them. Together, dozens of daemon processes
# starting on 2 cores starved the in-process timing tests (1 s reply timeouts) for seconds.
SPAWNING="LabvisorEndToEndTests|LabvisorUmockdevTests|UVCCameraTests|UmockdevSerialTests"

# run_tests LABEL SWIFT-TEST-ARGS...
run_tests() {
    local label=$1
    shift
    echo "test: $label" >&2
    set +e
    swift test "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
        echo "test: $label: swift test failed (exit $status)" >&2
        exit "$status"
    fi
    if grep -q "WARNING: ThreadSanitizer" "$log"; then
        echo "test: $label: ThreadSanitizer reported a data race" >&2
        exit 1
    fi
    # Swift Testing closes with "Test run with N tests in M suites passed".
    local summary count
    summary=$(grep -E "Test run with [0-9]+ tests? .*passed" "$log" | tail -1 || true)
    count=$(echo "$summary" | sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/')
    if [ -z "$summary" ] || [ "${count:-0}" -eq 0 ]; then
        echo "test: $label: no tests ran" >&2
        exit 1
    fi
    cat "$log" >> "$passlog"
    echo "test: $label: $count tests passed" >&2
}

# check_required LABEL: every required suite ran and passed in the pass's runs so far.
check_required() {
    local suite
    for suite in "${REQUIRED_SUITES[@]}"; do
        if ! grep -q "Suite $suite passed" "$passlog"; then
            echo "test: $1: required suite $suite did not run and pass" >&2
            exit 1
        fi
    done
    : > "$passlog"
}

swift build --build-tests
run_tests "debug build, in-process suites" --skip "$SPAWNING"
run_tests "debug build, suites that start processes" --filter "$SPAWNING"
check_required "debug build"

# The Python client's tests (clients/python/tests, pytest in .venv-tools, where setup.sh
# installed the client) against a real `labvisord --demo --loopback` from the debug build
# above, with the debug `labvisor` CLI. Fails when pytest fails or collects no test.
run_python_tests() {
    echo "test: Python client" >&2
    set +e
    (cd clients/python && LABVISOR_BIN="$PWD/../../.build/debug" ../../.venv-tools/bin/python3 -m pytest -q -p no:cacheprovider tests) 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    set -e
    if [ "$status" -ne 0 ]; then
        echo "test: Python client: pytest failed (exit $status)" >&2
        exit 1
    fi
    local count
    count=$(grep -E "^[0-9]+ passed" "$log" | tail -1 | sed -E 's/^([0-9]+) passed.*/\1/')
    if [ -z "$count" ] || [ "$count" -eq 0 ]; then
        echo "test: Python client: no tests ran" >&2
        exit 1
    fi
    echo "test: Python client: $count tests passed" >&2
}
run_python_tests
# One test at a time under TSan: its slowdown multiplied by ~300 concurrent tests (PTYs,
# child daemons, umockdev re-runs) on 2 cores starves timers and makes timing tests flaky;
# the plain pass above runs them concurrently.
run_tests "ThreadSanitizer" --sanitize=thread --scratch-path .build-tsan --no-parallel
check_required "ThreadSanitizer"
