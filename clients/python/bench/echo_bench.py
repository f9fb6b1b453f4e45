"""Sequential `echo` calls from the Python client to `labvisord --loopback`, against Pyro5's
proxy to a Pyro5 daemon (scripts/bench/pyro5_echo.py), both over unix sockets on this machine.

Three callers take turns in rounds of 200 calls (so a loaded machine slows them alike): the
labvisor Python client (`lab.instrument("loopback").echo(1)`), the floor (the same request
bytes written and read by a bare blocking socket in one thread: what the daemon alone allows
a Python caller), and a Pyro5 proxy to a Pyro5 daemon serving `echo` (the server of
scripts/bench/pyro5_echo.py). For each: calls/s (calls over the time spent in its turns), p50,
p99, and CPU per call in this (the calling) process. --json prints one object.

    python3 clients/python/bench/echo_bench.py [--seconds 3] [--labvisord .build/release/labvisord]
    python3 clients/python/bench/echo_bench.py --profile      # cProfile of the client loop
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import labvisor
from loopback_daemon import start_loopback_daemon

ROOT = Path(__file__).resolve().parents[3]


def percentile(sorted_values, fraction):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def client_loop(echo, seconds):
    latencies = []
    append = latencies.append
    clock = time.perf_counter
    cpu_before = time.process_time()
    start = clock()
    end = start + seconds
    now = start
    while now < end:
        echo(1)
        after = clock()
        append(after - now)
        now = after
    elapsed = now - start
    cpu = time.process_time() - cpu_before
    return latencies, elapsed, cpu


def bare_socket_echo(path):
    """The same request written and its answer read by one thread, no client machinery."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    sock.settimeout(10)
    body = b'{"jsonrpc":"2.0","id":1,"method":"instrument.invoke","params":{"instrument":"loopback","method":"echo","arguments":{"value":1}}}'
    frame = len(body).to_bytes(4, "big") + body

    def echo(_):
        sock.sendall(frame)
        data = sock.recv(65536)
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
            data += sock.recv(65536)

    return echo, sock.close


def pyro5_echo(folder):
    """A Pyro5 daemon (scripts/bench/pyro5_echo.py's server) on a unix socket, and a proxy's echo."""
    sys.path.insert(0, str(ROOT / "scripts" / "bench"))
    import pyro5_echo  # the baseline's own server code
    import Pyro5.api

    path = os.path.join(folder, "pyro.sock")
    server = subprocess.Popen([sys.executable, "-c", pyro5_echo.SERVER, path], stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([server.stdout], [], [], 30)
    if not ready or server.stdout.readline().strip() != "ready":
        server.kill()
        raise SystemExit("the Pyro5 server did not start within 30 s")
    proxy = Pyro5.api.Proxy(f"PYRO:echo@./u:{path}")
    return proxy.echo, server


def interleaved(contenders, seconds, round_size=200):
    """Runs each contender's `echo` in turns of `round_size` calls for about `seconds` in all."""
    latencies = {name: [] for name in contenders}
    busy = {name: 0.0 for name in contenders}
    cpu = {name: 0.0 for name in contenders}
    clock = time.perf_counter
    for echo in contenders.values():
        for _ in range(1000):
            echo(1)
    end = clock() + seconds
    while clock() < end:
        for name, echo in contenders.items():
            append = latencies[name].append
            cpu_before = time.process_time()
            start = now = clock()
            for _ in range(round_size):
                echo(1)
                after = clock()
                append(after - now)
                now = after
            busy[name] += now - start
            cpu[name] += time.process_time() - cpu_before
    results = {}
    for name in contenders:
        values = sorted(latencies[name])
        results[f"{name}_sequential_per_s"] = round(len(values) / busy[name])
        results[f"{name}_p50_us"] = round(percentile(values, 0.5) * 1e6, 1)
        results[f"{name}_p99_us"] = round(percentile(values, 0.99) * 1e6, 1)
        results[f"{name}_cpu_us_per_call"] = round(cpu[name] / len(values) * 1e6, 1)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per caller (they take turns)")
    parser.add_argument("--labvisord", default=None, help="the daemon (default: .build/release, else .build/debug)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the client loop")
    parser.add_argument("--no-pyro", action="store_true", help="skip Pyro5")
    options = parser.parse_args()
    executable = options.labvisord
    if executable is None:
        for build in ("release", "debug"):
            candidate = ROOT / ".build" / build / "labvisord"
            if candidate.exists():
                executable = str(candidate)
                break
    if executable is None:
        raise SystemExit("no labvisord: swift build -c release --product labvisord")
    folder = tempfile.mkdtemp(prefix="lvpy-bench-")
    _, daemon = start_loopback_daemon(executable, folder)
    path = os.path.join(folder, "labvisord.sock")
    results = {"labvisord": executable}
    pyro_server = None
    lab = labvisor.connect(f"unix://{path}")
    bare_echo, bare_close = bare_socket_echo(path)
    try:
        contenders = {"python_client": lab.instrument("loopback").echo, "bare_socket": bare_echo}
        if not options.no_pyro:
            contenders["pyro5"], pyro_server = pyro5_echo(folder)
        results.update(interleaved(contenders, options.seconds * len(contenders)))
        if options.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            client_loop(contenders["python_client"], min(options.seconds, 2.0))
            profiler.disable()
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
            print(text.getvalue(), file=sys.stderr)
    finally:
        lab.close()
        bare_close()
        if pyro_server is not None:
            pyro_server.kill()
            pyro_server.wait(timeout=10)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
        shutil.rmtree(folder, ignore_errors=True)
    if "pyro5_sequential_per_s" in results:
        for name in ("python_client", "bare_socket"):
            results[f"ratio_{name}_to_pyro5"] = round(
                results[f"{name}_sequential_per_s"] / results["pyro5_sequential_per_s"], 2)
    if options.json:
        print(json.dumps(results))
        return 0
    print(f"daemon: {executable}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':28} {'calls/s':>9} {'p50 us':>9} {'p99 us':>9} {'caller CPU us/call':>19}")
    for prefix, label in (("python_client", "labvisor Python client"), ("bare_socket", "bare socket, same bytes"),
                          ("pyro5", "Pyro5 proxy")):
        if f"{prefix}_sequential_per_s" in results:
            print(f"{label:28} {results[prefix + '_sequential_per_s']:>9} {results[prefix + '_p50_us']:>9} "
                  f"{results[prefix + '_p99_us']:>9} {results[prefix + '_cpu_us_per_call']:>19}")
    if "ratio_python_client_to_pyro5" in results:
        ratio = results["ratio_python_client_to_pyro5"]
        print(f"Python client / Pyro5: {ratio}x (target >= 3x: {'met' if ratio >= 3 else 'not met'}); "
              f"bare socket / Pyro5: {results['ratio_bare_socket_to_pyro5']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
