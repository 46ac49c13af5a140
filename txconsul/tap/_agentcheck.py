# -*- test-case-name: tests.test_cli_manners -*-
"""
The start-up check of ``twistd consul-watch``: does the agent answer, and
does it accept the token?

``consul watch`` asks the agent for its node name (``GET /v1/agent/self``)
before it watches anything, and exits 1 with "Error querying Consul agent:
..." when that fails (hashicorp/consul command/watch/watch.go,
``client.Agent().NodeName()``).  This module does the same and, when the
answer shows that the client and the agent disagree about TLS, says so.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet import defer, task
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IHandshakeListener, IReactorTime
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.internet.ssl import CertificateOptions
from twisted.python.failure import Failure
from zope.interface import implementer

from txconsul._errors import ACLPermissionDenied, ConsulException

#: Seconds the agent gets to answer the start-up check.
CHECK_TIMEOUT = 10.0

#: Seconds a TLS or plain-HTTP probe (diagnosis after a failure) may take.
PROBE_TIMEOUT = 3.0

#: Seconds after which an https check that has had no answer probes for a
#: plain HTTP agent (a TLS client talking to one often gets no answer at all:
#: the server waits for the end of a request line that never comes).
EARLY_PROBE_AFTER = 1.0

_PLAIN_HINT = (
    "the agent at {host}:{port} speaks plain HTTP, not HTTPS: use an http:// "
    "address (and unset CONSUL_HTTP_SSL)"
)
_TLS_HINT = "the agent at {host}:{port} expects HTTPS: use an https:// address (or CONSUL_HTTP_SSL=true)"

#: What Go's net/http server answers to plain HTTP on a TLS port (Consul's
#: HTTPS listener): crypto/tls RecordHeaderError handling in net/http/server.go.
_PLAIN_TO_TLS_BODY = b"Client sent an HTTP request to an HTTPS server"


class AgentCheckFailed(Exception):
    """The agent could not be queried; the message is for the user."""


def describe(error: BaseException) -> str:
    """A one-line description of ``error`` (its message, or its type)."""
    text = " ".join(str(error).split())
    return text or type(error).__name__


class _FirstBytes(Protocol):
    """Send a request line, keep what comes back (at most 64 bytes)."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.received = b""
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= 5 and not self.done.called:
            self.done.callback(self.received[:64])
            assert self.transport is not None
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.done.called:
            self.done.callback(self.received[:64])


@implementer(IHandshakeListener)
class _Handshake(Protocol):
    """Fires :attr:`done` with True once a TLS handshake completes."""

    def __init__(self) -> None:
        self.done: defer.Deferred[bool] = defer.Deferred()

    def handshakeCompleted(self) -> None:
        if not self.done.called:
            self.done.callback(True)
        assert self.transport is not None
        self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.done.called:
            self.done.callback(False)


def _later(reactor: Any, seconds: float, f: Any) -> defer.Deferred:
    """``f()`` (a Deferred) after ``seconds``; cancelling stops the wait or ``f``'s work."""
    return task.deferLater(reactor, seconds, f)


def _bounded(d: defer.Deferred, reactor: IReactorTime, seconds: float) -> defer.Deferred:
    """``d`` failing after ``seconds``; any failure becomes None."""
    d.addTimeout(seconds, reactor)
    return d.addErrback(lambda _: None)


@defer.inlineCallbacks
def speaks_plain_http(reactor: Any, host: str, port: int) -> Any:
    """Whether ``host:port`` answers a plain HTTP request with an HTTP status line."""
    proto = _FirstBytes(b"GET /v1/status/leader HTTP/1.0\r\nHost: consul\r\n\r\n")
    endpoint = HostnameEndpoint(reactor, host, port, timeout=PROBE_TIMEOUT)
    connected = yield _bounded(endpoint.connect(Factory.forProtocol(lambda: proto)), reactor, PROBE_TIMEOUT)
    if connected is None:
        return False
    first = yield _bounded(proto.done, reactor, PROBE_TIMEOUT)
    if first is None:
        connected.transport.abortConnection()
        return False
    return first.startswith(b"HTTP/")


