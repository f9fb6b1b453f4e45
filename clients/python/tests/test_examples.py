"""The examples in clients/python/examples run to completion against the demo daemon."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import labvisor

from conftest import EXAMPLES, read_line, run_python


def test_raster_scan(daemon, tmp_path):
    output = tmp_path / "scan.csv"
    mosaic = tmp_path / "scan.pgm"
    result = run_python(daemon, [str(EXAMPLES / "raster_scan.py"), "--nx", "3", "--nz", "2", "--step", "0.5",
                                 "--output", str(output), "--mosaic", str(mosaic), "--shrink", "8"])
    assert "6 points written" in result.stdout
    assert "mosaic of 6 frames (240x120)" in result.stdout
    # The mosaic: a binary PGM of 3x2 tiles of 80x60 (640x480 GREY frames, every 8th pixel).
    image = mosaic.read_bytes()
    header = b"P5\n240 120\n255\n"
    assert image.startswith(header) and len(image) == len(header) + 240 * 120
    pixels = image[len(header):]
    assert len(set(pixels)) > 1  # camera content, not a blank image
    with open(output) as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 6
    points = {(int(row["i"]), int(row["j"])): row for row in rows}
    assert set(points) == {(i, j) for i in range(3) for j in range(2)}
    for (i, j), row in points.items():
        assert abs(float(row["x_mm"]) - 0.5 * i) < 0.01
        assert abs(float(row["z_mm"]) - 0.5 * j) < 0.01
        assert float(row["power_w"]) > 0.015  # the laser was on at 20 mW
    with labvisor.connect(daemon.url) as lab:
        assert lab.instrument("laser-488").emission is False  # and is off again


def test_watch_and_log(daemon, tmp_path, other):
    log = tmp_path / "events.jsonl"
    process = subprocess.Popen([sys.executable, str(EXAMPLES / "watch_and_log.py"), "heater-1", "--duration", "20",
                                "--count", "2", "--log", str(log)], env=daemon.environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(process, 30).startswith("watching heater-1")  # printed once subscribed
        with other.lock("heater-1"):
            pass
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == 0, err
    assert "2 events" in out
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [event["kind"] for event in events] == ["leaseAcquired", "leaseReleased"]
    assert all(event["instrument"] == "heater-1" for event in events)


def test_contention_demo(daemon):
    holder = subprocess.Popen([sys.executable, str(EXAMPLES / "contention_holder.py"), "--seconds", "2"],
                              env=daemon.environment(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert read_line(holder, 30).startswith("holder: got stage-x")
        waiter = run_python(daemon, [str(EXAMPLES / "contention_waiter.py"), "--timeout", "60"])
        out, err = holder.communicate(timeout=60)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)
    assert holder.returncode == 0, err
    assert "stage-x is locked by" in waiter.stdout
    assert "waiter: got stage-x after" in waiter.stdout
    assert "moving to 2 mm" in waiter.stdout
