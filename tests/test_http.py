"""
Tests for the transport (txconsul._http) and the error hierarchy.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, fail
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.iweb import IAgent
from zope.interface import implementer

from txconsul import (
    ACLDisabled,
    ACLPermissionDenied,
    BadRequest,
    ClientError,
    Consul,
    ConsulConnectionError,
    ConsulException,
    NotFound,
    Timeout,
)
from txconsul._errors import error_for_status
from txconsul._http import encode_params, quote_key
from txconsul.testing import FakeConsul

SECRET = "s3cr3t-token-value"


@implementer(IAgent)
class RecordingAgent:
    """An IAgent that records requests and hands back a Deferred per request."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, bytes, Any, Any, Deferred]] = []

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Deferred:
        d: Deferred = Deferred()
        self.requests.append((method, uri, headers, bodyProducer, d))
        return d


@implementer(IAgent)
class RefusingAgent:
    """An IAgent whose every connection is refused."""

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Deferred:
        return fail(ConnectionRefusedError("Connection refused"))


class RequestShapeTests(SynchronousTestCase):
    """What the transport puts on the wire."""

    def setUp(self) -> None:
        self.agent = RecordingAgent()
        self.clock = Clock()
        self.consul = Consul(token=SECRET, dc="dc9", reactor=self.clock, http_agent=self.agent, environ={})

    def last(self) -> tuple[bytes, bytes, Any]:
        method, uri, headers, _, _ = self.agent.requests[-1]
        return method, uri, headers

    def test_token_in_header_only(self) -> None:
        """The token travels as X-Consul-Token and never in the URL."""
        self.consul.kv.get("foo")
        method, uri, headers = self.last()
        self.assertEqual(method, b"GET")
        self.assertNotIn(SECRET.encode(), uri)
        self.assertEqual(headers.getRawHeaders(b"x-consul-token"), [SECRET.encode()])

    def test_per_call_token(self) -> None:
        """A per-call token= overrides the client's default."""
        self.consul.kv.get("foo", token="other")
        self.assertEqual(self.last()[2].getRawHeaders(b"x-consul-token"), [b"other"])

    def test_dc_and_consistency(self) -> None:
        """dc and consistency become query parameters; per-call values win."""
        self.consul.kv.get("foo", consistency="stale")
        self.assertEqual(self.last()[1], b"http://127.0.0.1:8500/v1/kv/foo?dc=dc9&stale")
        self.consul.kv.get("foo", dc="dc2", consistency="consistent")
        self.assertEqual(self.last()[1], b"http://127.0.0.1:8500/v1/kv/foo?dc=dc2&consistent")

    def test_client_consistency_default(self) -> None:
        """The client's consistency applies to reads unless overridden."""
        c = Consul(consistency="stale", reactor=self.clock, http_agent=self.agent, environ={})
        c.kv.get("foo")
        self.assertEqual(self.last()[1], b"http://127.0.0.1:8500/v1/kv/foo?stale")

    def test_blocking_params(self) -> None:
        """index and wait are sent, wait in milliseconds as the Go client does."""
        self.consul.kv.get("foo", index=42, wait="5m")
        self.assertEqual(self.last()[1], b"http://127.0.0.1:8500/v1/kv/foo?dc=dc9&index=42&wait=300000ms")

    def test_index_zero_does_not_block(self) -> None:
        """index=0 sends no index parameter."""
        self.consul.kv.get("foo", index=0)
        self.assertNotIn(b"index", self.last()[1])

    def test_key_escaping(self) -> None:
        """Keys are percent-escaped per segment."""
        self.consul.kv.get("a b/c?d#e%f")
        self.assertEqual(self.last()[1], b"http://127.0.0.1:8500/v1/kv/a%20b/c%3Fd%23e%25f?dc=dc9")

    def test_put_body(self) -> None:
        """A put sends the raw value as an octet-stream body."""
        self.consul.kv.put("k", "välue")
        method, _, headers = self.last()
        producer = self.agent.requests[-1][3]
        self.assertEqual(method, b"PUT")
        self.assertEqual(producer._body, "välue".encode())
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"application/octet-stream"])

    def test_invalid_consistency(self) -> None:
        """An unknown consistency at construction is a ValueError."""
        self.assertRaises(ValueError, Consul, consistency="weird", environ={})

    def test_repr_hides_token(self) -> None:
        """Neither the client's nor the transport's repr shows the token."""
        self.assertNotIn(SECRET, repr(self.consul))
        self.assertNotIn(SECRET, repr(self.consul.http))
        self.assertNotIn(SECRET, repr(self.consul.config))

    def test_default_timeout(self) -> None:
        """A non-blocking call fails with Timeout after the client's timeout."""
        c = Consul(reactor=self.clock, http_agent=self.agent, timeout=3, environ={})
        d = c.kv.get("foo")
        self.clock.advance(2.9)
        self.assertNoResult(d)
        self.clock.advance(0.2)
        f = self.failureResultOf(d, Timeout)
        self.assertIn("GET /v1/kv/foo", str(f.value))
        self.assertIn("3s", str(f.value))
        self.assertTrue(self.agent.requests[-1][4].called, "request was not cancelled")


class ConnectionErrorTests(SynchronousTestCase):
    """Connection-level failures."""

    def test_refused_names_address(self) -> None:
        """A refused connection is a ConsulConnectionError naming host:port."""
        c = Consul("10.9.8.7", 8501, token=SECRET, reactor=Clock(), http_agent=RefusingAgent(), environ={})
        f = self.failureResultOf(c.kv.get("foo"), ConsulConnectionError)
        self.assertIn("10.9.8.7:8501", str(f.value))
        self.assertIn("GET /v1/kv/foo", str(f.value))
        self.assertNotIn(SECRET, str(f.value))


