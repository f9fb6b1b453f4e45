"""The TLS listener: a daemon of its own with ``[daemon] tcp``, ``[daemon.tls]`` and a tokens file
(Tests/Fixtures/tls holds the test CA and certificates), reached with ``tls://`` and a token."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import labvisor

from conftest import BIN, ROOT

FIXTURES = ROOT / "Tests" / "Fixtures" / "tls"
TOKEN = secrets.token_hex(16)


@pytest.fixture(scope="module")
def tls_daemon() -> Iterator[Tuple[str, str]]:
    """A daemon with a TLS listener on a free loopback port; yields its ``tls://`` URL and unix URL."""
    folder = Path(tempfile.mkdtemp(prefix="lvtls-"))
    (folder / "tokens").write_text(f"python-tests:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
    (folder / "labvisord.toml").write_text(f"""
[daemon]
drivers = ["{ROOT / 'drivers'}"]
tcp = "127.0.0.1:0"
tokens = "tokens"
[daemon.tls]
certificate = "{FIXTURES / 'server.pem'}"
key = "{FIXTURES / 'server.key'}"

[[instrument]]
name = "heater-1"
driver = "example-heater"
simulate = "example-heater"
control = ["token:python-tests"]

[[instrument]]
name = "stage-x"
driver = "zaber-ascii"
simulate = "zaber-ascii"
observe = ["token:someone-else"]
""")
    log = folder / "labvisord.log"
    socket_path = folder / "labvisord.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABVISOR_")}
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [str(BIN / "labvisord"), "--demo", "--loopback", "--config", str(folder / "labvisord.toml"), "--socket", str(socket_path)],
            stdout=subprocess.DEVNULL, stderr=log_file, env=env, cwd=str(ROOT))
    try:
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            assert process.poll() is None, f"labvisord exited: {log.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"no TLS listener within 60 s: {log.read_text(errors='replace')}"
            found = re.search(r"listening on tls://127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
            if found and socket_path.exists():
                port = int(found.group(1))
            else:
                time.sleep(0.05)
        yield f"tls://127.0.0.1:{port}", f"unix://{socket_path}"
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_tls_with_a_token_reaches_the_daemon(tls_daemon):
    url, _ = tls_daemon
    with labvisor.connect(url, token=TOKEN, ca=str(FIXTURES / "ca.pem"), timeout=10, answer_timeout=30) as lab:
        assert lab.status()["instruments"] == 3
        assert str(lab.endpoint) == url
        with lab.lock("heater-1") as heater:
            assert heater.name == "heater-1"
        # The token may not observe stage-x: refused, naming the rule.
        with pytest.raises(labvisor.PermissionDeniedError) as caught:
            lab.describe("stage-x")
        assert "token python-tests may not observe stage-x: [instrument stage-x] observe" in str(caught.value)
        assert [item.name for item in lab.instruments()] == ["heater-1", "loopback"]


def test_one_tls_connection_shared_by_threads(tls_daemon):
    """A TLS socket is one OpenSSL object: threads sending and reading at once through one
    connection, with messages larger than a TLS record (16 KiB), all get their own answers."""
    url, _ = tls_daemon
    with labvisor.connect(url, token=TOKEN, ca=str(FIXTURES / "ca.pem"), timeout=10, answer_timeout=60) as lab:
        loopback = lab.instrument("loopback")
        failures = []

        def worker(index):
            try:
                for call in range(60):
                    value = {"thread": index, "call": call, "pad": "x" * (40_000 if call % 3 == 0 else 10)}
                    if loopback.echo(value) != value:
                        failures.append((index, call))
            except Exception as error:  # noqa: BLE001
                failures.append(error)

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads)
        assert failures == []


def test_the_environment_gives_token_and_ca(tls_daemon, monkeypatch):
    url, _ = tls_daemon
    monkeypatch.setenv("LABVISOR_URL", url)
    monkeypatch.setenv("LABVISOR_TOKEN", TOKEN)
    monkeypatch.setenv("LABVISOR_CA", str(FIXTURES / "ca.pem"))
    with labvisor.connect(timeout=10, answer_timeout=30) as lab:
        assert lab.status()["instruments"] == 3


def test_wrong_or_missing_tokens_are_unauthenticated(tls_daemon):
    url, _ = tls_daemon
    with pytest.raises(labvisor.UnauthenticatedError, match="the token is not valid"):
        labvisor.connect(url, token="not-" + TOKEN, ca=str(FIXTURES / "ca.pem"), timeout=10)
    with labvisor.connect(url, ca=str(FIXTURES / "ca.pem"), timeout=10, answer_timeout=30) as lab:
        with pytest.raises(labvisor.UnauthenticatedError, match="session.authenticate"):
            lab.status()


def test_a_server_from_another_ca_is_refused(tls_daemon):
    url, _ = tls_daemon
    with pytest.raises(labvisor.UnavailableError, match="cannot connect"):
        labvisor.connect(url, token=TOKEN, ca=str(FIXTURES / "stranger.pem"), timeout=10)
