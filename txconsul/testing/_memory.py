# -*- test-case-name: tests.test_http_memory -*-
"""
An in-memory ``IStreamClientEndpoint``: the client's own connection pool
talks real HTTP/1.1 bytes to a twisted.web ``Site`` with no socket.

This is how :meth:`FakeConsul.client` is wired, so every unit test runs the
production request path: request encoding, response parsing and limits, the
pool with its cap, queue and resend rules.  Bytes move as Twisted's
``iosim`` moves them (the way ``treq.testing`` runs its in-memory agent), but
the endpoint pumps by itself whenever anything is written or a connection is
closed, so a test never calls ``flush()``.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, succeed
from twisted.internet.testing import MemoryReactorClock
from twisted.test import iosim
from twisted.web.server import Site

#: Newer Twisted has IOPump.pump(advanceClock=True); older pump() never
#: advances the clock, which is what advanceClock=False asks for.
_NO_CLOCK = (
    {"advanceClock": False} if "advanceClock" in inspect.signature(iosim.IOPump.pump).parameters else {}
)

_SERVER = IPv4Address("TCP", "127.0.0.1", 8500)


class _PumpedTransport(iosim.FakeTransport):
    """An ``iosim`` transport that asks for a pump after every write or close."""

    def __init__(
        self, protocol: Any, isServer: bool, hostAddress: Any, peerAddress: Any, kick: Callable[[], None]
    ) -> None:
        super().__init__(protocol, isServer, hostAddress=hostAddress, peerAddress=peerAddress)
        self._kick = kick

    def write(self, data: bytes) -> None:
        """Queue ``data`` for the peer and pump."""
        super().write(data)
        self._kick()

    def loseConnection(self) -> None:
        """Close after queued data, and pump."""
        super().loseConnection()
        self._kick()

    def abortConnection(self) -> None:
        """Close (queued data still moves, as in ``iosim``), and pump."""
        super().abortConnection()
        self._kick()


class MemoryEndpoint:
    """
    An ``IStreamClientEndpoint`` whose connections reach ``resource`` (served
    by a twisted.web ``Site``) in memory.

    :ivar connections: how many connections were made so far.
    """

    def __init__(self, resource: Any) -> None:
        self._site = Site(resource, reactor=MemoryReactorClock())
        self._pumps: list[iosim.IOPump] = []
        self._flushing = False
        self._again = False
        self._port = 40000
        self.connections = 0

    @property
    def open_connections(self) -> int:
        """How many connections are not yet closed on both ends."""
        return len(self._pumps)

    def connect(self, factory: Any) -> "Deferred[Any]":
        """Connect a protocol from ``factory`` to the site; fires with it."""
        self._port += 1
        self.connections += 1
        client_address = IPv4Address("TCP", "127.0.0.1", self._port)
        server = self._site.buildProtocol(client_address)
        server_transport = _PumpedTransport(server, True, _SERVER, client_address, self.flush)
        client = factory.buildProtocol(_SERVER)
        client_transport = _PumpedTransport(client, False, client_address, _SERVER, self.flush)
        pump = iosim.connect(server, server_transport, client, client_transport, greet=False)
        self._pumps.append(pump)
        self.flush()
        return succeed(client)

    def flush(self) -> None:
        """Move bytes and closes both ways until nothing is left to move."""
        if self._flushing:
            self._again = True
            return
        self._flushing = True
        try:
            self._again = True
            while self._again:
                self._again = False
                for pump in list(self._pumps):
                    while pump.pump(**_NO_CLOCK):
                        self._again = True
                self._pumps = [
                    p for p in self._pumps if not (p.clientIO.disconnected and p.serverIO.disconnected)
                ]
        finally:
            self._flushing = False