@defer.inlineCallbacks
def speaks_tls(reactor: Any, host: str, port: int) -> Any:
    """Whether ``host:port`` completes a TLS handshake (its certificate is not checked)."""
    proto = _Handshake()
    endpoint = wrapClientTLS(
        CertificateOptions(), HostnameEndpoint(reactor, host, port, timeout=PROBE_TIMEOUT)
    )
    connected = yield _bounded(endpoint.connect(Factory.forProtocol(lambda: proto)), reactor, PROBE_TIMEOUT)
    if connected is None:
        return False
    ok = yield _bounded(proto.done, reactor, PROBE_TIMEOUT)
    if ok is None:
        connected.transport.abortConnection()
        return False
    return ok


def _tcp_address(consul: Any) -> Optional[tuple[str, str, int]]:
    """The client's ``(scheme, host, port)``, or None for a unix socket."""
    config = getattr(consul, "config", None)
    host = getattr(config, "host", None)
    port = getattr(config, "port", None)
    scheme = getattr(config, "scheme", None)
    if getattr(config, "unix_path", None) is not None or not host or not port or not scheme:
        return None
    return scheme, host, port


@defer.inlineCallbacks
def tls_mismatch_hint(consul: Any, reactor: Any, error: BaseException) -> Any:
    """
    When ``error`` may come from speaking TLS to a plain HTTP agent or plain
    HTTP to a TLS agent, probe the agent's port and return a sentence saying
    which it is; otherwise None.
    """
    address = _tcp_address(consul)
    if address is None:
        return None
    scheme, host, port = address
    if isinstance(error, ConsulException) and error.status is not None:
        # An HTTP answer: only Go's answer to plain HTTP on its TLS port counts.
        if scheme == "http" and _PLAIN_TO_TLS_BODY in (error.body or b""):
            return _TLS_HINT.format(host=host, port=port)
        return None
    if scheme == "https":
        if (yield speaks_plain_http(reactor, host, port)):
            return _PLAIN_HINT.format(host=host, port=port)
    elif scheme == "http":
        if (yield speaks_tls(reactor, host, port)):
            return _TLS_HINT.format(host=host, port=port)
    return None


@defer.inlineCallbacks
def check_agent(
    consul: Any, reactor: Any, *, token_required: bool = True, timeout: float = CHECK_TIMEOUT
) -> Any:
    """
    Ask the agent for ``/v1/agent/self`` with the client's default token, as
    ``consul watch`` does before watching.

    :param token_required: when False (``--config``, whose watches carry
        their own tokens), any HTTP answer shows that the agent is there;
        when True, a refusal (403) fails the check too.
    :raises AgentCheckFailed: with a message for the user:
        ``Error querying Consul agent: ...``.
    """
    d = consul.agent.self()
    d.addTimeout(timeout, reactor)
    address = _tcp_address(consul)
    plain: list[str] = []
    early = None
    if address is not None and address[0] == "https":
        _, host, port = address

        def probe() -> defer.Deferred:
            return speaks_plain_http(reactor, host, port)

        def found(is_plain: bool) -> None:
            if is_plain and not d.called:
                plain.append(_PLAIN_HINT.format(host=host, port=port))
                d.cancel()

        early = _later(reactor, EARLY_PROBE_AFTER, probe)
        early.addCallback(found)
        early.addErrback(lambda _: None)
    try:
        yield d
    except (defer.TimeoutError, defer.CancelledError) as e:
        if plain:
            raise AgentCheckFailed(f"Error querying Consul agent: {plain[0]}") from None
        if not isinstance(e, defer.TimeoutError):
            raise  # the check itself was cancelled (the service stopped)
        error: Optional[BaseException] = AgentCheckFailed(f"no answer from the agent within {timeout:g}s")
    except ConsulException as e:
        if not token_required and e.status is not None:
            return None
        error = e
    else:
        return None
    finally:
        if early is not None and not early.called:
            early.cancel()
    assert error is not None
    message = describe(error)
    if isinstance(error, ACLPermissionDenied):
        message += " (the token may not read the agent: consul watch needs agent:read)"
    hint = yield tls_mismatch_hint(consul, reactor, error)
    if hint:
        message += f"; {hint}"
    raise AgentCheckFailed(f"Error querying Consul agent: {message}")
