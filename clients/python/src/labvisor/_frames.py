"""Camera frames: ``stream.open`` subscriptions read as :class:`Frame` objects.

Frames are read like everything else on the connection: by the thread that waits for one
(no background thread). A frame's payload is read from the socket once, with ``recv_into``,
into a buffer of the message's size; the frame's :attr:`Frame.array` is a numpy view of
those bytes (``numpy.frombuffer``), not a copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterator, Optional, Tuple

from ._connection import FrameQueue
from .errors import LabvisorError, TimeoutError, error_from_wire

if TYPE_CHECKING:  # pragma: no cover
    from .client import Instrument

try:
    import numpy as _numpy_module
except ImportError:  # pragma: no cover - exercised through use_numpy(False)
    _numpy_module = None

__all__ = ["Frame", "FrameStream", "numpy_enabled", "use_numpy"]

_numpy: Any = _numpy_module


def use_numpy(enabled: bool) -> None:
    """Whether frames get a numpy :attr:`Frame.array` (the default when numpy is
    importable). ``use_numpy(False)`` gives frames with only :attr:`Frame.data` (bytes-like),
    :attr:`Frame.shape` and :attr:`Frame.dtype`, as without numpy; ``use_numpy(True)``
    raises ``ImportError`` when numpy is not installed."""
    global _numpy
    if enabled and _numpy_module is None:
        raise ImportError("numpy is not installed: frames come as bytes with shape and dtype")
    _numpy = _numpy_module if enabled else None


def numpy_enabled() -> bool:
    """Whether frames get numpy arrays (see :func:`use_numpy`)."""
    return _numpy is not None


#: numpy dtype strings by (format, bytes per pixel): 16-bit formats are little-endian samples,
#: every other format is bytes (``YUY2`` rows are Y0 U Y1 V bytes).
_SAMPLES = {"Y16": "<u2"}


class Frame:
    """One camera frame.

    ``array``: the pixels as a read-only-by-convention numpy array (``None`` without numpy):
    shape ``(height, width)`` with dtype ``uint8`` for ``GREY``, ``'<u2'`` for ``Y16``;
    ``(height, width * 2)`` ``uint8`` for ``YUY2`` (each row Y0 U Y1 V ...); other formats
    ``(height, stride)`` bytes. ``numpy.asarray(frame)`` gives the same array.
    ``data``: the payload as a ``memoryview`` of bytes (always set); ``shape`` and ``dtype``
    (a numpy dtype string, ``'|u1'`` or ``'<u2'``) describe it with or without numpy.
    ``sequence``: the stream's frame number; ``dropped``: frames of the stream missed since
    the previous frame received (by the daemon's queue or this client's), equal to the gap in
    ``sequence``; ``timestamp``: when the daemon got it (seconds since the epoch);
    ``device_time``: the device's own clock when it has one; ``format``, ``width``,
    ``height``, ``stride``, ``bytes_per_pixel`` as on the wire (docs/wire.md).
    """

    __slots__ = ("data", "array", "shape", "dtype", "sequence", "dropped", "timestamp", "device_time", "format",
                 "width", "height", "stride", "bytes_per_pixel", "subscription")

    def __init__(self, params: Dict[str, Any], buffer: Any, offset: int, extra_dropped: int = 0) -> None:
        self.format: str = params.get("format", "")
        self.width: int = int(params.get("width", 0))
        self.height: int = int(params.get("height", 0))
        self.bytes_per_pixel: int = int(params.get("bytesPerPixel", 1))
        self.stride: int = int(params.get("stride", self.width * self.bytes_per_pixel))
        self.sequence: int = int(params.get("sequence", 0))
        self.dropped: int = int(params.get("dropped", 0)) + extra_dropped
        self.timestamp: float = float(params.get("time", 0.0))
        self.device_time: Optional[int] = params.get("deviceTime")
        self.subscription: int = int(params.get("subscription", 0))
        size = int(params.get("bytes", len(buffer) - offset))
        self.data: memoryview = memoryview(buffer)[offset:offset + size]
        dtype = _SAMPLES.get(self.format, "|u1")
        itemsize = 2 if dtype == "<u2" else 1
        self.dtype: str = dtype
        self.shape: Tuple[int, int] = (self.height, self.stride // itemsize) if self.height else (0, 0)
        numpy = _numpy
        if numpy is not None and self.shape[0] * self.shape[1] * itemsize == size:
            self.array: Any = numpy.frombuffer(buffer, dtype=dtype, count=size // itemsize,
                                               offset=offset).reshape(self.shape)
        elif numpy is not None:
            self.array = numpy.frombuffer(buffer, dtype="|u1", count=size, offset=offset)
        else:
            self.array = None

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        if self.array is None:
            raise TypeError("numpy frames are switched off (labvisor.use_numpy(False))")
        if dtype is not None and dtype != self.array.dtype:
            return self.array.astype(dtype)
        return self.array.copy() if copy else self.array

    def tobytes(self) -> bytes:
        """The payload as ``bytes`` (a copy)."""
        return self.data.tobytes()

    def __repr__(self) -> str:
        return (f"<labvisor.Frame {self.sequence} {self.width}x{self.height} {self.format}"
                f"{f', {self.dropped} dropped before' if self.dropped else ''}>")


class FrameStream:
    """Frames of one instrument's data stream (``stream.open``), from the next frame the
    driver publishes. Iterate it (``for frame in stream``), or call :meth:`next`; use it in
    a ``with`` statement or iterate it to the end: closing (end of ``count``, ``break`` out
    of the loop, an exception, :meth:`close`, the ``with`` block's end) sends ``stream.close``.

    Backpressure: the daemon queues at most ``queue`` frames for this subscription and this
    client keeps at most ``queue`` frames it read ahead; a script slower than the camera
    loses the oldest frames, never memory: the next frame's ``dropped`` counts them.
    """

    def __init__(self, instrument: "Instrument", *, stream: str = "frames", count: Optional[int] = None,
                 timeout: Optional[float] = 10.0, queue: int = 4, token: Optional[str] = None) -> None:
        lab = instrument._lab
        params: Dict[str, Any] = {"instrument": instrument.name, "stream": stream, "queue": queue}
        if token is not None:
            params["leaseToken"] = token
        result = lab._call("stream.open", params)
        self._lab = lab
        self._connection = lab._connection
        #: The daemon's subscription id.
        self.id: int = int(result["subscription"])
        #: The instrument's name.
        self.instrument: str = instrument.name
        #: The stream's name.
        self.stream: str = result.get("stream", stream)
        #: The queue length granted (the daemon's and this client's).
        self.queue: int = int(result.get("queue", queue))
        self._frames = FrameQueue(self._connection, self.queue)
        self._connection.open_stream(self.id, self._frames)
        self._count = count
        self._timeout = timeout
        self._closed = False
        #: Frames returned so far.
        self.received = 0
        #: Frames of the stream missed so far (the sum of the frames' ``dropped``).
        self.dropped = 0

    @property
    def closed(self) -> bool:
        """Whether it is closed (by this client, the count reached, or the daemon ended it)."""
        return self._closed

    def next(self, timeout: Any = ...) -> Optional[Frame]:
        """The next frame, waiting up to ``timeout`` seconds (default: the stream's
        per-frame ``timeout``; ``None``: no limit). ``None`` when the stream has ended (the
        count reached, closed, or the driver stopped it). Raises :class:`TimeoutError` when no
        frame came in time, and the daemon's error when the stream failed (the camera was
        unplugged: ``DeviceGoneError``)."""
        if self._closed:
            return None
        wait = self._timeout if timeout is ... else timeout
        try:
            item = self._frames.get(wait)
        except LabvisorError:
            self.close()
            raise
        if item is None:
            ended = self._frames.ended
            if ended is None:
                raise TimeoutError(f"no frame from {self.instrument} ({self.stream}) within {wait:g} s",
                                   fields={"instrument": self.instrument, "stream": self.stream,
                                           "timeoutSeconds": wait})
            self._finish()
            error = ended.get("error")
            if ended.get("reason") == "failed" and isinstance(error, dict):
                raise error_from_wire(error)
            return None
        frame = Frame(*item)
        self.received += 1
        self.dropped += frame.dropped
        if self._count is not None and self.received >= self._count:
            self.close()
        return frame

    def __iter__(self) -> Iterator[Frame]:
        # A generator: a loop left early (break, an exception) drops it, and its ``finally``
        # closes the subscription at once (CPython) or when it is collected.
        try:
            while True:
                frame = self.next()
                if frame is None:
                    return
                yield frame
        finally:
            self.close()

    def _finish(self) -> None:
        self._closed = True
        self._connection.close_stream(self.id)

    def close(self) -> None:
        """Ends the subscription (``stream.close``); frames still queued are discarded.
        Idempotent; never raises for a connection or stream that already ended."""
        if self._closed:
            return
        ended = self._frames.ended is not None
        self._finish()
        if ended or self._connection.closed:
            return
        try:
            self._lab._call("stream.close", {"subscription": self.id}, 10.0 if self._lab._answer_timeout is None
                            else self._lab._answer_timeout)
        except LabvisorError:
            pass  # already ended on the daemon's side, or the connection ended: closed either way

    def __enter__(self) -> "FrameStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<labvisor.FrameStream {self.id} {self.instrument}/{self.stream} {state}, {self.received} frames>"
