"""Connecting: the endpoint rule shared with the daemon and the CLI, status, failures."""

from __future__ import annotations

import os
import pickle
import socket
import tempfile

import pytest

import labvisor
from labvisor.endpoint import Endpoint


def test_explicit_url_and_status(daemon):
    with labvisor.connect(daemon.url) as lab:
        status = lab.status()
        assert status["demo"] is True
        assert status["instruments"] >= 5
        assert isinstance(status["version"], str) and status["version"]
        assert repr(lab) == f"<labvisor.Lab {daemon.url} open>"
    assert lab.closed
    assert "closed" in repr(lab)


def test_labvisor_url_from_the_environment(daemon, monkeypatch):
    monkeypatch.setenv("LABVISOR_URL", daemon.url)
    with labvisor.connect() as lab:
        assert lab.endpoint == Endpoint(path=daemon.socket)
        assert lab.status()["demo"] is True


def test_default_socket_rule_uses_labvisor_runtime_dir(daemon, monkeypatch):
    # The daemon's socket is <folder>/labvisord.sock: the LABVISOR_RUNTIME_DIR rule finds it.
    monkeypatch.setenv("LABVISOR_RUNTIME_DIR", str(daemon.folder))
    assert labvisor.default_socket_path() == daemon.socket
    with labvisor.connect() as lab:
        assert lab.status()["demo"] is True


def test_default_socket_rule_without_variables():
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    expected = "/run/labvisor/labvisord.sock" if os.getuid() == 0 else "/run/user/1000/labvisor/labvisord.sock"
    assert labvisor.default_socket_path(env) == expected
    assert labvisor.default_socket_path({}) == "/run/labvisor/labvisord.sock"
    assert labvisor.endpoint_from_environment({"LABVISOR_URL": "tcp://lab-pc:7420"}) == Endpoint(host="lab-pc", port=7420)


@pytest.mark.parametrize("url, expected", [
    ("unix:///run/x.sock", Endpoint(path="/run/x.sock")),
    ("unix:relative.sock", Endpoint(path="relative.sock")),
    ("/abs/x.sock", Endpoint(path="/abs/x.sock")),
    ("tcp://127.0.0.1:7420", Endpoint(host="127.0.0.1", port=7420)),
    ("tls://lab-pc:7420", Endpoint(host="lab-pc", port=7420, tls=True)),
    ("tls://[::1]:7420", Endpoint(host="::1", port=7420, tls=True)),
])
def test_parse_endpoint(url, expected):
    assert labvisor.parse_endpoint(url) == expected
    assert str(expected).startswith(("unix://", "tcp://", "tls://"))
    if expected.path is None or expected.path.startswith("/"):
        assert labvisor.parse_endpoint(str(expected)) == expected


@pytest.mark.parametrize("url", ["unix://relative", "tcp://host", "tcp://host:0", "tls://:7420", "http://x"])
def test_bad_endpoints_are_invalid_arguments(url):
    with pytest.raises(labvisor.InvalidArgumentError) as caught:
        labvisor.parse_endpoint(url)
    assert isinstance(caught.value, ValueError)
    assert caught.value.argument == "url"
    assert url in caught.value.message


def test_nothing_listening_is_unavailable():
    folder = tempfile.mkdtemp(prefix="lvpy-none-")
    path = os.path.join(folder, "nothing.sock")
    with pytest.raises(labvisor.UnavailableError) as caught:
        labvisor.connect(f"unix://{path}", timeout=2)
    assert isinstance(caught.value, ConnectionError)
    assert caught.value.endpoint == f"unix://{path}"
    assert "is the daemon running" in caught.value.message


def test_calls_after_close_raise_closed(daemon):
    lab = labvisor.connect(daemon.url)
    lab.close()
    lab.close()  # idempotent
    with pytest.raises(labvisor.ClosedError):
        lab.status()


def test_daemon_closing_the_connection_fails_waiting_calls(daemon):
    # A fake daemon that accepts, reads one request and hangs up: the caller gets
    # UnavailableError at once, not a hang.
    folder = tempfile.mkdtemp(prefix="lvpy-fake-")
    path = os.path.join(folder, "fake.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(10)
    lab = labvisor.connect(f"unix://{path}", answer_timeout=10)
    peer, _ = server.accept()
    import threading

    def hang_up():
        peer.settimeout(10)
        peer.recv(1024)
        peer.close()

    thread = threading.Thread(target=hang_up)
    thread.start()
    with pytest.raises(labvisor.UnavailableError) as caught:
        lab.status()
    assert "ended" in caught.value.message
    thread.join(10)
    server.close()
    lab.close()


def test_client_side_answer_timeout(daemon):
    # A fake daemon that never answers: the wait is bounded by answer_timeout.
    folder = tempfile.mkdtemp(prefix="lvpy-mute-")
    path = os.path.join(folder, "mute.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    with labvisor.connect(f"unix://{path}", answer_timeout=0.3) as lab:
        with pytest.raises(labvisor.TimeoutError) as caught:
            lab.status()
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.timeout_seconds == 0.3
    server.close()


def test_errors_pickle():
    error = labvisor.errors.error_from_wire(
        {"code": -32001, "message": "stage-x is locked", "data": {"labvisorCode": "locked", "fields": {"holder": "h", "waiters": 1}}})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is labvisor.LockedError and copy.holder == "h" and copy.waiters == 1 and copy.rpc_code == -32001
