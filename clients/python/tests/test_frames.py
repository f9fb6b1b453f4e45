"""Camera frames (`Instrument.frames`): byte-exact against the loopback test pattern, the
demo camera, backpressure, closing, errors, and frames without numpy."""

from __future__ import annotations

import threading
import time

import numpy
import pytest

import labvisor

from conftest import run_python

FORMATS = {  # format: (bits per sample, samples per row for a width, numpy dtype)
    "GREY": (8, lambda width: width, numpy.uint8),
    "Y16": (16, lambda width: width, numpy.dtype("<u2")),
    "YUY2": (8, lambda width: 2 * width, numpy.uint8),
}


def expected_array(format: str, width: int, height: int, sequence: int) -> numpy.ndarray:
    """The loopback pattern, (x + 3y + 5 sequence) mod 2^b (docs/wire.md), computed here."""
    bits, samples, dtype = FORMATS[format]
    x = numpy.arange(samples(width), dtype=numpy.int64)
    y = numpy.arange(height, dtype=numpy.int64)[:, None]
    return ((x + 3 * y + 5 * sequence) % (1 << bits)).astype(dtype)


def expected_bytes(format: str, width: int, height: int, sequence: int) -> bytes:
    """The same pattern as bytes, computed without numpy."""
    bits, samples, _ = FORMATS[format]
    out = bytearray()
    for y in range(height):
        for x in range(samples(width)):
            value = (x + 3 * y + 5 * sequence) % (1 << bits)
            out += value.to_bytes(bits // 8, "little")
    return bytes(out)


@pytest.fixture
def loopback(lab):
    instrument = lab.instrument("loopback")
    try:
        yield instrument
    finally:
        instrument.stop_frames()


@pytest.fixture
def no_numpy():
    labvisor.use_numpy(False)
    try:
        yield
    finally:
        labvisor.use_numpy(True)


def subscription_ids(lab, instrument="loopback"):
    return {item["subscription"] for item in lab.stream_status(instrument)["subscriptions"]}


@pytest.mark.parametrize("format", ["GREY", "Y16", "YUY2"])
def test_loopback_frames_are_byte_exact(lab, loopback, format):
    width, height = 37, 11
    with loopback.frames(count=6, queue=16, timeout=10) as stream:
        loopback.start_frames(width=width, height=height, format=format, fps=100)
        frames = list(stream)
    assert len(frames) == 6
    assert stream.closed
    for frame in frames:
        assert frame.format == format and (frame.width, frame.height) == (width, height)
        expected = expected_array(format, width, height, frame.sequence)
        assert frame.array.shape == expected.shape == frame.shape
        assert frame.array.dtype == expected.dtype
        assert frame.dtype == expected.dtype.str
        assert numpy.array_equal(frame.array, expected)
        assert numpy.array_equal(numpy.asarray(frame), expected)
        assert frame.tobytes() == expected.tobytes()
        assert frame.timestamp > 0
    sequences = [frame.sequence for frame in frames]
    assert sequences == list(range(sequences[0], sequences[0] + 6))
    assert all(frame.dropped == 0 for frame in frames[1:])
    assert stream.id not in subscription_ids(lab)


def test_large_frames_are_byte_exact(loopback):
    # 8 MiB frames: read with recv_into across many socket reads.
    with loopback.frames(count=3, queue=4, timeout=30) as stream:
        loopback.start_frames(width=2048, height=2048, format="Y16", fps=20)
        for frame in stream:
            assert frame.array.shape == (2048, 2048)
            assert numpy.array_equal(frame.array, expected_array("Y16", 2048, 2048, frame.sequence))


def test_kept_frames_are_never_overwritten(loopback):
    # Large messages' buffers are reused once nothing refers to them: frames, arrays and views
    # a script keeps must stay intact while later frames arrive.
    kept, views, data = [], [], []
    with loopback.frames(count=24, queue=16, timeout=10) as stream:
        loopback.start_frames(width=512, height=256, format="Y16", fps=100)  # 256 KiB each
        for index, frame in enumerate(stream):
            if index % 3 == 0:
                kept.append(frame)
            elif index % 6 == 1:
                views.append((frame.sequence, frame.array[100:110]))
            elif index % 6 == 2:
                data.append((frame.sequence, frame.data))
            # the others are dropped at once: their buffers get reused
    assert len(kept) == 8
    for frame in kept:
        assert numpy.array_equal(frame.array, expected_array("Y16", 512, 256, frame.sequence))
    for sequence, view in views:
        assert numpy.array_equal(view, expected_array("Y16", 512, 256, sequence)[100:110])
    for sequence, payload in data:
        assert payload.tobytes() == expected_array("Y16", 512, 256, sequence).tobytes()


def test_frames_without_numpy(loopback, no_numpy):
    assert not labvisor.numpy_enabled()
    width, height = 9, 5
    for format in ("GREY", "Y16", "YUY2"):
        with loopback.frames(count=3, queue=16, timeout=10) as stream:
            loopback.start_frames(width=width, height=height, format=format, fps=100)
            frames = list(stream)
        loopback.stop_frames()
        assert len(frames) == 3
        for frame in frames:
            assert frame.array is None
            assert bytes(frame.data) == expected_bytes(format, width, height, frame.sequence)
            assert frame.shape == ((height, width) if format != "YUY2" else (height, 2 * width))
            assert frame.dtype == ("<u2" if format == "Y16" else "|u1")
            with pytest.raises(TypeError):
                numpy.asarray(frame)


def test_frames_when_numpy_is_not_installed(daemon):
    # A process where `import numpy` fails: the client still imports and gives bytes frames.
    script = """
import sys
sys.modules["numpy"] = None  # import numpy raises ImportError
import labvisor
assert not labvisor.numpy_enabled()
with labvisor.connect() as lab:
    loopback = lab.instrument("loopback")
    with loopback.frames(count=2, queue=8, timeout=10) as stream:
        loopback.start_frames(width=4, height=2, format="GREY", fps=100)
        frames = list(stream)
    loopback.stop_frames()
for frame in frames:
    expected = bytes((x + 3 * y + 5 * frame.sequence) % 256 for y in range(2) for x in range(4))
    assert frame.array is None and bytes(frame.data) == expected, (frame, bytes(frame.data))
    assert frame.shape == (2, 4) and frame.dtype == "|u1"
print("ok", len(frames))
"""
    result = run_python(daemon, ["-c", script], timeout=60)
    assert result.stdout.strip() == "ok 2"


def test_slow_reader_gets_dropped_counts(lab, loopback):
    # 1 MiB frames at 200/s into a queue of 2 while the script sleeps: the daemon drops the
    # oldest waiting frames and says how many in each frame's `dropped`.
    with loopback.frames(queue=2, timeout=10) as stream:
        loopback.start_frames(width=1024, height=1024, format="GREY", fps=200, count=60)
        time.sleep(1.0)
        frames = [stream.next()]
        while True:  # until the 60 frames are done (sequences continue across start_frames)
            try:
                frames.append(stream.next(timeout=3))
            except labvisor.TimeoutError:
                break
            assert len(frames) <= 60
        status = {item["subscription"]: item for item in lab.stream_status("loopback")["subscriptions"]}
        assert status[stream.id]["dropped"] > 0
        assert status[stream.id]["delivered"] == len(frames)
    for previous, frame in zip(frames, frames[1:]):
        assert frame.dropped == frame.sequence - previous.sequence - 1
    # Nothing lost silently: every one of the 60 frames was received or counted as dropped.
    assert len(frames) + sum(frame.dropped for frame in frames) == 60
    assert sum(frame.dropped for frame in frames) == status[stream.id]["dropped"]
    assert len(frames) < 60
    last = frames[-1]
    assert numpy.array_equal(last.array, expected_array("GREY", 1024, 1024, last.sequence))


def test_break_closes_the_stream(lab, loopback):
    loopback.start_frames(width=16, height=4, format="GREY", fps=200)
    stream = loopback.frames(queue=4)
    assert stream.id in subscription_ids(lab)
    for frame in stream:
        break
    assert stream.closed
    assert stream.id not in subscription_ids(lab)
    # A new subscription works after it.
    frames = list(loopback.frames(count=2))
    assert len(frames) == 2


def test_exception_in_loop_closes_the_stream(lab, loopback):
    loopback.start_frames(width=16, height=4, format="GREY", fps=200)
    stream = loopback.frames(queue=4)
    with pytest.raises(RuntimeError):
        for frame in stream:
            raise RuntimeError("analysis failed")
    assert stream.closed
    assert stream.id not in subscription_ids(lab)


def test_with_block_closes_the_stream(lab, loopback):
    loopback.start_frames(width=16, height=4, format="GREY", fps=200)
    with loopback.frames(queue=4) as stream:
        assert stream.next() is not None
        assert stream.id in subscription_ids(lab)
    assert stream.closed and stream.next() is None
    assert stream.id not in subscription_ids(lab)


def test_close_from_another_thread_wakes_the_reader(lab, loopback):
    stream = loopback.frames(timeout=30)  # no frames started: next() waits
    results = []
    thread = threading.Thread(target=lambda: results.append(stream.next()))
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    stream.close()
    thread.join(timeout=20)
    assert not thread.is_alive() and results == [None]
    assert time.monotonic() - started < 10
    assert stream.id not in subscription_ids(lab)


def test_timeout_per_frame(loopback):
    with loopback.frames(timeout=0.3) as stream:  # no frames started
        started = time.monotonic()
        with pytest.raises(labvisor.TimeoutError):
            stream.next()
        assert time.monotonic() - started < 5


@pytest.mark.parametrize("format,width,height,shape,dtype", [
    ("GREY", 640, 480, (480, 640), numpy.uint8),
    ("YUY2", 640, 480, (480, 1280), numpy.uint8),
    ("Y16", 2048, 2048, (2048, 2048), numpy.dtype("<u2")),
])
def test_demo_camera_frames(lab, format, width, height, shape, dtype):
    with lab.lock(where={"kind": "camera"}, timeout=30) as cam:
        assert cam.name == "camera-1"
        cam.start_streaming(format=format, width=width, height=height)
        try:
            frames = list(cam.frames(count=3, timeout=20))
        finally:
            cam.stop_streaming()
    assert len(frames) == 3
    for frame in frames:
        assert frame.format == format
        assert frame.array.shape == shape and frame.array.dtype == dtype
    assert frames[0].sequence < frames[1].sequence < frames[2].sequence


def test_observer_gets_frames_without_a_lease(lab, other):
    with other.lock("camera-1", timeout=30) as cam:
        cam.start_streaming(format="GREY", width=640, height=480)
        try:
            observer = lab.instrument("camera-1")
            frames = list(observer.frames(count=2, timeout=20))
        finally:
            cam.stop_streaming()
    assert [frame.array.shape for frame in frames] == [(480, 640)] * 2


def test_frames_while_other_threads_call(lab, loopback):
    # One connection shared: a thread calls while the main thread reads frames.
    errors = []
    calls = []

    def caller():
        try:
            for index in range(50):
                calls.append(loopback.echo(index))
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    with loopback.frames(count=20, queue=16, timeout=10) as stream:
        loopback.start_frames(width=256, height=256, format="Y16", fps=200)
        thread = threading.Thread(target=caller)
        thread.start()
        frames = list(stream)
        thread.join(timeout=30)
    assert not thread.is_alive() and not errors
    assert calls == list(range(50))
    assert len(frames) == 20
    for frame in frames:
        assert numpy.array_equal(frame.array, expected_array("Y16", 256, 256, frame.sequence))


def test_unknown_instrument_and_stream(lab):
    with pytest.raises(labvisor.NotFoundError) as caught:
        labvisor.Instrument(lab, {"summary": {"name": "no-such-camera"}}).frames()
    assert isinstance(caught.value, LookupError)
    with pytest.raises(labvisor.NotFoundError):
        lab.instrument("loopback").frames(stream="no-such-stream")
    with pytest.raises(labvisor.InvalidArgumentError):
        lab.instrument("loopback").frames(queue=0)


def test_stream_limit(lab):
    loopback = lab.instrument("loopback")
    limit = lab.stream_status()["maxPerClient"]
    streams = [loopback.frames() for _ in range(limit)]
    try:
        with pytest.raises(labvisor.ResourceExhaustedError):
            loopback.frames()
    finally:
        for stream in streams:
            stream.close()
    loopback.frames().close()  # room again


def test_closed_connection_ends_iteration_with_its_error(daemon):
    lab = labvisor.connect(daemon.url, answer_timeout=60)
    stream = lab.instrument("loopback").frames(timeout=10)
    lab.close()
    with pytest.raises(labvisor.ClosedError):
        stream.next()
    stream.close()  # no error once the connection is gone
