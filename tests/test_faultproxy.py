"""
Tests for tests/faultproxy.py, the loopback fault-injecting TCP proxy.

These use the real reactor and loopback sockets on purpose: the proxy
exists to put faults between real processes.  No assertion depends on how
long anything took; waits are bounded polls (see ``until``) and delays run
on a Clock.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import ClientCreator, Factory, Protocol
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import TestCase

from .faultproxy import FaultProxy


class Recorder(Protocol):
    """Records what it receives and echoes it back upper-cased."""

    def connectionMade(self) -> None:
        self.factory.connections.append(self)  # type: ignore[attr-defined]
        self.data = b""
        self.lost = False

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        self.transport.write(data.upper())  # type: ignore[union-attr]

    def connectionLost(self, reason: Any) -> None:
        self.lost = True


class Client(Protocol):
    """Records what it receives and how its connection ended."""

    def __init__(self) -> None:
        self.data = b""
        self.reason: Any = None

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Any) -> None:
        self.reason = reason


class FaultProxyTests(TestCase):
    """Each fault does what it says, and heal() undoes it."""

    timeout = 30

    def setUp(self) -> None:
        self.factory = Factory.forProtocol(Recorder)
        self.factory.connections = []  # type: ignore[attr-defined]
        server = reactor.listenTCP(0, self.factory, interface="127.0.0.1")
        self.addCleanup(server.stopListening)
        self.clock = Clock()
        self.proxy = FaultProxy(reactor, ("127.0.0.1", server.getHost().port), clock=self.clock)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)

    @inlineCallbacks
    def until(self, predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
        """Poll ``predicate`` on the real reactor until true; fail after ``timeout``."""
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                self.fail(f"timed out waiting for {what}")
            yield deferLater(reactor, 0.01, lambda: None)

    @inlineCallbacks
    def connect(self) -> Any:
        """A client connected through the proxy (closed at cleanup)."""
        client = yield ClientCreator(reactor, Client).connectTCP(*self.proxy.address)
        self.addCleanup(lambda: client.transport.abortConnection())
        return client

    def server(self, i: int = 0) -> Recorder:
        """The i-th connection the target accepted."""
        return self.factory.connections[i]  # type: ignore[attr-defined, no-any-return]

    @inlineCallbacks
    def test_pass_through(self) -> Any:
        """Bytes reach the target and its answer comes back."""
        client = yield self.connect()
        client.transport.write(b"hello")
        yield self.until(lambda: client.data == b"HELLO", "the echo")
        self.assertEqual(self.server().data, b"hello")
        self.assertEqual(self.proxy.bytes_out, {"up": 5, "down": 5})

    @inlineCallbacks
    def test_blackhole_swallows_then_heal_delivers(self) -> Any:
        """A blackhole keeps an open connection silent both ways; heal delivers the bytes."""
        client = yield self.connect()
        client.transport.write(b"a")
        yield self.until(lambda: client.data == b"A", "the first echo")
        self.proxy.blackhole()
        client.transport.write(b"bc")
        yield self.until(lambda: self.proxy.bytes_in["up"] == 3, "the proxy to get the bytes")
        self.assertEqual(self.server().data, b"a")
        self.assertIsNone(client.reason)
        self.proxy.heal()
        yield self.until(lambda: client.data == b"ABC", "the held bytes")
        self.assertEqual(self.server().data, b"abc")

    @inlineCallbacks
    def test_blackhole_accepts_new_connections_silently(self) -> Any:
        """While blackholed, a new connection is accepted but never reaches the target."""
        self.proxy.blackhole()
        client = yield self.connect()
        client.transport.write(b"x")
        yield self.until(lambda: self.proxy.bytes_in["up"] == 1, "the proxy to get the byte")
        self.assertEqual(self.factory.connections, [])  # type: ignore[attr-defined]
        self.proxy.heal()
        yield self.until(lambda: client.data == b"X", "the echo after heal")

    @inlineCallbacks
    def test_blackhole_discard_resets_on_heal(self) -> Any:
        """With deliver_on_heal=False the held bytes are dropped and the connection reset."""
        client = yield self.connect()
        self.proxy.blackhole(deliver_on_heal=False)
        client.transport.write(b"lost")
        yield self.until(lambda: self.proxy.bytes_in["up"] == 4, "the proxy to get the bytes")
        self.proxy.heal()
        yield self.until(lambda: client.reason is not None, "the reset")
        self.assertEqual(client.data, b"")

    @inlineCallbacks
    def test_delay(self) -> Any:
        """Under delay, bytes wait for the clock, then flow in order."""
        client = yield self.connect()
        self.proxy.delay(2.0)
        client.transport.write(b"one")
        yield self.until(lambda: self.proxy.bytes_in["up"] == 3, "the proxy to get the bytes")
        client.transport.write(b"two")
        yield self.until(lambda: self.proxy.bytes_in["up"] == 6, "the proxy to get more bytes")
        self.clock.advance(1.9)
        self.assertEqual(self.proxy.bytes_out["up"], 0)
        self.clock.advance(0.1)
        yield self.until(lambda: self.proxy.bytes_in["down"] == 6, "the target's answer")
        self.assertEqual(client.data, b"")
        self.clock.advance(2.0)
        yield self.until(lambda: client.data == b"ONETWO", "the delayed echo")

    @inlineCallbacks
    def test_refuse_then_heal(self) -> Any:
        """refuse() makes new connections fail with ECONNREFUSED; heal() listens again on the same port."""
        port = self.proxy.port
        yield self.proxy.refuse()
        yield self.assertFailure(
            ClientCreator(reactor, Client).connectTCP(*self.proxy.address), ConnectionRefusedError
        )
        self.proxy.heal()
        self.assertEqual(self.proxy.port, port)
        client = yield self.connect()
        client.transport.write(b"back")
        yield self.until(lambda: client.data == b"BACK", "the echo after heal")

    @inlineCallbacks
    def test_reset(self) -> Any:
        """reset() resets open connections (both sides) and every new one."""
        client = yield self.connect()
        client.transport.write(b"x")
        yield self.until(lambda: client.data == b"X", "the echo")
        self.proxy.reset()
        yield self.until(lambda: client.reason is not None, "the client to see the reset")
        yield self.until(lambda: self.server().lost, "the target to see the reset")
        late = yield self.connect()
        yield self.until(lambda: late.reason is not None, "the new connection's reset")
        self.assertEqual(len(self.factory.connections), 1)  # type: ignore[attr-defined]

    @inlineCallbacks
    def test_close_propagates(self) -> Any:
        """A client closing its side closes the target's side too."""
        client = yield self.connect()
        client.transport.write(b"x")
        yield self.until(lambda: client.data == b"X", "the echo")
        client.transport.loseConnection()
        yield self.until(lambda: self.server().lost, "the target to see the close")

    def test_bad_delay(self) -> None:
        """A negative delay is refused, naming the value."""
        e = self.assertRaises(ValueError, self.proxy.delay, -1)
        self.assertIn("-1", str(e))
