"""
Tests for txconsul._http11: the HTTP/1.1 connection and pool, driven with
in-memory transports.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred, succeed
from twisted.internet.error import ConnectionDone, ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txconsul._http11 import ConnectionLostEarly, ConnectionPool
from txconsul._wire import FramingError as ProtocolError, HeadTooLarge

REQ = b"GET /v1/kv/foo HTTP/1.1\r\nHost: x\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Consul-Index: 7\r\n\r\nhi"


class FakeEndpoint:
    """An IStreamClientEndpoint handing out protocols on StringTransports."""

    def __init__(self) -> None:
        self.connections: list[tuple[Any, StringTransport]] = []
        self.pending: list[Deferred] = []
        self.defer = False

    def connect(self, factory: Any) -> Deferred:
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        if self.defer:
            d: Deferred = Deferred()
            self.pending.append(d)

            def go(_: Any) -> Any:
                proto.makeConnection(transport)
                self.connections.append((proto, transport))
                return proto

            return d.addCallback(go)
        proto.makeConnection(transport)
        self.connections.append((proto, transport))
        return succeed(proto)


def lose(proto: Any, transport: StringTransport, reason: Any = ConnectionDone) -> None:
    """Deliver connectionLost as the reactor would."""
    transport.disconnecting = True
    proto.connectionLost(Failure(reason()))


class PoolTests(SynchronousTestCase):
    """ConnectionPool and HTTP11Connection."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.pool = ConnectionPool(self.clock, self.endpoint, max_idle=2)

    def test_content_length_and_reuse(self) -> None:
        """A Content-Length response completes; the next request reuses the connection."""
        d = self.pool.request(REQ, retry=True)
        proto, transport = self.endpoint.connections[0]
        self.assertEqual(transport.value(), REQ)
        proto.dataReceived(OK[:20])
        self.assertNoResult(d)
        proto.dataReceived(OK[20:])
        response = self.successResultOf(d)
        self.assertEqual((response.code, response.body), (200, b"hi"))
        self.assertEqual(response.headers.getRawHeaders(b"X-Consul-Index"), [b"7"])
        self.assertEqual(response.headers.getRawHeaders("x-consul-index"), ["7"])
        self.pool.request(REQ, retry=True)
        self.assertEqual(len(self.endpoint.connections), 1)

    def test_chunked(self) -> None:
        """A chunked body is reassembled, trailers skipped."""
        d = self.pool.request(REQ, retry=False)
        proto, _ = self.endpoint.connections[0]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
        self.assertNoResult(d)
        proto.dataReceived(b"2;ext=1\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n")
        self.assertEqual(self.successResultOf(d).body, b"abcde")

    def test_interim_response_skipped(self) -> None:
        """A 100 Continue is skipped."""
        d = self.pool.request(REQ, retry=False)
        proto, _ = self.endpoint.connections[0]
        proto.dataReceived(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
        self.assertEqual(self.successResultOf(d).code, 200)

    def test_read_until_close(self) -> None:
        """Without length or chunking the body ends with the connection, which is not reused."""
        d = self.pool.request(REQ, retry=False)
        proto, transport = self.endpoint.connections[0]
        proto.dataReceived(b"HTTP/1.0 200 OK\r\n\r\nall of it")
        self.assertNoResult(d)
        lose(proto, transport)
        self.assertEqual(self.successResultOf(d).body, b"all of it")
        self.pool.request(REQ, retry=False)
        self.assertEqual(len(self.endpoint.connections), 2)

    def test_connection_close_not_reused(self) -> None:
        """'Connection: close' responses are not pooled."""
        d = self.pool.request(REQ, retry=False)
        proto, transport = self.endpoint.connections[0]
        proto.dataReceived(b"HTTP/1.1 429 Too Many\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        self.assertEqual(self.successResultOf(d).code, 429)
        self.assertTrue(transport.disconnecting)

    def test_lost_midway(self) -> None:
        """A connection lost mid-response fails the request with ConnectionLostEarly."""
        d = self.pool.request(REQ, retry=True)
        proto, transport = self.endpoint.connections[0]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        lose(proto, transport)
        f = self.failureResultOf(d, ConnectionLostEarly)
        self.assertTrue(f.value.got_bytes)

    def test_stale_idle_connection_retried(self) -> None:
        """A reused connection closed before answering is retried once on a new one."""
        d = self.pool.request(REQ, retry=True)
        proto, _ = self.endpoint.connections[0]
        proto.dataReceived(OK)
        self.successResultOf(d)
        d2 = self.pool.request(REQ, retry=True)
        lose(proto, self.endpoint.connections[0][1])
        self.assertEqual(len(self.endpoint.connections), 2)
        proto2, transport2 = self.endpoint.connections[1]
        self.assertEqual(transport2.value(), REQ)
        proto2.dataReceived(OK)
        self.assertEqual(self.successResultOf(d2).body, b"hi")

    def test_no_retry_for_unsafe(self) -> None:
        """Without retry (a PUT), a stale connection's failure is reported, not resent."""
        d = self.pool.request(REQ, retry=False)
        proto, transport = self.endpoint.connections[0]
        proto.dataReceived(OK)
        self.successResultOf(d)
        d2 = self.pool.request(REQ, retry=False)
        lose(proto, transport)
        self.failureResultOf(d2, ConnectionLostEarly)
        self.assertEqual(len(self.endpoint.connections), 1)

    def test_cancel_aborts(self) -> None:
        """Cancelling an in-flight request aborts its connection, which is not reused."""
        d = self.pool.request(REQ, retry=False)
        proto, transport = self.endpoint.connections[0]
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertTrue(transport.disconnecting)
        lose(proto, transport)
        self.pool.request(REQ, retry=False)
        self.assertEqual(len(self.endpoint.connections), 2)

    def test_cancel_while_connecting(self) -> None:
        """Cancelling before the connection exists cancels the connection attempt."""
        self.endpoint.defer = True
        d = self.pool.request(REQ, retry=False)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertTrue(self.endpoint.pending[0].called, "connection attempt not cancelled")
        self.assertEqual(self.endpoint.connections, [])

    def test_connect_failure(self) -> None:
        """A refused connection fails the request."""
        self.endpoint.defer = True
        d = self.pool.request(REQ, retry=False)
        self.endpoint.pending[0].errback(ConnectionRefusedError())
        self.failureResultOf(d, ConnectionRefusedError)

    def test_bad_status_line(self) -> None:
        """Garbage instead of a status line is a ProtocolError and the connection is dropped."""
        d = self.pool.request(REQ, retry=False)
        proto, transport = self.endpoint.connections[0]
        proto.dataReceived(b"SSH-2.0-OpenSSH\r\n\r\n")
        self.failureResultOf(d, ProtocolError)
        self.assertTrue(transport.disconnecting)

    def test_headers_too_large(self) -> None:
        """An endless header block is refused."""
        d = self.pool.request(REQ, retry=False)
        proto, _ = self.endpoint.connections[0]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 70000)
        self.failureResultOf(d, HeadTooLarge)

    def test_idle_limit(self) -> None:
        """At most max_idle connections are kept; extra ones are closed."""
        ds = [self.pool.request(REQ, retry=False) for _ in range(3)]
        for proto, _ in self.endpoint.connections:
            proto.dataReceived(OK)
        for d in ds:
            self.successResultOf(d)
        closed = [t.disconnecting for _, t in self.endpoint.connections]
        self.assertEqual(closed, [False, False, True])

    def test_idle_timeout(self) -> None:
        """A connection idle past idle_timeout is closed rather than reused."""
        self.pool.idle_timeout = 30
        d = self.pool.request(REQ, retry=False)
        proto, transport = self.endpoint.connections[0]
        proto.dataReceived(OK)
        self.successResultOf(d)
        self.clock.advance(31)
        self.pool.request(REQ, retry=False)
        self.assertTrue(transport.disconnecting)
        self.assertEqual(len(self.endpoint.connections), 2)

    def test_close(self) -> None:
        """close() closes idle connections and fires when they are gone; busy ones close after."""
        d1 = self.pool.request(REQ, retry=False)
        d2 = self.pool.request(REQ, retry=False)
        (p1, t1), (p2, t2) = self.endpoint.connections
        p1.dataReceived(OK)
        self.successResultOf(d1)
        closed = self.pool.close()
        self.assertTrue(t1.disconnecting)
        self.assertNoResult(closed)
        lose(p1, t1)
        self.successResultOf(closed)
        self.assertFalse(t2.disconnecting)
        p2.dataReceived(OK)
        self.successResultOf(d2)
        self.assertTrue(t2.disconnecting)


class StrictParsingTests(SynchronousTestCase):
    """Malformed framing is refused rather than guessed at."""

    def setUp(self) -> None:
        self.endpoint = FakeEndpoint()
        self.pool = ConnectionPool(Clock(), self.endpoint)

    def answer(self, raw: bytes) -> Any:
        d = self.pool.request(REQ, retry=False)
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(raw)
        return d, transport

    def test_chunk_without_crlf(self) -> None:
        """Chunk data must be followed by CRLF."""
        d, transport = self.answer(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n"
        )
        self.failureResultOf(d, ProtocolError)
        self.assertTrue(transport.disconnecting)

    def test_negative_chunk_size(self) -> None:
        """A chunk size that is not hex digits is refused."""
        d, _ = self.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nab\r\n")
        self.failureResultOf(d, ProtocolError)

    def test_bad_content_length(self) -> None:
        """Negative or conflicting Content-Length values are refused."""
        d, _ = self.answer(b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\nabc")
        self.failureResultOf(d, ProtocolError)
        d, _ = self.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd")
        self.failureResultOf(d, ProtocolError)

    def test_repeated_equal_content_length(self) -> None:
        """Even repeated identical Content-Length values are refused, as llhttp does."""
        d, _ = self.answer(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok")
        self.failureResultOf(d, ProtocolError)

    def test_folded_header(self) -> None:
        """Obsolete header line folding is refused."""
        d, _ = self.answer(b"HTTP/1.1 200 OK\r\nX-A: 1\r\n continued\r\nContent-Length: 0\r\n\r\n")
        self.failureResultOf(d, ProtocolError)

    def test_large_body_in_small_reads(self) -> None:
        """A 4 MiB single-chunk body delivered in 16 KiB reads arrives whole."""
        body = bytes(range(256)) * (4 * 4096)
        d = self.pool.request(REQ, retry=False)
        proto, _ = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body))
        for i in range(0, len(body), 16384):
            proto.dataReceived(body[i : i + 16384])
        self.assertNoResult(d)
        proto.dataReceived(b"\r\n0\r\n\r\n")
        self.assertEqual(self.successResultOf(d).body, body)


class ReuseSafetyTests(SynchronousTestCase):
    """Which requests may be resent, and which connections they reuse."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.pool = ConnectionPool(self.clock, self.endpoint, fresh_for=2.0)

    def test_unsafe_request_skips_old_idle_connection(self) -> None:
        """A request that may not be resent opens a new connection rather than reuse one idle for long."""
        d = self.pool.request(REQ, retry=False)
        self.endpoint.connections[0][0].dataReceived(OK)
        self.successResultOf(d)
        self.clock.advance(1)
        self.pool.request(REQ, retry=False)
        self.assertEqual(len(self.endpoint.connections), 1, "a fresh connection is reused")
        self.endpoint.connections[0][0].dataReceived(OK)
        self.clock.advance(3)
        self.pool.request(REQ, retry=False)
        self.assertEqual(len(self.endpoint.connections), 2, "an old one is not")
        self.pool.request(REQ, retry=True)
        self.assertEqual(len(self.endpoint.connections), 2, "but a GET still reuses it")

    def test_close_while_connecting(self) -> None:
        """A connection that finishes connecting after close() is closed after its request."""
        self.endpoint.defer = True
        d = self.pool.request(REQ, retry=False)
        self.successResultOf(self.pool.close())
        self.endpoint.pending[0].callback(None)
        proto, transport = self.endpoint.connections[0]
        proto.dataReceived(OK)
        self.successResultOf(d)
        self.assertTrue(transport.disconnecting)


class CapTests(SynchronousTestCase):
    """At most max_connections are open; the rest queue; blocking reads cannot starve short calls."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.pool = ConnectionPool(self.clock, self.endpoint, max_connections=4, reserved=1)

    def test_queue_beyond_cap(self) -> None:
        """Requests beyond the cap wait and start, in order, as connections free up."""
        ds = [self.pool.request(REQ, retry=True) for _ in range(6)]
        self.assertEqual(len(self.endpoint.connections), 4)
        self.assertEqual(self.pool.queued, 2)
        self.endpoint.connections[0][0].dataReceived(OK)
        self.successResultOf(ds[0])
        # the freed connection carries the next queued request
        self.assertEqual(self.endpoint.connections[0][1].value(), REQ * 2)
        self.assertEqual(self.pool.queued, 1)
        self.assertEqual(len(self.endpoint.connections), 4)

    def test_blocking_reads_leave_reserved_slots(self) -> None:
        """Blocking reads take at most max - reserved connections; a short call still gets one."""
        polls = [self.pool.request(REQ, retry=True, blocking=True) for _ in range(10)]
        self.assertEqual(len(self.endpoint.connections), 3)
        self.assertEqual(self.pool.queued, 7)
        short = self.pool.request(REQ, retry=False)
        self.assertEqual(len(self.endpoint.connections), 4)
        self.endpoint.connections[3][0].dataReceived(OK)
        self.successResultOf(short)
        # the reserved slot is free again, but a blocking read may not take it
        self.assertEqual(self.pool.queued, 7)
        for d in polls[:3]:
            self.assertNoResult(d)

    def test_short_calls_jump_blocking_queue(self) -> None:
        """A short call queued behind blocking reads is served first when a slot frees."""
        polls = [self.pool.request(REQ, retry=True, blocking=True) for _ in range(4)]
        shorts = [self.pool.request(REQ, retry=True) for _ in range(2)]
        self.assertEqual(len(self.endpoint.connections), 4)
        self.assertEqual(self.pool.queued, 2)  # one poll and one short call wait
        self.endpoint.connections[0][0].dataReceived(OK)
        self.successResultOf(polls[0])
        self.assertEqual(self.endpoint.connections[0][1].value(), REQ * 2)
        self.endpoint.connections[0][0].dataReceived(OK)
        self.successResultOf(shorts[1])
        self.assertNoResult(polls[3])

    def test_cancel_queued(self) -> None:
        """Cancelling a queued request removes it from the queue."""
        ds = [self.pool.request(REQ, retry=True) for _ in range(5)]
        ds[4].cancel()
        self.failureResultOf(ds[4], CancelledError)
        self.assertEqual(self.pool.queued, 0)
        self.endpoint.connections[0][0].dataReceived(OK)
        self.successResultOf(ds[0])
        self.assertEqual(self.endpoint.connections[0][1].value(), REQ)

    def test_cancel_in_flight_frees_slot(self) -> None:
        """Cancelling an in-flight request frees its slot for a queued one."""
        ds = [self.pool.request(REQ, retry=True) for _ in range(5)]
        ds[0].cancel()
        self.failureResultOf(ds[0], CancelledError)
        self.assertEqual(self.pool.queued, 0)
        self.assertEqual(len(self.endpoint.connections), 5)
        self.assertEqual(self.pool.active, 4)

    def test_idle_connections_count(self) -> None:
        """Idle connections count against the cap: one is closed to open another."""
        ds = [self.pool.request(REQ, retry=False) for _ in range(4)]
        for proto, _ in self.endpoint.connections:
            proto.dataReceived(OK)
        for d in ds:
            self.successResultOf(d)
        self.clock.advance(5)  # too old for a request that may not be resent
        self.pool.request(REQ, retry=False)
        self.assertEqual(len(self.endpoint.connections), 5)
        self.assertTrue(self.endpoint.connections[0][1].disconnecting)
        open_ = [t for _, t in self.endpoint.connections if not t.disconnecting]
        self.assertEqual(len(open_), 4)

    def test_bad_settings(self) -> None:
        """A cap below 1 or a reserve not below the cap is a ValueError."""
        self.assertRaises(ValueError, ConnectionPool, self.clock, self.endpoint, max_connections=0)
        self.assertRaises(
            ValueError, ConnectionPool, self.clock, self.endpoint, max_connections=2, reserved=2
        )


class TLSHandshakeTests(SynchronousTestCase):
    """A TLS connection whose handshake gets no answer is dropped and named."""

    def test_stalled_handshake(self) -> None:
        """No handshake answer within tls_handshake_timeout: TLSMismatch naming 'http'."""
        from txconsul._errors import TLSMismatch
        from txconsul._http import HTTPTransport

        clock = Clock()
        endpoint = FakeEndpoint()
        t = HTTPTransport(
            "https://agent:8501",
            reactor=clock,
            endpoint=endpoint,
            tls=True,
            tls_handshake_timeout=10,
            timeout=None,
        )
        d = t.request("GET", "/v1/kv/k")
        clock.advance(9.9)
        self.assertNoResult(d)
        clock.advance(0.2)
        proto, transport = endpoint.connections[0]
        self.assertTrue(transport.disconnecting)
        lose(proto, transport)
        f = self.failureResultOf(d, TLSMismatch)
        self.assertIn("plain HTTP", str(f.value))
        self.assertIn("use scheme 'http'", str(f.value))

    def test_completed_handshake_not_dropped(self) -> None:
        """A connection whose handshake completed is left alone however slow the answer."""
        from txconsul._http import HTTPTransport

        clock = Clock()
        endpoint = FakeEndpoint()
        t = HTTPTransport(
            "https://agent:8501",
            reactor=clock,
            endpoint=endpoint,
            tls=True,
            tls_handshake_timeout=10,
            timeout=None,
        )
        d = t.request("GET", "/v1/kv/k")
        proto, transport = endpoint.connections[0]
        proto.handshakeCompleted()
        clock.advance(60)
        self.assertFalse(transport.disconnecting)
        proto.dataReceived(OK)
        self.assertEqual(self.successResultOf(d).body, b"hi")

    def test_timeout_before_handshake(self) -> None:
        """A call timing out while the handshake is unanswered says so."""
        from txconsul._errors import TLSMismatch
        from txconsul._http import HTTPTransport

        clock = Clock()
        endpoint = FakeEndpoint()
        t = HTTPTransport(
            "https://agent:8501",
            reactor=clock,
            endpoint=endpoint,
            tls=True,
            tls_handshake_timeout=10,
            timeout=2,
        )
        d = t.request("GET", "/v1/kv/k")
        clock.advance(2)
        f = self.failureResultOf(d, TLSMismatch)
        self.assertIn("within 2s", str(f.value))


class LeakTests(SynchronousTestCase):
    """Thousands of timeouts and cancels leave no DelayedCall, slot or connection behind."""

    def test_no_leaks(self) -> None:
        """After 1,000 timed-out, cancelled and answered requests the pool is empty and the clock idle."""
        from txconsul._http import HTTPTransport

        clock = Clock()
        endpoint = FakeEndpoint()
        t = HTTPTransport(
            "http://agent:8500",
            reactor=clock,
            endpoint=endpoint,
            timeout=5,
            max_connections=10,
            reserved_connections=2,
        )
        results = []
        for i in range(1000):
            d = t.request("GET", "/v1/kv/k", index=7 if i % 2 else None, wait=1.0)
            d.addErrback(lambda f: f.type)
            results.append(d)
            if i % 3 == 0:
                d.cancel()
        # answer whatever is in flight, then let the rest time out
        for proto, transport in list(endpoint.connections):
            if not transport.disconnecting:
                proto.dataReceived(OK)
        clock.advance(10)
        while any(not d.called for d in results):
            for proto, transport in list(endpoint.connections):
                if not transport.disconnecting and proto.busy:
                    proto.dataReceived(OK)
            clock.advance(10)
        for proto, transport in endpoint.connections:
            if transport.disconnecting and not proto.lost:
                lose(proto, transport)
        from txconsul._errors import Timeout

        values = [self.successResultOf(d) for d in results]
        kinds = {v if isinstance(v, type) else type(v).__name__ for v in values}
        self.assertEqual(kinds, {"ConsulResponse", CancelledError, Timeout})
        pool = t.pool
        assert pool is not None
        self.assertEqual((pool.active, pool.active_blocking, pool.queued), (0, 0, 0))
        self.assertEqual(clock.getDelayedCalls(), [])
        self.successResultOf(t.close())
        self.assertEqual(pool.connections, 0)
