"""Instruments: listing, describing, methods and properties from the schema, observers."""

from __future__ import annotations

import inspect
import threading

import pytest

import labvisor

from conftest import DEMO_INSTRUMENTS


def test_instruments_lists_the_demo(lab):
    items = lab.instruments()
    assert DEMO_INSTRUMENTS <= {item.name for item in items}
    stage = next(item for item in items if item.name == "stage-x")
    assert (stage.kind, stage.driver, stage.simulated) == ("stage", "zaber-ascii", True)
    assert stage.state in ("discovered", "opening", "ready", "busy", "closing")
    assert stage.tags["axis"] == "x"
    assert repr(stage).startswith("<InstrumentSummary 'stage-x' stage (zaber-ascii)")


def test_instruments_where(lab):
    assert sorted(item.name for item in lab.instruments(where={"kind": "stage"})) == ["stage-x", "stage-z"]
    assert [item.name for item in lab.instruments(where={"tags.axis": "z"})] == ["stage-z"]
    assert [item.name for item in lab.instruments(where={"kind": "camera"})] == ["camera-1"]
    assert lab.instruments(where={"tags.axis": "w"}) == []


def test_bad_query_is_invalid_argument(lab):
    with pytest.raises(labvisor.InvalidArgumentError) as caught:
        lab.instruments(where={"kind": {"$nonsense": 1}})
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "invalidArgument"


def test_unknown_instrument_is_not_found(lab):
    with pytest.raises(labvisor.NotFoundError) as caught:
        lab.instrument("stage-nope")
    assert isinstance(caught.value, LookupError)
    assert caught.value.name == "stage-nope"
    assert "stage-nope" in caught.value.message


def test_observer_reads_properties(lab):
    laser = lab.instrument("laser-488")
    assert laser.wavelength == 488
    status = laser.status
    assert isinstance(status, dict)
    stage = lab.instrument("stage-x")
    assert isinstance(stage.position, float)
    assert stage.axis_count >= 1
    assert stage.axisCount == stage.axis_count  # the wire name works too
    assert stage.get("position") == pytest.approx(stage.position, abs=1e-6)
    assert isinstance(lab.instrument("heater-1").temperature, (int, float))


def test_observe_methods_need_no_lease(lab):
    loopback = lab.instrument("loopback")
    assert loopback.echo(41) == 41
    stage = lab.instrument("stage-x")
    assert stage.axis_position() == pytest.approx(stage.position, abs=1e-6)
    assert stage.axis_position(axis=1) == pytest.approx(stage.position, abs=1e-6)


def test_control_methods_need_a_lease(lab):
    stage = lab.instrument("stage-x")
    with pytest.raises(labvisor.LeaseRequiredError) as caught:
        stage.home()
    assert caught.value.instrument == "stage-x"
    with pytest.raises(labvisor.LeaseRequiredError):
        stage.velocity = 5.0


@pytest.mark.parametrize("value", [None, True, 0, -7, 2.5, "µm ✓", [1, [2, 3]], {"a": {"b": [None, 1.5]}}, "x" * 10000])
def test_echo_round_trips_json_values(lab, value):
    assert lab.instrument("loopback").echo(value) == value


def test_values_that_are_not_json_are_refused_before_sending(lab):
    loopback = lab.instrument("loopback")
    with pytest.raises(labvisor.InvalidArgumentError):
        loopback.echo(float("nan"))
    with pytest.raises(labvisor.InvalidArgumentError):
        loopback.echo(object())
    assert loopback.echo((1, 2)) == [1, 2]


def test_unknown_methods_fail_listing_the_known_ones(lab):
    stage = lab.instrument("stage-x")
    with pytest.raises(labvisor.UnknownMethodError) as caught:
        stage.fly_to_the_moon()
    error = caught.value
    assert isinstance(error, AttributeError) and isinstance(error, labvisor.LabvisorError)
    assert "move_absolute" in error.message and "position" in error.message
    assert "move_absolute" in error.known and "axis_count" in error.known
    assert not hasattr(stage, "fly_to_the_moon")
    with pytest.raises(labvisor.UnknownMethodError):
        stage.call("flyToTheMoon")
    with pytest.raises(labvisor.UnknownMethodError):
        stage.get("home")  # a method, not a property


