"""`labvisord --loopback` for the benchmarks: started on a private socket, ready once the
loopback instrument is listed."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Tuple

import labvisor


def start_loopback_daemon(executable: str, folder: str) -> Tuple[str, subprocess.Popen]:
    """Starts ``executable --loopback`` on ``folder/labvisord.sock``; returns the socket path
    and the process once the loopback instrument answers (at most 30 s)."""
    path = os.path.join(folder, "labvisord.sock")
    env = dict(os.environ, LABVISOR_LOG_LEVEL="warning")
    process = subprocess.Popen([executable, "--loopback", "--socket", path], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with labvisor.connect(f"unix://{path}", timeout=1, answer_timeout=5) as lab:
                if any(item.name == "loopback" for item in lab.instruments()):
                    return path, process
        except labvisor.LabvisorError:
            pass
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{executable} --loopback did not start within 30 s")
