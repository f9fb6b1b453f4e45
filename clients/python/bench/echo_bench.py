"""Sequential `echo` calls from the Python client to `labvisord --loopback`, against Pyro5's
proxy to a Pyro5 daemon (scripts/bench/pyro5_echo.py), both over unix sockets on this machine.

Prints one JSON object per line with --json, else a table. Measured for each side: calls/s,
p50 and p99 latency; for the Python client also its own CPU per call (this process, reader
thread included), and the floor: the same request bytes written and read by a bare blocking
socket loop in one thread (what the daemon alone allows a Python caller).

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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import labvisor

ROOT = Path(__file__).resolve().parents[3]


def start_daemon(executable: str, folder: str) -> subprocess.Popen:
    path = os.path.join(folder, "labvisord.sock")
    env = dict(os.environ, LABVISOR_LOG_LEVEL="warning")
    process = subprocess.Popen([executable, "--loopback", "--socket", path], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with labvisor.connect(f"unix://{path}", timeout=1, answer_timeout=5) as lab:
                if any(item.name == "loopback" for item in lab.instruments()):
                    return process
        except labvisor.LabvisorError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{executable} --loopback did not start within 30 s")


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


def summary(prefix, latencies, elapsed):
    latencies.sort()
    return {f"{prefix}_sequential_per_s": round(len(latencies) / elapsed),
            f"{prefix}_p50_us": round(percentile(latencies, 0.5) * 1e6, 1),
            f"{prefix}_p99_us": round(percentile(latencies, 0.99) * 1e6, 1)}


def bare_socket_floor(path, seconds):
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

    for _ in range(500):
        echo(1)
    latencies, elapsed, _ = client_loop(echo, seconds)
    sock.close()
    return summary("bare_socket", latencies, elapsed)


def pyro5(seconds):
    script = ROOT / "scripts" / "bench" / "pyro5_echo.py"
    try:
        output = subprocess.run([sys.executable, str(script), str(seconds)], capture_output=True, text=True,
                                timeout=60 + 4 * seconds)
        return json.loads(output.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, json.JSONDecodeError, IndexError) as error:
        return {"pyro5_error": f"{error}"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each phase")
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
    daemon = start_daemon(executable, folder)
    path = os.path.join(folder, "labvisord.sock")
    results = {"labvisord": executable}
    try:
        with labvisor.connect(f"unix://{path}") as lab:
            echo = lab.instrument("loopback").echo
            for _ in range(2000):
                echo(1)
            latencies, elapsed, cpu = client_loop(echo, options.seconds)
            results.update(summary("python_client", latencies, elapsed))
            results["python_client_cpu_us_per_call"] = round(cpu / len(latencies) * 1e6, 1)
            if options.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                client_loop(echo, min(options.seconds, 2.0))
                profiler.disable()
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
                print(text.getvalue(), file=sys.stderr)
        results.update(bare_socket_floor(path, options.seconds))
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=15)
        except subprocess.TimeoutExpired:
            daemon.kill()
        shutil.rmtree(folder, ignore_errors=True)
    if not options.no_pyro:
        results.update(pyro5(options.seconds))
        if "pyro5_sequential_per_s" in results:
            results["ratio_python_client_to_pyro5"] = round(
                results["python_client_sequential_per_s"] / results["pyro5_sequential_per_s"], 2)
    if options.json:
        print(json.dumps(results))
        return 0
    print(f"daemon: {executable}")
    print(f"{'':28} {'calls/s':>9} {'p50 us':>9} {'p99 us':>9}")
    for prefix, label in (("python_client", "labvisor Python client"), ("bare_socket", "bare socket, same bytes"),
                          ("pyro5", "Pyro5 proxy")):
        if f"{prefix}_sequential_per_s" in results:
            print(f"{label:28} {results[prefix + '_sequential_per_s']:>9} {results[prefix + '_p50_us']:>9} "
                  f"{results[prefix + '_p99_us']:>9}")
    print(f"Python client CPU per call (this process): {results['python_client_cpu_us_per_call']} us")
    if "ratio_python_client_to_pyro5" in results:
        ratio = results["ratio_python_client_to_pyro5"]
        print(f"Python client / Pyro5: {ratio}x (target >= 3x: {'met' if ratio >= 3 else 'not met'})")
    elif "pyro5_error" in results:
        print(f"Pyro5: {results['pyro5_error']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
