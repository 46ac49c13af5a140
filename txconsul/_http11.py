# -*- test-case-name: tests.test_http11,tests.test_http_hostile_again -*-
"""
Persistent HTTP/1.1 connections to one agent, and the pool that caps them.

twisted.web's ``Agent`` is general (any host, proxies, redirects, cookies,
IRI handling) and that generality costs: it parses every URI, builds an
endpoint per request and runs the host through IDNA each time; measured,
it capped txconsul at about 0.6x an aiohttp-based client.  A Consul client
talks to one address, so this module keeps what that needs and nothing more:
one request at a time per connection, bytes built and parsed by
:mod:`txconsul._wire`, a cap on open connections with a queue beyond it, and
the resend rule for stale keep-alive connections.
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush
from itertools import count
from typing import Any, Callable, Optional, cast

from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.interfaces import IHandshakeListener, IStreamClientEndpoint, ITCPTransport
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from ._wire import Limits, RawHeaders, RawResponse, ResponseParser, WireError

__all__ = [
    "ConnectionLostEarly",
    "ConnectionPool",
    "HTTP11Connection",
    "RawHeaders",
    "RawResponse",
    "RequestInfo",
]

#: Default most connections a pool opens at once.  Consul refuses more than
#: ``limits.http_max_conns_per_client`` (default 200) from one client
#: address; half of it leaves room for other clients on the same host.
DEFAULT_MAX_CONNECTIONS = 100
#: Default connections only non-blocking calls may use.
DEFAULT_RESERVED_CONNECTIONS = 20

#: Seconds within which a deadline counts as reached (float rounding).
_SLACK = 1e-9


def _transport(protocol: Protocol) -> ITCPTransport:
    """
    ``protocol.transport`` while the protocol is connected.

    Every caller here holds a connected protocol, whose transport is a
    stream transport (TCP, TLS, UNIX or in memory), which can also abort.
    """
    return cast(ITCPTransport, protocol.transport)


class ConnectionLostEarly(Exception):
    """The connection closed before a whole response arrived."""

    def __init__(self, reason: Failure, got_bytes: bool) -> None:
        super().__init__(reason.getErrorMessage())
        self.reason = reason
        self.got_bytes = got_bytes


class RequestInfo:
    """
    What the pool learned about one request, for the transport's errors.

    :ivar tls_stalled: the request ended (cancelled or timed out) on a TLS
        connection whose handshake never completed and which got no byte:
        the sign of ``https`` against an agent serving plain HTTP.
    :ivar queued: whether the request waited for a free connection slot.
    :ivar conn: the connection carrying the request right now, or ``None``.
    :ivar handshake_timed_out: the pool gave up on a TLS handshake.
    :ivar timed_out: the request was cancelled because its timeout passed.
    """

    __slots__ = ("tls_stalled", "queued", "conn", "handshake_timed_out", "timed_out")

    def __init__(self) -> None:
        self.timed_out = False
        self.tls_stalled = False
        self.queued = False
        self.conn: Optional[HTTP11Connection] = None
        self.handshake_timed_out = False


@implementer(IHandshakeListener)
class HTTP11Connection(Protocol):
    """
    One persistent connection; carries one request at a time.

    :meth:`send` takes a plain callable rather than returning a Deferred: the
    pool owns the one Deferred a caller sees, and a second one per request
    would only add cost.
    """

    def __init__(self, limits: Limits = Limits()) -> None:
        self._parser = ResponseParser(limits)
        self._on_result: Optional[Callable[[Any], None]] = None
        self.lost = False
        self.handshake_done = False
        self.on_lost: Optional[Callable[["HTTP11Connection"], None]] = None
        #: clock time when the connection last went idle.
        self.idle_since = 0.0

    @property
    def busy(self) -> bool:
        """Whether a request is waiting for its answer."""
        return self._on_result is not None

    @property
    def got_bytes(self) -> bool:
        """Whether any byte of the current answer arrived."""
        return self._parser.got_bytes

    def handshakeCompleted(self) -> None:
        """The TLS handshake completed (``IHandshakeListener``)."""
        self.handshake_done = True

    def send(self, data: bytes, on_result: Callable[[Any], None]) -> None:
        """
        Write a serialized request; ``on_result`` is called once, with the
        :class:`RawResponse` or a :class:`Failure`.
        """
        assert self._on_result is None, "one request at a time"
        self._on_result = on_result
        self._parser.reset()
        _transport(self).write(data)

    def abort(self) -> None:
        """Give up on the request in flight: drop the connection, no result."""
        self._on_result = None
        self._parser.keep_alive = False
        _transport(self).abortConnection()

    @property
    def reusable(self) -> bool:
        """Whether the connection can carry another request."""
        return self._parser.keep_alive and not self.lost and self._on_result is None

    def dataReceived(self, data: bytes) -> None:
        """Parse response bytes as they arrive."""
        if self._on_result is None:
            # Bytes nobody asked for: the connection is not trustworthy.
            self._parser.keep_alive = False
            _transport(self).loseConnection()
            return
        try:
            response = self._parser.feed(data)
        except WireError as e:
            self._fail(Failure(e))
            _transport(self).abortConnection()
            return
        if response is not None:
            on_result, self._on_result = self._on_result, None
            on_result(response)

    def _fail(self, failure: Failure) -> None:
        on_result, self._on_result = self._on_result, None
        self._parser.keep_alive = False
        if on_result is not None:
            on_result(failure)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """Finish a read-until-close body, or fail the request in flight."""
        self.lost = True
        if self._on_result is not None:
            if self._parser.until_close:
                response = self._parser.eof()
                assert response is not None  # a body was in progress
                on_result, self._on_result = self._on_result, None
                on_result(response)
            else:
                self._fail(Failure(ConnectionLostEarly(reason, self._parser.got_bytes)))
        self._parser.keep_alive = False
        if self.on_lost is not None:
            self.on_lost(self)


class _ConnectionFactory(Factory):
    """Builds :class:`HTTP11Connection` protocols with the pool's limits."""

    noisy = False

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def buildProtocol(self, addr: Any) -> HTTP11Connection:
        """A new connection protocol."""
        return HTTP11Connection(self.limits)


