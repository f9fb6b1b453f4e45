"""The client API: :func:`connect`, :class:`Lab`, :class:`Instrument`, :class:`Lease`, :class:`Watch`.

```python
import labvisor
with labvisor.connect() as lab:
    with lab.lock("stage-x", timeout=10) as stage:
        stage.home()
        stage.move_absolute(12.5)
        print(stage.position)
```
"""

from __future__ import annotations

import datetime as _datetime
import inspect
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple, Union

from ._connection import Connection, Subscription, dumps
from ._frames import FrameStream
from .endpoint import Endpoint, as_endpoint, endpoint_from_environment
from .errors import (ClosedError, InvalidArgumentError, LabvisorError, NotFoundError, UnavailableError,
                     UnknownMethodError)

__all__ = ["connect", "Lab", "Instrument", "InstrumentSummary", "LeaseInfo", "Lease", "Watch", "Event", "python_name"]

#: How much longer than a call's own timeout the client waits for the daemon's answer.
ANSWER_MARGIN = 5.0

_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_WORD = re.compile(r"([a-z0-9])([A-Z])")


def python_name(wire_name: str) -> str:
    """The snake_case Python name of a wire (camelCase) name: ``moveAbsolute`` -> ``move_absolute``."""
    return _WORD.sub(r"\1_\2", _ACRONYM.sub(r"\1_\2", wire_name)).replace("-", "_").lower()


def _time(seconds: Optional[float]) -> Optional[_datetime.datetime]:
    if seconds is None:
        return None
    return _datetime.datetime.fromtimestamp(seconds, tz=_datetime.timezone.utc)


# Value types


@dataclass(frozen=True)
class LeaseInfo:
    """A lease as others see it: id, holder, instruments, since."""

    lease: str
    holder: str
    instruments: Tuple[str, ...] = ()
    since: Optional[_datetime.datetime] = None

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> "LeaseInfo":
        return cls(lease=value.get("lease", ""), holder=value.get("holder", ""),
                   instruments=tuple(value.get("instruments", ())), since=_time(value.get("since")))


@dataclass(frozen=True)
class InstrumentSummary:
    """An instrument as ``lab.instruments()`` lists it."""

    name: str
    kind: str
    driver: str
    state: str
    tags: Dict[str, Any] = field(default_factory=dict)
    simulated: bool = False
    lease: Optional[LeaseInfo] = None
    identity: Optional[Dict[str, Any]] = None

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> "InstrumentSummary":
        lease = value.get("lease")
        return cls(name=value["name"], kind=value.get("kind", "other"), driver=value.get("driver", ""),
                   state=value.get("state", ""), tags=dict(value.get("tags") or {}),
                   simulated=bool(value.get("simulated", False)),
                   lease=LeaseInfo.from_wire(lease) if isinstance(lease, dict) else None,
                   identity=value.get("identity"))

    def __repr__(self) -> str:
        held = f", leased by {self.lease.holder}" if self.lease else ""
        return f"<InstrumentSummary {self.name!r} {self.kind} ({self.driver}) {self.state}{held}>"


@dataclass(frozen=True)
class Event:
    """Something that happened in the daemon (``kind``: ``stateChanged``, ``leaseAcquired``,
    ``callCompleted``, ``gap``, ...), about ``instrument``, with details in ``fields``."""

    kind: str
    instrument: Optional[str]
    fields: Dict[str, Any]
    sequence: int
    time: _datetime.datetime

    @classmethod
    def from_wire(cls, value: Mapping[str, Any]) -> "Event":
        return cls(kind=value.get("kind", ""), instrument=value.get("instrument"), fields=dict(value.get("fields") or {}),
                   sequence=int(value.get("sequence", 0)),
                   time=_time(value.get("time")) or _datetime.datetime.now(_datetime.timezone.utc))

    def __str__(self) -> str:
        details = " ".join(f"{key}={value}" for key, value in sorted(self.fields.items()))
        return f"{self.time.strftime('%H:%M:%S.%f')[:-3]} #{self.sequence} {self.kind} {self.instrument or '-'} {details}".rstrip()


# Connecting


