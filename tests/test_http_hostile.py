"""
Regression tests against a scripted hostile agent (or proxy): each answer the
transport once accepted, buffered without bound or misreported, now refused
with a clear ConsulException subclass, before anything else is read.

The "server" is a script: the test writes the answer's bytes into the
client's connection, as a hostile peer would send them.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import ConnectionDone, DNSLookupError
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from txconsul import Consul, ConsulConnectionError, ConsulException, Timeout
from txconsul._errors import (
    ConsulProtocolError,
    HeadersTooLarge,
    ResponseTooLarge,
    TLSMismatch,
    TooManyInterimResponses,
    UndecodableResponse,
)

SECRET = "0f3c4a6e-secret-token"
MiB = 1024 * 1024


class ScriptedEndpoint:
    """
    An endpoint whose connections end in :class:`StringTransport`s: the test
    reads what the client wrote and scripts the answer.
    """

    def __init__(self) -> None:
        self.connections: list[tuple[Any, StringTransport]] = []
        self.pending: list[Deferred] = []
        self.defer = False
        self.cancel_error: Any = None

    def connect(self, factory: Any) -> Deferred:
        if self.defer:

            def cancel(d: Deferred) -> None:
                # HostnameEndpoint reports a lookup cancelled this way.
                if self.cancel_error is not None:
                    d.errback(self.cancel_error)

            d: Deferred = Deferred(cancel)
            self.pending.append(d)
            return d
        return self._connected(factory)

    def _connected(self, factory: Any) -> Deferred:
        d: Deferred = Deferred()
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        self.connections.append((proto, transport))
        d.callback(proto)
        return d

    def finish_connect(self, factory: Any, index: int = 0) -> None:
        """Complete the ``index``-th deferred connection attempt."""
        proto = factory.buildProtocol(None)
        transport = StringTransport()
        proto.makeConnection(transport)
        self.connections.append((proto, transport))
        self.pending[index].callback(proto)


class HostileCase(SynchronousTestCase):
    """A client wired to a scripted endpoint."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = ScriptedEndpoint()

    def client(self, **kw: Any) -> Consul:
        kw.setdefault("timeout", 30)
        return Consul(endpoint=self.endpoint, reactor=self.clock, environ={}, token=SECRET, **kw)

    def answer(self, raw: bytes, **kw: Any) -> tuple[Deferred, StringTransport]:
        """Issue kv.get and feed ``raw`` as the whole answer."""
        c = self.client(**kw)
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(raw)
        return d, transport

    def assertRefused(self, raw: bytes, cls: type = ConsulProtocolError, **kw: Any) -> Any:
        """``raw`` fails the call with ``cls`` and the connection is aborted."""
        d, transport = self.answer(raw, **kw)
        f = self.failureResultOf(d, cls)
        self.assertTrue(transport.disconnecting, "connection not dropped")
        self.assertIn("GET /v1/kv/k", str(f.value))
        self.assertNotIn(SECRET, str(f.value))
        return f.value


