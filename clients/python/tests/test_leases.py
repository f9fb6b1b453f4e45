"""Leases: lock one, several (all or nothing), by query; released always; contention errors."""

from __future__ import annotations

import datetime
import threading
import time

import pytest

import labvisor


def held(lab):
    return {name for lease in lab.leases() for name in lease.instruments}


def test_lock_one_gives_the_instrument_and_releases_on_exit(lab, other):
    with lab.lock("stage-x", timeout=10) as stage:
        assert isinstance(stage, labvisor.Instrument)
        assert repr(stage).startswith("<labvisor.Instrument 'stage-x' stage (zaber-ascii), lease L")
        assert "stage-x" in held(other)
        stage.home()
        assert stage.move_absolute(12.5) == pytest.approx(12.5, abs=0.01)
        assert stage.position == pytest.approx(12.5, abs=0.01)
        assert stage.move_relative(-2.5) == pytest.approx(10.0, abs=0.01)
        stage.velocity = 20.0
        assert stage.velocity == pytest.approx(20.0, rel=0.01)
        lease = stage.lease
        assert lease.id.startswith("L") and lease.token and lease.instruments == ("stage-x",)
        assert isinstance(lease.since, datetime.datetime)
    assert lease.released
    assert "stage-x" not in held(other)
    assert "released" in repr(lease)


def test_released_when_the_block_raises(lab, other):
    with pytest.raises(RuntimeError):
        with lab.lock("stage-z", timeout=10) as stage:
            stage.home()
            raise RuntimeError("the experiment failed")
    assert "stage-z" not in held(other)


def test_lock_several_unpacks_in_order(lab, other):
    with lab.lock(["laser-488", "stage-x"], timeout=10) as lease:
        assert isinstance(lease, labvisor.Lease)
        laser, stage = lease
        assert (laser.name, stage.name) == ("laser-488", "stage-x")
        assert lease["stage-x"] is stage and len(lease) == 2
        laser.power_setpoint = 0.05
        assert laser.power_setpoint == pytest.approx(0.05, abs=1e-4)
        laser.emission_on()
        assert laser.emission is True
        laser.emission_off()
        assert laser.emission is False
        with pytest.raises(labvisor.NotFoundError):
            lease["heater-1"]
        assert {"laser-488", "stage-x"} <= held(other)
    assert not {"laser-488", "stage-x"} & held(other)


def test_all_or_nothing(lab, other):
    with other.lock("laser-488"):
        with pytest.raises(labvisor.LockedError):
            lab.lock(["stage-x", "laser-488"])
        # stage-x was not taken by the failed request.
        assert "stage-x" not in held(lab)
        with other.lock("stage-x"):
            pass


def test_locked_error_says_who_since_when(lab, other):
    before = datetime.datetime.now(datetime.timezone.utc)
    with other.lock("heater-1") as heater:
        with pytest.raises(labvisor.LockedError) as caught:
            lab.lock("heater-1")
    error = caught.value
    assert error.instrument == "heater-1"
    assert error.lease == heater.lease.id
    assert isinstance(error.holder, str) and error.holder
    assert isinstance(error.since, datetime.datetime)
    assert before - datetime.timedelta(seconds=5) <= error.since <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=5)
    assert error.waiters == 0
    assert error.status in ("discovered", "opening", "ready", "busy", "closing")
    assert "heater-1" in error.message


def test_waiting_runs_out_with_timeout_error(lab, other):
    with other.lock("heater-1"):
        start = time.monotonic()
        with pytest.raises(labvisor.TimeoutError) as caught:
            lab.lock("heater-1", timeout=0.5)
        elapsed = time.monotonic() - start
    assert isinstance(caught.value, TimeoutError)
    assert 0.4 <= elapsed < 10
    assert caught.value.instrument == "heater-1"


def test_waiting_gets_the_lease_when_freed(lab, other):
    lease = other.lock("heater-1")
    releaser = threading.Timer(0.3, lease.release)
    releaser.start()
    try:
        with lab.lock("heater-1", timeout=10) as heater:
            assert heater.lease.id
    finally:
        releaser.join(10)


