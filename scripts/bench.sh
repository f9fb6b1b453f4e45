#!/usr/bin/env bash
# The benchmarks: builds in release mode and prints the table of measured numbers against
# the targets (docs/benchmarks.md). Pass names or prefixes to run some: scripts/bench.sh wire;
# `scripts/bench.sh python` runs the Python client's echo benchmark alone, `scripts/bench.sh
# python-frames` its frames benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product labvisord

# `scripts/bench.sh python-frames`: frames to numpy arrays (clients/python/bench/frames_bench.py).
if [ "${1:-}" = "python-frames" ]; then
    shift
    exec .venv-tools/bin/python3 clients/python/bench/frames_bench.py "$@"
fi

# `scripts/bench.sh python`: the Python client against Pyro5 (clients/python/bench/echo_bench.py).
if [ "${1:-}" = "python" ]; then
    shift
    exec .venv-tools/bin/python3 clients/python/bench/echo_bench.py "$@"
fi

swift run -c release labvisor-bench "$@"
if [ $# -eq 0 ]; then
    .venv-tools/bin/python3 clients/python/bench/echo_bench.py
    .venv-tools/bin/python3 clients/python/bench/frames_bench.py
fi
