"""One connection to labvisord: length-prefixed JSON-RPC 2.0 frames over a socket.

Any thread may call :meth:`Connection.request`; a reader thread reads every frame, hands each
response to the waiting caller by id and each ``event`` notification to its subscription.
Requests are encoded once into one buffer and written with one ``sendall`` under a lock, so
frames from several threads never interleave.
"""

from __future__ import annotations

import collections
import itertools
import json
import socket
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Set

from .endpoint import Endpoint
from .errors import ClosedError, InvalidArgumentError, LabvisorError, TimeoutError, UnavailableError, error_from_wire

__all__ = ["Connection", "Subscription", "dumps"]

#: Frames larger than this are refused by the daemon (docs/wire.md).
MAX_FRAME = 64 * 1024 * 1024


def _default(value: Any) -> Any:
    # numpy scalars and arrays, and other objects that know their plain value.
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON: pass numbers, strings, booleans, None, lists or dicts")


_encode = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default).encode


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON bytes; :class:`InvalidArgumentError` when it is not JSON."""
    try:
        return _encode(value).encode()
    except (TypeError, ValueError) as error:
        raise InvalidArgumentError(f"cannot send {value!r}: {error}",
                                   fields={"argument": "value", "reason": str(error)}) from None


class _Slot:
    """Where the reader thread leaves one response; ``lock`` is released when it is there."""

    __slots__ = ("lock", "response")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.response: Any = None


class Subscription:
    """Events of one ``events.watch`` subscription, buffered up to ``capacity`` (the oldest
    are dropped past it and reported as a ``gap`` with ``missed``)."""

    def __init__(self, capacity: int = 4096) -> None:
        self._condition = threading.Condition(threading.Lock())
        self._items: Deque[Dict[str, Any]] = collections.deque()
        self._capacity = capacity
        self._missed = 0
        self._ended: Optional[LabvisorError] = None

    def put(self, event: Dict[str, Any]) -> None:
        """Adds an event (reader thread)."""
        with self._condition:
            if len(self._items) >= self._capacity:
                self._items.popleft()
                self._missed += 1
            self._items.append(event)
            self._condition.notify()

    def end(self, error: LabvisorError) -> None:
        """No more events: later reads raise ``error`` once the buffer is empty."""
        with self._condition:
            if self._ended is None:
                self._ended = error
            self._condition.notify_all()

    def get(self, timeout: Optional[float]) -> Optional[Dict[str, Any]]:
        """The next event, waiting up to ``timeout`` seconds (``None``: until one comes);
        ``None`` when the time ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while True:
                if self._missed:
                    missed, self._missed = self._missed, 0
                    return {"kind": "gap", "instrument": None, "fields": {"missed": missed, "where": "client"},
                            "sequence": 0, "time": time.time()}
                if self._items:
                    return self._items.popleft()
                if self._ended is not None:
                    raise self._ended
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._condition.wait(remaining)


