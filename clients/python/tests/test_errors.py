"""Error classes: one per stable code (docs/errors.md), Python base classes, fields as attributes."""

from __future__ import annotations

import builtins
import datetime

import pytest

import labvisor
from labvisor.errors import error_from_wire

# docs/wire.md: data.labvisorCode and JSON-RPC code.
CODES = [
    ("notFound", -32000, labvisor.NotFoundError),
    ("locked", -32001, labvisor.LockedError),
    ("leaseRequired", -32002, labvisor.LeaseRequiredError),
    ("leaseRevoked", -32003, labvisor.LeaseRevokedError),
    ("invalidArgument", -32004, labvisor.InvalidArgumentError),
    ("unknownMethod", -32005, labvisor.UnknownMethodError),
    ("deadlineExceeded", -32006, labvisor.DeadlineExceededError),
    ("timeout", -32007, labvisor.TimeoutError),
    ("deviceGone", -32008, labvisor.DeviceGoneError),
    ("driverFault", -32009, labvisor.DriverFaultError),
    ("closed", -32010, labvisor.ClosedError),
    ("resourceExhausted", -32011, labvisor.ResourceExhaustedError),
    ("permissionDenied", -32012, labvisor.PermissionDeniedError),
    ("unauthenticated", -32013, labvisor.UnauthenticatedError),
    ("unavailable", -32014, labvisor.UnavailableError),
]


@pytest.mark.parametrize("code, number, cls", CODES)
def test_each_code_has_its_class(code, number, cls):
    error = error_from_wire({"code": number, "message": "it went wrong", "data": {"labvisorCode": code, "fields": {"instrument": "stage-x"}}})
    assert type(error) is cls
    assert isinstance(error, labvisor.LabvisorError)
    assert labvisor.error_class(code) is cls
    assert error.code == code and error.rpc_code == number
    assert error.instrument == "stage-x"
    assert str(error) == f"{code}: it went wrong"


def test_python_base_classes():
    assert issubclass(labvisor.NotFoundError, LookupError)
    assert issubclass(labvisor.InvalidArgumentError, ValueError)
    assert issubclass(labvisor.DeadlineExceededError, builtins.TimeoutError)
    assert issubclass(labvisor.TimeoutError, builtins.TimeoutError)
    assert issubclass(labvisor.UnknownMethodError, AttributeError)
    assert not issubclass(labvisor.LockedError, builtins.TimeoutError)


def test_locked_fields_as_attributes():
    error = error_from_wire({"code": -32001, "message": "stage-x is locked", "data": {"labvisorCode": "locked", "fields": {
        "instrument": "stage-x", "holder": "client 3 (uid 1000 pid 4242)", "lease": "L7", "since": "2026-11-21T23:10:02Z",
        "waiters": 2, "status": "ready"}}})
    assert error.holder == "client 3 (uid 1000 pid 4242)"
    assert error.since == datetime.datetime(2026, 11, 21, 23, 10, 2, tzinfo=datetime.timezone.utc)
    assert error.waiters == 2 and error.status == "ready" and error.lease == "L7" and error.instrument == "stage-x"
    numeric = error_from_wire({"code": -32007, "message": "m", "data": {"labvisorCode": "timeout", "fields": {"since": 1790000000.5}}})
    assert numeric.since == datetime.datetime.fromtimestamp(1790000000.5, tz=datetime.timezone.utc)


def test_snake_case_field_names_and_missing_fields():
    error = error_from_wire({"code": -32006, "message": "m", "data": {"labvisorCode": "deadlineExceeded",
                                                                     "fields": {"timeoutSeconds": 0.5, "queued": True}}})
    assert error.timeout_seconds == 0.5 and error.timeoutSeconds == 0.5 and error.queued is True
    with pytest.raises(AttributeError) as caught:
        error.holder
    assert "queued" in str(caught.value)


def test_plain_json_rpc_errors():
    assert type(error_from_wire({"code": -32601, "message": "no such method"})) is labvisor.UnknownMethodError
    assert type(error_from_wire({"code": -32602, "message": "bad params"})) is labvisor.InvalidArgumentError
    assert type(error_from_wire({"code": -32700, "message": "parse error"})) is labvisor.InvalidArgumentError
    unknown = error_from_wire({"code": -32050, "message": "new", "data": {"labvisorCode": "somethingNew", "fields": {}}})
    assert type(unknown) is labvisor.LabvisorError and unknown.code == "somethingNew"