def test_dir_lists_the_schema(lab):
    stage = lab.instrument("stage-x")
    names = dir(stage)
    for name in ("home", "move_absolute", "move_relative", "stop", "wait_until_idle", "axis_position",
                 "position", "velocity", "axis_count", "call", "get", "set", "name"):
        assert name in names
    assert not [name for name in names if name[:1].isupper() or "Absolute" in name]


def test_repr_and_identity(lab):
    stage = lab.instrument("stage-x")
    assert repr(stage) == "<labvisor.Instrument 'stage-x' stage (zaber-ascii), observer>"
    assert (stage.name, stage.kind, stage.driver) == ("stage-x", "stage", "zaber-ascii")
    assert stage.summary().state in ("discovered", "opening", "ready", "busy", "closing")
    assert stage.describe()["interface"]["driver"] == "zaber-ascii"


def test_methods_have_signatures_and_docs(lab):
    stage = lab.instrument("stage-x")
    signature = inspect.signature(stage.move_absolute)
    assert list(signature.parameters) == ["position", "axis", "timeout"]
    assert signature.parameters["axis"].default == 1
    assert "moves to a position" in stage.move_absolute.__doc__
    assert "[mm]" in stage.move_absolute.__doc__
    assert stage.move_absolute.__name__ == "move_absolute"


def test_a_method_whose_argument_names_are_not_identifiers_still_works(lab):
    # A driver may name an argument anything JSON allows; inspect refuses such names for a
    # signature, which must not keep the method from being made and called.
    loopback = lab.instrument("loopback")
    schema = dict(loopback._methods["echo"])
    schema["arguments"] = list(schema["arguments"]) + [{"name": "2nd value!", "default": 0}]
    loopback._methods["odd_echo"] = schema
    method = loopback._method("odd_echo")
    assert method.__name__ == "odd_echo"
    assert not hasattr(method, "__signature__")
    with pytest.raises(labvisor.InvalidArgumentError, match="2nd value!"):
        method(5, 6)
    assert method(7) == 7


def test_argument_binding_errors(lab):
    loopback = lab.instrument("loopback")
    with pytest.raises(TypeError, match="takes 1 argument"):
        loopback.echo(1, 2)
    with pytest.raises(TypeError, match="no argument 'colour'"):
        loopback.echo(colour=1)
    with pytest.raises(TypeError, match="twice"):
        loopback.echo(1, value=2)
    assert loopback.echo(value="named") == "named"
    assert loopback.call("echo", "by call") == "by call"


def test_read_only_properties_refuse_writes(lab):
    stage = lab.instrument("stage-x")
    with pytest.raises(AttributeError, match="read-only"):
        stage.position = 3.0
    with pytest.raises(AttributeError, match="is a method"):
        stage.home = 1


def test_one_connection_shared_by_threads(lab):
    loopback = lab.instrument("loopback")
    failures = []

    def worker(index):
        try:
            for call in range(100):
                value = {"thread": index, "call": call}
                if loopback.echo(value) != value:
                    failures.append((index, call))
        except Exception as error:  # noqa: BLE001
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []


def test_python_names():
    assert labvisor.python_name("moveAbsolute") == "move_absolute"
    assert labvisor.python_name("axisCount") == "axis_count"
    assert labvisor.python_name("getXYPosition") == "get_xy_position"
    assert labvisor.python_name("home") == "home"


def test_schemas_and_describe(lab):
    stage = lab.instrument("stage-x")
    assert stage.methods["move_absolute"]["name"] == "moveAbsolute"
    assert stage.properties["velocity"]["writable"] is True
    assert stage.properties["position"].get("writable", False) is False
    description = lab.describe("laser-488")
    assert description["summary"]["name"] == "laser-488"
    assert {m["name"] for m in description["interface"]["methods"]} >= {"emissionOn", "emissionOff"}
