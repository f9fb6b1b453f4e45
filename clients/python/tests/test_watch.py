"""Events: lab.watch(...) as a bounded iterator."""

from __future__ import annotations

import threading
import time

import pytest

import labvisor


def test_watch_sees_a_lease_and_calls(lab, other):
    with lab.watch("heater-1", timeout=10) as watch:
        with other.lock("heater-1") as heater:
            heater.setpoint = 25.0
        seen = []
        for event in watch:
            seen.append(event)
            if event.kind == "leaseReleased":
                break
    kinds = [event.kind for event in seen]
    assert "leaseAcquired" in kinds and "leaseReleased" in kinds
    assert all(event.instrument == "heater-1" for event in seen)
    sequences = [event.sequence for event in seen]
    assert sequences == sorted(sequences)
    assert isinstance(seen[0], labvisor.Event) and "heater-1" in str(seen[0])


def test_watch_filters_kinds(lab, other):
    with lab.watch(kinds=["leaseAcquired"], timeout=10) as watch:
        with other.lock("stage-z"):
            pass
        event = watch.next(timeout=10)
    assert event is not None
    assert event.kind == "leaseAcquired" and event.instrument == "stage-z"


def test_watch_ends_at_its_timeout(lab):
    start = time.monotonic()
    events = list(lab.watch("heater-1", kinds=["instrumentRemoved"], timeout=0.5))
    elapsed = time.monotonic() - start
    assert events == []
    assert 0.4 <= elapsed < 5


def test_watch_from_another_thread_while_calls_run(lab, other):
    # Events arrive on the reader thread while this connection also makes calls.
    got = []
    watch = lab.watch("loopback", timeout=10)

    def consume():
        for event in watch:
            got.append(event)
            if event.kind == "leaseReleased":
                return

    thread = threading.Thread(target=consume)
    thread.start()
    with other.lock("loopback") as loopback:
        for index in range(20):
            assert lab.instrument("loopback").echo(index) == index
        loopback.sleep(0.01)
    thread.join(15)
    assert not thread.is_alive()
    assert [e.kind for e in got][0] == "leaseAcquired"
    watch.close()


def test_closing_the_connection_ends_a_watch(daemon):
    lab = labvisor.connect(daemon.url)
    watch = lab.watch(timeout=30)
    closer = threading.Timer(0.2, lab.close)
    closer.start()
    start = time.monotonic()
    with pytest.raises(labvisor.ClosedError):
        for _ in watch:
            pass
    assert time.monotonic() - start < 10
    closer.join(5)


def test_unwatch(lab, other):
    watch = lab.watch("heater-1", timeout=5)
    watch.close()
    watch.close()
    with other.lock("heater-1"):
        pass
    assert watch.next(timeout=0.2) is None
    assert "closed" in repr(watch)