class Connection:
    """A connection to labvisord at ``endpoint``; thread-safe."""

    def __init__(self, endpoint: Endpoint, connect_timeout: float = 5.0) -> None:
        self.endpoint = endpoint
        if endpoint.path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: Any = endpoint.path
        else:
            sock = socket.socket(socket.AF_INET6 if ":" in (endpoint.host or "") else socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            address = (endpoint.host, endpoint.port)
        sock.settimeout(connect_timeout)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            raise UnavailableError(
                f"cannot connect to labvisord at {endpoint}: {error.strerror or error} "
                "(is the daemon running? LABVISOR_URL sets where to look)",
                fields={"endpoint": str(endpoint)}) from None
        sock.settimeout(None)
        self._sock = sock
        self._send_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: Dict[int, _Slot] = {}
        self._subscriptions: Dict[int, Subscription] = {}
        self._early: Dict[int, List[Dict[str, Any]]] = {}
        self._finished: Set[int] = set()
        self._subscriptions_lock = threading.Lock()
        self._ended: Optional[LabvisorError] = None
        #: Called with each binary frame (``0x00``, header, payload); dropped when unset.
        self.on_binary: Optional[Callable[[bytes], None]] = None
        self._reader = threading.Thread(target=self._read_loop, name=f"labvisor-reader {endpoint}", daemon=True)
        self._reader.start()

    # Requests

    def request(self, body: bytes, wait: Optional[float]) -> Any:
        """Sends one request whose JSON, after ``{"jsonrpc":"2.0","id":N,``, is ``body``
        (``"method":...,"params":{...}}``), and returns its result.

        ``wait`` bounds the wait for the answer in seconds (``None``: until the daemon answers
        or the connection ends). Raises the daemon's error as a :class:`LabvisorError`.
        """
        request_id = next(self._ids)
        payload = b'{"jsonrpc":"2.0","id":%d,%b' % (request_id, body)
        slot = _Slot()
        self._pending[request_id] = slot
        if self._ended is not None:
            self._pending.pop(request_id, None)
            raise self._ended
        frame = len(payload).to_bytes(4, "big") + payload
        try:
            with self._send_lock:
                self._sock.sendall(frame)
        except OSError as error:
            self._pending.pop(request_id, None)
            self._end(f"sending failed: {error}")
            raise self._ended or UnavailableError(str(error)) from None
        if not slot.lock.acquire(True, -1 if wait is None else wait):
            self._pending.pop(request_id, None)
            raise TimeoutError(f"no answer from labvisord at {self.endpoint} within {wait:g} s (client-side wait)",
                               fields={"endpoint": str(self.endpoint), "timeoutSeconds": wait})
        response = slot.response
        if type(response) is not dict:
            raise response  # the connection ended
        result = response.get("result", response)
        if result is response:
            error = response.get("error")
            if isinstance(error, dict):
                raise error_from_wire(error)
            raise UnavailableError("the daemon's response has neither result nor error")
        return result

    def call(self, method: str, params: Dict[str, Any], wait: Optional[float] = None) -> Any:
        """Calls a wire method with ``params`` and returns its result."""
        return self.request(b'"method":%b,"params":%b}' % (dumps(method), dumps(params)), wait)

    # Subscriptions

    def subscribe(self, subscription_id: int, subscription: Subscription) -> None:
        """Routes the ``event`` notifications of ``subscription_id`` to ``subscription``
        (including any that arrived before the ``events.watch`` answer)."""
        with self._subscriptions_lock:
            for event in self._early.pop(subscription_id, []):
                subscription.put(event)
            self._subscriptions[subscription_id] = subscription
            if self._ended is not None:
                subscription.end(self._ended)

    def unsubscribe(self, subscription_id: int) -> None:
        """Stops routing events of ``subscription_id``."""
        with self._subscriptions_lock:
            self._subscriptions.pop(subscription_id, None)
            self._finished.add(subscription_id)

    # Life

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._ended is not None

    def close(self) -> None:
        """Closes the connection; the daemon releases the leases it held. Idempotent."""
        self._end("closed by the client", closed=True)
        if threading.current_thread() is not self._reader:
            self._reader.join(5.0)

    def _end(self, reason: str, closed: bool = False, error: Optional[LabvisorError] = None) -> None:
        if self._ended is None:
            if error is None:
                error = (ClosedError(f"the connection to labvisord at {self.endpoint} is closed",
                                     fields={"what": "connection", "endpoint": str(self.endpoint)})
                         if closed else
                         UnavailableError(f"the connection to labvisord at {self.endpoint} ended: {reason}",
                                          fields={"endpoint": str(self.endpoint)}))
            self._ended = error
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        ended = self._ended
        for request_id in list(self._pending):
            slot = self._pending.pop(request_id, None)
            if slot is not None:
                slot.response = ended
                slot.lock.release()
        with self._subscriptions_lock:
            subscriptions = list(self._subscriptions.values())
        for subscription in subscriptions:
            subscription.end(ended)

    # Reading

    def _read_loop(self) -> None:
        sock = self._sock
        recv = sock.recv
        buffer = b""
        reason = "the daemon closed the connection"
        try:
            while True:
                data = recv(262144)
                if not data:
                    break
                if buffer:
                    data = buffer + data
                    buffer = b""
                offset, size = 0, len(data)
                while size - offset >= 4:
                    length = int.from_bytes(data[offset:offset + 4], "big")
                    end = offset + 4 + length
                    if end > size:
                        if length > 1 << 20:
                            # A big frame: read the rest straight into its own buffer.
                            frame = bytearray(length)
                            have = size - offset - 4
                            frame[:have] = data[offset + 4:]
                            view = memoryview(frame)
                            while have < length:
                                got = sock.recv_into(view[have:])
                                if not got:
                                    raise EOFError
                                have += got
                            self._dispatch(bytes(frame))
                            offset = size
                        break
                    self._dispatch(data[offset + 4:end])
                    offset = end
                if offset < size:
                    buffer = data[offset:]
        except EOFError:
            pass
        except OSError as error:
            reason = str(error)
        except Exception as error:  # noqa: BLE001 - a bug in dispatch must not hang the callers
            reason = f"client error while reading: {error!r}"
        finally:
            self._end(reason)
            try:
                sock.close()
            except OSError:
                pass

    def _dispatch(self, frame: bytes) -> None:
        if frame[:1] == b"\x00":
            handler = self.on_binary
            if handler is not None:
                handler(frame)
            return
        message = json.loads(frame)
        request_id = message.get("id")
        if request_id is not None:
            slot = self._pending.pop(request_id, None)
            if slot is not None:
                slot.response = message
                slot.lock.release()
            return
        method = message.get("method")
        if method == "event":
            params = message.get("params") or {}
            subscription_id = params.get("subscription")
            event = params.get("event")
            with self._subscriptions_lock:
                subscription = self._subscriptions.get(subscription_id)
                if subscription is None:
                    if subscription_id in self._finished:
                        return
                    early = self._early.setdefault(subscription_id, [])
                    if len(early) < 4096:
                        early.append(event)
                    return
            subscription.put(event)
        elif method is None and isinstance(message.get("error"), dict):
            # An error for no request: the daemon refused this connection (a limit).
            self._end("refused by the daemon", error=error_from_wire(message["error"]))
