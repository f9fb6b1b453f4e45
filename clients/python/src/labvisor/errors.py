"""Errors: one class per stable Labvisor error code (docs/errors.md).

Every error the daemon sends is a JSON-RPC error object whose ``data`` carries the stable
code (``labvisorCode``) and structured ``fields``. The client raises the matching subclass of
:class:`LabvisorError`; each field is an attribute (``error.holder``, ``error.waiters``, and
the snake_case spelling of camelCase fields: ``error.timeout_seconds``).
"""

from __future__ import annotations

import builtins
import datetime as _datetime
from typing import Any, Dict, List, Mapping, Optional, Type

__all__ = [
    "LabvisorError",
    "NotFoundError",
    "LockedError",
    "LeaseRequiredError",
    "LeaseRevokedError",
    "InvalidArgumentError",
    "UnknownMethodError",
    "DeadlineExceededError",
    "TimeoutError",
    "DeviceGoneError",
    "DriverFaultError",
    "ClosedError",
    "ResourceExhaustedError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "UnavailableError",
    "error_class",
    "error_from_wire",
]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _time(value: Any) -> Optional[_datetime.datetime]:
    """A wire time (seconds since 1970, or ISO 8601) as an aware UTC datetime."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _datetime.datetime.fromtimestamp(value, tz=_datetime.timezone.utc)
    if isinstance(value, str):
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        try:
            return _datetime.datetime.fromisoformat(text)
        except ValueError:
            return None
    return None


class LabvisorError(Exception):
    """An error from labvisord or the client: a stable ``code``, a sentence (``message``)
    and structured ``fields``, each also readable as an attribute."""

    #: The stable code this class stands for (``"locked"``, ...); ``None`` for the base.
    code_name: Optional[str] = None

    def __init__(self, message: str, *, code: Optional[str] = None, fields: Optional[Mapping[str, Any]] = None,
                 rpc_code: Optional[int] = None) -> None:
        super().__init__(message)
        self.message = message
        #: The stable code (``"notFound"``, ``"locked"``, ...).
        self.code: str = code or self.code_name or "unavailable"
        #: The structured details, as the daemon sent them.
        self.fields: Dict[str, Any] = dict(fields or {})
        #: The JSON-RPC error number (``-32001`` for ``locked``), when it came from the wire.
        self.rpc_code = rpc_code

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: the structured fields as attributes.
        if name.startswith("_"):
            raise AttributeError(name)
        fields = self.__dict__.get("fields", {})
        if name in fields:
            return fields[name]
        camel = _camel(name)
        if camel in fields:
            return fields[camel]
        raise AttributeError(f"{type(self).__name__} has no field '{name}' (fields: {', '.join(sorted(fields)) or 'none'})")

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, fields={self.fields!r})"

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, self.code, self.fields, self.rpc_code))


def _rebuild(cls: Type[LabvisorError], message: str, code: str, fields: Dict[str, Any], rpc_code: Optional[int]) -> LabvisorError:
    return cls(message, code=code, fields=fields, rpc_code=rpc_code)


class _HolderFields:
    """The fields of ``locked`` and of a lease wait that ran out: who holds it, since when."""

    fields: Dict[str, Any]

    @property
    def instrument(self) -> Optional[str]:
        """The instrument that is locked."""
        return self.fields.get("instrument")

    @property
    def holder(self) -> Optional[str]:
        """Who holds the lease (``"client 3 (uid 1000 pid 4242)"``)."""
        return self.fields.get("holder")

    @property
    def lease(self) -> Optional[str]:
        """The id of the lease that holds it."""
        return self.fields.get("lease")

    @property
    def since(self) -> Optional[_datetime.datetime]:
        """When the holder got the lease (aware UTC datetime)."""
        return _time(self.fields.get("since"))

    @property
    def waiters(self) -> Optional[int]:
        """How many other clients wait for it."""
        return self.fields.get("waiters")

    @property
    def status(self) -> Optional[str]:
        """The instrument's state (``ready``, ``busy``, ...)."""
        return self.fields.get("status")


