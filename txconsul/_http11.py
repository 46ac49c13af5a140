# -*- test-case-name: tests.test_http11 -*-
"""
A small HTTP/1.1 client for one agent: persistent connections, one request
at a time per connection, Content-Length, chunked and read-until-close
bodies.

twisted.web's ``Agent`` is general (any host, proxies, redirects, cookies,
IRI handling) and that generality costs: it parses every URI, builds an
endpoint per request and runs the host through IDNA each time; measured,
it capped txconsul at about 0.6x an aiohttp-based client.  A Consul client
talks to one address, so this module keeps what that needs and nothing more.
:class:`~txconsul._http.HTTPTransport` uses it unless an ``IAgent`` is
injected (tests inject treq.testing's in-memory agent).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Optional, Protocol as TypingProtocol, cast

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure

#: Largest status line + headers accepted.
MAX_HEAD = 64 * 1024

_IDLE, _HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILER, _UNTIL_CLOSE = range(8)

_HEX = re.compile(rb"[0-9a-fA-F]{1,16}")
_DIGITS = re.compile(rb"[0-9]{1,19}")


class StreamEndpoint(TypingProtocol):
    """
    The static shape of an ``IStreamClientEndpoint`` as the pool uses it.

    mypy reads zope interface methods as if they had no ``self`` and cannot
    see ``@implementer``, so Twisted's endpoint classes are described here
    structurally instead.
    """

    def connect(self, protocolFactory: Any, /) -> "Deferred[Any]":
        """Connect a protocol built by ``protocolFactory``; fires with it."""
        ...


class _StreamTransport(TypingProtocol):
    """The parts of a connected TCP/TLS/unix transport this module calls."""

    def write(self, data: bytes, /) -> None:
        """Send ``data``."""
        ...

    def loseConnection(self) -> None:
        """Close once pending writes are flushed."""
        ...

    def abortConnection(self) -> None:
        """Close at once, dropping pending writes."""
        ...


def _transport(protocol: Protocol) -> _StreamTransport:
    """
    ``protocol.transport`` while the protocol is connected.

    ``Protocol.transport`` is typed ``ITransport | None``, a zope interface
    whose methods mypy cannot call; every caller here holds a connected
    protocol, whose transport is a stream transport.
    """
    return cast(_StreamTransport, protocol.transport)


class ProtocolError(Exception):
    """The agent sent something that is not HTTP/1.1 as this client speaks it."""


class ConnectionLostEarly(Exception):
    """The connection closed before a whole response arrived."""

    def __init__(self, reason: Failure, got_bytes: bool) -> None:
        super().__init__(reason.getErrorMessage())
        self.reason = reason
        self.got_bytes = got_bytes


class RawHeaders:
    """
    Response headers: lower-cased bytes names to lists of bytes values, with
    the ``getRawHeaders`` method of :class:`twisted.web.http_headers.Headers`.
    """

    __slots__ = ("_h",)

    def __init__(self, headers: dict[bytes, list[bytes]]) -> None:
        self._h = headers

    def getRawHeaders(self, name: Any, default: Any = None) -> Any:
        """Every value of header ``name`` (str or bytes), or ``default``."""
        key = name.lower() if isinstance(name, bytes) else name.lower().encode("latin-1")
        values = self._h.get(key)
        if values is None:
            return default
        if isinstance(name, str):
            return [v.decode("latin-1") for v in values]
        return values

    def hasHeader(self, name: Any) -> bool:
        """Whether header ``name`` is present."""
        key = name.lower() if isinstance(name, bytes) else name.lower().encode("latin-1")
        return key in self._h

    def __repr__(self) -> str:
        return f"<RawHeaders {sorted(k.decode('latin-1') for k in self._h)}>"


class RawResponse:
    """A whole response: ``code``, ``headers`` (:class:`RawHeaders`), ``body``."""

    __slots__ = ("code", "headers", "body")

    def __init__(self, code: int, headers: RawHeaders, body: bytes) -> None:
        self.code = code
        self.headers = headers
        self.body = body


class HTTP11Connection(Protocol):
    """One persistent connection; carries one request at a time."""

    def __init__(self) -> None:
        self._buf = b""
        self._state = _IDLE
        self._finished: Optional[Deferred[RawResponse]] = None
        self._code = 0
        self._headers: dict[bytes, list[bytes]] = {}
        self._remaining = 0
        self._chunks: list[bytes] = []
        self._keep_alive = True
        self._got_bytes = False
        self.lost = False
        self.on_lost: Optional[Callable[["HTTP11Connection"], None]] = None
        #: clock time when the connection last went idle.
        self.idle_since = 0.0

    def send(self, data: bytes) -> "Deferred[RawResponse]":
        """Write a serialized request; fires with its :class:`RawResponse`."""
        assert self._finished is None, "one request at a time"
        d: Deferred[RawResponse] = Deferred(self._cancel)
        self._finished = d
        self._state = _HEAD
        self._got_bytes = False
        self._headers = {}
        self._chunks = []
        _transport(self).write(data)
        return d

    def _cancel(self, d: Deferred) -> None:
        self._finished = None
        self._keep_alive = False
        _transport(self).abortConnection()

    @property
    def reusable(self) -> bool:
        """Whether the connection can carry another request."""
        return self._keep_alive and not self.lost and self._finished is None

    def dataReceived(self, data: bytes) -> None:
        """Parse response bytes as they arrive."""
        if self._finished is None:
            # Bytes nobody asked for: the connection is not trustworthy.
            self._keep_alive = False
            _transport(self).loseConnection()
            return
        self._got_bytes = True
        # Body bytes are moved out of the buffer as they arrive, so it only
        # ever holds a head, a chunk-size line or a trailer: no quadratic
        # copying on large bodies.
        self._buf = self._buf + data if self._buf else data
        try:
            self._parse()
        except ProtocolError as e:
            self._fail(Failure(e))
            _transport(self).abortConnection()

    def _take_body(self) -> None:
        """Move up to ``_remaining`` buffered bytes into the body."""
        buf = self._buf
        n = min(len(buf), self._remaining)
        if n:
            self._chunks.append(buf if n == len(buf) else buf[:n])
            self._buf = buf[n:]
            self._remaining -= n

    def _parse(self) -> None:
        while self._finished is not None:
            state = self._state
            buf = self._buf
            if state == _HEAD:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        raise ProtocolError("response headers too large")
                    return
                self._buf = buf[end + 4:]
                self._head(buf[:end])
            elif state == _LENGTH:
                self._take_body()
                if self._remaining:
                    return
                self._done(b"".join(self._chunks))
            elif state == _CHUNK_SIZE:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > 1024:
                        raise ProtocolError("bad chunk size line")
                    return
                size_text = buf[:end].split(b";", 1)[0].strip(b" \t")
                if not _HEX.fullmatch(size_text):
                    raise ProtocolError(f"bad chunk size {size_text[:20]!r}")
                size = int(size_text, 16)
                self._buf = buf[end + 2:]
                if size == 0:
                    self._state = _TRAILER
                else:
                    self._remaining = size
                    self._state = _CHUNK_DATA
            elif state == _CHUNK_DATA:
                self._take_body()
                if self._remaining:
                    return
                self._state = _CHUNK_END
            elif state == _CHUNK_END:
                if len(buf) < 2:
                    return
                if buf[:2] != b"\r\n":
                    raise ProtocolError("chunk data not followed by CRLF")
                self._buf = buf[2:]
                self._state = _CHUNK_SIZE
            elif state == _TRAILER:
                end = buf.find(b"\r\n")
                if end < 0:
                    if len(buf) > MAX_HEAD:
                        raise ProtocolError("response trailers too large")
                    return
                self._buf = buf[end + 2:]
                if end == 0:
                    self._done(b"".join(self._chunks))
            else:  # _UNTIL_CLOSE: everything until connectionLost
                if buf:
                    self._chunks.append(buf)
                    self._buf = b""
                return

    def _head(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        status = lines[0]
        if not status.startswith(b"HTTP/1.") or len(status) < 12:
            raise ProtocolError(f"bad status line {status[:80]!r}")
        try:
            code = int(status[9:12])
        except ValueError:
            raise ProtocolError(f"bad status line {status[:80]!r}")
        headers: dict[bytes, list[bytes]] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep or line[:1] in (b" ", b"\t"):
                # No colon, or obsolete line folding (RFC 9112 5.2).
                raise ProtocolError(f"bad header line {line[:80]!r}")
            key = name.strip().lower()
            if key in headers:
                headers[key].append(value.strip())
            else:
                headers[key] = [value.strip()]
        if 100 <= code < 200:
            return  # an interim response; the real one follows
        self._code = code
        self._headers = headers
        conn = headers.get(b"connection")
        http10 = status.startswith(b"HTTP/1.0")
        if conn is not None:
            tokens = b",".join(conn).lower()
            if b"close" in tokens or (http10 and b"keep-alive" not in tokens):
                self._keep_alive = False
        elif http10:
            self._keep_alive = False
        te = headers.get(b"transfer-encoding")
        length = headers.get(b"content-length")
        if code in (204, 304):
            self._done(b"")
        elif te is not None and b"chunked" in b",".join(te).lower():
            self._state = _CHUNK_SIZE
        elif length is not None:
            values = {v.strip() for v in b",".join(length).split(b",")}
            if len(values) != 1 or not _DIGITS.fullmatch(next(iter(values))):
                raise ProtocolError(f"bad Content-Length {b','.join(length)[:40]!r}")
            self._remaining = int(values.pop())
            self._state = _LENGTH
        else:
            self._keep_alive = False
            self._state = _UNTIL_CLOSE

    def _done(self, body: bytes) -> None:
        d, self._finished = self._finished, None
        self._state = _IDLE
        if self._buf:
            self._keep_alive = False  # trailing garbage: do not reuse
        response = RawResponse(self._code, RawHeaders(self._headers), body)
        if d is not None:
            d.callback(response)

    def _fail(self, failure: Failure) -> None:
        d, self._finished = self._finished, None
        self._keep_alive = False
        if d is not None:
            d.errback(failure)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """Finish a read-until-close body, or fail the request in flight."""
        self.lost = True
        self._keep_alive = False
        if self._state == _UNTIL_CLOSE and self._finished is not None:
            self._done(b"".join(self._chunks) + self._buf)
        elif self._finished is not None:
            self._fail(Failure(ConnectionLostEarly(reason, self._got_bytes)))
        if self.on_lost is not None:
            self.on_lost(self)


class ConnectionPool:
    """
    Persistent connections to one agent.

    :param reactor: provides ``seconds()`` for idle bookkeeping.
    :param endpoint: the ``IStreamClientEndpoint`` new connections use
        (TCP, TLS-wrapped TCP, or a unix socket).
    :param max_idle: most idle connections kept.
    :param idle_timeout: an idle connection older than this is closed
        instead of reused.
    :param fresh_for: a request that may not be resent (``retry=False``)
        reuses only a connection idle for less than this many seconds, so
        that an agent or proxy closing idle connections cannot make it fail.
    """

    def __init__(self, reactor: Any, endpoint: StreamEndpoint,
                 max_idle: int = 64, idle_timeout: float = 60.0,
                 fresh_for: float = 2.0) -> None:
        self._reactor = reactor
        self._endpoint = endpoint
        self._factory = Factory.forProtocol(HTTP11Connection)
        self._factory.noisy = False
        self._idle: list[HTTP11Connection] = []
        self._all: set[HTTP11Connection] = set()
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.fresh_for = fresh_for
        #: bumped by :meth:`close`; connections opened before it are not pooled.
        self._generation = 0
        self._closing: dict[HTTP11Connection, Deferred[None]] = {}
        self._close_after: set[HTTP11Connection] = set()

    @property
    def connections(self) -> int:
        """How many connections are open (idle or busy)."""
        return len(self._all)

    def request(self, data: bytes, retry: bool) -> "Deferred[RawResponse]":
        """
        Send a serialized request on an idle or new connection.

        :param retry: the request may be sent twice (a GET): resend it once on
            a new connection if a reused one is closed before any byte of an
            answer arrives (the keep-alive race with an agent closing idle
            connections).  A request that may not be resent only reuses a
            connection idle for less than ``fresh_for`` seconds instead.
        """
        conn = self._take_idle(None if retry else self.fresh_for)
        if conn is not None:
            d = self._send(conn, data)
            if retry:
                d.addErrback(self._retry_stale, data)
            return d
        return self._connect_and_send(data)

    def _take_idle(self, max_age: Optional[float]) -> Optional[HTTP11Connection]:
        """The most recently used idle connection, if one is young enough."""
        now = self._reactor.seconds()
        idle = self._idle
        while idle:
            conn = idle[-1]
            age = now - conn.idle_since
            if conn.lost or age > self.idle_timeout:
                idle.pop()
                if not conn.lost:
                    _transport(conn).loseConnection()
                continue
            if max_age is not None and age >= max_age:
                return None  # older ones stay pooled for requests that may retry
            return idle.pop()
        return None

    def _retry_stale(self, failure: Failure, data: bytes) -> Any:
        err = failure.value
        if isinstance(err, ConnectionLostEarly) and not err.got_bytes:
            return self._connect_and_send(data)
        return failure

    def _connect_and_send(self, data: bytes) -> "Deferred[RawResponse]":
        generation = self._generation
        connecting = self._endpoint.connect(self._factory)
        state: dict[str, Any] = {}

        def cancel(d: Deferred) -> None:
            inner = state.get("inner")
            if inner is not None:
                inner.cancel()
            else:
                connecting.cancel()

        outer: Deferred[RawResponse] = Deferred(cancel)

        def connected(conn: HTTP11Connection) -> None:
            self._all.add(conn)
            conn.on_lost = self._lost
            if generation != self._generation:
                self._close_after.add(conn)  # close() ran while it connected
            if outer.called:  # cancelled while connecting
                self._release(conn)
                return
            inner = state["inner"] = self._send(conn, data)
            inner.addBoth(relay)

        def relay(result: Any) -> None:
            if not outer.called:
                if isinstance(result, Failure):
                    outer.errback(result)
                else:
                    outer.callback(result)
            # else: the caller cancelled; what the request ended with no
            # longer matters to anyone.

        def failed(f: Failure) -> None:
            if not outer.called:
                outer.errback(f)

        connecting.addCallbacks(connected, failed)
        return outer

    def _send(self, conn: HTTP11Connection, data: bytes) -> "Deferred[RawResponse]":
        d = conn.send(data)

        def done(result: Any) -> Any:
            self._release(conn)
            return result

        return d.addBoth(done)

    def _release(self, conn: HTTP11Connection) -> None:
        if conn.lost:
            return
        if conn in self._close_after:
            self._close_after.discard(conn)
            if conn.transport is not None:
                _transport(conn).loseConnection()
            return
        if conn.reusable and len(self._idle) < self.max_idle:
            conn.idle_since = self._reactor.seconds()
            self._idle.append(conn)
        elif conn.transport is not None:
            _transport(conn).loseConnection()

    def _lost(self, conn: HTTP11Connection) -> None:
        self._all.discard(conn)
        self._close_after.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        waiter = self._closing.pop(conn, None)
        if waiter is not None:
            waiter.callback(None)

    def close(self) -> "Deferred[None]":
        """
        Close the idle connections; fires when they are closed.  Busy
        connections are closed as soon as their request finishes.
        """
        self._generation += 1
        idle, self._idle = self._idle, []
        self._close_after.update(c for c in self._all if c not in idle)
        waiting = []
        for conn in idle:
            if conn.lost:
                continue
            d: Deferred[None] = Deferred()
            self._closing[conn] = d
            waiting.append(d)
            _transport(conn).loseConnection()
        if not waiting:
            return succeed(None)
        return DeferredList(waiting).addCallback(lambda _: None)
