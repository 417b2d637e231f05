"""The HTTP transport that connects only to addresses the egress policy allows.

The check runs where the socket is opened, on the addresses the name resolves to at that
moment, and the socket is connected to the very address checked: no second lookup a
rebinding DNS could answer differently. TLS still speaks to the name: httpcore starts TLS
with the request's host as server_hostname (SNI and certificate checks), whatever address
`connect_tcp` connected to.

Proxies from the environment are never used (HTTP(S)_PROXY): a proxy would make the
connection for us, to an address this check never sees.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable

import httpcore
import httpx

from governance import egress

# httpx's defaults (httpx.Limits()), which the pool below would otherwise not get.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class GuardedNetworkBackend(httpcore.SyncBackend):
    """httpcore's blocking sockets, opened only to allowed addresses (egress.EgressRefused
    otherwise, which httpx passes through unchanged)."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = egress.allowed_addresses(host, port)
        except (socket.gaierror, UnicodeError) as error:
            raise httpcore.ConnectError(f"{host} does not resolve: {error}") from error
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # as socket.create_connection: each in turn, the last error
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure or httpcore.ConnectError(f"{host} resolves to no address")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose sockets GuardedNetworkBackend opens."""

    def __init__(self, *, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx 0.28 takes no network backend (encode/httpx#3749 would add one): the pool is
        # replaced by one that has it, with the arguments httpx gives its own.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            network_backend=GuardedNetworkBackend(),
        )