def connect(url: Union[None, str, Endpoint] = None, *, timeout: float = 5.0,
            answer_timeout: Optional[float] = None, lease_token: Optional[str] = None,
            lease_instruments: Optional[Sequence[str]] = None, token: Optional[str] = None,
            ca: Optional[str] = None, cert: Optional[str] = None, key: Optional[str] = None) -> "Lab":
    """Connects to labvisord.

    ``url``: ``unix:///path``, ``tcp://host:port`` or ``None`` for the default rule (``LABVISOR_URL``,
    else the local socket, as the CLI). ``timeout`` bounds the connect; ``answer_timeout`` bounds
    every wait for an answer that has no timeout of its own (``None``: the daemon's own call
    deadlines bound them). A script run by ``labvisor lock ... -- python script.py`` acts under
    the parent's lease (``LABVISOR_LEASE``, ``LABVISOR_INSTRUMENTS``); ``lease_token`` and
    ``lease_instruments`` name another process's lease explicitly (its ``Lease.token``).

    A TCP daemon (``tls://host:port``) is reached with TLS, trusting ``ca`` (a PEM file; default
    ``LABVISOR_CA``, else the system's roots), presenting the client certificate ``cert`` and
    ``key`` when the daemon requires one (default ``LABVISOR_CERT``, ``LABVISOR_KEY``), and
    authenticating with the bearer ``token`` (default ``LABVISOR_TOKEN``) as its first request.
    """
    endpoint = as_endpoint(url)
    inherited: Optional[Tuple[str, Tuple[str, ...]]] = None
    if (lease_token is None) != (lease_instruments is None):
        raise InvalidArgumentError("connect: give lease_token and lease_instruments together",
                                   fields={"argument": "lease_token", "reason": "needs lease_instruments"})
    if lease_token is not None and lease_instruments is not None:
        inherited = (lease_token, tuple(_names(lease_instruments) or ()))
    elif os.environ.get("LABVISOR_LEASE"):
        same_daemon = url is None or (os.environ.get("LABVISOR_URL") and endpoint == endpoint_from_environment())
        if same_daemon:
            inherited = (os.environ["LABVISOR_LEASE"], tuple(_split(os.environ.get("LABVISOR_INSTRUMENTS"))))
    env = os.environ
    connection = Connection(endpoint, connect_timeout=timeout, ca=ca or env.get("LABVISOR_CA") or None,
                            cert=cert or env.get("LABVISOR_CERT") or None, key=key or env.get("LABVISOR_KEY") or None)
    token = token or env.get("LABVISOR_TOKEN") or None
    if token is not None and not endpoint.is_unix:
        try:
            connection.call("session.authenticate", {"token": token}, timeout)
        except BaseException:
            connection.close()
            raise
    return Lab(connection, answer_timeout=answer_timeout, inherited=inherited)


def _split(text: Optional[str]) -> List[str]:
    return [name for name in (text or "").split(",") if name]


def _names(instruments: Union[None, str, Iterable[str]]) -> Optional[List[str]]:
    if instruments is None:
        return None
    if isinstance(instruments, str):
        return [instruments]
    return list(instruments)