class _Request:
    """One request as the pool tracks it."""

    __slots__ = (
        "outer",
        "data",
        "retry",
        "blocking",
        "info",
        "admitted",
        "cancelled",
        "connecting",
        "conn",
        "pool",
        "watch",
        "deadline",
    )

    def __init__(
        self, data: bytes, retry: bool, blocking: bool, info: RequestInfo, pool: "ConnectionPool"
    ) -> None:
        self.pool = pool
        self.outer: Deferred[RawResponse] = Deferred(self._cancel)
        self.data = data
        self.retry = retry
        self.blocking = blocking
        self.info = info
        self.admitted = False
        self.cancelled = False
        self.connecting: Optional[Deferred[Any]] = None
        self.conn: Optional[HTTP11Connection] = None
        self.watch: Any = None
        #: when the request times out (pool clock), while it runs with a timeout.
        self.deadline: Optional[float] = None

    def _cancel(self, d: Deferred) -> None:
        self.cancelled = True
        self.pool._cancel(self)
        self.pool._finished(self)

    def fire(self, result: Any) -> None:
        """Free the slot and fire the caller's Deferred, unless it was cancelled."""
        if self.cancelled or self.outer.called:
            return
        pool = self.pool
        # A caller often sends its next request from this one's callbacks:
        # the pool's timeout call is kept until they return, for that
        # request to use instead of scheduling a new one.
        pool._firing += 1
        try:
            pool._finished(self)
            if isinstance(result, Failure):
                self.outer.errback(result)
            else:
                self.outer.callback(result)
        finally:
            pool._firing -= 1
            if not pool._firing and not pool._timed:
                pool._stop_timer()


