"""
A second round against a scripted hostile agent (or proxy): what the first
round (tests/test_http_hostile.py) did not try.  Connection reuse after a
fault, oversized digit runs, slow answers on the injected clock, the limits
and cancellation of streams (``agent.monitor``, ``snapshot.save``), pool
accounting after every fault, and the token on every error path.

The "server" is a script: the test writes the answer's bytes into the
client's connection, as a hostile peer would send them.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure

from txconsul import Consul, ConsulConnectionError, ConsulException, Timeout
from txconsul._errors import (
    BadRequest,
    ConsulProtocolError,
    HeadersTooLarge,
    ResponseTooLarge,
    TLSMismatch,
    TooManyInterimResponses,
    UndecodableResponse,
)

from .test_http_hostile import SECRET, HostileCase

KiB = 1024
OK_404 = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"


def lose(proto: Any, transport: StringTransport) -> None:
    """Deliver connectionLost once, as the reactor would when a close completes."""
    if not getattr(transport, "lost", False):
        transport.disconnecting = True
        transport.lost = True  # type: ignore[attr-defined]
        proto.connectionLost(Failure(ConnectionDone()))


class AgainCase(HostileCase):
    """HostileCase plus log capture and cleanup checks."""

    def setUp(self) -> None:
        super().setUp()
        self.events: list[dict] = []
        globalLogPublisher.addObserver(self.events.append)
        self.addCleanup(globalLogPublisher.removeObserver, self.events.append)

    def assertNoSecret(self, failure: Failure) -> None:
        """The token is in none of the failure's text, the exception's repr or a log event."""
        self.assertNotIn(SECRET, str(failure))
        self.assertNotIn(SECRET, repr(failure.value))
        self.assertNotIn(SECRET, str(failure.value))
        for event in self.events:
            self.assertNotIn(SECRET, repr(event))
            self.assertNotIn(SECRET, formatEvent(event))

    def assertClean(self, c: Consul) -> None:
        """Every connection closed, nothing running or scheduled, close() leaves nothing open."""
        for proto, transport in self.endpoint.connections:
            if transport.disconnecting:
                lose(proto, transport)
        pool = c.http.pool
        assert pool is not None
        self.assertEqual((pool.active, pool.active_blocking, pool.queued), (0, 0, 0))
        closed = c.close()
        for proto, transport in self.endpoint.connections:
            if transport.disconnecting:
                lose(proto, transport)
        self.successResultOf(closed)
        self.assertEqual(pool.connections, 0)
        self.assertEqual(
            [t.disconnecting for _, t in self.endpoint.connections], [True] * len(self.endpoint.connections)
        )
        self.clock.advance(0)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class ReuseAfterFaultTests(AgainCase):
    """A connection that saw anything wrong is never used again."""

    def _answered(self, c: Consul, raw: bytes = OK_404) -> tuple[Any, StringTransport]:
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(raw)
        self.assertEqual(self.successResultOf(d)[1], None)
        return proto, transport

    def test_unsolicited_bytes_then_write(self) -> None:
        """A PUT issued before the closing connection's connectionLost goes on a new connection."""
        c = self.client()
        proto, transport = self._answered(c)
        self.assertFalse(transport.disconnecting)
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue")
        self.assertTrue(transport.disconnecting)
        sent = transport.value()
        d = c.kv.put("k", "v")
        self.assertEqual(transport.value(), sent, "a request was written to a connection being closed")
        self.assertEqual(len(self.endpoint.connections), 2)
        proto2, _ = self.endpoint.connections[-1]
        proto2.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue")
        self.assertIs(self.successResultOf(d), True)
        self.assertClean(c)

    def test_unsolicited_bytes_then_read(self) -> None:
        """A GET issued before the closing connection's connectionLost goes on a new connection."""
        c = self.client()
        proto, transport = self._answered(c)
        proto.dataReceived(b"garbage")
        sent = transport.value()
        c.kv.get("k")
        self.assertEqual(transport.value(), sent)
        self.assertEqual(len(self.endpoint.connections), 2)

    def test_fault_sweep(self) -> None:
        """After each hostile answer the slot is free, the connection is not reused, and nothing leaks."""
        faults: list[tuple[str, bytes, Any]] = [
            ("garbage after the answer", OK_404 + b"HTTP/1.1 200 OK\r\n\r\n", None),
            ("a second whole answer", OK_404 + OK_404, None),
            ("204 with a body", b"HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n{}", None),
            ("304 with a body", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n{}", None),
            ("HTTP/1.0 without keep-alive", b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n", None),
            (
                "Connection: close kept open",
                b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                None,
            ),
            (
                "two Content-Length",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}",
                ConsulProtocolError,
            ),
            (
                "Content-Length overflow",
                b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 30 + b"\r\n\r\n",
                ConsulProtocolError,
            ),
            (
                "Content-Length with plus",
                b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\n{}",
                ConsulProtocolError,
            ),
            (
                "chunk size overflow",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 17 + b"\r\n",
                ConsulProtocolError,
            ),
            (
                "chunk too large",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"F" * 16 + b"\r\n" + b"x" * 2048,
                ResponseTooLarge,
            ),
            ("header block too large", b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 2048, HeadersTooLarge),
            ("too many 1xx", b"HTTP/1.1 100 Continue\r\n\r\n" * 6, TooManyInterimResponses),
            ("a TLS record", b"\x16\x03\x03\x00\x40", TLSMismatch),
        ]
        for name, raw, error in faults:
            # One connection at most: a second call waits behind the first.
            c = self.client(
                max_response_body=1024, max_header_bytes=1024, max_connections=1, reserved_connections=0
            )
            d = c.http.request("GET", "/v1/kv/k", expect=(200, 204, 304, 404))
            queued = c.kv.put("k", "v")
            proto, transport = self.endpoint.connections[-1]
            self.assertEqual((c.http.pool.active, c.http.pool.queued), (1, 1))
            proto.dataReceived(raw)
            if error is None:
                self.assertEqual(self.successResultOf(d).body, b"", name)
            else:
                f = self.failureResultOf(d, error)
                self.assertIn("GET /v1/kv/k", str(f.value), name)
                self.assertNoSecret(f)
            self.assertTrue(transport.disconnecting, name)
            # The queued write went out on a new connection, never the faulty one.
            self.assertEqual(len(self.endpoint.connections), 2, f"{name}: connection reused")
            self.assertNotIn(b"PUT", transport.value(), name)
            pool = c.http.pool
            assert pool is not None
            self.assertEqual((pool.active, pool.queued), (1, 0), name)
            self.endpoint.connections[-1][0].dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue")
            self.assertIs(self.successResultOf(queued), True, name)
            self.assertEqual((pool.active, pool.queued), (0, 0), name)
            self.assertClean(c)
            self.endpoint.connections.clear()
        # The log checks above saw the request events themselves.
        failed = [e for e in self.events if e.get("log_namespace") == "txconsul.request" and e.get("error")]
        self.assertGreaterEqual(len(failed), 8)


class RaisingEndpointTests(AgainCase):
    """An endpoint that raises instead of failing its Deferred costs no connection slot."""

    def test_pool_slot_freed(self) -> None:
        """The call fails with ConsulConnectionError and the pool holds nothing for it."""

        class Raising:
            def connect(self, factory: Any) -> Deferred:
                raise OSError("no route")

        c = Consul(
            endpoint=Raising(),
            reactor=self.clock,
            environ={},
            token=SECRET,
            timeout=30,
            max_connections=1,
            reserved_connections=0,
        )
        for _ in range(3):
            f = self.failureResultOf(c.kv.get("k"), ConsulConnectionError)
            self.assertIn("no route", str(f.value))
        pool = c.http.pool
        assert pool is not None
        self.assertEqual((pool.active, pool.queued, pool.connections), (0, 0, 0))
        self.assertEqual(self.clock.getDelayedCalls(), [])


class HTTP10Tests(AgainCase):
    """HTTP/1.0 answers keep a connection only when they say keep-alive and frame their body."""

    def test_keep_alive_with_length_reused(self) -> None:
        """HTTP/1.0 with 'Connection: keep-alive' and a Content-Length keeps the connection, as Go's client does."""
        c = self.client()
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")
        self.successResultOf(d)
        self.assertFalse(transport.disconnecting)
        c.kv.get("k")
        self.assertEqual(len(self.endpoint.connections), 1)

    def test_keep_alive_without_length_not_reused(self) -> None:
        """HTTP/1.0 with keep-alive but no length reads its body until close: the connection ends with it."""
        c = self.client()
        d = c.http.request("GET", "/v1/kv/k", expect=(200,))
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n[]")
        self.assertNoResult(d)
        lose(proto, transport)
        self.assertEqual(self.successResultOf(d).body, b"[]")
        c.kv.get("k")
        self.assertEqual(len(self.endpoint.connections), 2)


class DigitRunTests(AgainCase):
    """Digit runs longer than Python's int() accepts (4,300 digits) are still answers or clean errors."""

    def test_content_length_with_many_leading_zeros(self) -> None:
        """A Content-Length of 5,000 zeros then '2' frames a 2-byte body, as llhttp reads it."""
        c = self.client()
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 404 Not Found\r\nContent-Length: " + b"0" * 5000 + b"2\r\n\r\nno")
        self.assertEqual(self.successResultOf(d)[1], None)
        self.assertFalse(transport.disconnecting)

    def test_endless_index_header(self) -> None:
        """An X-Consul-Index of 5,000 digits is no index (a ConsulException), not a ValueError."""
        d, _ = self.answer(
            b"HTTP/1.1 200 OK\r\nX-Consul-Index: " + b"1" * 5000 + b"\r\nContent-Length: 2\r\n\r\n[]"
        )
        f = self.failureResultOf(d, ConsulException)
        self.assertIn("no X-Consul-Index", str(f.value))

    def test_endless_last_contact_header(self) -> None:
        """An X-Consul-LastContact of 5,000 digits is left out of the metadata."""
        c = self.client()
        d = c.http.request("GET", "/v1/kv/k")
        proto, _ = self.endpoint.connections[-1]
        proto.dataReceived(
            b"HTTP/1.1 200 OK\r\nX-Consul-Index: 3\r\nX-Consul-LastContact: "
            + b"1" * 5000
            + b"\r\nContent-Length: 2\r\n\r\n[]"
        )
        response = self.successResultOf(d)
        self.assertEqual((response.meta.index, response.meta.last_contact), (3, None))


class ShapeTests(AgainCase):
    """JSON of another shape than the endpoint's is an UndecodableResponse, not a raw KeyError or TypeError."""

    def shaped(self, call: Any, body: bytes) -> Failure:
        """Answer ``call`` with a 200 carrying ``body``; return its failure."""
        c = self.client()
        d = call(c)
        proto, _ = self.endpoint.connections[-1]
        proto.dataReceived(
            b"HTTP/1.1 200 OK\r\nX-Consul-Index: 5\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        return self.failureResultOf(d, UndecodableResponse)

    def test_misshapen_answers(self) -> None:
        """Wrong shapes for kv.get, kv.get(recurse), session.create and txn.put name the call and keep the body."""
        cases = [
            (lambda c: c.kv.get("k"), b'{"a":1}', "GET /v1/kv/k"),
            (lambda c: c.kv.get("k"), b'[{"Value": 5}]', "GET /v1/kv/k"),
            (lambda c: c.kv.get("k", recurse=True), b"5", "GET /v1/kv/k"),
            (lambda c: c.session.create(), b"[]", "PUT /v1/session/create"),
            (lambda c: c.session.create(), b'{"a":1}', "PUT /v1/session/create"),
            (lambda c: c.txn.put([{"KV": {"Verb": "get", "Key": "k"}}]), b"5", "PUT /v1/txn"),
        ]
        for call, body, where in cases:
            f = self.shaped(call, body)
            self.assertIn(where, str(f.value), body)
            self.assertIn("not what this endpoint returns", str(f.value))
            self.assertEqual((f.value.status, f.value.body), (200, body))
            self.assertNoSecret(f)

    def test_blocking_read_misshapen(self) -> None:
        """A blocking read's misshapen answer is an UndecodableResponse too."""
        f = self.shaped(lambda c: c.kv.get("k", index=3, wait="1s"), b'{"a":1}')
        self.assertIn("GET /v1/kv/k", str(f.value))

    def test_value_reflected_not_in_message(self) -> None:
        """The message names the exception type only, never text taken from the body."""
        f = self.shaped(lambda c: c.kv.get("k"), b'[{"Value": "' + SECRET.encode() + b'"}]')
        self.assertNotIn(SECRET, str(f.value))


class SlowAnswerTests(AgainCase):
    """Slow-loris answers end at the request's deadline, on the injected clock."""

    def test_headers_dribbled_one_byte_a_second(self) -> None:
        """A header block arriving one byte a second still times out at 30 s, leaving nothing behind."""
        c = self.client()
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        raw = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * 100
        for i in range(29):
            proto.dataReceived(raw[i : i + 1])
            self.clock.advance(1)
        proto.dataReceived(raw[29:30])
        self.clock.advance(0.999)
        self.assertNoResult(d)
        self.clock.advance(0.001)
        f = self.failureResultOf(d, Timeout)
        self.assertIn("within 30s", str(f.value))
        self.assertTrue(transport.disconnecting)
        self.assertNoSecret(f)
        self.assertClean(c)

    def test_blocking_body_stalls(self) -> None:
        """A blocking read whose body stalls fails at wait + wait/16 + 5 s, not before."""
        c = self.client()
        d = c.kv.get("k", index=7, wait="16s")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nX-Consul-Index: 8\r\nContent-Length: 100\r\n\r\n[{")
        self.clock.advance(16 + 1 + 5 - 0.001)
        self.assertNoResult(d)
        self.clock.advance(0.001)
        f = self.failureResultOf(d, Timeout)
        self.assertIn("within 22s", str(f.value))
        self.assertTrue(transport.disconnecting)
        self.assertClean(c)


class StreamCase(AgainCase):
    """Streams (``HTTPTransport.stream``) against a scripted server."""

    def open(
        self, timeout: Optional[float] = 30, **kw: Any
    ) -> tuple[Deferred, list[bytes], Any, StringTransport]:
        """Open a monitor-like stream; return its Deferred, what it wrote, and the connection."""
        c = self.client(timeout=timeout, **kw)
        self.c = c
        got: list[bytes] = []
        d = c.http.stream("GET", "/v1/agent/monitor", [], got.append, use_dc=False)
        proto, transport = self.endpoint.connections[-1]
        self.assertIn(b"X-Consul-Token: " + SECRET.encode(), transport.value())
        return d, got, proto, transport

    def assertStreamRefused(self, d: Deferred, transport: StringTransport, cls: type) -> Any:
        """The stream failed with ``cls`` naming the request, and its connection was dropped."""
        f = self.failureResultOf(d, cls)
        self.assertIn("GET /v1/agent/monitor", str(f.value))
        self.assertEqual((f.value.method, f.value.path), ("GET", "/v1/agent/monitor"))
        self.assertTrue(transport.disconnecting, "connection not dropped")
        self.assertNoSecret(f)
        return f.value

    def assertStreamClosed(self, proto: Any, transport: StringTransport) -> None:
        """The stream's connection closes and nothing stays scheduled."""
        if transport.disconnecting:
            lose(proto, transport)
        self.clock.advance(0)
        self.assertEqual(self.clock.getDelayedCalls(), [])


class StreamLimitTests(StreamCase):
    """A stream's body is unbounded by design; everything around it is not."""

    def test_header_block_bounded(self) -> None:
        """Endless headers are refused at max_header_bytes, not buffered."""
        d, got, proto, transport = self.open(max_header_bytes=4 * KiB)
        proto.dataReceived(b"HTTP/1.1 200 OK\r\n")
        sent = 0
        while not d.called and sent < 1000:
            proto.dataReceived(b"X-A: " + b"a" * 100 + b"\r\n")
            sent += 1
        self.assertStreamRefused(d, transport, HeadersTooLarge)
        self.assertLess(sent, 50)
        self.assertStreamClosed(proto, transport)

    def test_header_value_bounded(self) -> None:
        """One endless header value is refused at max_header_bytes."""
        d, got, proto, transport = self.open(max_header_bytes=4 * KiB)
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nX-A: ")
        sent = 0
        while not d.called and sent < 1000:
            proto.dataReceived(b"a" * KiB)
            sent += 1
        self.assertStreamRefused(d, transport, HeadersTooLarge)
        self.assertLess(sent, 5)

    def test_trailers_bounded(self) -> None:
        """Endless trailers after the last chunk are refused at max_trailer_bytes."""
        d, got, proto, transport = self.open(max_trailer_bytes=KiB)
        proto.dataReceived(CHUNKED + b"3\r\nabc\r\n0\r\nX-T: ")
        sent = 0
        while not d.called and sent < 1000:
            proto.dataReceived(b"t" * 256)
            sent += 1
        self.assertStreamRefused(d, transport, HeadersTooLarge)
        self.assertLess(sent, 10)
        self.assertEqual(got, [b"abc"])

    def test_chunk_extensions_bounded(self) -> None:
        """An endless chunk extension is refused at max_trailer_bytes."""
        d, got, proto, transport = self.open(max_trailer_bytes=KiB)
        proto.dataReceived(CHUNKED + b"3;")
        sent = 0
        while not d.called and sent < 1000:
            proto.dataReceived(b"e" * 256)
            sent += 1
        self.assertStreamRefused(d, transport, HeadersTooLarge)
        self.assertLess(sent, 10)

    def test_interim_answers_bounded(self) -> None:
        """Endless 1xx answers end the stream even without a timeout."""
        d, got, proto, transport = self.open(timeout=None)
        for _ in range(6):
            proto.dataReceived(b"HTTP/1.1 102 Processing\r\n\r\n")
        self.assertStreamRefused(d, transport, TooManyInterimResponses)

    def test_long_body_is_not_limited(self) -> None:
        """A stream's body may be larger than max_response_body: it is handed on, not kept."""
        d, got, proto, transport = self.open(max_response_body=KiB)
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (64 * KiB))
        for _ in range(64):
            proto.dataReceived(b"x" * KiB)
        self.assertEqual(self.successResultOf(d).code, 200)
        self.assertEqual(sum(map(len, got)), 64 * KiB)
        self.assertStreamClosed(proto, transport)


class StreamErrorBodyTests(StreamCase):
    """The body of an error answer to a stream is bounded in size and in time."""

    def test_endless_error_body(self) -> None:
        """An endless 500 body ends the stream with the error once 64 KiB are in; the rest is not read."""
        d, got, proto, transport = self.open()
        proto.dataReceived(b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n")
        sent = 0
        while not d.called and sent < 1000:
            proto.dataReceived(b"400\r\n" + b"e" * KiB + b"\r\n")
            sent += 1
        e = self.assertStreamRefused(d, transport, ConsulException)
        self.assertEqual(e.status, 500)
        self.assertEqual(len(e.body), 64 * KiB)
        self.assertEqual(sent, 64)
        self.assertEqual(got, [])
        self.assertStreamClosed(proto, transport)

    def test_error_body_read_until_close(self) -> None:
        """A short error body read until close still ends with the error."""
        d, got, proto, transport = self.open()
        proto.dataReceived(b"HTTP/1.1 403 Forbidden\r\n\r\nPermission denied")
        self.assertNoResult(d)
        lose(proto, transport)
        f = self.failureResultOf(d, ConsulException)
        self.assertEqual((f.value.status, f.value.body), (403, b"Permission denied"))

    def test_slow_error_body_times_out(self) -> None:
        """An error answer whose body trickles in fails at the stream's timeout."""
        d, got, proto, transport = self.open(timeout=30)
        proto.dataReceived(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000\r\n\r\n")
        for _ in range(29):
            proto.dataReceived(b"e")
            self.clock.advance(1)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.assertStreamRefused(d, transport, Timeout)
        self.assertStreamClosed(proto, transport)


class StreamFramingTests(StreamCase):
    """A stream's answer is framed as strictly as any other answer."""

    def test_refused_framings(self) -> None:
        """Framing the pool refuses fails a stream too, naming the request, and drops its connection."""
        for raw in (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunkedx\r\n\r\n2\r\nab\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n",
            b"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nab",
            b"SSH-2.0-OpenSSH_9.6\r\n",
        ):
            d, got, proto, transport = self.open()
            proto.dataReceived(raw)
            self.assertStreamRefused(d, transport, ConsulProtocolError)
            self.assertEqual(got, [], raw)
            self.assertStreamClosed(proto, transport)

    def test_tls_answer(self) -> None:
        """A TLS record answering a plain-HTTP stream is TLSMismatch naming 'https'."""
        d, got, proto, transport = self.open()
        proto.dataReceived(b"\x15\x03\x01\x00\x02\x02\x46")
        e = self.assertStreamRefused(d, transport, TLSMismatch)
        self.assertIn("use scheme 'https'", str(e))

    def test_cut_short(self) -> None:
        """A framed body cut short by the connection closing is a ConsulConnectionError."""
        d, got, proto, transport = self.open()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        lose(proto, transport)
        f = self.failureResultOf(d, ConsulConnectionError)
        self.assertIn("broke off", str(f.value))
        self.assertEqual(got, [b"abc"])


class StreamRequestTests(StreamCase):
    """What a stream request writes is checked like any request."""

    def test_content_type_checked(self) -> None:
        """A Content-Type with a line break is a ValueError before anything is sent."""
        c = self.client()
        e = self.assertRaises(
            ValueError,
            c.http.stream,
            "PUT",
            "/v1/snapshot",
            [],
            lambda b: None,
            body=b"x",
            content_type=b"application/x\r\nX-Evil: 1",
        )
        self.assertIn("Content-Type", str(e))
        self.assertNotIn("Evil", str(e))
        self.assertEqual(self.endpoint.connections, [])


class StreamCancelTests(StreamCase):
    """Cancelling a stream at each stage closes its connection and leaves nothing scheduled."""

    def test_cancel_during_headers(self) -> None:
        """Cancel with half a header block in: CancelledError, connection aborted, timer gone."""
        d, got, proto, transport = self.open()
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nX-A: ")
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertTrue(transport.disconnecting)
        self.assertStreamClosed(proto, transport)

    def test_cancel_mid_body(self) -> None:
        """Cancel mid-body: CancelledError, nothing more reaches write, connection aborted."""
        d, got, proto, transport = self.open()
        proto.dataReceived(CHUNKED + b"3\r\nabc\r\n")
        d.cancel()
        self.failureResultOf(d, CancelledError)
        proto.dataReceived(b"3\r\ndef\r\n")
        self.assertEqual(got, [b"abc"])
        self.assertTrue(transport.disconnecting)
        self.assertStreamClosed(proto, transport)


class SecretTests(AgainCase):
    """The token stays out of messages even when the peer sends it back."""

    def test_reflected_token_not_in_message(self) -> None:
        """A proxy's error page echoing the request headers does not put the token in the message."""
        c = self.client()
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        echo = b"bad request:\n" + transport.value()
        proto.dataReceived(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(echo) + echo)
        f = self.failureResultOf(d, BadRequest)
        self.assertIn("GET /v1/kv/k: 400 bad request:", str(f.value))
        self.assertNoSecret(f)
        self.assertEqual(f.value.body, echo, ".body keeps the raw answer")

    def test_reflected_per_call_token_not_in_message(self) -> None:
        """A per-call token echoed back is kept out of the message too."""
        c = self.client()
        other = "per-call-token-5f1d"
        d = c.kv.put("k", "v", token=other)
        proto, transport = self.endpoint.connections[-1]
        echo = transport.value()
        proto.dataReceived(b"HTTP/1.1 403 Forbidden\r\nContent-Length: %d\r\n\r\n" % len(echo) + echo)
        f = self.failureResultOf(d, ConsulException)
        self.assertNotIn(other, str(f.value))
        self.assertNotIn(other, repr(f.value))

    def test_reflected_token_in_stream_error(self) -> None:
        """A stream's error answer echoing the token does not put it in the message."""
        c = self.client()
        d = c.http.stream("GET", "/v1/agent/monitor", [], lambda b: None, use_dc=False)
        proto, transport = self.endpoint.connections[-1]
        echo = transport.value()
        proto.dataReceived(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(echo) + echo)
        f = self.failureResultOf(d, BadRequest)
        self.assertNoSecret(f)

    def test_reflected_basic_auth_not_in_message(self) -> None:
        """Echoed basic-auth credentials (CONSUL_HTTP_AUTH) are kept out of the message too."""
        import base64

        c = Consul(
            endpoint=self.endpoint,
            reactor=self.clock,
            environ={"CONSUL_HTTP_AUTH": "ops:hunter2-long"},
            timeout=30,
        )
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        echo = transport.value()
        creds = base64.b64encode(b"ops:hunter2-long").decode()
        self.assertIn(creds.encode(), echo)
        proto.dataReceived(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n" % len(echo) + echo)
        f = self.failureResultOf(d, BadRequest)
        self.assertNotIn(creds, str(f.value))
        self.assertIn("Authorization: Basic <redacted>", str(f.value))


class MonitorLineTests(StreamCase):
    """``agent.monitor`` bounds the line it is putting together."""

    def test_endless_line(self) -> None:
        """A log line without end fails the monitor past 64 KiB (Go's bufio.Scanner limit), dropping the stream."""
        c = self.client()
        lines: list[str] = []
        mon = c.agent.monitor(lines.append)
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(CHUNKED + b"6\r\nfirst\n\r\n")
        sent = 0
        while not mon.done.called and sent < 1000:
            proto.dataReceived(b"1000\r\n" + b"l" * 4096 + b"\r\n")
            sent += 1
        f = self.failureResultOf(mon.done, ConsulProtocolError)
        self.assertIn("GET /v1/agent/monitor", str(f.value))
        self.assertIn("65536", str(f.value))
        self.assertEqual(sent, 17)
        self.assertEqual(lines, ["first"])
        self.assertTrue(transport.disconnecting)
        self.assertStreamClosed(proto, transport)

    def test_line_at_limit(self) -> None:
        """A 64 KiB line arriving in many pieces is one line."""
        c = self.client()
        lines: list[str] = []
        mon = c.agent.monitor(lines.append)
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(CHUNKED)
        for _ in range(16):
            proto.dataReceived(b"1000\r\n" + b"l" * 4096 + b"\r\n")
        proto.dataReceived(b"3\r\n\nx\n\r\n0\r\n\r\n")
        self.assertIsNone(self.successResultOf(mon.done))
        self.assertEqual(lines, ["l" * 65536, "x"])


class SnapshotBufferTests(StreamCase):
    """What a snapshot call keeps in memory is bounded by max_response_body."""

    def endless(self, d: Deferred, proto: Any) -> int:
        """Feed an endless chunked 200 body until ``d`` fires; return the KiB sent."""
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        sent = 0
        while not d.called and sent < 10000:
            proto.dataReceived(b"400\r\n" + b"s" * KiB + b"\r\n")
            sent += 1
        return sent

    def test_save_collected_is_bounded(self) -> None:
        """save() without out stops at max_response_body with ResponseTooLarge, dropping the stream."""
        c = self.client(max_response_body=64 * KiB)
        d = c.snapshot.save()
        proto, transport = self.endpoint.connections[-1]
        self.assertEqual(self.endless(d, proto), 65)
        f = self.failureResultOf(d, ResponseTooLarge)
        self.assertIn("GET /v1/snapshot", str(f.value))
        self.assertIn("out=", str(f.value))
        self.assertTrue(transport.disconnecting)
        self.assertNoSecret(f)

    def test_save_to_out_is_not_bounded(self) -> None:
        """save(out) hands on a body larger than max_response_body."""
        c = self.client(max_response_body=KiB)
        pieces: list[bytes] = []
        d = c.snapshot.save(pieces.append)
        proto, _ = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nX-Consul-Index: 9\r\nContent-Length: %d\r\n\r\n" % (8 * KiB))
        proto.dataReceived(b"s" * 8 * KiB)
        self.assertEqual(self.successResultOf(d).index, 9)
        self.assertEqual(len(b"".join(pieces)), 8 * KiB)

    def test_restore_answer_is_bounded(self) -> None:
        """An endless answer to restore fails it with ResponseTooLarge instead of filling memory."""
        c = self.client(max_response_body=64 * KiB)
        d = c.snapshot.restore(b"archive")
        proto, transport = self.endpoint.connections[-1]
        self.assertEqual(self.endless(d, proto), 65)
        f = self.failureResultOf(d, ResponseTooLarge)
        self.assertIn("PUT /v1/snapshot", str(f.value))
        self.assertTrue(transport.disconnecting)


class CloseTests(StreamCase):
    """Consul.close() leaves nothing open, streams included."""

    def test_close_ends_open_streams(self) -> None:
        """close() cancels a running monitor and snapshot, drops their connections, and fires once they are closed."""
        c = self.client()
        mon = c.agent.monitor(lambda line: None)
        mon_proto, mon_transport = self.endpoint.connections[-1]
        mon_proto.dataReceived(CHUNKED + b"3\r\nab\n\r\n")
        save = c.snapshot.save(lambda chunk: None)
        save_proto, save_transport = self.endpoint.connections[-1]
        closed = c.close()
        self.assertTrue(mon_transport.disconnecting)
        self.assertTrue(save_transport.disconnecting)
        self.failureResultOf(mon.done, CancelledError)
        self.failureResultOf(save, CancelledError)
        self.assertNoResult(closed)
        lose(mon_proto, mon_transport)
        self.assertNoResult(closed)
        lose(save_proto, save_transport)
        self.successResultOf(closed)
        self.clock.advance(0)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_close_after_stream_ended(self) -> None:
        """A stream that already ended is not waited for."""
        c = self.client()
        d = c.http.stream("GET", "/v1/agent/monitor", [], lambda b: None, use_dc=False)
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(CHUNKED + b"0\r\n\r\n")
        self.successResultOf(d)
        self.clock.advance(0)
        lose(proto, transport)
        self.successResultOf(c.close())

    def test_close_after_endpoint_raised(self) -> None:
        """A stream whose endpoint raised fails with ConsulConnectionError, and close() does not wait for it."""

        class Raising:
            def connect(self, factory: Any) -> Deferred:
                raise OSError("no route")

        c = Consul(endpoint=Raising(), reactor=self.clock, environ={}, token=SECRET, timeout=30)
        d = c.http.stream("GET", "/v1/agent/monitor", [], lambda b: None, use_dc=False)
        f = self.failureResultOf(d, ConsulConnectionError)
        self.assertIn("no route", str(f.value))
        self.successResultOf(c.close())
        self.assertEqual(self.clock.getDelayedCalls(), [])


class SmallChunkTests(AgainCase):
    """A body in tiny chunks costs about its size in memory, not 30 times it."""

    def test_tiny_chunks_memory(self) -> None:
        """256 KiB of body in 2-byte chunks peaks under 1 MiB of allocations while parsing, and arrives whole."""
        import tracemalloc

        from txconsul._wire import ResponseParser

        p = ResponseParser()
        p.reset()
        p.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        wire = b"2\r\nxy\r\n" * 8192
        tracemalloc.start()
        self.addCleanup(tracemalloc.stop)
        for _ in range(16):
            p.feed(wire)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        self.assertLess(peak, 1024 * KiB)
        r = p.feed(b"0\r\n\r\n")
        assert r is not None
        self.assertEqual(r.body, b"xy" * 8192 * 16)
