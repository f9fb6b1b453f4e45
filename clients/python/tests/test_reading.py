"""How the connection reads answers: the single caller's own read of its answer, and what it
does when the next bytes are not exactly that answer (another message first, the answer in
pieces or together with more, a stale answer), against a scripted fake daemon; and the
request bytes the methods' templates produce."""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

import labvisor


def frame(message: Dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return len(body).to_bytes(4, "big") + body


def answer(request: Dict[str, Any], result: Any) -> bytes:
    return frame({"jsonrpc": "2.0", "id": request["id"], "result": result})


LOOPBACK = {"summary": {"name": "loopback", "kind": "other", "driver": "loopback"},
            "interface": {"methods": [{"name": "echo", "arguments": [{"name": "value", "default": None}]}]}}


class FakeDaemon:
    """Accepts one connection and answers each request with ``script(request)``: a list of
    byte strings, each written by its own ``sendall`` 20 ms after the previous one.
    ``instruments.describe`` is answered from ``descriptions``. Requests are kept. A client
    that stops sending for 10 s is hung up on (so a client that lost an answer fails, not hangs)."""

    def __init__(self, script: Callable[[Dict[str, Any]], List[bytes]],
                 descriptions: Optional[Dict[str, Any]] = None) -> None:
        self.folder = tempfile.mkdtemp(prefix="lvpy-read-")
        self.path = os.path.join(self.folder, "fake.sock")
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(1)
        self.server.settimeout(10)
        self.script = script
        self.descriptions = descriptions or {"loopback": LOOPBACK}
        self.requests: List[Dict[str, Any]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        peer, _ = self.server.accept()
        peer.settimeout(10)
        buffer = b""
        try:
            while True:
                data = peer.recv(65536)
                if not data:
                    return
                buffer += data
                while len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(buffer[:4], "big"):
                    end = 4 + int.from_bytes(buffer[:4], "big")
                    request = json.loads(buffer[4:end])
                    buffer = buffer[end:]
                    self.requests.append(request)
                    if request["method"] == "instruments.describe":
                        chunks = [answer(request, self.descriptions[request["params"]["instrument"]])]
                    else:
                        chunks = self.script(request)
                    for index, chunk in enumerate(chunks):
                        if index:
                            time.sleep(0.02)
                        peer.sendall(chunk)
        except OSError:
            return
        finally:
            peer.close()

    def close(self) -> None:
        self.server.close()
        self.thread.join(10)


@pytest.fixture
def fake() -> Iterator[Callable[..., FakeDaemon]]:
    daemons: List[FakeDaemon] = []

    def start(script: Callable[[Dict[str, Any]], List[bytes]], **options: Any) -> FakeDaemon:
        daemons.append(FakeDaemon(script, **options))
        return daemons[-1]

    yield start
    for daemon in daemons:
        daemon.close()


EVENT = frame({"jsonrpc": "2.0", "method": "event", "params": {"subscription": 77, "event": {"kind": "x"}}})


def expected(value: Any) -> Any:
    """What the fake echoes for ``value``: ``"large"`` becomes a 200 kB string (a message
    read by the large-message path)."""
    return "x" * 200000 if value == "large" else value


def echo_value(request: Dict[str, Any]) -> Any:
    return {"value": expected(request["params"]["arguments"]["value"])}


@pytest.mark.parametrize("answer_timeout", [None, 5.0])
@pytest.mark.parametrize("script", [
    pytest.param(lambda request: [EVENT + answer(request, echo_value(request))], id="event-then-answer-in-one-write"),
    pytest.param(lambda request: [EVENT, answer(request, echo_value(request))], id="event-then-answer"),
    pytest.param(lambda request: [answer(request, echo_value(request))[:9], answer(request, echo_value(request))[9:]],
                 id="answer-in-two-pieces"),
    pytest.param(lambda request: [answer(request, echo_value(request))[:2], answer(request, echo_value(request))[2:]],
                 id="length-in-two-pieces"),
    pytest.param(lambda request: [answer(request, echo_value(request)) + EVENT], id="answer-then-event-in-one-write"),
    pytest.param(lambda request: [answer({"id": 999999}, {"value": "stale"}), answer(request, echo_value(request))],
                 id="stale-answer-first"),
    pytest.param(lambda request: [answer({"id": 999999}, {"value": "stale"}) + answer(request, echo_value(request))],
                 id="stale-answer-first-in-one-write"),
])
def test_the_answer_is_found_whatever_comes_with_it(fake, script, answer_timeout):
    daemon = fake(script)
    with labvisor.connect(f"unix://{daemon.path}", answer_timeout=answer_timeout) as lab:
        loopback = lab.instrument("loopback")
        for value in (1, "two", [3], "large", {"four": 4}, "large", 5):
            assert loopback.echo(value) == expected(value)


def test_an_unreadable_answer_ends_the_connection(fake):
    daemon = fake(lambda request: [b"\x00\x00\x00\x05{nope"])
    with labvisor.connect(f"unix://{daemon.path}") as lab:
        loopback = lab.instrument("loopback")
        with pytest.raises(labvisor.UnavailableError, match="unreadable"):
            loopback.echo(1)
        with pytest.raises(labvisor.UnavailableError):
            loopback.echo(1)


def test_threads_sharing_a_connection_without_answer_timeout(fake):
    # Answers to one thread's request arrive while another thread reads: each gets its own.
    daemon = fake(lambda request: [answer(request, echo_value(request))])
    failures: List[Any] = []
    with labvisor.connect(f"unix://{daemon.path}") as lab:
        loopback = lab.instrument("loopback")

        def worker(index: int) -> None:
            try:
                for call in range(50):
                    value = {"thread": index, "call": call}
                    if loopback.echo(value) != value:
                        failures.append((index, call))
            except Exception as error:  # noqa: BLE001
                failures.append(error)

        threads = [threading.Thread(target=worker, args=(index,)) for index in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def test_request_templates_escape_percent_signs(fake):
    # Instrument and method names are JSON inside a %-format template: a "%" in them must
    # reach the daemon as it is.
    description = {"summary": {"name": "odd%sname", "kind": "other", "driver": "fake%d"},
                   "interface": {"methods": [
                       {"name": "none%s", "arguments": []},
                       {"name": "two%b", "arguments": [{"name": "a", "default": None}, {"name": "b", "default": None}]},
                   ]}}
    daemon = fake(lambda request: [answer(request, {"value": request["params"]})],
                  descriptions={"odd%sname": description})
    with labvisor.connect(f"unix://{daemon.path}") as lab:
        odd = lab.instrument("odd%sname")
        assert odd.call("none%s") == {"instrument": "odd%sname", "method": "none%s", "arguments": {}}
        assert odd.call("two%b", "x%s") == {"instrument": "odd%sname", "method": "two%b", "arguments": {"a": "x%s"}}
        assert odd.call("two%b", 1, 2.5) == {"instrument": "odd%sname", "method": "two%b",
                                             "arguments": {"a": 1, "b": 2.5}}
        assert odd.call("two%b", b=True) == {"instrument": "odd%sname", "method": "two%b",
                                                      "arguments": {"b": True}}
        assert [request["params"]["method"] for request in daemon.requests[1:]] == ["none%s", "two%b", "two%b", "two%b"]
