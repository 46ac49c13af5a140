# -*- test-case-name: tests.test_http,tests.test_http_hostile,tests.test_http_hostile_again,tests.test_http_memory -*-
"""
The transport: the only module that talks HTTP.

One method in (:meth:`HTTPTransport.request`), one small value out
(:class:`ConsulResponse`), and one path for every request, in tests and in
production: :mod:`txconsul._wire` builds the request bytes (the ACL token only
in the ``X-Consul-Token`` header, validated) and parses the answer within its
limits; the pool of :mod:`txconsul._http11` carries them, capped and queued.
This module adds ``dc``, consistency and blocking parameters, applies
client-side timeouts on the injected clock, maps failures to
:mod:`txconsul._errors` (naming method, path and agent, never the token), and
lets ``Deferred.cancel()`` abort the request at any stage.

An injected twisted.web ``IAgent`` (``http_agent=``) is a small adapter
beside that path, for callers who bring their own agent.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Optional, Sequence, Union
from urllib.parse import quote, urlsplit

import attr
from twisted.internet.defer import CancelledError, Deferred, DeferredList, TimeoutError, succeed
from twisted.internet.interfaces import IConsumer, IReactorTime, IStreamClientEndpoint
from twisted.logger import Logger
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgent, IBodyProducer
from zope.interface import implementer

from ._duration import format_duration
from ._http11 import (
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_RESERVED_CONNECTIONS,
    ConnectionLostEarly,
    ConnectionPool,
    RequestInfo,
)
from ._observe import emit_request
from ._errors import (
    ConsulConnectionError,
    ConsulException,
    ConsulProtocolError,
    HeadersTooLarge,
    ResponseTooLarge,
    Timeout,
    TLSMismatch,
    TooManyInterimResponses,
    UndecodableResponse,
    error_for_status,
)
from ._wire import (
    BodyTooLarge,
    HeadTooLarge,
    Limits,
    NotHTTP,
    RawHeaders,
    TooManyInterim,
    TrailersTooLarge,
    WireError,
    check_header_value,
    check_target,
    check_token,
    encode_request,
    request_prefix,
)

log = Logger()

#: Read consistency modes accepted by Consul.
CONSISTENCY_MODES = ("default", "consistent", "stale")

#: Seconds added to a blocking query's client-side timeout beyond
#: ``wait + wait/16`` (the most jitter Consul adds).
BLOCKING_MARGIN = 5.0

Param = tuple[str, Optional[str]]
ParamsLike = Iterable[Param]

_DEFAULT: Any = object()

# What quote(..., safe="") leaves unchanged: encode_params skips the call.
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")

#: What Go's ``net/http`` server answers a plain-HTTP request on a TLS port
#: with (``src/net/http/server.go``, ``(*conn).serve``).
_GO_PLAIN_ON_TLS = b"Client sent an HTTP request to an HTTPS server"

#: Seconds a TLS handshake may go unanswered before the connection is
#: dropped as "the agent is not speaking TLS".
DEFAULT_TLS_HANDSHAKE_TIMEOUT = 10.0


def quote_key(key: str) -> str:
    """
    Percent-escape a KV key (or any path tail) one segment at a time.

    Every byte that is not unreserved is escaped, ``/`` is kept as the segment
    separator, so any key round-trips byte-exact through Consul's decoding.
    """
    return quote(key, safe="/~")


def check_consistency(value: Optional[str]) -> Optional[str]:
    """
    Validate a consistency mode; ``None`` means "use the client's default".

    :raises ValueError: for anything but ``'default'``, ``'consistent'``,
        ``'stale'`` or ``None``.
    """
    if value is None or value in CONSISTENCY_MODES:
        return value
    raise ValueError(f"invalid consistency {value!r}: use 'default', 'consistent' or 'stale'")


@attr.s(slots=True, frozen=True, auto_attribs=True)
class QueryMeta:
    """
    The metadata Consul returns with a read.

    :ivar index: ``X-Consul-Index`` as an int, or ``None`` when absent.
        A ``QueryMeta`` can itself be passed as ``index=`` to the next call.
    :ivar known_leader: ``X-Consul-KnownLeader``, or ``None`` when absent.
    :ivar last_contact: ``X-Consul-LastContact`` in milliseconds, or ``None``.
    :ivar last_content_hash: ``X-Consul-ContentHash`` (hash-based blocking
        reads), or ``None``.
    :ivar cache_hit: whether ``X-Cache`` says ``HIT`` (a ``?cached`` read
        the agent cache answered).
    :ivar cache_age: ``Age`` in seconds (how old a cached answer is), or
        ``None``.
    :ivar query_backend: ``X-Consul-Query-Backend`` (``'blocking-query'``
        or ``'streaming'``), or ``None``.
    :ivar default_acl_policy: ``X-Consul-Default-ACL-Policy`` (``'allow'``
        or ``'deny'``), or ``None``.
    :ivar results_filtered_by_acls: whether
        ``X-Consul-Results-Filtered-By-ACLs`` is ``true`` (ACLs removed
        items from a list).
    """

    index: Optional[int]
    known_leader: Optional[bool]
    last_contact: Optional[int]
    last_content_hash: Optional[str] = None
    cache_hit: bool = False
    cache_age: Optional[float] = None
    query_backend: Optional[str] = None
    default_acl_policy: Optional[str] = None
    results_filtered_by_acls: bool = False

    def __index__(self) -> int:
        if self.index is None:
            raise TypeError("this response carried no X-Consul-Index")
        return self.index

    __int__ = __index__


# Not frozen: a frozen attrs class sets each field through object.__setattr__,
# which makes building one (once per request) three times as slow.
@attr.s(slots=True, auto_attribs=True, repr=False)
class ConsulResponse:
    """
    One answer from the agent.

    :ivar code: the HTTP status code.
    :ivar headers: the response headers (``getRawHeaders`` as
        :class:`twisted.web.http_headers.Headers` has it).
    :ivar body: the raw body bytes.
    :ivar meta: a :class:`QueryMeta` built from the headers.
    :ivar method: the request's method (for error messages).
    :ivar path: the request's path, without the query (for error messages).
    """

    code: int
    headers: Any
    body: bytes
    meta: QueryMeta
    method: str = ""
    path: str = ""

    @property
    def index(self) -> Optional[int]:
        """``X-Consul-Index`` as an int, or ``None``."""
        return self.meta.index

    def json(self) -> Any:
        """
        Decode the body as JSON (``None`` for an empty body).

        :raises UndecodableResponse: if the body is not JSON (or nests too
            deeply to decode); the message names the method and path.
        """
        if not self.body:
            return None
        try:
            # Consul's JSON is UTF-8; decoding first skips json's encoding sniffing.
            return _loads(self.body.decode("utf-8"))
        except (ValueError, RecursionError) as e:
            what = "nests too deeply" if isinstance(e, RecursionError) else "is not JSON"
            raise UndecodableResponse(
                f"{self.method} {self.path}: the {self.code} answer's body ({len(self.body)} bytes) {what}",
                method=self.method,
                path=self.path,
                status=self.code,
                body=self.body,
            ) from None

    def __repr__(self) -> str:
        return f"<ConsulResponse {self.code} index={self.meta.index} {len(self.body)} bytes>"


_scan_json: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # set in __init__


def _loads(text: str) -> Any:
    """
    ``json.loads(text)``, minus two regular-expression matches and two calls
    in the common case (a value right at the start, at most whitespace after
    it: Consul ends its answers with a newline).  Anything else goes to
    ``json.loads``, which decodes it or raises its usual error.
    """
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        return json.loads(text)
    if end == len(text) or not text[end:].strip(" \t\n\r"):  # JSON's whitespace
        return value
    return json.loads(text)


@implementer(IBodyProducer)
class BytesProducer:
    """An :class:`IBodyProducer` that writes a bytes body at once."""

    __slots__ = ("_body", "length")

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.length = len(body)

    def startProducing(self, consumer: IConsumer) -> "Deferred[None]":
        """Write the whole body to ``consumer`` (an ``IConsumer``)."""
        consumer.write(self._body)
        return succeed(None)

    def pauseProducing(self) -> None:
        """Nothing to pause: the body is written at once."""

    def resumeProducing(self) -> None:
        """Nothing to resume: the body is written at once."""

    def stopProducing(self) -> None:
        """Nothing to stop: the body is written at once."""


class _BodyCollector(Protocol):
    """Collects a response body; fires its Deferred when the body is done."""

    def __init__(self, finished: "Deferred[bytes]") -> None:
        self._finished: Optional[Deferred[bytes]] = finished
        self._chunks: list[bytes] = []

    def dataReceived(self, data: bytes) -> None:
        self._chunks.append(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        finished, self._finished = self._finished, None
        if finished is None:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            finished.callback(b"".join(self._chunks))
        else:
            finished.errback(reason)


class _Whole:
    """An ``IAgent`` response with its body read."""

    __slots__ = ("code", "headers", "body")

    def __init__(self, code: int, headers: Any, body: bytes) -> None:
        self.code = code
        self.headers = headers
        self.body = body


def read_body(response: Any) -> "Deferred[bytes]":
    """
    Read a whole response body.  Cancelling the Deferred drops the
    connection (``twisted.web.client.readBody`` warns on the transports
    HTTP/1.1 responses have).
    """

    def cancel(d: "Deferred[bytes]") -> None:
        transport = collector.transport
        if transport is not None:
            transport.stopProducing()

    d: Deferred[bytes] = Deferred(cancel)
    collector = _BodyCollector(d)
    response.deliverBody(collector)
    return d


#: The headers beyond index, leader and contact that :func:`parse_meta`
#: reads (the rest of Go's ``QueryMeta``, api/api.go ``parseQueryMeta``),
#: and the ``QueryMeta`` field each sets.
_EXTRA_HEADERS = (
    (b"x-consul-contenthash", "last_content_hash"),
    (b"x-cache", "cache_hit"),
    (b"age", "cache_age"),
    (b"x-consul-query-backend", "query_backend"),
    (b"x-consul-default-acl-policy", "default_acl_policy"),
    (b"x-consul-results-filtered-by-acls", "results_filtered_by_acls"),
)
_EXTRA_NAMES = frozenset(name for name, _ in _EXTRA_HEADERS)


def _first(values: Optional[list[bytes]]) -> Optional[bytes]:
    return values[0] if values else None


def parse_meta(headers: Any) -> QueryMeta:
    """
    The :class:`QueryMeta` of an answer's headers (a :class:`RawHeaders`,
    or anything with ``getAllRawHeaders`` such as twisted.web's
    ``Headers``): ``X-Consul-Index``, ``-KnownLeader``, ``-LastContact``
    and, each only when its header is there, the content hash, agent cache,
    query backend, default ACL policy and ACL filtering.
    """
    global _last_meta
    if type(headers) is RawHeaders:
        h = headers.raw
    else:
        h = {name.lower(): values for name, values in headers.getAllRawHeaders()}
    raw_index = _first(h.get(b"x-consul-index"))
    raw_leader = _first(h.get(b"x-consul-knownleader"))
    raw_contact = _first(h.get(b"x-consul-lastcontact"))
    extras = None if _EXTRA_NAMES.isdisjoint(h) else tuple(_first(h.get(n)) for n, _ in _EXTRA_HEADERS)
    key = (raw_index, raw_leader, raw_contact, extras)
    last_key, meta = _last_meta
    if key == last_key:
        return meta
    # Both are uint64 in Consul: at most 20 digits.  A longer run is no
    # value (and int() refuses runs over sys.get_int_max_str_digits()).
    index = int(raw_index) if raw_index and len(raw_index) <= 20 and raw_index.isdigit() else None
    leader = None if raw_leader is None else raw_leader.strip().lower() == b"true"
    contact = int(raw_contact) if raw_contact and len(raw_contact) <= 20 and raw_contact.isdigit() else None
    found: dict[str, Any] = {}
    for (_, field), value in zip(_EXTRA_HEADERS, extras or (), strict=False):
        if value is None:
            continue
        text = value.decode("latin-1").strip()
        if field == "cache_hit":
            found[field] = text.upper() == "HIT"
        elif field == "results_filtered_by_acls":
            found[field] = text.lower() == "true"
        elif field == "cache_age":
            if text.isdigit():
                found[field] = float(text)
        else:
            found[field] = text
    meta = QueryMeta(index, leader, contact, **found)
    _last_meta = (key, meta)
    return meta


# The headers parse_meta read last and what it made of them: answers in a
# row mostly carry the same values, and a QueryMeta is immutable, so the
# next answer like it shares it (its parsing and building cost as much as
# the rest of the status check).
_last_meta: tuple[Any, QueryMeta] = ((), QueryMeta(None, None, None))


def encode_params(params: Iterable[Param]) -> bytes:
    """
    Encode ``(name, value)`` pairs as a query string; a ``None`` value is a
    presence flag (``?recurse``), as Consul reads them.
    """
    parts = []
    plain = _UNRESERVED.fullmatch
    for name, value in params:
        if type(name) is not str or not plain(name):
            name = quote(name, safe="")
        if value is None:
            parts.append(name)
        elif type(value) is str and plain(value):
            parts.append(name + "=" + value)
        else:
            parts.append(name + "=" + quote(value, safe=""))
    return "&".join(parts).encode("ascii")


class HTTPTransport:
    """
    Issues Consul HTTP API requests over a persistent connection pool.

    :param base_url: ``scheme://host:port`` plus an optional path prefix (for
        agents behind a reverse proxy), as ``str``.
    :param reactor: provides ``callLater`` for timeouts and the pool.
    :param endpoint: the ``IStreamClientEndpoint`` the pool connects with
        (:func:`txconsul._tls.client_endpoint` builds it from the config).
    :param agent: an ``IAgent`` to send requests through instead of the
        connection pool: a small adapter for callers who bring their own
        twisted.web agent.  Response limits then are the agent's business.
    :param address: how errors name the agent (``host:port`` or a socket path).
    :param token: the default ACL token.
    :param dc: the default datacenter, or ``None``.
    :param consistency: the default read consistency.
    :param timeout: seconds before a non-blocking request fails with
        :class:`Timeout`; ``None`` disables it.
    :param pool_size: most idle connections kept.
    :param basic_auth: ``(user, password)`` for HTTP basic authentication.
    :param limits: what an answer may be (:class:`txconsul._wire.Limits`).
    :param max_connections: most connections open at once; requests beyond
        it queue.
    :param reserved_connections: connections blocking reads may not take.
    :param tls: whether ``endpoint`` speaks TLS (for error messages).
    :param tls_handshake_timeout: seconds a TLS handshake may go unanswered.
    """

    def __init__(
        self,
        base_url: str,
        *,
        reactor: IReactorTime,
        agent: Optional[IAgent] = None,
        address: str = "",
        token: Optional[str] = None,
        dc: Optional[str] = None,
        consistency: str = "default",
        timeout: Optional[float] = 30.0,
        pool_size: int = 64,
        endpoint: Optional[IStreamClientEndpoint] = None,
        host_header: Optional[str] = None,
        basic_auth: Optional[tuple[str, str]] = None,
        limits: Limits = Limits(),
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        reserved_connections: int = DEFAULT_RESERVED_CONNECTIONS,
        tls: bool = False,
        tls_handshake_timeout: Optional[float] = DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    ) -> None:
        self._clock = reactor
        self.address = address or base_url
        self._token: Optional[str] = None
        self.token = token
        self.dc = dc
        self.consistency = check_consistency(consistency) or "default"
        self.timeout = timeout
        self.limits = limits
        self._tls = tls
        if tls_handshake_timeout is not None and tls_handshake_timeout <= 0:
            raise ValueError(f"invalid tls_handshake_timeout {tls_handshake_timeout!r}: must be > 0 or None")
        self._tls_handshake_timeout = tls_handshake_timeout
        self._agent = agent
        self._endpoint = endpoint
        self._pool: Optional[ConnectionPool] = None
        #: the streams running (txconsul._stream), for close().
        self._streams: set[Any] = set()
        if agent is None:
            if endpoint is None:
                raise TypeError("HTTPTransport needs an agent or an endpoint")
            self._pool = ConnectionPool(
                reactor,
                endpoint,
                max_idle=pool_size,
                max_connections=max_connections,
                reserved=reserved_connections,
                limits=limits,
                tls=tls,
                tls_handshake_timeout=tls_handshake_timeout,
            )
        parts = urlsplit(base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}".encode("ascii")
        self._prefix = parts.path.rstrip("/").encode("ascii")
        check_target(self._prefix or b"/")
        host_header = host_header or parts.netloc
        self._head_lines = request_prefix(host_header, basic_auth)
        self._static_headers: dict[bytes, list[bytes]] = {
            b"user-agent": [b"txconsul"],
        }
        #: the basic-auth credentials as sent (base64), kept out of messages.
        self._credentials: tuple[str, ...] = ()
        if basic_auth is not None:
            for line in self._head_lines.split(b"\r\n"):
                if line.startswith(b"Authorization: "):
                    self._static_headers[b"authorization"] = [line[len(b"Authorization: ") :]]
                    self._credentials = (line[len(b"Authorization: Basic ") :].decode("ascii"),)

    @property
    def token(self) -> Optional[str]:
        """
        The default ACL token, or ``None``.  Every assignment is validated
        (a rotated token read with its trailing newline is refused, without
        echoing it), so no request can carry a broken header block.
        """
        return self._token

    @token.setter
    def token(self, value: Optional[str]) -> None:
        self._token = check_token(value, "token")

    @property
    def pool(self) -> Optional[ConnectionPool]:
        """The connection pool (``None`` when an ``IAgent`` was injected)."""
        return self._pool

    @property
    def clock(self) -> IReactorTime:
        """The reactor or clock timeouts are scheduled on."""
        return self._clock

    def __repr__(self) -> str:
        return f"<HTTPTransport {self.address}>"

    def _secrets(self, tok: Optional[str]) -> tuple[str, ...]:
        """What a request carrying ``tok`` must not find in an error message."""
        return (tok or "",) + self._credentials

    def request(
        self,
        method: str,
        path: str,
        params: Optional[ParamsLike] = None,
        body: Union[bytes, None] = None,
        *,
        json_body: Any = _DEFAULT,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        consistency: Optional[str] = None,
        index: Any = None,
        wait: Optional[float] = None,
        timeout: Any = _DEFAULT,
        expect: Sequence[int] = (200,),
        require_index: bool = False,
        use_dc: bool = True,
        headers: Optional[Sequence[tuple[str, str]]] = None,
        then: Optional[Callable[..., Any]] = None,
        then_args: tuple[Any, ...] = (),
    ) -> "Deferred[Any]":
        """
        Send one request and fire with a :class:`ConsulResponse` (or with
        what ``then`` makes of it).

        :param method: ``'GET'``, ``'PUT'``, ``'DELETE'`` or ``'POST'``.
        :param path: the already-escaped path, starting with ``/v1/``.
        :param params: extra query parameters; a ``None`` value is a flag.
        :param body: raw body bytes (sent as ``application/octet-stream``).
        :param json_body: an object sent as JSON instead of ``body``.
        :param token: overrides the client's default token for this call
            (validated per call; ``''`` sends no token).
        :param dc: overrides the client's default datacenter.
        :param consistency: overrides the client's default consistency.
        :param index: blocking index (an int, a numeric string or a
            :class:`QueryMeta`); ``None``/0 means no blocking.
        :param wait: the blocking wait in seconds (already validated).
        :param timeout: overrides the client's default timeout (seconds or
            ``None``); blocking calls default to ``wait + wait/16 + 5s``.
        :param expect: the statuses that are answers rather than errors.
        :param require_index: fail if a 2xx answer lacks ``X-Consul-Index``.
        :param use_dc: whether ``dc`` applies to this endpoint.
        :param headers: extra ``(name, value)`` request headers (such as
            ``Cache-Control`` for the agent cache), validated here.
        :param then: called as ``then(response, *then_args)`` with the
            checked response, in the callback that checks it; the Deferred
            fires with its result.  The request mechanism passes an
            endpoint's decoder here rather than adding a callback of its
            own: one Deferred step less on every call.
        """
        query: list[Param] = []
        if use_dc:
            dc = dc if dc is not None else self.dc
            if dc:
                query.append(("dc", dc))
        mode = consistency if consistency is not None else self.consistency
        if mode == "consistent":
            query.append(("consistent", None))
        elif mode == "stale":
            query.append(("stale", None))
        blocking = False
        if index is not None:
            idx = int(index)
            if idx < 0:
                raise ValueError(f"invalid index {index!r}: must be >= 0")
            if idx > 0:
                blocking = True
                query.append(("index", str(idx)))
        if wait is not None:
            query.append(("wait", format_duration(wait)))
        if params:
            query.extend(params)
        target = self._prefix + check_target(path.encode("ascii"))
        if query:
            target += b"?" + encode_params(query)
        # The default token is validated whenever it is assigned; a per-call
        # one is validated here, before anything is sent.
        tok = check_token(token, "token") if token is not None else self._token
        content_type = None
        if json_body is not _DEFAULT:
            body = json.dumps(json_body, separators=(",", ":")).encode("utf-8")
            content_type = b"application/json"
        elif body is not None:
            content_type = b"application/octet-stream"
        elif method in ("PUT", "POST"):
            body = b""

        if timeout is _DEFAULT:
            if blocking:
                w = wait if wait is not None else 300.0
                timeout = w + w / 16.0 + BLOCKING_MARGIN
            else:
                timeout = self.timeout

        info = RequestInfo()
        head_lines = self._head_lines
        if headers:
            head_lines += b"".join(
                check_header_value(name, name.encode("ascii"))
                + b": "
                + check_header_value(name, value.encode("latin-1"))
                + b"\r\n"
                for name, value in headers
            )
        if self._pool is not None:
            data = encode_request(method, target, head_lines, tok, content_type, body)
            # Like Go's net/http, only a replayable request (a GET) is resent
            # when a reused connection closes before any answer; the others
            # only reuse connections that were busy moments ago.
            # The pool runs the timeout itself (cancelling the request and
            # marking info.timed_out), which costs less than addTimeout.
            # The callbacks emit the request's log event (txconsul._observe).
            started = self._clock.seconds()
            return self._pool.request(
                data,
                retry=method == "GET",
                blocking=blocking,
                info=info,
                timeout=timeout,
            ).addCallbacks(
                self._decode,
                self._failed,
                callbackArgs=(
                    method,
                    path,
                    expect,
                    require_index,
                    blocking,
                    started,
                    tok,
                    then,
                    then_args,
                ),
                errbackArgs=(method, path, timeout, info, blocking, started),
            )
        # The IAgent adapter: __init__ builds a pool exactly when no agent is given.
        assert self._agent is not None
        agent_headers = Headers(dict(self._static_headers))
        if tok:
            agent_headers.setRawHeaders(b"x-consul-token", [tok.encode("ascii")])
        if content_type is not None:
            agent_headers.setRawHeaders(b"content-type", [content_type])
        for name, value in headers or ():
            agent_headers.addRawHeader(name.encode("ascii"), value.encode("latin-1"))
        producer = BytesProducer(body) if body is not None else None
        started = self._clock.seconds()
        d = (
            self._agent.request(method.encode("ascii"), self._origin + target, agent_headers, producer)
            .addCallback(self._read, method, path, expect, require_index, blocking, started, tok)
            .addErrback(_unwrap_cancel)
        )
        if timeout is not None:
            d.addTimeout(timeout, self._clock)
        d.addErrback(self._failed, method, path, timeout, info, blocking, started)
        if then is not None:
            # After the failure mapping, which a decoder's errors must not reach.
            d.addCallback(then, *then_args)
        return d

    def _decode(
        self,
        response: Any,
        method: str,
        path: str,
        expect: Sequence[int],
        require_index: bool,
        blocking: bool,
        started: float,
        tok: Optional[str] = None,
        then: Optional[Callable[..., Any]] = None,
        then_args: tuple[Any, ...] = (),
    ) -> Any:
        """
        Check a whole response's status and metadata, and emit the request's
        log event (:mod:`txconsul._observe`): the answer's, or the error's
        that a refused status becomes (which :meth:`_failed` passes on).
        ``tok`` is the token the request carried, kept out of the message;
        ``then`` and ``then_args`` are :meth:`request`'s.
        """
        code = response.code
        body = response.body
        if code in expect:
            meta = parse_meta(response.headers)
            if not require_index or meta.index is not None or not 200 <= code < 300:
                emit_request(method, path, code, len(body), blocking, None, self._clock, started)
                result = ConsulResponse(code, response.headers, body, meta, method, path)
                return result if then is None else then(result, *then_args)
            exc: ConsulException = ConsulException(
                f"{method} {path}: answer has no X-Consul-Index header",
                method=method,
                path=path,
                status=code,
                body=body,
            )
        elif code == 400 and body.startswith(_GO_PLAIN_ON_TLS):
            exc = TLSMismatch(
                f"{method} {path}: the agent at {self.address} speaks HTTPS, "
                f"not plain HTTP: use scheme 'https'",
                method=method,
                path=path,
                status=code,
                body=body,
            )
        else:
            exc = error_for_status(code, method, path, body, redact=self._secrets(tok))
        emit_request(method, path, code, len(body), blocking, type(exc).__name__, self._clock, started)
        raise exc

    def _read(
        self,
        response: Any,
        method: str,
        path: str,
        expect: Sequence[int],
        require_index: bool,
        blocking: bool,
        started: float,
        tok: Optional[str] = None,
    ) -> "Deferred[ConsulResponse]":
        """Read an ``IAgent`` response's body, then :meth:`_decode` it."""
        return read_body(response).addCallback(
            lambda body: self._decode(
                _Whole(response.code, response.headers, body),
                method,
                path,
                expect,
                require_index,
                blocking,
                started,
                tok,
            )
        )

    def _failed(
        self,
        failure: Failure,
        method: str,
        path: str,
        timeout: Any,
        info: RequestInfo,
        blocking: bool,
        started: float,
    ) -> Failure:
        """Map a failure to :mod:`txconsul._errors` and emit its log event."""
        if failure.check(ConsulException):
            return failure  # _decode refused the answer, and emitted its event
        try:
            result = self._map_failure(failure, method, path, timeout, info)
        except ConsulException:
            result = Failure()
        error = result.type.__name__ if result.type is not None else "Exception"
        emit_request(method, path, None, 0, blocking, error, self._clock, started)
        return result

    def _map_failure(
        self, failure: Failure, method: str, path: str, timeout: Any, info: RequestInfo
    ) -> Failure:
        """Raise the :mod:`txconsul._errors` exception for ``failure``, or return it as it is."""
        where = f"{method} {path}"
        timed_out = info.timed_out or failure.check(TimeoutError)
        if info.handshake_timed_out or (info.tls_stalled and timed_out):
            limit = self._tls_handshake_timeout if info.handshake_timed_out else timeout
            raise TLSMismatch(
                f"{where}: no answer to the TLS handshake from {self.address} within "
                f"{limit:g}s: is the agent serving plain HTTP? (use scheme 'http')",
                method=method,
                path=path,
            )
        if timed_out:
            queued = " (it waited for a free connection)" if info.queued else ""
            raise Timeout(
                f"{where}: no answer from {self.address} within {timeout:g}s{queued}",
                method=method,
                path=path,
            )
        if failure.check(CancelledError):
            return failure
        exc = failure.value
        if isinstance(exc, WireError):
            raise _wire_error(exc, where, self.address, method, path)
        hint = ""
        if isinstance(exc, ConnectionLostEarly):
            if not exc.got_bytes and not self._tls and self._pool is not None:
                # A TLS server that is sent plain HTTP often just hangs up
                # (Go's answers a 400 instead; _decode names that one).
                hint = " (closed without an answer; if the agent serves HTTPS, use scheme 'https')"
            exc = exc.reason.value
        reason = _describe(exc) + hint
        if _plain_answer_to_tls(exc):
            raise TLSMismatch(
                f"{where}: the agent at {self.address} answered in plain HTTP, not TLS: use scheme 'http'",
                method=method,
                path=path,
            )
        raise ConsulConnectionError(
            f"{where}: cannot talk to Consul at {self.address}: {reason}",
            method=method,
            path=path,
        )

    def stream(
        self,
        method: str,
        path: str,
        params: Optional[ParamsLike] = None,
        write: Any = None,
        *,
        body: Any = None,
        content_type: Optional[bytes] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        use_dc: bool = True,
        expect: Sequence[int] = (200,),
        timeout: Any = _DEFAULT,
    ) -> "Deferred[ConsulResponse]":
        """
        Send one request on a connection of its own and hand the answer's
        body to ``write(chunk)`` as it arrives (``/v1/agent/monitor``,
        ``/v1/snapshot``); see :func:`txconsul._stream.open_stream`.

        Fires with a :class:`ConsulResponse` whose ``body`` is empty once
        the body has ended; cancelling it closes the connection.  ``body``
        may be bytes or an ``IBodyProducer``.  ``timeout`` (default: the
        client's) bounds the wait for the answer's headers only.
        """
        from ._stream import open_stream

        if write is None:
            raise TypeError("stream() needs a write(chunk) callable")
        return open_stream(
            self,
            method,
            path,
            list(params or ()),
            write,
            body=body,
            content_type=content_type,
            token=token,
            dc=dc,
            use_dc=use_dc,
            expect=expect,
            timeout=self.timeout if timeout is _DEFAULT else timeout,
        )

    def close(self) -> "Deferred[None]":
        """
        Close the idle pooled connections and the open streams (a running
        stream's Deferred fails with ``CancelledError``); fires when they
        are closed.
        """
        waiting = [handler.stop() for handler in list(self._streams)]
        if self._pool is not None:
            waiting.append(self._pool.close())
        if not waiting:
            return succeed(None)
        if len(waiting) == 1:
            return waiting[0]
        return DeferredList(waiting).addCallback(lambda _: None)