class Lab:
    """A connection to labvisord: instruments, leases, events. Safe to share between threads.
    Use it as a context manager, or call :meth:`close`."""

    def __init__(self, connection: Connection, *, answer_timeout: Optional[float] = None,
                 inherited: Optional[Tuple[str, Tuple[str, ...]]] = None) -> None:
        self._connection = connection
        self._answer_timeout = answer_timeout
        self._descriptions: Dict[str, Dict[str, Any]] = {}
        #: The lease this process inherited (``labvisor lock -- ...``): token and instruments.
        self.inherited_lease: Optional[Tuple[str, Tuple[str, ...]]] = inherited

    @property
    def endpoint(self) -> Endpoint:
        """Where it is connected."""
        return self._connection.endpoint

    def _wait(self, timeout: Optional[float]) -> Optional[float]:
        return self._answer_timeout if timeout is None else timeout + ANSWER_MARGIN

    def _call(self, method: str, params: Dict[str, Any], timeout: Optional[float] = None) -> Any:
        return self._connection.call(method, params, self._wait(timeout))

    # Reading the lab

    def status(self) -> Dict[str, Any]:
        """The daemon's status: version, uptime, clients, instruments, leases."""
        return self._call("daemon.status", {})

    def instruments(self, where: Optional[Mapping[str, Any]] = None) -> List[InstrumentSummary]:
        """The instruments, or those matching a requirements query (``{"kind": "stage"}``)."""
        params = {} if where is None else {"where": where}
        return [InstrumentSummary.from_wire(item) for item in self._call("instruments.list", params)["instruments"]]

    def describe(self, name: str) -> Dict[str, Any]:
        """The daemon's description of an instrument: summary, identification, interface."""
        description = self._call("instruments.describe", {"instrument": name})
        self._descriptions[name] = description
        return description

    def _description(self, name: str) -> Dict[str, Any]:
        description = self._descriptions.get(name)
        return description if description is not None else self.describe(name)

    def instrument(self, name: str) -> "Instrument":
        """An instrument to observe: reads and ``observe`` methods need no lease. Control
        calls work when this process holds its lease (``lab.lock`` or ``labvisor lock``)."""
        token = None
        if self.inherited_lease and name in self.inherited_lease[1]:
            token = self.inherited_lease[0]
        return Instrument(self, self._description(name), token=token)

    def stream_status(self, instrument: Optional[str] = None) -> Dict[str, Any]:
        """Every stream subscription (of every client; of ``instrument`` only when given) with
        its queue and counters (``delivered``, ``queued``, ``dropped``), and ``maxPerClient``."""
        return self._call("stream.status", {} if instrument is None else {"instrument": instrument})

    def leases(self) -> List[LeaseInfo]:
        """The leases held now (by anyone)."""
        return [LeaseInfo.from_wire(item) for item in self._call("leases.list", {})["leases"]]

    def revoke(self, lease: str, reason: str) -> None:
        """Revokes someone's lease (administration)."""
        self._call("leases.revoke", {"lease": lease, "reason": reason})

    # Leases

    def lock(self, instruments: Union[None, str, Sequence[str]] = None, *, where: Optional[Mapping[str, Any]] = None,
             count: int = 1, timeout: float = 0) -> "Lease":
        """Takes a lease: all the named instruments or none (or ``count`` free instruments
        matching ``where``), waiting up to ``timeout`` seconds in FIFO order (0: fail at once
        with :class:`LockedError`; past the wait: :class:`labvisor.TimeoutError`).

        Use it in a ``with`` statement: the lease is released when the block ends, however it
        ends. ``with lab.lock("stage-x") as stage`` gives the instrument; with a list it gives
        the :class:`Lease` (iterable: ``as (stage, laser)``). Instruments this process already
        holds through ``labvisor lock -- ...`` are used under that lease, not taken again.
        """
        if (instruments is None) == (where is None):
            raise InvalidArgumentError("lock: name the instruments, or give where=, not both",
                                       fields={"argument": "instruments", "reason": "names or where"})
        names = _names(instruments)
        single = isinstance(instruments, str) or (where is not None and count == 1)
        inherited_names = set(self.inherited_lease[1]) if self.inherited_lease else set()
        if names is not None:
            reused = [name for name in names if name in inherited_names]
            to_take = [name for name in names if name not in inherited_names]
            grant = self._acquire({"instruments": to_take, "timeout": timeout}, timeout) if to_take else None
            return self._lease(names, grant, reused, single)
        # A query: instruments already held through the inherited lease come first.
        if inherited_names:
            matching = [item.name for item in self.instruments(where) if item.name in inherited_names]
            if len(matching) >= count:
                chosen = matching[:count]
                return self._lease(chosen, None, chosen, single)
        grant = self._acquire({"where": where, "count": count, "timeout": timeout}, timeout)
        return self._lease(list(grant["instruments"]), grant, [], single)

    def _acquire(self, params: Dict[str, Any], timeout: float) -> Dict[str, Any]:
        return self._call("leases.acquire", params, timeout)

    def _lease(self, names: Sequence[str], grant: Optional[Dict[str, Any]], reused: Sequence[str], single: bool) -> "Lease":
        try:
            return Lease(self, names, grant, reused, single)
        except BaseException:
            # Describing the instruments failed (or was interrupted): do not keep the lease.
            if grant is not None and not self.closed:
                try:
                    self._call("leases.release", {"lease": grant["lease"]})
                except LabvisorError:
                    pass
            raise

    # Events

    def watch(self, instruments: Union[None, str, Iterable[str]] = None, *, kinds: Union[None, str, Iterable[str]] = None,
              timeout: Optional[float] = None, capacity: int = 4096) -> "Watch":
        """Subscribes to events (of ``instruments`` and ``kinds``, all when ``None``) and
        returns an iterator over them that ends ``timeout`` seconds from now (``None``: when
        closed). Use it in a ``with`` statement or call ``close()`` to unsubscribe early."""
        params: Dict[str, Any] = {}
        if instruments is not None:
            params["instruments"] = _names(instruments)
        if kinds is not None:
            params["kinds"] = _names(kinds)
        subscription = Subscription(self._connection, capacity)
        subscription_id = self._call("events.watch", params)["subscription"]
        self._connection.subscribe(subscription_id, subscription)
        return Watch(self, subscription_id, subscription, timeout)

    # Life

    @property
    def closed(self) -> bool:
        """Whether the connection has ended."""
        return self._connection.closed

    def close(self) -> None:
        """Closes the connection; the daemon releases every lease it held."""
        self._connection.close()

    def __enter__(self) -> "Lab":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        inherited = f", inherited lease on {','.join(self.inherited_lease[1])}" if self.inherited_lease else ""
        return f"<labvisor.Lab {self.endpoint} {state}{inherited}>"


