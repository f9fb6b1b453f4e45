#!/usr/bin/env bash
# The benchmarks: builds in release mode and prints the table of measured numbers against
# the targets (docs/benchmarks.md). Pass names or prefixes to run some: scripts/bench.sh wire
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product labvisord
swift run -c release labvisor-bench "$@"