def _wire_error(exc: WireError, where: str, address: str, method: str, path: str) -> ConsulException:
    """The :mod:`txconsul._errors` exception for a refused answer."""
    if isinstance(exc, NotHTTP) and exc.tls:
        return TLSMismatch(
            f"{where}: the agent at {address} answered with TLS: use scheme 'https'", method=method, path=path
        )
    cls: type[ConsulException]
    if isinstance(exc, BodyTooLarge):
        cls = ResponseTooLarge
    elif isinstance(exc, (HeadTooLarge, TrailersTooLarge)):
        cls = HeadersTooLarge
    elif isinstance(exc, TooManyInterim):
        cls = TooManyInterimResponses
    else:
        cls = ConsulProtocolError
    return cls(f"{where}: refused the answer from {address}: {exc}", method=method, path=path)


def _plain_answer_to_tls(exc: BaseException) -> bool:
    """Whether a TLS error says the peer answered in plain text."""
    text = str(exc).lower()
    return any(
        s in text
        for s in ("wrong version number", "packet length too long", "http request", "record layer failure")
    )


def _unwrap_cancel(failure: Failure) -> Failure:
    """
    Turn the agent's ``ResponseNeverReceived([CancelledError])`` (and its
    kin) back into a plain ``CancelledError``, so that ``addTimeout`` and the
    caller see a cancellation as one.
    """
    reasons = getattr(failure.value, "reasons", None)
    if reasons and all(r.check(CancelledError) for r in reasons):
        raise CancelledError()
    return failure


def _describe(exc: BaseException) -> str:
    """A short human text for a connection-level exception."""
    reasons = getattr(exc, "reasons", None)
    if reasons:
        inner = [_describe(r.value) for r in reasons if not r.check(CancelledError)]
        inner = [i for i in inner if i]
        if inner:
            return "; ".join(inner)
    name = type(exc).__name__
    text = str(exc).strip()
    try:
        from OpenSSL import SSL

        if isinstance(exc, SSL.Error):
            return f"TLS failure: {text or name}"
    except ImportError:  # pragma: no cover
        pass
    if "SSL" in name or "TLS" in name or name == "VerificationError" or "certificate" in text.lower():
        return f"TLS failure: {text or name}"
    if text and text not in ("()", "[]"):
        return f"{name}: {text}"
    return name