class Lease:
    """A lease on instruments. A context manager: released on exit, always. Index it by name,
    iterate it (in the order asked), or unpack it: ``with lab.lock(["a", "b"]) as (a, b)``."""

    def __init__(self, lab: Lab, names: Sequence[str], grant: Optional[Dict[str, Any]], reused: Sequence[str],
                 single: bool) -> None:
        self._lab = lab
        self._grant = grant
        self._single = single
        self._released = False
        #: The instruments it holds, in the order asked.
        self.instruments: Tuple[str, ...] = tuple(names)
        #: Instruments held through the inherited lease (``labvisor lock -- ...``), not released here.
        self.inherited: Tuple[str, ...] = tuple(reused)
        #: The lease id (``L17``); ``None`` when every instrument is held through the inherited lease.
        self.id: Optional[str] = grant["lease"] if grant else None
        #: The secret that lets another connection act under it (``LABVISOR_LEASE``).
        self.token: Optional[str] = grant["token"] if grant else (lab.inherited_lease[0] if lab.inherited_lease else None)
        #: When it was granted.
        self.since: Optional[_datetime.datetime] = _time(grant.get("since")) if grant else None
        inherited_token = lab.inherited_lease[0] if lab.inherited_lease else None
        self._instruments = {
            name: Instrument(lab, lab._description(name), token=inherited_token if name in self.inherited else None, lease=self)
            for name in self.instruments
        }

    @property
    def released(self) -> bool:
        """Whether it was released."""
        return self._released

    def __getitem__(self, name: str) -> "Instrument":
        try:
            return self._instruments[name]
        except KeyError:
            raise NotFoundError(f"the lease holds no instrument '{name}' (it holds {', '.join(self.instruments)})",
                                fields={"kind": "instrument", "name": name}) from None

    def __iter__(self) -> Iterator["Instrument"]:
        return iter([self._instruments[name] for name in self.instruments])

    def __len__(self) -> int:
        return len(self.instruments)

    def release(self) -> None:
        """Releases it (idempotent; instruments held through an inherited lease stay held)."""
        if self._released:
            return
        self._released = True
        if self._grant is not None and not self._lab.closed:
            try:
                self._lab._call("leases.release", {"lease": self._grant["lease"]})
            except (NotFoundError, ClosedError, UnavailableError):
                pass  # revoked, or the connection ended: released either way

    def __enter__(self) -> Any:
        return self._instruments[self.instruments[0]] if self._single else self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._released else "held"
        ident = self.id or "inherited"
        return f"<labvisor.Lease {ident} on {', '.join(self.instruments)} {state}>"


