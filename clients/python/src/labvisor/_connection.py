"""One connection to labvisord: length-prefixed JSON-RPC 2.0 frames over a socket.

Any thread may call :meth:`Connection.request` or wait on a :class:`Subscription`. Reading is
done by the waiting threads themselves, one at a time (leader/followers): the first thread
that waits becomes the reader; it reads frames and hands every response to its caller by id
and every ``event`` notification to its subscription, until what it waits for has come; then
the next waiting thread takes over. One caller alone therefore reads its own answer, with no
hand-off between threads (which costs ~50 us of CPU per call in CPython, ten times the rest
of the client; see docs/benchmarks.md). A caller that finds no reader takes the role before
it sends and, when the next read is exactly its own answer, returns it from
:meth:`Connection.request` itself, without the pending set, dispatch and responses table (on
2 cores the client's and the daemon's work per call run one after the other, so every
microsecond of Python on this path is one of latency; docs/benchmarks.md, session 6).
Requests are encoded once into one buffer and written with one ``sendall`` under a lock, so
frames from several threads never interleave.

The socket stays in blocking mode; a reader with a deadline waits with ``select`` first, so
no thread changes a timeout that another thread's send would inherit. A TLS socket is one
OpenSSL object, which two threads may not use at once: there the socket is non-blocking and
every ``recv``/``send`` on it is made under a lock, the waits (``select``) outside it.
"""

from __future__ import annotations

import collections
import itertools
import json
import select
import socket
import ssl
import struct
import sys
import threading
import time
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Set, Tuple

from .endpoint import Endpoint
from .errors import ClosedError, InvalidArgumentError, LabvisorError, TimeoutError, UnavailableError, error_from_wire

__all__ = ["Connection", "FrameQueue", "Subscription", "dumps"]

#: Frames larger than this are refused by the daemon (docs/wire.md).
MAX_FRAME = 64 * 1024 * 1024

#: A message longer than this that has not fully arrived is read straight into a buffer of
#: its own size (``recv_into``), not gathered from chunks: camera frames of megabytes are
#: copied once, from the socket into the bytes the frame's array is made on.
LARGE_MESSAGE = 65536

#: Large-message buffers kept for reuse: a buffer nothing refers to any more (the frame and
#: its arrays are gone) is filled again rather than a new one allocated, which saves the
#: page faults of fresh memory (~4 ms per 8 MiB here, more than the copy itself).
RECYCLED_BUFFERS = 6


def _free_reference_count() -> int:
    # The reference count of a list's bytearray that nothing else refers to, seen from a loop
    # like _large_buffer's (measured, not assumed: interpreters count stack references
    # differently).
    probe = [bytearray(1)]
    for buffer in probe:
        return sys.getrefcount(buffer)
    return 0


_FREE = _free_reference_count()

#: Frames of a stream subscription that arrive before ``stream.open``'s caller has routed it
#: (the daemon starts the frames right after its answer) are kept, at most this many.
EARLY_FRAMES = 8


def _default(value: Any) -> Any:
    # numpy scalars and arrays, and other objects that know their plain value.
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON: pass numbers, strings, booleans, None, lists or dicts")


_encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=_default)


def _python_chunks(value: Any, _level: int) -> Tuple[str, ...]:
    return (_encoder.encode(value),)


#: ``value``'s JSON as a sequence of strings: the C encoder built once (JSONEncoder.encode
#: builds one per call): compact, ASCII, NaN refused, no circularity check (a cycle raises
#: RecursionError, refused by dumps); the pure-Python encoder where there is no C one.
_chunks: Callable[[Any, int], Sequence[str]] = _python_chunks
try:
    _c_chunks = json.encoder.c_make_encoder(  # type: ignore[attr-defined,misc]
        None, _default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False)
    _sample = {"a": [1, 2.5, None, True, "é"]}
    if "".join(_c_chunks(_sample, 0)) == _encoder.encode(_sample):
        _chunks = _c_chunks
except (AttributeError, TypeError):
    pass

#: A message's length prefix (4 bytes, big-endian).
_length: Callable[[int], bytes] = struct.Struct(">I").pack

# The C scanner of json.loads, without its bytes-encoding detection per call.
_scan = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


_escape = json.encoder.encode_basestring_ascii