class BodyLimitTests(HostileCase):
    """No response body is buffered beyond max_response_body."""

    def test_huge_content_length_refused_at_headers(self) -> None:
        """A 1 GB Content-Length fails at once, before any body byte is read."""
        e = self.assertRefused(b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n", ResponseTooLarge)
        self.assertIn("1073741824", str(e))

    def test_endless_chunked_body(self) -> None:
        """A chunked body is counted as it streams and cut at the limit."""
        c = self.client(max_response_body=4 * MiB)
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n" % MiB + b"x" * MiB + b"\r\n"
        sent = 0
        while not d.called and sent < 100:
            proto.dataReceived(chunk)
            sent += 1
        self.failureResultOf(d, ResponseTooLarge)
        self.assertEqual(sent, 5, "the limit was not enforced while streaming")
        self.assertTrue(transport.disconnecting)

    def test_endless_read_until_close_body(self) -> None:
        """A body delimited by the connection's end is counted and cut at the limit."""
        c = self.client(max_response_body=2 * MiB)
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\n\r\n")
        sent = 0
        while not d.called and sent < 100:
            proto.dataReceived(b"y" * MiB)
            sent += 1
        self.failureResultOf(d, ResponseTooLarge)
        self.assertEqual(sent, 3)
        self.assertTrue(transport.disconnecting)

    def test_body_at_limit_accepted(self) -> None:
        """A body exactly at the limit is an answer."""
        d, _ = self.answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope", max_response_body=4)
        self.assertEqual(self.successResultOf(d)[1], None)


class FramingTests(HostileCase):
    """Framing that h11 and twisted.web refuse is refused here too."""

    def test_transfer_encoding_containing_chunked(self) -> None:
        """A Transfer-Encoding that merely contains 'chunked' is refused."""
        self.assertRefused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunkedx\r\n\r\n2\r\nab\r\n0\r\n\r\n")

    def test_transfer_encoding_gzip_with_length(self) -> None:
        """gzip coding plus a Content-Length is refused."""
        self.assertRefused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nab")

    def test_chunked_with_length(self) -> None:
        """chunked plus a Content-Length is refused (a smuggling classic)."""
        self.assertRefused(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n0\r\n\r\n"
        )

    def test_stacked_codings(self) -> None:
        """'gzip, chunked' and 'chunked, chunked' are refused: Consul sends neither."""
        self.assertRefused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        self.assertRefused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n")

    def test_space_before_colon(self) -> None:
        """'Content-Length : 2' is refused."""
        self.assertRefused(b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nab")

    def test_bare_lf(self) -> None:
        """A bare LF cannot hide framing headers after it."""
        self.assertRefused(b"HTTP/1.1 200 OK\r\nX-A: 1\nContent-Length: 2\r\n\r\nab")
        self.assertRefused(b"HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nab")

    def test_bad_status_lines(self) -> None:
        """HTTP/1.1X200, a negative code, HTTP/2.0 and RTSP status lines are refused."""
        for line in (
            b"HTTP/1.1X200 OK",
            b"HTTP/1.1 -20 OK",
            b"HTTP/2.0 200 OK",
            b"RTSP/1.0 200 OK",
            b"HTTP/1.1 099 Low",
            b"HTTP/1.1 2000 OK",
        ):
            self.assertRefused(line + b"\r\nContent-Length: 0\r\n\r\n")

    def test_control_bytes_in_headers(self) -> None:
        """Control bytes in a header name or value are refused."""
        self.assertRefused(b"HTTP/1.1 200 OK\r\nX-A: a\x01b\r\nContent-Length: 0\r\n\r\n")
        self.assertRefused(b"HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n")
        self.assertRefused(b"HTTP/1.1 200 OK\r\nX\x00A: ab\r\nContent-Length: 0\r\n\r\n")

    def test_switching_protocols(self) -> None:
        """A 101 answer is refused: nothing here asked for an upgrade."""
        self.assertRefused(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")

    def test_garbage_after_answer_not_reused(self) -> None:
        """Bytes after a whole answer make the connection unfit for reuse."""
        c = self.client()
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n")
        self.successResultOf(d)
        self.assertTrue(transport.disconnecting)
        c.kv.get("k")
        self.assertEqual(len(self.endpoint.connections), 2)


class HeaderLimitTests(HostileCase):
    """Header blocks, trailers and interim answers are bounded."""

    def test_header_limit_is_exact(self) -> None:
        """A head of max_header_bytes is accepted; one byte more is refused."""
        head = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX-Pad: "
        limit = 1024
        pad = limit - len(head) - 4
        d, _ = self.answer(head + b"p" * pad + b"\r\n\r\n", max_header_bytes=limit)
        self.successResultOf(d)
        self.assertRefused(head + b"p" * (pad + 1) + b"\r\n\r\n", HeadersTooLarge, max_header_bytes=limit)

    def test_default_header_limit_not_doubled(self) -> None:
        """64 KiB + 1 of header block is refused even when it arrives in one read."""
        head = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"p" * (64 * 1024) + b"\r\n\r\n"
        self.assertRefused(head, HeadersTooLarge)

    def test_trailers_bounded(self) -> None:
        """Endless trailers are refused once over max_trailer_bytes."""
        c = self.client(max_trailer_bytes=1024)
        d = c.kv.get("k")
        proto, transport = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n")
        sent = 0
        while not d.called and sent < 100:
            proto.dataReceived(b"X-T: " + b"t" * 200 + b"\r\n")
            sent += 1
        self.failureResultOf(d, HeadersTooLarge)
        self.assertLess(sent, 10)
        self.assertTrue(transport.disconnecting)

    def test_small_trailers_accepted(self) -> None:
        """A few trailers are read and dropped."""
        d, _ = self.answer(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-T: 1\r\n\r\n")
        self.assertEqual(self.successResultOf(d)[1], None)

    def test_interim_answers_bounded(self) -> None:
        """More than max_interim_responses 1xx answers are refused."""
        interim = b"HTTP/1.1 102 Processing\r\n\r\n"
        final = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        d, _ = self.answer(interim * 5 + final)
        self.successResultOf(d)
        self.assertRefused(interim * 6 + final, TooManyInterimResponses)


class TokenTests(HostileCase):
    """The token can never break the header block."""

    def test_assigned_token_validated(self) -> None:
        """Assigning a token with a trailing newline raises, without echoing it."""
        c = self.client()
        e = self.assertRaises(ValueError, setattr, c, "token", "rotated-token\n")
        self.assertNotIn("rotated", str(e))
        self.assertEqual(c.token, SECRET)
        e = self.assertRaises(ValueError, setattr, c.http, "token", "a\r\nX-Evil: 1")
        self.assertNotIn("Evil", str(e))

    def test_assigned_token_sent(self) -> None:
        """A valid rotated token is what the next request carries."""
        c = self.client()
        c.token = "new-token-2"
        c.kv.get("k")
        sent = self.endpoint.connections[-1][1].value()
        self.assertIn(b"\r\nX-Consul-Token: new-token-2\r\n", sent)
        self.assertNotIn(SECRET.encode(), sent)
        c.token = ""
        c.kv.put("k", "v")
        self.assertNotIn(b"X-Consul-Token", self.endpoint.connections[-1][1].value().split(b"GET")[0])

    def test_per_call_token_checked_per_call(self) -> None:
        """A per-call token with a control byte is refused before anything is sent."""
        c = self.client()
        self.assertRaises(ValueError, c.kv.get, "k", token="abc\x00")
        self.assertRaises(ValueError, c.kv.get, "k", token=" abc")
        self.assertEqual(self.endpoint.connections, [])

    def test_token_type(self) -> None:
        """A token that is not a str is a TypeError."""
        c = self.client()
        self.assertRaises(TypeError, setattr, c, "token", b"bytes-token")


class ConnectErrorTests(HostileCase):
    """Cancelling or timing out while the connection is being made."""

    def test_cancel_while_connecting(self) -> None:
        """Cancelling during connect is CancelledError, whatever the endpoint reports."""
        self.endpoint.defer = True
        self.endpoint.cancel_error = DNSLookupError("Couldn't find the hostname")
        d = self.client().kv.get("k")
        d.cancel()
        self.failureResultOf(d, CancelledError)

    def test_timeout_while_connecting(self) -> None:
        """Timing out during connect is Timeout, not a connection error."""
        self.endpoint.defer = True
        self.endpoint.cancel_error = DNSLookupError("Couldn't find the hostname")
        d = self.client(timeout=3).kv.get("k")
        self.clock.advance(3)
        f = self.failureResultOf(d, Timeout)
        self.assertIn("within 3s", str(f.value))

    def test_refused_while_connecting(self) -> None:
        """A real connect failure is still a ConsulConnectionError."""
        self.endpoint.defer = True
        d = self.client().kv.get("k")
        self.endpoint.pending[0].errback(DNSLookupError("no such host"))
        f = self.failureResultOf(d, ConsulConnectionError)
        self.assertIn("DNSLookupError", str(f.value))


class DecodeErrorTests(HostileCase):
    """A body that is not JSON is a ConsulException naming method and path."""

    def test_not_json(self) -> None:
        """A 200 answer with an HTML body is UndecodableResponse."""
        d, _ = self.answer(b"HTTP/1.1 200 OK\r\nX-Consul-Index: 3\r\nContent-Length: 6\r\n\r\n<html>")
        f = self.failureResultOf(d, UndecodableResponse)
        self.assertIn("GET /v1/kv/k", str(f.value))
        self.assertEqual(f.value.body, b"<html>")

    def test_deep_nesting(self) -> None:
        """JSON nested beyond Python's recursion limit is UndecodableResponse, not RecursionError."""
        body = b"[" * 200000 + b"]" * 200000
        d, _ = self.answer(
            b"HTTP/1.1 200 OK\r\nX-Consul-Index: 3\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        f = self.failureResultOf(d, UndecodableResponse)
        self.assertIn("nests too deeply", str(f.value))

    def test_not_utf8(self) -> None:
        """A body that is not UTF-8 is UndecodableResponse."""
        d, _ = self.answer(b'HTTP/1.1 200 OK\r\nX-Consul-Index: 3\r\nContent-Length: 4\r\n\r\n"\xff\xfe"')
        self.failureResultOf(d, UndecodableResponse)

    def test_is_consul_exception(self) -> None:
        """UndecodableResponse is a ConsulException."""
        self.assertTrue(issubclass(UndecodableResponse, ConsulException))


class TLSMismatchTests(HostileCase):
    """https against plain HTTP, and plain HTTP against https, say so in one line."""

    def test_plain_request_to_go_tls_port(self) -> None:
        """Go's answer to plain HTTP on a TLS port becomes TLSMismatch naming 'https'."""
        d, _ = self.answer(
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
        )
        # the body ends with the connection
        self.endpoint.connections[-1][0].connectionLost(Failure(ConnectionDone()))
        f = self.failureResultOf(d, TLSMismatch)
        self.assertIn("use scheme 'https'", str(f.value))
        self.assertNotIn("\n", str(f.value))

    def test_tls_record_answer(self) -> None:
        """A TLS alert or handshake record instead of HTTP becomes TLSMismatch."""
        d, _ = self.answer(b"\x15\x03\x01\x00\x02\x02\x46")
        self.failureResultOf(d, TLSMismatch)
        d, _ = self.answer(b"\x16\x03\x03\x00\x40")
        f = self.failureResultOf(d, TLSMismatch)
        self.assertIn("use scheme 'https'", str(f.value))

    def test_plain_answer_to_tls_error(self) -> None:
        """OpenSSL's 'wrong version number' becomes TLSMismatch naming 'http'."""
        c = self.client()
        d = c.kv.get("k")
        proto, _ = self.endpoint.connections[-1]
        from OpenSSL import SSL

        err = SSL.Error([("SSL routines", "", "wrong version number")])
        proto.connectionLost(Failure(err))
        f = self.failureResultOf(d, TLSMismatch)
        self.assertIn("use scheme 'http'", str(f.value))


class ConnectionCapTests(HostileCase):
    """500 concurrent blocking reads no longer open 500 connections."""

    def test_500_blocking_reads(self) -> None:
        """With the defaults, blocking reads hold at most 80 connections; 20 stay for short calls."""
        c = self.client()
        polls = [c.kv.get("k", index=5, wait="5m") for _ in range(500)]
        self.assertEqual(len(self.endpoint.connections), 80)
        self.assertEqual(c.http.pool.queued, 420)
        short = c.kv.put("k", "v")
        self.assertEqual(len(self.endpoint.connections), 81)
        proto, _ = self.endpoint.connections[-1]
        proto.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ntrue")
        self.assertTrue(self.successResultOf(short))
        for d in polls:
            self.assertNoResult(d)
        for d in polls:
            d.cancel()
            self.failureResultOf(d, CancelledError)
        self.assertEqual(c.http.pool.queued, 0)
        self.assertEqual(c.http.pool.active, 0)
