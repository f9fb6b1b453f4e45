"""Camera frames to the Python client as numpy arrays: MB/s for 2048x2048 16-bit (Y16, 8 MiB)
frames from `labvisord --loopback`'s test-pattern stream (issue 6 target: >= 500 MB/s).

Starts the daemon given (default: the release build), subscribes to `loopback`'s frames
(queue 4), starts the pattern at --fps (offered faster than the client reads, so the client
is the limit and the daemon drops the surplus, counted), checks one frame byte for byte
against the pattern, then reads frames for --seconds as `frame.array` (a numpy view of the
received bytes, touching one sample per frame). Reports MB/s and frames/s received, frames
dropped, the time between frames (p50, p99), and this process's CPU per frame; the load
average before and after. Several --runs give the range. --json prints one object per run.

--floor measures the client alone: a forked trivial server writes the same prebuilt 8 MiB
frame message as fast as the socket takes it, and the client's connection reads it into
`Frame`s (its internals: `Connection`, `FrameQueue`, `Frame`; no daemon, no stream.open).

    python3 clients/python/bench/frames_bench.py [--labvisord .build/release/labvisord] [--seconds 5] [--runs 3]
    python3 clients/python/bench/frames_bench.py --floor
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy

import labvisor
from loopback_daemon import start_loopback_daemon

ROOT = Path(__file__).resolve().parents[3]
WIDTH, HEIGHT = 2048, 2048


def pattern(sequence: int) -> numpy.ndarray:
    x = numpy.arange(WIDTH, dtype=numpy.int64)
    y = numpy.arange(HEIGHT, dtype=numpy.int64)[:, None]
    return ((x + 3 * y + 5 * sequence) % 65536).astype("<u2")


def run(url: str, seconds: float, fps: float, queue: int) -> dict:
    with labvisor.connect(url, answer_timeout=30) as lab:
        loopback = lab.instrument("loopback")
        with loopback.frames(queue=queue, timeout=10) as stream:
            loopback.start_frames(width=WIDTH, height=HEIGHT, format="Y16", fps=fps)
            try:
                for _ in range(10):  # warm up
                    stream.next()
                checked = stream.next()
                if not numpy.array_equal(checked.array, pattern(checked.sequence)):
                    raise SystemExit(f"frame {checked.sequence} differs from the test pattern")
                gaps = []
                count = total = dropped = 0
                touched = 0
                cpu_before = time.process_time()
                start = previous = time.perf_counter()
                end = start + seconds
                while previous < end:
                    frame = stream.next()
                    array = frame.array  # the numpy view of the received bytes
                    touched += int(array[-1, -1])
                    now = time.perf_counter()
                    gaps.append(now - previous)
                    previous = now
                    count += 1
                    total += array.nbytes
                    dropped += frame.dropped
                elapsed = previous - start
                cpu = time.process_time() - cpu_before
            finally:
                loopback.stop_frames()
    gaps.sort()
    return {
        "bench": "python.frames", "frame": f"{WIDTH}x{HEIGHT} Y16", "frame_bytes": WIDTH * HEIGHT * 2,
        "MB_per_s": round(total / elapsed / 1e6), "frames_per_s": round(count / elapsed, 1),
        "frames_offered_per_s": fps, "frames_dropped": dropped,
        "p50_ms": round(gaps[len(gaps) // 2] * 1e3, 2), "p99_ms": round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] * 1e3, 2),
        "client_cpu_ms_per_frame": round(cpu / max(count, 1) * 1e3, 2), "client_cpu_share": round(cpu / elapsed, 2),
        "target": ">= 500 MB/s", "met": total / elapsed / 1e6 >= 500,
    }


def floor(seconds: float) -> dict:
    """The client alone against a trivial server streaming one prebuilt frame message."""
    import socket

    from labvisor._connection import Connection, FrameQueue
    from labvisor._frames import Frame

    folder = tempfile.mkdtemp(prefix="lvff-")
    path = os.path.join(folder, "frames.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    payload = pattern(0).tobytes()
    header = json.dumps({"jsonrpc": "2.0", "method": "stream.frame", "params": {
        "subscription": 1, "sequence": 0, "time": time.time(), "width": WIDTH, "height": HEIGHT, "format": "Y16",
        "bytesPerPixel": 2, "stride": WIDTH * 2, "dropped": 0, "bytes": len(payload)}}).encode()
    body = b"\x00" + len(header).to_bytes(4, "big") + header
    message = (len(body) + len(payload)).to_bytes(4, "big") + body + payload
    child = os.fork()
    if child == 0:  # the server: writes until the client goes away
        try:
            connection, _ = server.accept()
            while True:
                connection.sendall(message)
        except OSError:
            pass
        os._exit(0)
    server.close()
    try:
        connection = Connection(labvisor.parse_endpoint(f"unix://{path}"))
        queue = FrameQueue(connection, 4)
        connection.open_stream(1, queue)
        for _ in range(5):
            Frame(*queue.get(10))
        count = 0
        cpu_before = time.process_time()
        start = now = time.perf_counter()
        while now - start < seconds:
            frame = Frame(*queue.get(10))
            count += int(frame.array[-1, -1] >= 0)
            now = time.perf_counter()
        cpu = time.process_time() - cpu_before
        connection.close()
    finally:
        os.kill(child, signal.SIGTERM)
        os.waitpid(child, 0)
        shutil.rmtree(folder, ignore_errors=True)
    elapsed = now - start
    return {"bench": "python.frames.floor", "MB_per_s": round(count * len(payload) / elapsed / 1e6),
            "frames_per_s": round(count / elapsed, 1), "client_cpu_ms_per_frame": round(cpu / count * 1e3, 2),
            "load_avg_1m": round(os.getloadavg()[0], 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labvisord", default=str(ROOT / ".build" / "release" / "labvisord"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--fps", type=float, default=200.0, help="frames offered per second")
    parser.add_argument("--queue", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--floor", action="store_true", help="the client alone, against a trivial server")
    options = parser.parse_args()
    if options.floor:
        for _ in range(options.runs):
            result = floor(options.seconds)
            print(json.dumps(result) if options.json else
                  f"client alone: {result['MB_per_s']} MB/s ({result['frames_per_s']} frames/s of 8 MiB), "
                  f"client CPU {result['client_cpu_ms_per_frame']} ms/frame, load {result['load_avg_1m']}", flush=True)
        return 0
    folder = tempfile.mkdtemp(prefix="lvfb-")
    path, process = start_loopback_daemon(options.labvisord, folder)
    try:
        for index in range(options.runs):
            load_before = os.getloadavg()[0]
            result = run(f"unix://{path}", options.seconds, options.fps, options.queue)
            result["load_avg_1m_before_after"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            result["daemon"] = options.labvisord
            if options.json:
                print(json.dumps(result))
            else:
                print(f"run {index + 1}: {result['MB_per_s']} MB/s ({result['frames_per_s']} frames/s of 8 MiB), "
                      f"{result['frames_dropped']} dropped of {options.fps:g}/s offered, gap p50 {result['p50_ms']} ms "
                      f"p99 {result['p99_ms']} ms, client CPU {result['client_cpu_ms_per_frame']} ms/frame "
                      f"({result['client_cpu_share']:.0%}), load {result['load_avg_1m_before_after']}, "
                      f"target >= 500 MB/s {'met' if result['met'] else 'NOT met'}", flush=True)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