def test_lock_where(lab, other):
    with lab.lock(where={"kind": "stage"}, timeout=10) as stage:
        assert stage.kind == "stage"
        assert stage.name in held(other)
    with lab.lock(where={"kind": "stage"}, count=2, timeout=10) as lease:
        assert sorted(lease.instruments) == ["stage-x", "stage-z"]
    with pytest.raises(labvisor.LabvisorError):
        lab.lock(where={"kind": "camera"}, count=2)  # the demo has one camera


def test_lock_needs_names_or_where(lab):
    with pytest.raises(labvisor.InvalidArgumentError):
        lab.lock()
    with pytest.raises(labvisor.InvalidArgumentError):
        lab.lock("stage-x", where={"kind": "stage"})


def test_lock_unknown_instrument(lab):
    with pytest.raises(labvisor.NotFoundError):
        lab.lock("stage-nope")


def test_release_is_idempotent_and_calls_after_it_need_a_lease(lab):
    lease = lab.lock("loopback")
    instrument = lease["loopback"]
    lease.release()
    lease.release()
    with pytest.raises(labvisor.LeaseRequiredError):
        instrument.sleep(0.01)


def test_bad_arguments_are_invalid_argument(lab):
    with lab.lock("stage-x", timeout=10) as stage:
        with pytest.raises(labvisor.InvalidArgumentError) as caught:
            stage.move_absolute(1e9)
        assert isinstance(caught.value, ValueError)
        assert caught.value.argument == "position"


def test_deadline_exceeded(lab):
    with lab.lock("loopback", timeout=10) as loopback:
        start = time.monotonic()
        with pytest.raises(labvisor.DeadlineExceededError) as caught:
            loopback.sleep(5, timeout=0.3)
        assert time.monotonic() - start < 4
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.instrument == "loopback"
        assert caught.value.method == "sleep"
        assert loopback.echo("after") == "after"


def test_revoked_lease(lab, other):
    with lab.lock("loopback", timeout=10) as loopback:
        other.revoke(loopback.lease.id, "needed for alignment")
        with pytest.raises(labvisor.LeaseRevokedError) as caught:
            loopback.sleep(0.01)
        assert "needed for alignment" in caught.value.message or caught.value.reason == "needed for alignment"
    # Exiting after a revocation does not raise.


def test_leases_list(lab, other):
    with lab.lock("heater-1") as heater:
        leases = other.leases()
        mine = next(lease for lease in leases if lease.lease == heater.lease.id)
        assert mine.instruments == ("heater-1",)
        assert isinstance(mine.since, datetime.datetime) and mine.holder


def test_closing_the_connection_releases(daemon, other):
    lab = labvisor.connect(daemon.url)
    lab.lock("heater-1")
    lab.close()
    with other.lock("heater-1", timeout=10):
        pass


def test_summaries_show_the_lease(lab, other):
    with other.lock("heater-1") as heater:
        item = next(i for i in lab.instruments() if i.name == "heater-1")
        assert item.lease is not None and item.lease.lease == heater.lease.id and item.lease.holder
        assert "leased by" in repr(item)
    assert next(i for i in lab.instruments() if i.name == "heater-1").lease is None


def test_acting_under_another_connections_token(daemon, other):
    with other.lock(["heater-1", "loopback"]) as lease:
        with labvisor.connect(daemon.url, lease_token=lease.token, lease_instruments=["heater-1"]) as borrower:
            assert "inherited lease on heater-1" in repr(borrower)
            heater = borrower.instrument("heater-1")
            assert repr(heater).endswith("inherited lease>")
            heater.setpoint = 26.0
            assert heater.setpoint == pytest.approx(26.0)
            with borrower.lock("heater-1") as same:    # reused: no wait, no second lease
                assert same.lease.id is None and same.lease.inherited == ("heater-1",)
            with pytest.raises(labvisor.LeaseRequiredError):
                borrower.instrument("loopback").sleep(0.01)  # the token was not lent for it
        assert lease.id in {info.lease for info in other.leases()}  # the borrower's exit kept it
    with pytest.raises(labvisor.InvalidArgumentError):
        labvisor.connect(daemon.url, lease_token="x")
