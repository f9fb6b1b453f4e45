"""Sequential `echo` calls from the Python client to `labvisord --loopback`, against Pyro5's
proxy to a Pyro5 daemon (scripts/bench/pyro5_echo.py), both over unix sockets on this machine.

Three callers take turns in rounds of 20 ms each (so a loaded machine slows them alike): the
labvisor Python client (`lab.instrument("loopback").echo(1)`), the floor (the same request
bytes written and read by a bare blocking socket in one thread, on the client's own
connection, so the same daemon event loop serves both: what the daemon alone allows a Python
caller), and a Pyro5 proxy to a Pyro5 daemon serving `echo` (the server of
scripts/bench/pyro5_echo.py). `--before REF` adds the client as it was at git REF, on the same
connection too (before/after in the same minutes). For each: calls/s and CPU per call in this
(the calling) thread, each the median over its rounds (rounds of equal time, so each caller's
rounds are as exposed to the host's stolen time: a stolen round counts once, not in proportion
to its length); p50 and p99 over all calls. --json prints one object.

    python3 clients/python/bench/echo_bench.py [--seconds 3] [--labvisord .build/release/labvisord]
    python3 clients/python/bench/echo_bench.py --before HEAD~3   # the client then, same minutes
    python3 clients/python/bench/echo_bench.py --profile      # cProfile of the client loop
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import importlib
import select
import shutil
import signal
import statistics
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


def bare_socket_echo(sock):
    """The same request written and its answer read by one thread, no client machinery, on
    ``sock`` (the client's connection, blocking: the client's own reads do the same)."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"instrument.invoke","params":{"instrument":"loopback","method":"echo","arguments":{"value":1}}}'
    frame = len(body).to_bytes(4, "big") + body

    def echo(_):
        sock.sendall(frame)
        data = sock.recv(65536)
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
            data += sock.recv(65536)

    return echo


def client_at(ref, url, sock, folder):
    """``echo`` of the labvisor client as it is at git ``ref`` (imported under another name),
    on ``sock``: the connection it opens is only used to describe the instrument."""
    name = "labvisor_" + "".join(c if c.isalnum() else "_" for c in ref)
    target = os.path.join(folder, name)
    os.makedirs(target)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "clients/python/src/labvisor"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    os.rename(os.path.join(target, "clients/python/src/labvisor"), os.path.join(target, name))
    sys.path.insert(0, target)
    module = importlib.import_module(name)
    lab = module.connect(url)
    echo = lab.instrument("loopback").echo
    lab._connection._sock.close()
    lab._connection._sock = sock
    return echo


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


def interleaved(contenders, seconds, round_seconds=0.02):
    """Runs each contender's `echo` in turns of `round_seconds` for about `seconds` in all.
    Per contender: calls/s and CPU per call (medians over its rounds), p50 and p99 (over all
    its calls), and the number of rounds."""
    latencies = {name: [] for name in contenders}
    rates = {name: [] for name in contenders}
    cpu = {name: [] for name in contenders}
    clock = time.perf_counter
    thread_time = time.thread_time  # this thread's CPU, ns-exact (process_time counts ticks)
    for echo in contenders.values():
        for _ in range(1000):
            echo(1)
    end = clock() + seconds
    while clock() < end:
        for name, echo in contenders.items():
            append = latencies[name].append
            cpu_before = thread_time()
            start = now = clock()
            round_end = start + round_seconds
            calls = 0
            while now < round_end:
                echo(1)
                after = clock()
                append(after - now)
                now = after
                calls += 1
            rates[name].append(calls / (now - start))
            cpu[name].append((thread_time() - cpu_before) / calls)
    results = {}
    for name in contenders:
        values = sorted(latencies[name])
        results[f"{name}_sequential_per_s"] = round(statistics.median(rates[name]))
        results[f"{name}_p50_us"] = round(percentile(values, 0.5) * 1e6, 1)
        results[f"{name}_p99_us"] = round(percentile(values, 0.99) * 1e6, 1)
        results[f"{name}_cpu_us_per_call"] = round(statistics.median(cpu[name]) * 1e6, 1)
        results[f"{name}_rounds"] = len(rates[name])
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per caller (they take turns)")
    parser.add_argument("--labvisord", default=None, help="the daemon (default: .build/release, else .build/debug)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the client loop")
    parser.add_argument("--no-pyro", action="store_true", help="skip Pyro5")
    parser.add_argument("--before", metavar="REF", help="also the client at git REF (same connection)")
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
    try:
        contenders = {"python_client": lab.instrument("loopback").echo,
                      "bare_socket": bare_socket_echo(lab._connection._sock)}
        if options.before:
            contenders["before"] = client_at(options.before, f"unix://{path}", lab._connection._sock, folder)
            results["before"] = options.before
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
        for name in ("python_client", "bare_socket", "before"):
            if f"{name}_sequential_per_s" not in results:
                continue
            results[f"ratio_{name}_to_pyro5"] = round(
                results[f"{name}_sequential_per_s"] / results["pyro5_sequential_per_s"], 2)
    if options.json:
        print(json.dumps(results))
        return 0
    print(f"daemon: {executable}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':28} {'calls/s':>9} {'p50 us':>9} {'p99 us':>9} {'caller CPU us/call':>19}  (medians of "
          f"{results['python_client_rounds']} rounds each)")
    for prefix, label in (("python_client", "labvisor Python client"), ("before", f"  the client at {options.before}"),
                          ("bare_socket", "bare socket, same bytes"), ("pyro5", "Pyro5 proxy")):
        if f"{prefix}_sequential_per_s" in results:
            print(f"{label:28} {results[prefix + '_sequential_per_s']:>9} {results[prefix + '_p50_us']:>9} "
                  f"{results[prefix + '_p99_us']:>9} {results[prefix + '_cpu_us_per_call']:>19}")
    if "ratio_python_client_to_pyro5" in results:
        ratio = results["ratio_python_client_to_pyro5"]
        before = f"; the client at {options.before} / Pyro5: {results['ratio_before_to_pyro5']}x" if options.before else ""
        print(f"Python client / Pyro5: {ratio}x (target >= 3x: {'met' if ratio >= 3 else 'not met'}); "
              f"bare socket / Pyro5: {results['ratio_bare_socket_to_pyro5']}x{before}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