class Watch:
    """Events of one subscription, as an iterator that ends at its deadline. A context manager."""

    def __init__(self, lab: Lab, subscription_id: int, subscription: Subscription, timeout: Optional[float]) -> None:
        self._lab = lab
        self._subscription = subscription
        self._closed = False
        #: The daemon's subscription id.
        self.id = subscription_id
        self._deadline = None if timeout is None else time.monotonic() + timeout

    def next(self, timeout: Optional[float] = None) -> Optional[Event]:
        """The next event, waiting up to ``timeout`` seconds (and never past the watch's own
        deadline); ``None`` when none came in time."""
        if self._closed:
            return None
        remaining = timeout
        if self._deadline is not None:
            left = max(0.0, self._deadline - time.monotonic())
            remaining = left if remaining is None else min(remaining, left)
        value = self._subscription.get(remaining)
        return None if value is None else Event.from_wire(value)

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> Event:
        event = self.next()
        if event is None:
            self.close()
            raise StopIteration
        return event

    def close(self) -> None:
        """Unsubscribes (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._lab._connection.unsubscribe(self.id)
        if not self._lab.closed:
            try:
                self._lab._call("events.unwatch", {"subscription": self.id})
            except (NotFoundError, ClosedError, UnavailableError):
                pass

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<labvisor.Watch subscription {self.id}{' closed' if self._closed else ''}>"


# Instruments

_OWN = frozenset({"name", "kind", "driver", "lease", "lab", "call", "get", "set", "describe", "summary", "methods",
                  "properties", "refresh", "frames"})


class Instrument:
    """One instrument: its methods (from the daemon's schema) are Python methods with
    snake_case names (``moveAbsolute`` -> ``move_absolute``), its properties attributes.
    Methods and properties shadowed by this class's own names are reached with
    :meth:`call`, :meth:`get` and :meth:`set`."""

    def __init__(self, lab: Lab, description: Mapping[str, Any], *, token: Optional[str] = None,
                 lease: Optional[Lease] = None) -> None:
        summary = description.get("summary") or {}
        interface = description.get("interface") or {}
        put = object.__setattr__
        put(self, "_lab", lab)
        put(self, "_token", token)
        #: The instrument's name.
        put(self, "name", summary.get("name", ""))
        #: ``stage``, ``laser``, ``camera``, ``sensor``, ``other``.
        put(self, "kind", summary.get("kind", "other"))
        #: The driver id.
        put(self, "driver", summary.get("driver") or interface.get("driver", ""))
        #: The lease this object acts under (``None``: an observer, or a lease inherited from ``labvisor lock``).
        put(self, "lease", lease)
        methods: Dict[str, Dict[str, Any]] = {}
        properties: Dict[str, Dict[str, Any]] = {}
        for method in interface.get("methods", []):
            methods[python_name(method["name"])] = method
        for prop in interface.get("properties", []):
            properties[python_name(prop["name"])] = prop
        put(self, "_methods", methods)
        put(self, "_properties", properties)
        # Wire names resolve too (``stage.moveAbsolute``).
        aliases = {schema["name"]: ("method", key) for key, schema in methods.items()}
        aliases.update({schema["name"]: ("property", key) for key, schema in properties.items()})
        put(self, "_aliases", aliases)
        put(self, "_property_requests", {})
        tail = b"}}" if token is None else b',"leaseToken":%b}}' % dumps(token)
        put(self, "_tail", tail)
        put(self, "_instrument_json", dumps(self.name))

    @property
    def lab(self) -> Lab:
        """The connection it uses."""
        return self._lab

    @property
    def methods(self) -> Dict[str, Dict[str, Any]]:
        """The method schemas, by Python name."""
        return dict(self._methods)

    @property
    def properties(self) -> Dict[str, Dict[str, Any]]:
        """The property schemas, by Python name."""
        return dict(self._properties)

    # Generic access

    def _resolve(self, name: str) -> Tuple[str, str]:
        if name in self._methods:
            return ("method", name)
        if name in self._properties:
            return ("property", name)
        alias = self._aliases.get(name)
        if alias is not None:
            return alias
        raise self._unknown(name)

    def _unknown(self, name: str) -> UnknownMethodError:
        methods = sorted(self._methods)
        properties = sorted(self._properties)
        return UnknownMethodError(
            f"{self.name} ({self.driver}) has no method or property '{name}'; "
            f"methods: {', '.join(methods) or 'none'}; properties: {', '.join(properties) or 'none'}",
            fields={"instrument": self.name, "name": name, "known": methods + properties,
                    "methods": methods, "properties": properties})

    def call(self, method: str, *args: Any, timeout: Optional[float] = None, **kwargs: Any) -> Any:
        """Calls ``method`` (Python or wire name) with arguments by position (schema order)
        or name; ``timeout`` is the call's deadline in seconds (queue wait included)."""
        kind, key = self._resolve(method)
        if kind != "method":
            raise self._unknown(method)
        return self._method(key)(*args, timeout=timeout, **kwargs)

    def get(self, prop: str, *, timeout: Optional[float] = None) -> Any:
        """Reads a property (Python or wire name)."""
        kind, key = self._resolve(prop)
        if kind != "property":
            raise self._unknown(prop)
        if timeout is None:
            request = self._property_requests.get(key)
            if request is None:
                request = b'"method":"instrument.get","params":{"instrument":%b,"property":%b}}' % (
                    self._instrument_json, dumps(self._properties[key]["name"]))
                self._property_requests[key] = request
            return self._lab._connection.request(request, self._lab._answer_timeout)["value"]
        params = {"instrument": self.name, "property": self._properties[key]["name"], "timeout": timeout}
        return self._lab._call("instrument.get", params, timeout)["value"]

    def set(self, prop: str, value: Any, *, timeout: Optional[float] = None) -> None:
        """Writes a property (needs the lease)."""
        kind, key = self._resolve(prop)
        if kind != "property":
            raise self._unknown(prop)
        schema = self._properties[key]
        if not schema.get("writable", False):
            raise AttributeError(f"{self.name}.{key} is read-only ({schema.get('summary', '')})")
        params: Dict[str, Any] = {"instrument": self.name, "property": schema["name"], "value": value}
        if timeout is not None:
            params["timeout"] = timeout
        if self._token is not None:
            params["leaseToken"] = self._token
        self._lab._call("instrument.set", params, timeout)

    def frames(self, count: Optional[int] = None, *, timeout: Optional[float] = 10.0, queue: int = 4,
               stream: str = "frames") -> FrameStream:
        """Subscribes to the instrument's frames (``stream.open``) and returns them as an
        iterable :class:`FrameStream` of :class:`Frame` (``frame.array`` a numpy array).

        Frames come from the next one the driver publishes; starting the acquisition is a
        driver method (a camera's ``start_streaming``). ``count``: stop after that many
        (``None``: until closed or the stream ends); ``timeout``: seconds to wait for each
        frame (:class:`TimeoutError` past it; ``None``: no limit); ``queue``: frames queued
        for this subscription (1-64; a slower script loses the oldest, counted in
        ``frame.dropped``). Leaving the loop or the ``with`` block closes the subscription.
        Works for observers too (no lease needed to watch a camera).
        """
        return FrameStream(self, stream=stream, count=count, timeout=timeout, queue=queue, token=self._token)

    def describe(self) -> Dict[str, Any]:
        """The daemon's description now: summary (state, lease), identification, interface."""
        return self._lab.describe(self.name)

    def summary(self) -> InstrumentSummary:
        """The instrument's summary now (state, lease)."""
        return InstrumentSummary.from_wire(self.describe()["summary"])

    # Methods as Python callables

    def _method(self, key: str) -> Callable[..., Any]:
        function = self.__dict__.get("_bound_" + key)
        if function is None:
            function = _make_method(self, self._methods[key], key)
            object.__setattr__(self, "_bound_" + key, function)
        return function

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: methods and properties from the schema.
        if name.startswith("_"):
            raise AttributeError(name)
        kind, key = self._resolve(name)
        if kind == "method":
            function = self._method(key)
            object.__setattr__(self, name, function)  # next time: a plain attribute lookup
            return function
        return self.get(key)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        kind, key = self._resolve(name)
        if kind != "property":
            raise AttributeError(f"{self.name}.{name} is a method, not a property")
        self.set(key, value)

    def __dir__(self) -> List[str]:
        own = [name for name in object.__dir__(self) if not name.startswith("_bound_")]
        return sorted(set(own) | set(self._methods) | set(self._properties))

    def __repr__(self) -> str:
        if self.lease is not None:
            mode = f"lease {self.lease.id or 'inherited'}"
        elif self._token is not None:
            mode = "inherited lease"
        else:
            mode = "observer"
        return f"<labvisor.Instrument {self.name!r} {self.kind} ({self.driver}), {mode}>"


def _make_method(instrument: Instrument, schema: Mapping[str, Any], key: str) -> Callable[..., Any]:
    """A Python function calling ``schema``'s method on ``instrument``: the request's bytes
    except the arguments are built once here."""
    arguments = schema.get("arguments", [])
    names = [argument["name"] for argument in arguments]
    by_keyword: Dict[str, str] = {}
    for name in names:
        by_keyword[name] = name
        by_keyword[python_name(name)] = name
    has_timeout_argument = "timeout" in by_keyword
    connection = instrument._lab._connection
    lab = instrument._lab
    head = b'"method":"instrument.invoke","params":{"instrument":%b,"method":%b,"arguments":' % (
        instrument._instrument_json, dumps(schema["name"]))
    tail = instrument._tail
    wire_name = schema["name"]
    label = f"{instrument.name}.{key}"
    request = connection.request
    answer_timeout = lab._answer_timeout

    def bind(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
        if len(args) > len(names):
            raise TypeError(f"{label}() takes {len(names)} argument{'s' if len(names) != 1 else ''} "
                            f"({', '.join(names) or 'none'}), {len(args)} given")
        bound = dict(zip(names, args))
        for keyword, value in kwargs.items():
            wire = by_keyword.get(keyword)
            if wire is None:
                raise TypeError(f"{label}() has no argument '{keyword}' (arguments: {', '.join(names) or 'none'})")
            if wire in bound:
                raise TypeError(f"{label}() got '{keyword}' twice")
            bound[wire] = value
        return bound

    # The whole request for n arguments by position, but for the arguments' values: a
    # template with one %b per argument (the usual call encodes only its values).
    literal_head, literal_tail = head.replace(b"%", b"%%"), tail.replace(b"%", b"%%")
    templates = [literal_head + b"{" + b",".join(dumps(name).replace(b"%", b"%%") + b":%b" for name in names[:n])
                 + b"}" + literal_tail for n in range(len(names) + 1)]
    count = len(names)
    no_arguments = templates[0] % ()
    one_argument = templates[1] if names else b""

    def method(*args: Any, **kwargs: Any) -> Any:
        if not kwargs:
            # The usual call: arguments by position, no timeout (no binding to check).
            given = len(args)
            if given == 1 and count:
                return request(one_argument % dumps(args[0]), answer_timeout)["value"]
            if not given:
                return request(no_arguments, answer_timeout)["value"]
            if given <= count:
                return request(templates[given] % tuple(map(dumps, args)), answer_timeout)["value"]
        timeout = None if has_timeout_argument else kwargs.pop("timeout", None)
        bound = bind(args, kwargs) if args or kwargs else {}
        if timeout is None:
            return request(b"%b%b%b" % (head, dumps(bound), tail), answer_timeout)["value"]
        params: Dict[str, Any] = {"instrument": instrument.name, "method": wire_name, "arguments": bound,
                                  "timeout": timeout}
        if instrument._token is not None:
            params["leaseToken"] = instrument._token
        return lab._call("instrument.invoke", params, timeout).get("value")

    # The signature is for help() and editors only: a driver's argument name that is not a
    # Python identifier (inspect refuses it) leaves the method without one, callable as usual.
    try:
        method.__signature__ = _signature(names, arguments, has_timeout_argument)  # type: ignore[attr-defined]
    except ValueError:
        pass
    method.__name__ = key
    method.__qualname__ = label
    lines = [schema.get("summary", "")]
    for argument in arguments:
        value = argument.get("value") or {}
        unit = f" [{value['unit']}]" if value.get("unit") else ""
        default = f" (default {argument['default']!r})" if "default" in argument else ""
        lines.append(f"  {python_name(argument['name'])}: {value.get('kind', '')}{unit} {argument.get('summary', '')}{default}")
    access = schema.get("access", "control")
    lines.append(f"({access}{', immediate' if schema.get('immediate') else ''}; wire name {wire_name})")
    method.__doc__ = "\n".join(lines)
    return method


def _signature(names: List[str], arguments: List[Dict[str, Any]], has_timeout_argument: bool) -> inspect.Signature:
    """A generated method's signature from its arguments' schema; ``ValueError`` when inspect
    refuses a name."""
    parameters = [inspect.Parameter(python_name(name), inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    default=argument["default"] if "default" in argument else inspect.Parameter.empty)
                  for name, argument in zip(names, arguments)]
    # Arguments without defaults may follow ones with (the daemon fills defaults by name).
    if any(p.default is not inspect.Parameter.empty for p in parameters):
        seen_default = False
        fixed = []
        for p in parameters:
            if p.default is not inspect.Parameter.empty:
                seen_default = True
            elif seen_default:
                p = p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            fixed.append(p)
        parameters = fixed
    if not has_timeout_argument:
        parameters.append(inspect.Parameter("timeout", inspect.Parameter.KEYWORD_ONLY, default=None))
    return inspect.Signature(parameters)
