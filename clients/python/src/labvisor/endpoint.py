"""Where the daemon listens: the rule shared by ``labvisord``, the CLI and every client
(Sources/LabvisorProtocol/Envelope/Endpoint.swift).

``LABVISOR_URL`` wins (``unix:///path/to.sock``, ``tls://host:port``, or ``tcp://host:port`` for a
plain loopback listener); else the unix socket
``$LABVISOR_RUNTIME_DIR/labvisord.sock``, else ``$XDG_RUNTIME_DIR/labvisor/labvisord.sock`` for a
user (not root) with a runtime directory, else ``/run/labvisor/labvisord.sock``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping, Optional, Union

from .errors import InvalidArgumentError

__all__ = ["Endpoint", "default_socket_path", "endpoint_from_environment", "parse_endpoint"]


@dataclass(frozen=True)
class Endpoint:
    """A unix socket path (``path``) or a TCP ``host`` and ``port`` (with TLS when ``tls``)."""

    path: Optional[str] = None
    host: Optional[str] = None
    port: Optional[int] = None
    tls: bool = False

    @property
    def is_unix(self) -> bool:
        """Whether this is a unix socket."""
        return self.path is not None

    def __str__(self) -> str:
        if self.path is not None:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in (self.host or "") else self.host
        return f"{'tls' if self.tls else 'tcp'}://{host}:{self.port}"


def default_socket_path(environment: Optional[Mapping[str, str]] = None) -> str:
    """The default unix socket path (see the module documentation)."""
    env = os.environ if environment is None else environment
    runtime = env.get("LABVISOR_RUNTIME_DIR")
    if runtime:
        return runtime + "/labvisord.sock"
    xdg = env.get("XDG_RUNTIME_DIR")
    if os.getuid() != 0 and xdg:
        return xdg + "/labvisor/labvisord.sock"
    return "/run/labvisor/labvisord.sock"


def parse_endpoint(url: str) -> Endpoint:
    """Parses ``unix:///path``, ``unix:path``, ``/path``, ``tls://host:port`` or ``tcp://host:port``.

    Raises :class:`~labvisor.InvalidArgumentError` naming ``url`` and what is wrong.
    """
    if url.startswith("unix://"):
        path = url[len("unix://"):]
        if not path.startswith("/"):
            raise InvalidArgumentError(f"'{url}': a unix socket path must be absolute (unix:///run/...)",
                                       fields={"argument": "url", "reason": "relative unix socket path"})
        return Endpoint(path=path)
    if url.startswith("unix:"):
        return Endpoint(path=url[len("unix:"):])
    for scheme in ("tcp://", "tls://"):
        if url.startswith(scheme):
            rest = url[len(scheme):]
            host, colon, port = rest.rpartition(":")
            if host.startswith("[") and host.endswith("]"):
                host = host[1:-1]
            if not colon or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise InvalidArgumentError(f"'{url}': expected {scheme}HOST:PORT with a port from 1 to 65535",
                                           fields={"argument": "url", "reason": "bad tcp address"})
            return Endpoint(host=host, port=int(port), tls=scheme == "tls://")
    if url.startswith("/"):
        return Endpoint(path=url)
    raise InvalidArgumentError(f"'{url}': expected unix:///PATH, tls://HOST:PORT or tcp://HOST:PORT",
                               fields={"argument": "url", "reason": "unknown scheme"})


def endpoint_from_environment(environment: Optional[Mapping[str, str]] = None) -> Endpoint:
    """The endpoint by the rule in the module documentation."""
    env = os.environ if environment is None else environment
    url = env.get("LABVISOR_URL")
    if url:
        return parse_endpoint(url)
    return Endpoint(path=default_socket_path(env))


def as_endpoint(where: Union[None, str, Endpoint]) -> Endpoint:
    """``where`` as an endpoint: ``None`` follows the environment rule."""
    if where is None:
        return endpoint_from_environment()
    if isinstance(where, Endpoint):
        return where
    return parse_endpoint(where)