def dumps(value: Any) -> bytes:
    """``value`` as compact JSON bytes; :class:`InvalidArgumentError` when it is not JSON.
    Plain ints and strings (most instrument arguments) are formatted directly: the encoder's
    call costs ~3x more for them."""
    cls = value.__class__
    if cls is int:
        return b"%d" % value
    if cls is str:
        return _escape(value).encode()
    try:
        return "".join(_chunks(value, 0)).encode()
    except (TypeError, ValueError, RecursionError) as error:
        raise InvalidArgumentError(f"cannot send {value!r}: {error}",
                                   fields={"argument": "value", "reason": str(error)}) from None


def loads(frame: bytes) -> Any:
    """One JSON message (UTF-8)."""
    try:
        return _scan(frame.decode(), 0)[0]
    except StopIteration as error:
        raise ValueError(f"not JSON at {error.value}") from None


class Subscription:
    """Events of one ``events.watch`` subscription, buffered up to ``capacity`` (the oldest
    are dropped past it and reported as a ``gap`` with ``missed``)."""

    def __init__(self, connection: "Connection", capacity: int = 4096) -> None:
        self._connection = connection
        self._items: Deque[Dict[str, Any]] = collections.deque()
        self._capacity = capacity
        self._missed = 0

    def _put(self, event: Dict[str, Any]) -> None:
        # Called with the connection's state lock held.
        if len(self._items) >= self._capacity:
            self._items.popleft()
            self._missed += 1
        self._items.append(event)

    def _ready(self) -> bool:
        return bool(self._items or self._missed)

    def get(self, timeout: Optional[float]) -> Optional[Dict[str, Any]]:
        """The next event, waiting up to ``timeout`` seconds (``None``: until one comes);
        ``None`` when the time ran out. Raises the connection's end once the buffer is empty."""
        connection = self._connection
        deadline = None if timeout is None else time.monotonic() + timeout
        connection._wait(self._ready, deadline)
        with connection._state:
            if self._missed:
                missed, self._missed = self._missed, 0
                return {"kind": "gap", "instrument": None, "fields": {"missed": missed, "where": "client"},
                        "sequence": 0, "time": time.time()}
            if self._items:
                return self._items.popleft()
        if connection._ended is not None:
            raise connection._ended
        return None


class FrameQueue:
    """Frames of one ``stream.open`` subscription, buffered up to ``capacity`` in the client
    (the oldest are discarded past it and counted in the next frame's ``dropped``). Items
    are ``(header params, message buffer, payload offset)``; :meth:`get` adds the frames
    this queue discarded since the previous one."""

    def __init__(self, connection: "Connection", capacity: int) -> None:
        self._connection = connection
        self._items: Deque[Tuple[Dict[str, Any], Any, int]] = collections.deque()
        self._capacity = max(1, capacity)
        self._missed = 0
        #: The ``stream.ended`` notification's params once it came.
        self.ended: Optional[Dict[str, Any]] = None

    def _put(self, item: Tuple[Dict[str, Any], Any, int]) -> None:
        # Called with the connection's state lock held.
        if len(self._items) >= self._capacity:
            discarded = self._items.popleft()
            self._missed += 1 + int(discarded[0].get("dropped") or 0)
        self._items.append(item)

    def _ready(self) -> bool:
        return bool(self._items) or self.ended is not None

    def get(self, timeout: Optional[float]) -> Optional[Tuple[Dict[str, Any], Any, int, int]]:
        """The next frame, waiting up to ``timeout`` seconds (``None``: until one comes);
        ``None`` when the time ran out or the stream ended (see :attr:`ended`). Raises the
        connection's end once nothing is buffered."""
        connection = self._connection
        deadline = None if timeout is None else time.monotonic() + timeout
        connection._wait(self._ready, deadline)
        with connection._lock:
            if self._items:
                params, buffer, offset = self._items.popleft()
                missed, self._missed = self._missed, 0
                return params, buffer, offset, missed
        if self.ended is None and connection._ended is not None:
            raise connection._ended
        return None