class ErrorMappingTests(SynchronousTestCase):
    """HTTP statuses map onto the exception hierarchy."""

    def test_mapping(self) -> None:
        """Each status gets its documented class, all ConsulExceptions."""
        cases = {
            400: BadRequest,
            401: ACLDisabled,
            403: ACLPermissionDenied,
            404: NotFound,
            405: ClientError,
            409: ClientError,
            413: ClientError,
            429: ClientError,
            500: ConsulException,
        }
        for status, cls in cases.items():
            exc = error_for_status(status, "GET", "/v1/x", b"boom")
            self.assertIs(type(exc), cls)
            self.assertIsInstance(exc, ConsulException)
            self.assertEqual(exc.status, status)
            self.assertEqual(str(exc), f"GET /v1/x: {status} boom")

    def test_acl_disabled_from_fake(self) -> None:
        """FakeConsul's ACL endpoints answer 401 when ACLs are off: ACLDisabled."""
        fake = FakeConsul(Clock())
        c = fake.client()
        f = self.failureResultOf(c.http.request("GET", "/v1/acl/tokens"), ACLDisabled)
        self.assertIn("ACL support disabled", str(f.value))

    def test_missing_index_header(self) -> None:
        """A blocking endpoint answering without X-Consul-Index is an error."""
        fake = FakeConsul(Clock())
        c = fake.client()
        d = c.http.request("GET", "/v1/status/leader", require_index=True)
        f = self.failureResultOf(d, ConsulException)
        self.assertIn("X-Consul-Index", str(f.value))


class EncodingTests(SynchronousTestCase):
    """Query and path encoding helpers."""

    def test_flags_and_values(self) -> None:
        """None values are bare flags; values are escaped."""
        self.assertEqual(encode_params([("recurse", None), ("a", "b c&d")]), b"recurse&a=b%20c%26d")

    def test_quote_key_keeps_slashes(self) -> None:
        """quote_key escapes everything but '/' and unreserved characters."""
        self.assertEqual(quote_key("a/b c/ü"), "a/b%20c/%C3%BC")


class SafetyTests(SynchronousTestCase):
    """Inputs that could corrupt the request."""

    def test_token_with_line_break(self) -> None:
        """A token containing CR/LF is refused before sending, without echoing it."""
        agent = RecordingAgent()
        c = Consul(reactor=Clock(), http_agent=agent, environ={})
        e = self.assertRaises(ValueError, c.kv.get, "k", token="abc\r\nX-Evil: 1")
        self.assertNotIn("Evil", str(e))
        self.assertEqual(agent.requests, [])

    def test_path_prefix_once(self) -> None:
        """A reverse-proxy path prefix appears exactly once in the request URL."""
        agent = RecordingAgent()
        c = Consul(
            reactor=Clock(),
            http_agent=agent,
            environ={"CONSUL_HTTP_ADDR": "http://proxy.example:8080/consul"},
        )
        c.kv.get("k")
        self.assertEqual(agent.requests[-1][1], b"http://proxy.example:8080/consul/v1/kv/k")

    def test_default_token_with_line_break(self) -> None:
        """A default token containing CR/LF is refused when the client is built."""
        e = self.assertRaises(
            ValueError,
            Consul,
            token="abc\nX-Evil: 1",
            reactor=Clock(),
            http_agent=RecordingAgent(),
            environ={},
        )
        self.assertNotIn("Evil", str(e))


class WireShapeTests(SynchronousTestCase):
    """The exact bytes the production path writes."""

    def sent(self, call: Any, **kw: Any) -> bytes:
        from twisted.internet.defer import succeed
        from twisted.internet.testing import StringTransport

        transports: list[StringTransport] = []

        class Endpoint:
            def connect(self, factory: Any) -> Deferred:
                proto = factory.buildProtocol(None)
                t = StringTransport()
                proto.makeConnection(t)
                transports.append(t)
                return succeed(proto)

        kw.setdefault("environ", {})
        c = Consul(reactor=Clock(), endpoint=Endpoint(), **kw)
        call(c)
        return transports[-1].value()

    def test_put_bytes(self) -> None:
        """A put: request line with dc, Host, User-Agent, token, type and length, then the body."""
        data = self.sent(lambda c: c.kv.put("a b", "v"), token=SECRET, dc="dc9")
        self.assertEqual(
            data,
            b"PUT /v1/kv/a%20b?dc=dc9 HTTP/1.1\r\nHost: 127.0.0.1:8500\r\nUser-Agent: txconsul\r\n"
            b"X-Consul-Token: " + SECRET.encode() + b"\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Length: 1\r\n\r\nv",
        )

    def test_basic_auth_and_prefix(self) -> None:
        """CONSUL_HTTP_AUTH becomes an Authorization header; a path prefix comes first."""
        data = self.sent(
            lambda c: c.kv.get("k"),
            environ={"CONSUL_HTTP_ADDR": "http://proxy.example:8080/consul", "CONSUL_HTTP_AUTH": "u:p"},
        )
        self.assertTrue(data.startswith(b"GET /consul/v1/kv/k HTTP/1.1\r\nHost: proxy.example:8080\r\n"))
        self.assertIn(b"\r\nAuthorization: Basic dTpw\r\n", data)
        self.assertNotIn(b"Content-Length", data)

    def test_unix_socket_host(self) -> None:
        """Over a unix socket the Host header is 'localhost', as the Go client sends."""
        data = self.sent(lambda c: c.kv.get("k"), environ={"CONSUL_HTTP_ADDR": "unix:///run/consul.sock"})
        self.assertIn(b"\r\nHost: localhost\r\n", data)
