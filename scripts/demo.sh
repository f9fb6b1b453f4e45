#!/usr/bin/env bash
# The run command, until the daemon exists: builds in release mode and runs the benchmarks,
# printing the table of measured numbers against the targets.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift run -c release labvisor-bench "$@"