class Connection:
    """A connection to labvisord at ``endpoint``; thread-safe."""

    def __init__(self, endpoint: Endpoint, connect_timeout: float = 5.0, *, ca: Optional[str] = None,
                 cert: Optional[str] = None, key: Optional[str] = None) -> None:
        """Connects; a ``tls://`` endpoint is verified against ``ca`` (a PEM file; ``None``: the
        system's roots) and presents the client certificate ``cert`` with ``key`` when given."""
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
            if endpoint.tls:
                context = ssl.create_default_context(cafile=ca)
                context.minimum_version = ssl.TLSVersion.TLSv1_2
                if cert is not None:
                    context.load_cert_chain(cert, key)
                sock = context.wrap_socket(sock, server_hostname=endpoint.host)
        except OSError as error:
            sock.close()
            raise UnavailableError(
                f"cannot connect to labvisord at {endpoint}: {error.strerror or error} "
                "(is the daemon running? LABVISOR_URL sets where to look)",
                fields={"endpoint": str(endpoint)}) from None
        self._tls = endpoint.tls
        # TLS: non-blocking, each SSL call under _io_lock (see the module's comment).
        sock.settimeout(0.0 if self._tls else None)
        self._sock = sock
        self._send_lock = threading.Lock()  # one whole message at a time
        self._io_lock = threading.Lock()  # one SSL call at a time (TLS only)
        self._ids = itertools.count(1)
        # Everything below is guarded by _state; followers wait on it.
        self._lock = threading.Lock()  # entered directly on the hot path (Condition.__enter__ is Python code)
        self._state = threading.Condition(self._lock)
        self._reading = False
        self._followers = 0
        self._pending: Set[int] = set()
        self._responses: Dict[int, Dict[str, Any]] = {}
        self._subscriptions: Dict[int, Subscription] = {}
        self._early: Dict[int, List[Dict[str, Any]]] = {}
        self._finished: Set[int] = set()
        self._ended: Optional[LabvisorError] = None
        self._streams: Dict[int, FrameQueue] = {}
        self._early_streams: Dict[int, FrameQueue] = {}
        self._finished_streams: Set[int] = set()
        # Only the reader touches the partial frame and the large message being read.
        self._partial = bytearray()
        self._large: Optional[bytearray] = None
        self._large_view: Optional[memoryview] = None
        self._large_filled = 0
        self._recycled: List[bytearray] = []
        #: Called (by the reading thread, with the state lock held: it must not call this
        #: connection) with each binary frame (``0x00``, header, payload), after
        #: ``stream.frame`` messages are routed to their subscription.
        self.on_binary: Optional[Callable[[bytes], None]] = None

    # Requests

    def request(self, body: bytes, wait: Optional[float]) -> Any:
        """Sends one request whose JSON, after ``{"jsonrpc":"2.0","id":N,``, is ``body``
        (``"method":...,"params":{...}}``), and returns its result.

        ``wait`` bounds the wait for the answer in seconds (``None``: until the daemon answers
        or the connection ends). Raises the daemon's error as a :class:`LabvisorError`.

        A caller that finds no other thread reading (the usual case: one thread calling)
        takes the reader's role before it sends, and when the next read is exactly one whole
        message, its own answer, takes it without the general machinery: no pending set, no
        dispatch, no hand-over through the responses table, one lock round trip before the
        send and one after the answer. Anything else read (another thread's answer, an event,
        a partial message) goes through :meth:`_read` as for any reader.
        """
        request_id = next(self._ids)
        payload = b'{"jsonrpc":"2.0","id":%d,%b' % (request_id, body)
        message = _length(len(payload)) + payload
        lock = self._lock
        with lock:
            if self._ended is not None:
                raise self._ended
            alone = not self._reading and not self._tls
            if alone:
                self._reading = True  # other threads wait as followers until it is given back
            else:
                self._pending.add(request_id)
        if not alone:
            return self._request_among_others(request_id, message, wait)
        response = None
        deadline = None if wait is None else time.monotonic() + wait
        try:
            try:
                sock = self._sock
                with self._send_lock:
                    sock.sendall(message)
                data: Any = None
                if not self._partial and self._large is None and (
                        deadline is None or select.select([sock], [], [], max(0.0, deadline - time.monotonic()))[0]):
                    data = sock.recv(65536)
                    if int.from_bytes(data[:4], "big") == len(data) - 4 and data[4:5] == b"{":
                        # One whole JSON message: the answer, unless it is for another id.
                        response = _scan(data[4:].decode(), 0)[0]
                        if response.get("id") != request_id:
                            response = None
            except OSError as error:
                self._end(f"the connection failed: {error}")
                raise self._ended or UnavailableError(str(error)) from None
            except (ValueError, StopIteration, AttributeError):
                response = None  # not one plain answer: the general reader parses it and says why
            if response is None:
                # Something else came first (or nothing yet): read as any reader does.
                responses = self._responses
                with lock:
                    self._pending.add(request_id)
                try:
                    self._read(lambda: request_id in responses, deadline, data)
                finally:
                    with lock:
                        self._pending.discard(request_id)
                        response = responses.pop(request_id, None)
        finally:
            with lock:
                self._reading = False
                if self._followers:
                    self._state.notify_all()  # one of them reads next
                ended = self._ended is not None
            if ended:
                self._close_socket()
        if response is not None:
            result = response.get("result", response)
            if result is not response:
                return result
        raise self._failure(response, wait)

    def _request_among_others(self, request_id: int, message: bytes, wait: Optional[float]) -> Any:
        """:meth:`request` when another thread reads (or on TLS): sends, then waits as a
        follower (or reads) until the answer for ``request_id`` has come."""
        lock = self._lock
        try:
            self._send(message)
        except OSError as error:
            with lock:
                self._pending.discard(request_id)
            self._end(f"sending failed: {error}")
            raise self._ended or UnavailableError(str(error)) from None
        responses = self._responses
        try:
            self._wait(lambda: request_id in responses, None if wait is None else time.monotonic() + wait)
        finally:
            # Also when the wait is interrupted (Ctrl-C): a late answer is then dropped.
            with lock:
                self._pending.discard(request_id)
                response = responses.pop(request_id, None)
        if response is not None:
            result = response.get("result", response)
            if result is not response:
                return result
        raise self._failure(response, wait)

    def _failure(self, response: Optional[Dict[str, Any]], wait: Optional[float]) -> LabvisorError:
        """What a request that got ``response`` (no result) or none raises: the daemon's error,
        the connection's end, or a timeout."""
        if response is None:
            if self._ended is not None:
                return self._ended
            return TimeoutError(f"no answer from labvisord at {self.endpoint} within {wait:g} s (client-side wait)",
                                fields={"endpoint": str(self.endpoint), "timeoutSeconds": wait})
        failure = response.get("error")
        if isinstance(failure, dict):
            return error_from_wire(failure)
        return UnavailableError("the daemon's response has neither result nor error")

    def call(self, method: str, params: Dict[str, Any], wait: Optional[float] = None) -> Any:
        """Calls a wire method with ``params`` and returns its result."""
        return self.request(b'"method":%b,"params":%b}' % (dumps(method), dumps(params)), wait)

    # Waiting and reading

    def _wait(self, ready: Callable[[], bool], deadline: Optional[float]) -> None:
        """Returns once ``ready()`` (checked under the state lock), the connection ended, or
        ``deadline`` (monotonic) passed. Reads the socket when no other thread does."""
        state = self._state
        with self._lock:
            while True:
                if ready() or self._ended is not None:
                    return
                if not self._reading:
                    self._reading = True
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                self._followers += 1
                state.wait(remaining)
                self._followers -= 1
        try:
            self._read(ready, deadline)
        finally:
            with self._lock:
                self._reading = False
                if self._followers:
                    state.notify_all()  # one of them reads next
                ended = self._ended is not None
            if ended:
                self._close_socket()
        # _read returns only when ready, ended or past the deadline: nothing more to wait for.

    def _read(self, ready: Callable[[], bool], deadline: Optional[float], first: Optional[bytes] = None) -> bool:
        """As the one reader: reads and dispatches frames until ``ready()``, the end (True)
        or the deadline (False). ``first``: bytes already received (``b""``: the end), taken
        before anything is read (there is then no large message being read)."""
        while True:
            large = self._large
            if first is not None:
                data, first = first, None
                if not data:
                    self._end("the daemon closed the connection")
                    return True
            elif large is not None:
                # The rest of a large message, straight into its own buffer.
                try:
                    received = self._receive(deadline, self._large_view[self._large_filled:])  # type: ignore[index]
                    if received is None:
                        return False
                except OSError as error:
                    self._end(str(error))
                    return True
                if not received:
                    self._end("the daemon closed the connection")
                    return True
                self._large_filled += received
                if self._large_filled < len(large):
                    continue
                self._large = self._large_view = None
                frames: List[Any] = [large]
                data = b""
            else:
                try:
                    read = self._receive(deadline, None)
                    if read is None:
                        return False
                    data = read  # type: ignore[assignment]
                except OSError as error:
                    self._end(str(error))
                    return True
                if not data:
                    self._end("the daemon closed the connection")
                    return True
            if large is not None:
                pass  # the large message is complete: dispatched below
            elif not self._partial and int.from_bytes(data[:4], "big") + 4 == len(data):
                frames = [data[4:]]  # the usual case: exactly one whole message
            else:
                try:
                    frames = self._frames(data)
                except ValueError as error:
                    self._end(f"unreadable message from the daemon: {error}")
                    return True
                if not frames:
                    continue
            try:
                with self._lock:
                    for frame in frames:
                        self._dispatch(frame)
                    if self._followers:
                        self._state.notify_all()
                    if ready() or self._ended is not None:
                        return True
            except Exception as error:  # noqa: BLE001 - a bad frame ends the connection, never hangs callers
                self._end(f"unreadable message from the daemon: {error!r}")
                return True

    def _send(self, data: bytes) -> None:
        """Writes ``data`` whole; other senders wait (frames never interleave)."""
        sock = self._sock
        with self._send_lock:
            if not self._tls:
                sock.sendall(data)
                return
            view = memoryview(data)
            while view:
                try:
                    with self._io_lock:
                        sent = sock.send(view)
                    view = view[sent:]
                except ssl.SSLWantWriteError:
                    select.select([], [sock], [], 1.0)
                except ssl.SSLWantReadError:
                    # Renegotiation data to read first: the reader's next recv takes it.
                    select.select([sock], [], [], 0.01)

    def _receive(self, deadline: Optional[float], into: Optional[memoryview]) -> Any:
        """The next bytes (``into`` given: their count, read into it); ``b""``/0 at the end;
        ``None`` when ``deadline`` (monotonic) passes first."""
        sock = self._sock
        while True:
            if deadline is not None or self._tls:
                pending = self._tls and sock.pending() > 0  # type: ignore[attr-defined]
                if not pending:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return None
                    if not select.select([sock], [], [], remaining)[0]:
                        return None
            if not self._tls:
                return sock.recv(65536) if into is None else sock.recv_into(into)
            try:
                with self._io_lock:
                    return sock.recv(65536) if into is None else sock.recv_into(into)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue  # a partial record, or TLS housekeeping (session tickets): wait again

    def _frames(self, data: bytes) -> List[bytes]:
        """The complete frames in what has been read so far; keeps the rest."""
        partial = self._partial
        if partial:
            partial += data
            data = bytes(partial)
            partial.clear()
        frames = []
        offset, size = 0, len(data)
        while size - offset >= 4:
            end = offset + 4 + int.from_bytes(data[offset:offset + 4], "big")
            if end > size:
                break
            frames.append(data[offset + 4:end])
            offset = end
        if size - offset >= 4:
            length = int.from_bytes(data[offset:offset + 4], "big")
            if length > LARGE_MESSAGE:
                # A large message begun: its buffer, filled by recv_into from now on.
                if length > MAX_FRAME:
                    raise ValueError(f"a message of {length} bytes is over the limit of {MAX_FRAME}")
                large = self._large_buffer(length)
                have = size - offset - 4
                large[:have] = data[offset + 4:]
                self._large, self._large_view, self._large_filled = large, memoryview(large), have
                return frames
        if offset < size:
            partial += data[offset:]
        return frames

    def _large_buffer(self, length: int) -> bytearray:
        """A buffer of ``length`` bytes for a large message: a recycled one that nothing else
        refers to (its reference count is that of an unreferenced one, ``_FREE``: no frame,
        array or view holds it), else a new one, kept for later."""
        recycled = self._recycled
        for buffer in recycled:
            if len(buffer) == length and sys.getrefcount(buffer) == _FREE:
                return buffer
        buffer = bytearray(length)
        recycled.append(buffer)
        if len(recycled) > RECYCLED_BUFFERS:
            del recycled[0]
        return buffer

    def _dispatch(self, frame: bytes) -> None:
        # Called with the state lock held.
        if frame[:1] == b"\x00":
            header_end = 5 + int.from_bytes(frame[1:5], "big")
            header = loads(bytes(frame[5:header_end]))
            if header.get("method") == "stream.frame":
                params = header.get("params") or {}
                if params.get("subscription") not in self._finished_streams:
                    self._stream_queue(params.get("subscription"))._put((params, frame, header_end))
            handler = self.on_binary
            if handler is not None:
                handler(frame)
            return
        message = loads(frame)
        request_id = message.get("id")
        if request_id is not None:
            if request_id in self._pending:
                self._responses[request_id] = message
            return
        method = message.get("method")
        if method == "event":
            params = message.get("params") or {}
            subscription_id: Any = params.get("subscription")
            event: Any = params.get("event")
            subscription = self._subscriptions.get(subscription_id)
            if subscription is not None:
                subscription._put(event)
            elif subscription_id not in self._finished:
                early = self._early.setdefault(subscription_id, [])
                if len(early) < 4096:
                    early.append(event)
        elif method == "stream.ended":
            params = message.get("params") or {}
            if params.get("subscription") not in self._finished_streams:
                self._stream_queue(params.get("subscription")).ended = params
        elif method is None and isinstance(message.get("error"), dict):
            # An error for no request: the daemon refused this connection (a limit).
            self._ended = self._ended or error_from_wire(message["error"])

    # Subscriptions

    def subscribe(self, subscription_id: int, subscription: Subscription) -> None:
        """Routes the ``event`` notifications of ``subscription_id`` to ``subscription``
        (including any that arrived before the ``events.watch`` answer)."""
        with self._state:
            for event in self._early.pop(subscription_id, []):
                subscription._put(event)
            self._subscriptions[subscription_id] = subscription

    def unsubscribe(self, subscription_id: int) -> None:
        """Stops routing events of ``subscription_id``."""
        with self._state:
            self._subscriptions.pop(subscription_id, None)
            self._early.pop(subscription_id, None)
            self._finished.add(subscription_id)

    def _stream_queue(self, subscription_id: Any) -> FrameQueue:
        # Called with the state lock held: the queue of a stream subscription, or the early one.
        queue = self._streams.get(subscription_id)
        if queue is None:
            queue = self._early_streams.get(subscription_id)
            if queue is None:
                queue = self._early_streams[subscription_id] = FrameQueue(self, EARLY_FRAMES)
        return queue

    # Stream subscriptions

    def open_stream(self, subscription_id: int, queue: FrameQueue) -> None:
        """Routes the frames of stream subscription ``subscription_id`` to ``queue``
        (including any that arrived before the ``stream.open`` answer was handled)."""
        with self._state:
            early = self._early_streams.pop(subscription_id, None)
            if early is not None:
                for item in early._items:
                    queue._put(item)
                queue._missed += early._missed
                queue.ended = early.ended
            self._streams[subscription_id] = queue

    def close_stream(self, subscription_id: int) -> None:
        """Stops routing frames of ``subscription_id`` (late ones are dropped); a thread
        waiting for one of its frames returns."""
        with self._state:
            queue = self._streams.pop(subscription_id, None)
            if queue is not None and queue.ended is None:
                queue.ended = {"subscription": subscription_id, "reason": "closed"}
            self._early_streams.pop(subscription_id, None)
            self._finished_streams.add(subscription_id)
            self._state.notify_all()

    # Life

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._ended is not None

    def close(self) -> None:
        """Closes the connection; the daemon releases the leases it held. Idempotent."""
        self._end("closed by the client", closed=True)
        with self._state:
            reading = self._reading
        if not reading:
            self._close_socket()

    def _close_socket(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass

    def _end(self, reason: str, closed: bool = False) -> None:
        with self._state:
            if self._ended is None:
                self._ended = (ClosedError(f"the connection to labvisord at {self.endpoint} is closed",
                                           fields={"what": "connection", "endpoint": str(self.endpoint)})
                               if closed else
                               UnavailableError(f"the connection to labvisord at {self.endpoint} ended: {reason}",
                                                fields={"endpoint": str(self.endpoint)}))
            self._state.notify_all()
        try:
            # Wakes a reader blocked in recv.
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def __del__(self) -> None:
        try:
            self._sock.close()
        except Exception:  # noqa: BLE001
            pass
