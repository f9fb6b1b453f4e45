"""Fixtures: a real `labvisord --demo --loopback` on a private socket for the whole session.

The daemon and CLI are the debug builds in `.build/debug` (scripts/test.sh builds them first);
`LABVISOR_BIN` names another folder. Every wait here is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

import labvisor

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(os.environ.get("LABVISOR_BIN", ROOT / ".build" / "debug"))
EXAMPLES = ROOT / "clients" / "python" / "examples"
DEMO_INSTRUMENTS = {"stage-x", "stage-z", "laser-488", "heater-1", "camera-1", "loopback"}


@dataclass
class Daemon:
    """The daemon under test."""

    process: subprocess.Popen
    folder: Path
    socket: str
    log: Path

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def environment(self, **extra: str) -> Dict[str, str]:
        """The environment of a child process that talks to this daemon (no inherited lease)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LABVISOR_")}
        env["LABVISOR_URL"] = self.url
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra)
        return env

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


def _wait_until_ready(daemon: Daemon, within: float) -> None:
    deadline = time.monotonic() + within
    last = "never connected"
    while time.monotonic() < deadline:
        if daemon.process.poll() is not None:
            raise RuntimeError(f"labvisord exited with {daemon.process.returncode}: {daemon.log_text()}")
        try:
            with labvisor.connect(daemon.url, timeout=1, answer_timeout=5) as lab:
                states = {item.name: item.state for item in lab.instruments()}
                # Instruments open on first use ("discovered" until then).
                if DEMO_INSTRUMENTS <= set(states) and not {"gone", "faulted"} & set(states.values()):
                    return
                last = f"states {states}"
        except labvisor.LabvisorError as error:
            last = str(error)
        time.sleep(0.05)
    raise RuntimeError(f"labvisord was not ready within {within} s ({last}): {daemon.log_text()}")


@pytest.fixture(scope="session")
def daemon() -> Iterator[Daemon]:
    executable = BIN / "labvisord"
    if not executable.exists():
        raise RuntimeError(f"no {executable}: build it first (swift build --product labvisord)")
    # A short folder: unix socket paths are limited to 107 bytes.
    folder = Path(tempfile.mkdtemp(prefix="lvpy-"))
    socket_path = str(folder / "labvisord.sock")
    log = folder / "labvisord.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABVISOR_")}
    env["LABVISOR_LOG_LEVEL"] = "warning"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [str(executable), "--demo", "--loopback", "--config", str(ROOT / "config" / "demo.toml"), "--socket", socket_path],
            stdout=subprocess.DEVNULL, stderr=log_file, env=env, cwd=str(ROOT))
    daemon = Daemon(process=process, folder=folder, socket=socket_path, log=log)
    try:
        _wait_until_ready(daemon, within=60)
        yield daemon
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            status = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            raise RuntimeError("labvisord did not exit within 20 s of SIGTERM")
        if status != 0:
            raise RuntimeError(f"labvisord exited with {status} after SIGTERM: {daemon.log_text()}")


@pytest.fixture(autouse=True)
def _no_inherited_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("LABVISOR_LEASE", "LABVISOR_INSTRUMENTS", "LABVISOR_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def lab(daemon: Daemon) -> Iterator[labvisor.Lab]:
    """A connection for one test; closing it releases whatever the test leased."""
    with labvisor.connect(daemon.url, answer_timeout=60) as connection:
        yield connection


@pytest.fixture
def other(daemon: Daemon) -> Iterator[labvisor.Lab]:
    """A second connection (another client)."""
    with labvisor.connect(daemon.url, answer_timeout=60) as connection:
        yield connection


def run_python(daemon: Daemon, arguments: List[str], timeout: float = 120, **env: str) -> subprocess.CompletedProcess:
    """Runs `python ARGUMENTS` against the daemon, bounded; fails the test with its output if it fails."""
    result = subprocess.run([sys.executable, *arguments], env=daemon.environment(**env), capture_output=True,
                            text=True, timeout=timeout, cwd=str(ROOT))
    assert result.returncode == 0, f"{arguments} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def read_line(process: subprocess.Popen, within: float) -> str:
    """The next line of `process`'s stdout, waiting at most `within` seconds."""
    import select

    ready, _, _ = select.select([process.stdout], [], [], within)
    assert ready, f"no output within {within} s"
    return process.stdout.readline()
