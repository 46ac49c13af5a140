"""
A few hostile answers from a scripted server on a real loopback socket: that
what the in-memory tests (tests/test_http_hostile_again.py) show also holds
with the reactor's own TCP transport, and that the client really closes the
socket (the server sees it go).

These use the real reactor on purpose.  No assertion depends on how long
anything took; waits are bounded (the test's ``timeout``), and the client's
own timeouts are far beyond them.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from txconsul import Consul, ConsulException
from txconsul._errors import HeadersTooLarge

SECRET = "5c1e9f0a-loopback-token"
KiB = 1024


class Scripted(Protocol):
    """
    Answers each request head with ``factory.script(self, head)``; records
    the requests and when the client closed the connection.
    """

    def connectionMade(self) -> None:
        self.received = b""
        self.pos = 0
        self.heads = 0
        self.closed: Deferred[None] = Deferred()
        self.factory.connections.append(self)  # type: ignore[attr-defined]

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        while True:
            end = self.received.find(b"\r\n\r\n", self.pos)
            if end < 0:
                return
            head, self.pos = self.received[self.pos : end + 4], end + 4
            self.heads += 1
            self.factory.script(self, head)  # type: ignore[attr-defined]

    def connectionLost(self, reason: Any) -> None:
        self.closed.callback(None)


class LoopbackCase(TestCase):
    """A scripted server on 127.0.0.1 and a client for it."""

    timeout = 30

    def serve(self, script: Callable[[Scripted, bytes], None]) -> Consul:
        factory = Factory.forProtocol(Scripted)
        factory.connections = []  # type: ignore[attr-defined]
        factory.script = script  # type: ignore[attr-defined]
        self.factory = factory
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        c = Consul(
            "127.0.0.1",
            port.getHost().port,
            token=SECRET,
            environ={},
            reactor=reactor,
            timeout=60,
            max_header_bytes=4 * KiB,
        )
        self.addCleanup(c.close)
        return c

    @property
    def connections(self) -> list[Scripted]:
        """The server side of every connection the client made."""
        return self.factory.connections  # type: ignore[attr-defined, no-any-return]


class LoopbackTests(LoopbackCase):
    """Hostile answers over real TCP."""

    @inlineCallbacks
    def test_stream_header_bomb(self) -> Any:
        """Endless headers to agent.monitor fail it with HeadersTooLarge, and the client drops the socket."""

        def script(conn: Scripted, head: bytes) -> None:
            conn.transport.write(b"HTTP/1.1 200 OK\r\n")  # type: ignore[union-attr]
            for _ in range(64):
                conn.transport.write(b"X-Pad: " + b"p" * 1000 + b"\r\n")  # type: ignore[union-attr]

        c = self.serve(script)
        mon = c.agent.monitor(lambda line: None)
        try:
            yield mon.done
        except HeadersTooLarge as e:
            self.assertIn("GET /v1/agent/monitor", str(e))
            self.assertNotIn(SECRET, str(e))
        else:
            self.fail("the monitor did not fail")
        yield self.connections[0].closed

    @inlineCallbacks
    def test_endless_error_body(self) -> Any:
        """A 500 answer to a snapshot with an endless body fails at 64 KiB; the client drops the socket."""

        def script(conn: Scripted, head: bytes) -> None:
            conn.transport.write(b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n")  # type: ignore[union-attr]

            def more() -> None:
                if conn.transport.connected:  # type: ignore[union-attr]
                    conn.transport.write(b"400\r\n" + b"e" * KiB + b"\r\n")  # type: ignore[union-attr]
                    reactor.callLater(0, more)

            more()

        c = self.serve(script)
        try:
            yield c.snapshot.save(lambda chunk: None)
        except ConsulException as e:
            self.assertEqual(e.status, 500)
            self.assertEqual(len(e.body), 64 * KiB)
        else:
            self.fail("the snapshot did not fail")
        yield self.connections[0].closed

    @inlineCallbacks
    def test_unsolicited_answer_closes_connection(self) -> Any:
        """An answer nobody asked for on an idle connection makes the client close it; the next call opens another."""

        def script(conn: Scripted, head: bytes) -> None:
            if head.startswith(b"GET"):
                conn.transport.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")  # type: ignore[union-attr]
                reactor.callLater(  # an "answer" to a request never sent
                    0.01,
                    conn.transport.write,  # type: ignore[union-attr]
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue",
                )
            else:
                conn.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue")  # type: ignore[union-attr]

        c = self.serve(script)
        index, value = yield c.kv.get("k")
        self.assertIsNone(value)
        yield self.connections[0].closed
        ok = yield c.kv.put("k", "v")
        self.assertIs(ok, True)
        self.assertEqual([conn.heads for conn in self.connections], [1, 1])