class NotFoundError(LabvisorError, LookupError):
    """No instrument, lease, method or property by that name; a query that matches nothing."""
    code_name = "notFound"


class LockedError(_HolderFields, LabvisorError):
    """The instrument is leased by another client (``holder``, ``since``, ``waiters``, ``status``)."""
    code_name = "locked"


class LeaseRequiredError(LabvisorError):
    """A control call without the caller's lease (take one with ``lab.lock(...)``)."""
    code_name = "leaseRequired"


class LeaseRevokedError(LabvisorError):
    """The caller's lease was revoked (``by``, ``reason``, ``at``)."""
    code_name = "leaseRevoked"


class InvalidArgumentError(LabvisorError, ValueError):
    """A bad argument, query or setting (``argument``, ``reason``)."""
    code_name = "invalidArgument"


class UnknownMethodError(LabvisorError, AttributeError):
    """No such method or property on the instrument; ``known`` lists the ones it has."""
    code_name = "unknownMethod"

    @property
    def known(self) -> List[str]:
        """The methods and properties the instrument has (Python names)."""
        return list(self.fields.get("known", []))


class DeadlineExceededError(LabvisorError, builtins.TimeoutError):
    """A call ran past its timeout and was cancelled in the driver (``timeout_seconds``, ``queued``)."""
    code_name = "deadlineExceeded"


class TimeoutError(_HolderFields, LabvisorError, builtins.TimeoutError):  # noqa: A001 - mirrors the wire code
    """A wait ran out: for a lease (with the ``locked`` fields), a device, or the daemon's answer."""
    code_name = "timeout"


class DeviceGoneError(LabvisorError):
    """The device was unplugged or hung up."""
    code_name = "deviceGone"


class DriverFaultError(LabvisorError):
    """The driver or the device failed."""
    code_name = "driverFault"


class ClosedError(LabvisorError):
    """Something used after its end (a lease, a subscription, a closed connection)."""
    code_name = "closed"


class ResourceExhaustedError(LabvisorError):
    """A limit was reached (``limit``, ``value``)."""
    code_name = "resourceExhausted"


class PermissionDeniedError(LabvisorError, PermissionError):
    """Not allowed, e.g. releasing someone else's lease."""
    code_name = "permissionDenied"


class UnauthenticatedError(LabvisorError):
    """The caller could not be identified."""
    code_name = "unauthenticated"


class UnavailableError(LabvisorError, ConnectionError):
    """The daemon is not there, is shutting down, or the connection ended; also a call
    interrupted by an ``immediate`` call."""
    code_name = "unavailable"


_BY_CODE: Dict[str, Type[LabvisorError]] = {
    cls.code_name: cls  # type: ignore[misc]
    for cls in (
        NotFoundError, LockedError, LeaseRequiredError, LeaseRevokedError, InvalidArgumentError, UnknownMethodError,
        DeadlineExceededError, TimeoutError, DeviceGoneError, DriverFaultError, ClosedError, ResourceExhaustedError,
        PermissionDeniedError, UnauthenticatedError, UnavailableError,
    )
}

# Plain JSON-RPC errors without Labvisor data.
_BY_RPC_CODE: Dict[int, str] = {-32700: "invalidArgument", -32600: "invalidArgument", -32601: "unknownMethod",
                                -32602: "invalidArgument"}


def error_class(code: str) -> Type[LabvisorError]:
    """The exception class for a stable code (``LabvisorError`` for a code this client does not know)."""
    return _BY_CODE.get(code, LabvisorError)


def error_from_wire(error: Mapping[str, Any]) -> LabvisorError:
    """The exception for a JSON-RPC error object."""
    data = error.get("data")
    rpc_code = error.get("code")
    message = error.get("message") or "labvisord reported an error without a message"
    if isinstance(data, dict) and isinstance(data.get("labvisorCode"), str):
        code = data["labvisorCode"]
        fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
    else:
        code = _BY_RPC_CODE.get(rpc_code if isinstance(rpc_code, int) else 0, "unavailable")
        fields = {}
    return error_class(code)(message, code=code, fields=fields, rpc_code=rpc_code if isinstance(rpc_code, int) else None)
