"""Leases across processes: kill -9 frees a lease; `labvisor lock -- python ...` lends one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import labvisor

from conftest import BIN, ROOT, read_line

HOLDER = textwrap.dedent("""
    import sys, time, labvisor
    lab = labvisor.connect()
    lease = lab.lock("stage-z", timeout=10)
    print("locked", lease.id, flush=True)
    time.sleep(60)
""")


def test_kill_9_frees_the_lease(daemon, other):
    process = subprocess.Popen([sys.executable, "-c", HOLDER], env=daemon.environment(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(process, 30)
        assert line.startswith("locked L"), line + process.stderr.read() if process.poll() is not None else line
        lease_id = line.split()[1]
        with pytest.raises(labvisor.LockedError) as caught:
            other.lock("stage-z")
        assert caught.value.lease == lease_id
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        start = time.monotonic()
        with other.lock("stage-z", timeout=10) as stage:
            assert stage.lease.id != lease_id
        assert time.monotonic() - start < 10
        assert lease_id not in {lease.lease for lease in other.leases()}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


SCRIPT = textwrap.dedent("""
    import json, os, labvisor
    with labvisor.connect() as lab:
        observed = lab.instrument("stage-x")
        # A control call with no lock(): the inherited lease covers it.
        observed.home()
        start = observed.move_absolute(3.0)
        with lab.lock("stage-x") as stage:            # reused, not taken again
            reached = stage.move_relative(1.0)
            inherited = list(stage.lease.inherited)
        with lab.lock(["stage-x", "heater-1"], timeout=10) as lease:   # stage-x lent, heater-1 taken
            taken = lease.id
            lease["heater-1"].setpoint = 30.0
        print(json.dumps({"start": start, "reached": reached, "inherited": inherited, "taken": taken,
                          "lease_env": bool(os.environ.get("LABVISOR_LEASE")), "repr": repr(observed),
                          "holders": [l.instruments for l in lab.leases()]}))
""")


def test_script_under_labvisor_lock_uses_the_lease(daemon, tmp_path, other):
    script = tmp_path / "scan.py"
    script.write_text(SCRIPT)
    result = subprocess.run([str(BIN / "labvisor"), "lock", "stage-x", "--", sys.executable, str(script)],
                            env=daemon.environment(), capture_output=True, text=True, timeout=120, cwd=str(ROOT))
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["lease_env"] is True
    assert report["start"] == pytest.approx(3.0, abs=0.01)
    assert report["reached"] == pytest.approx(4.0, abs=0.01)
    assert report["inherited"] == ["stage-x"]
    assert report["taken"].startswith("L")
    assert report["repr"].endswith("inherited lease>")
    assert ["stage-x"] in report["holders"]
    # The parent released it when the script ended.
    assert "stage-x" not in {name for lease in other.leases() for name in lease.instruments}


def test_script_without_a_lease_is_refused(daemon, tmp_path):
    script = tmp_path / "bare.py"
    script.write_text("import labvisor\nlabvisor.connect().instrument('stage-x').home()\n")
    result = subprocess.run([sys.executable, str(script)], env=daemon.environment(), capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "LeaseRequiredError" in result.stderr