class ConnectionPool:
    """
    Persistent connections to one agent, at most ``max_connections`` open.

    Requests beyond the cap wait in a queue, served in order as connections
    free up.  Blocking reads (long polls) may hold at most
    ``max_connections - reserved`` connections, so that however many watches
    a process runs, short calls (writes, session renewals, lock releases)
    always find a connection within one round trip.

    :param reactor: provides ``seconds()`` for idle bookkeeping.
    :param endpoint: the ``IStreamClientEndpoint`` new connections use
        (TCP, TLS-wrapped TCP, a unix socket, or an in-memory one).
    :param max_idle: most idle connections kept.
    :param idle_timeout: an idle connection older than this is closed
        instead of reused.
    :param fresh_for: a request that may not be resent (``retry=False``)
        reuses only a connection idle for less than this many seconds, so
        that an agent or proxy closing idle connections cannot make it fail.
    :param max_connections: most connections open at once (idle included).
    :param reserved: connections blocking reads may not use.
    :param limits: what a response may be (:class:`txconsul._wire.Limits`).
    :param tls: whether the endpoint wraps connections in TLS (for errors).
    :param tls_handshake_timeout: with ``tls``, seconds a new connection's
        handshake may go unanswered before it is dropped (an agent serving
        plain HTTP reads the ClientHello as the start of a request and waits).
    """

    def __init__(
        self,
        reactor: Any,
        endpoint: IStreamClientEndpoint,
        max_idle: int = 64,
        idle_timeout: float = 60.0,
        fresh_for: float = 2.0,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        reserved: int = DEFAULT_RESERVED_CONNECTIONS,
        limits: Limits = Limits(),
        tls: bool = False,
        tls_handshake_timeout: Optional[float] = 10.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"invalid max_connections {max_connections!r}: must be >= 1")
        if not 0 <= reserved < max_connections:
            raise ValueError(f"invalid reserved_connections {reserved!r}: must be >= 0 and < max_connections")
        self._reactor = reactor
        self._endpoint = endpoint
        self._factory = _ConnectionFactory(limits)
        self._idle: list[HTTP11Connection] = []
        self._all: set[HTTP11Connection] = set()
        self.max_idle = max_idle
        self.idle_timeout = idle_timeout
        self.fresh_for = fresh_for
        self.max_connections = max_connections
        self.reserved = reserved
        self.tls = tls
        self.tls_handshake_timeout = tls_handshake_timeout
        #: requests holding a connection slot (connecting or sent).
        self.active = 0
        #: blocking reads among them.
        self.active_blocking = 0
        self._connecting = 0
        self._queue: deque[_Request] = deque()
        self._blocking_queue: deque[_Request] = deque()
        #: bumped by :meth:`close`; connections opened before it are not pooled.
        self._generation = 0
        self._closing: dict[HTTP11Connection, Deferred[None]] = {}
        #: (deadline, sequence, request) for requests with a timeout; a heap.
        self._deadlines: list[tuple[float, int, _Request]] = []
        self._sequence = count()
        #: how many requests in _deadlines still run.
        self._timed = 0
        #: the delayed call for the earliest deadline (or earlier), or None.
        self._timer: Any = None
        #: _Request.fire calls running (see there).
        self._firing = 0
        self._close_after: set[HTTP11Connection] = set()

    @property
    def connections(self) -> int:
        """How many connections are open (idle or busy)."""
        return len(self._all)

    @property
    def queued(self) -> int:
        """How many requests wait for a connection slot."""
        return len(self._queue) + len(self._blocking_queue)

    def request(
        self,
        data: bytes,
        retry: bool,
        blocking: bool = False,
        info: Optional[RequestInfo] = None,
        timeout: Optional[float] = None,
    ) -> "Deferred[RawResponse]":
        """
        Send a serialized request on an idle or new connection, or queue it
        when ``max_connections`` are busy.

        :param retry: the request may be sent twice (a GET): resend it once on
            a new connection if a reused one is closed before any byte of an
            answer arrives (the keep-alive race with an agent closing idle
            connections).  A request that may not be resent only reuses a
            connection idle for less than ``fresh_for`` seconds instead.
        :param blocking: a long poll: it may not take the reserved slots.
        :param info: filled with what the transport needs for its errors.
        :param timeout: seconds (on the pool's clock, queueing included)
            after which the request is cancelled and ``info.timed_out`` set.
        """
        req = _Request(data, retry, blocking, info or RequestInfo(), self)
        if timeout is not None:
            self._add_deadline(req, timeout)
        if self._may_start(blocking) and not (self._queue or (blocking and self._blocking_queue)):
            self._start(req)
        else:
            req.info.queued = True
            (self._blocking_queue if blocking else self._queue).append(req)
        return req.outer

    def _may_start(self, blocking: bool) -> bool:
        if self.active >= self.max_connections:
            return False
        return not blocking or self.active_blocking < self.max_connections - self.reserved

    def _start(self, req: _Request) -> None:
        req.admitted = True
        self.active += 1
        if req.blocking:
            self.active_blocking += 1
        conn = self._take_idle(None if req.retry else self.fresh_for)
        if conn is not None:
            self._send(req, conn, reused=True)
        else:
            self._connect(req)

    # Timeouts.  Rather than a delayed call per request (a DelayedCall to
    # build, schedule and cancel every time, the largest cost left in the
    # pool), the pool keeps the deadlines of its running requests in a heap
    # and one delayed call for the earliest.  Requests that finish stay in
    # the heap until they reach its top or the heap is rebuilt without them;
    # when no timed request is left (and no answer's callbacks are running),
    # the delayed call is cancelled, so an idle pool schedules nothing.

    def _add_deadline(self, req: _Request, timeout: float) -> None:
        deadline = self._reactor.seconds() + timeout
        req.deadline = deadline
        self._timed += 1
        heappush(self._deadlines, (deadline, next(self._sequence), req))
        timer = self._timer
        if timer is None or deadline < timer.getTime():
            if timer is not None:
                timer.cancel()
            # The same arithmetic as the deadline's: on a task.Clock, the
            # call runs exactly when the deadline is reached.
            self._timer = self._reactor.callLater(timeout, self._expire)

    def _drop_deadline(self, req: _Request) -> None:
        """``req`` no longer runs: it no longer needs a timeout."""
        req.deadline = None
        self._timed -= 1
        if not self._timed:
            self._deadlines = []
            if not self._firing:
                self._stop_timer()
        elif len(self._deadlines) > 2 * self._timed + 64:
            live = [entry for entry in self._deadlines if entry[2].deadline is not None]
            heapify(live)
            self._deadlines = live

    def _stop_timer(self) -> None:
        """No request runs with a timeout: schedule nothing."""
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _expire(self) -> None:
        """Time out every request whose deadline has passed; wait for the next."""
        self._timer = None
        now = self._reactor.seconds()
        while self._deadlines:
            deadline, _, req = self._deadlines[0]
            if req.deadline is None:
                heappop(self._deadlines)  # finished
                continue
            if deadline > now + _SLACK:
                break
            heappop(self._deadlines)
            self._drop_deadline(req)
            req.info.timed_out = True
            req.outer.cancel()  # may run callers' code, which may send requests
        heap = self._deadlines
        while heap and heap[0][2].deadline is None:
            heappop(heap)
        if not heap:
            return
        # The earliest deadline left may be before a delayed call a caller's
        # code scheduled meanwhile (by sending a request).
        at = heap[0][0]
        timer = self._timer
        if timer is None or at < timer.getTime():
            if timer is not None:
                timer.cancel()
            # A hair early rather than late (now + delay may round past the
            # deadline); _SLACK makes the early call count as on time.
            delay = at - self._reactor.seconds() - _SLACK / 2
            self._timer = self._reactor.callLater(max(0.0, delay), self._expire)

    def _finished(self, req: _Request) -> None:
        """The request is over: free its slot, start queued requests."""
        if req.deadline is not None:
            self._drop_deadline(req)
        if req.admitted:
            req.admitted = False
            self.active -= 1
            if req.blocking:
                self.active_blocking -= 1
            if self._queue or self._blocking_queue:
                self._drain()

    def _drain(self) -> None:
        while True:
            if self._queue and self._may_start(False):
                self._start(self._queue.popleft())
            elif self._blocking_queue and self._may_start(True):
                self._start(self._blocking_queue.popleft())
            else:
                return

    def _cancel(self, req: _Request) -> None:
        if not req.admitted:
            for queue in (self._queue, self._blocking_queue):
                try:
                    queue.remove(req)
                except ValueError:
                    pass
            return
        conn = req.conn
        if conn is not None:
            if self.tls and not conn.handshake_done and not conn.got_bytes:
                req.info.tls_stalled = True
            if conn.busy:
                conn.abort()
                self._unwatch(req)
                req.conn = req.info.conn = None
                self._release(conn)
        elif req.connecting is not None:
            # The caller sees CancelledError, whatever the endpoint fails with
            # (HostnameEndpoint reports a cancelled name lookup as
            # DNSLookupError): _Request.fire ignores it once cancelled.
            req.connecting.cancel()

    def _take_idle(self, max_age: Optional[float]) -> Optional[HTTP11Connection]:
        """The most recently used idle connection, if one is young enough."""
        now = self._reactor.seconds()
        idle = self._idle
        while idle:
            conn = idle[-1]
            age = now - conn.idle_since
            # keep_alive turns False on an idle connection when bytes nobody
            # asked for arrive: it is closing, its connectionLost to come.
            if conn.lost or not conn._parser.keep_alive or age > self.idle_timeout:
                idle.pop()
                if not conn.lost:
                    _transport(conn).loseConnection()
                continue
            if max_age is not None and age >= max_age:
                return None  # older ones stay pooled for requests that may retry
            return idle.pop()
        return None

    def _connect(self, req: _Request) -> None:
        # Keep open connections within the cap: an idle one unfit for this
        # request (too old to reuse without a resend) makes room.
        while self._idle and len(self._all) + self._connecting >= self.max_connections:
            old = self._idle.pop(0)
            if not old.lost:
                _transport(old).loseConnection()
            self._all.discard(old)
        generation = self._generation
        self._connecting += 1
        try:
            connecting = self._endpoint.connect(self._factory)
        except Exception:
            # An endpoint should fail its Deferred; one that raises must not
            # cost a slot (or the caller's own code a stack of errors).
            connecting = fail()
        req.connecting = connecting

        def connected(conn: HTTP11Connection) -> None:
            self._connecting -= 1
            req.connecting = None
            self._all.add(conn)
            conn.on_lost = self._lost
            if generation != self._generation:
                self._close_after.add(conn)  # close() ran while it connected
            if req.cancelled:
                self._release(conn)
                return
            self._send(req, conn, reused=False)

        def failed(f: Failure) -> None:
            self._connecting -= 1
            req.connecting = None
            req.fire(f)

        connecting.addCallbacks(connected, failed)

    def _send(self, req: _Request, conn: HTTP11Connection, reused: bool) -> None:
        req.conn = req.info.conn = conn

        def done(result: Any) -> None:
            if req.watch is not None:
                self._unwatch(req)
            req.conn = req.info.conn = None
            self._release(conn)
            if (
                reused
                and req.retry
                and isinstance(result, Failure)
                and not req.cancelled
                and isinstance(result.value, ConnectionLostEarly)
                and not result.value.got_bytes
            ):
                self._connect(req)
                return
            req.fire(result)

        if self.tls and not reused and not conn.handshake_done and self.tls_handshake_timeout:
            req.watch = self._reactor.callLater(
                self.tls_handshake_timeout, self._handshake_stalled, req, conn
            )
        conn.send(req.data, done)

    @staticmethod
    def _unwatch(req: _Request) -> None:
        watch, req.watch = req.watch, None
        if watch is not None and watch.active():
            watch.cancel()

    def _handshake_stalled(self, req: _Request, conn: HTTP11Connection) -> None:
        """No TLS handshake answer in time: drop the connection, say why."""
        req.watch = None
        if req.conn is conn and not conn.handshake_done and not conn.got_bytes:
            req.info.tls_stalled = req.info.handshake_timed_out = True
            _transport(conn).abortConnection()

    def _release(self, conn: HTTP11Connection) -> None:
        if conn.lost:
            return
        if self._close_after and conn in self._close_after:
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
