# -*- test-case-name: tests.test_watch -*-
"""
The shared poll: one blocking-query loop per distinct query, fanned out to
every watch that asks it.

:class:`Poll` runs an explicit loop on the hub's clock: query, hand the
answer to the subscribers (waiting for their handlers), then pause when a
backoff or the rate limit is due.  Stopping cancels whatever the loop is
waiting for (the query or a pause); a handler call in progress is let finish.
"""

from __future__ import annotations

import copy
import random
from typing import TYPE_CHECKING, Any, Generator, Optional

import attr
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    inlineCallbacks,
    maybeDeferred,
    succeed,
)
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from .._duration import MAX_WAIT
from .._http import ConsulResponse
from .._request import send
from ._plans import WatchQuery, hash_request

if TYPE_CHECKING:
    from ._service import Watch

__all__ = [
    "DEFAULT_WAIT",
    "EVENT_WAIT",
    "JITTER",
    "MAX_BACKOFF",
    "Poll",
    "RETRY_INTERVAL",
    "RetryPolicy",
    "Subscriber",
    "WatchHub",
    "after",
]

log = Logger()

#: The first retry delay after an error, in seconds; each further failure in
#: a row doubles it.
RETRY_INTERVAL = 1.0

#: The longest retry delay, in seconds (api/watch/plan.go's ``maxBackoffTime``).
MAX_BACKOFF = 180.0

#: The default random fraction taken off each retry delay, so that many
#: watches that failed together do not retry in lockstep.
JITTER = 0.2

#: The ``wait`` a watch sends when none is given: Consul's default blocking
#: time (5 minutes).
DEFAULT_WAIT = 300.0

#: The ``wait`` an event watch sends when none is given: ``/v1/event/list``
#: with an index and no ``wait`` blocks for Consul's 10 minute maximum, not
#: the usual 5 minutes, so the poll asks for that explicitly and the
#: client-side timeout (computed from the ``wait`` sent) lines up with it.
#: (It is the event list request's ``default_wait``.)
EVENT_WAIT = float(MAX_WAIT)  # not a bare alias, which pydoctor cannot document


@attr.s(frozen=True, slots=True, auto_attribs=True)
class RetryPolicy:
    """
    How a poll waits, retries and rate-limits.

    Retries back off exponentially: after ``n`` consecutive failures the
    next query waits ``backoff * 2**(n-1)`` seconds, at most ``backoff_cap``
    -- 1, 2, 4, 8, ... 128, 180 s by default -- less a random ``jitter``
    fraction.  (Consul's own ``consul watch`` waits ``5 s * n**2``; a
    doubling from 1 s notices a recovered agent sooner.)

    :ivar wait: the blocking ``wait`` in seconds.  ``None``: the poll sends
        :data:`DEFAULT_WAIT` (5 minutes, Consul's default), or
        :data:`EVENT_WAIT` (10 minutes, what Consul's event list blocks
        for) for event watches -- always explicitly, so that the client-side
        timeout matches how long the agent really blocks.
    :ivar backoff: the first retry delay in seconds (1 s).
    :ivar backoff_cap: the longest retry delay (180 s, plan.go's
        ``maxBackoffTime``).
    :ivar jitter: the fraction (0..1) of each delay that is random: a delay
        ``d`` becomes uniform in ``[d * (1 - jitter), d]`` (default 0.2).
    :ivar min_interval: a query that comes back sooner than this without a
        data change delays the next one until this many seconds after it
        started (the rate limit of Consul's blocking-query guidance; a
        txconsul addition, it never changes which calls the handler gets).
    """

    wait: Optional[float] = None
    backoff: float = RETRY_INTERVAL
    backoff_cap: float = MAX_BACKOFF
    jitter: float = JITTER
    min_interval: float = 1.0

    def __attrs_post_init__(self) -> None:
        if self.backoff <= 0:
            raise ValueError(f"invalid backoff {self.backoff!r}: must be > 0")
        if self.backoff_cap < self.backoff:
            raise ValueError(f"invalid backoff_cap {self.backoff_cap!r}: must be >= backoff")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"invalid jitter {self.jitter!r}: must be between 0 and 1")
        if self.min_interval < 0:
            raise ValueError(f"invalid min_interval {self.min_interval!r}: must be >= 0")

    def delay(self, failures: int, rng: random.Random) -> float:
        """The retry delay after ``failures`` consecutive failures (>= 1)."""
        n = min(failures, 64)
        base = min(self.backoff_cap, self.backoff * 2.0 ** (n - 1))
        if self.jitter:
            base *= 1.0 - self.jitter * rng.random()
        return base

    def wait_for(self, query: WatchQuery) -> float:
        """The ``wait`` sent with ``query``: :attr:`wait`, else its endpoint's default."""
        if self.wait is not None:
            return self.wait
        return query.request.default_wait or DEFAULT_WAIT


def after(d: Optional[Deferred]) -> Deferred:
    """A new Deferred that fires with ``None`` once ``d`` has fired."""
    if d is None:
        return succeed(None)
    out: Deferred = Deferred()

    def relay(result: Any) -> Any:
        out.callback(None)
        return result

    d.addBoth(relay)
    return out


class Subscriber:
    """One watch's delivery state on a poll."""

    __slots__ = ("watch", "delivered", "last", "last_index", "busy")

    def __init__(self, watch: "Watch") -> None:
        self.watch = watch
        self.delivered = False
        self.last: Any = None
        self.last_index = 0
        self.busy: Optional[Deferred] = None


_UNSET: Any = object()


class Poll:
    """One blocking query loop, shared by every watch that asks it."""

    def __init__(self, hub: "WatchHub", query: WatchQuery, policy: RetryPolicy) -> None:
        self.hub = hub
        self.query = query
        self.policy = policy
        self.clock = hub.clock
        self.index = 0
        #: The last answer's ContentHash (``'hash'`` queries only).
        self.hash: Optional[str] = None
        self.raw: Any = _UNSET
        self.subs: dict[Subscriber, None] = {}  # an ordered set
        self.failures = 0
        self.requests = 0
        self._current: Optional[Deferred] = None
        self._stopped = False
        self._memo: dict[str, Any] = {}
        self._memo_of: Any = _UNSET
        self._done: Optional[Deferred] = None

    @property
    def running(self) -> bool:
        """Whether the loop has started and not yet ended."""
        return self._done is not None and not self._done.called

    def start(self) -> None:
        """Start the loop."""
        self._done = self._loop().addErrback(
            lambda f: log.failure("watch loop for {query!r} died", f, query=self.query)
        )

    def stop(self) -> None:
        """End the loop: cancel the query or pause it is waiting for."""
        self._stopped = True
        current, self._current = self._current, None
        if current is not None:
            current.cancel()

    # -- subscribers

    def add(self, sub: Subscriber) -> None:
        """Subscribe; a late joiner gets the state the poll already has."""
        self.subs[sub] = None
        if self.raw is _UNSET:
            return
        try:
            ready = self._prepare(sub, self.raw)
        except Exception:
            # Another view of the same query could read this answer, this
            # one cannot: the watch gets the error, and the next answer.
            failure = Failure()
            log.warn(
                "watch {query!r}: cannot read the current answer ({error})",
                query=self.query,
                error=_error_text(failure.value),
            )
            sub.watch._notify_error(failure)
            return
        if ready is not None:
            self._deliver(sub, self.index, *ready)

    def remove(self, sub: Subscriber) -> None:
        """Unsubscribe; the last one out stops the poll."""
        self.subs.pop(sub, None)
        if not self.subs:
            self.hub._forget(self)
            self.stop()

    def _prepare(self, sub: Subscriber, raw: Any) -> Optional[tuple[Any, Any]]:
        """
        ``(view, data)`` when this answer changes what ``sub`` has seen,
        else ``None``.  Changes no state (but the memo shared by the
        subscribers of one answer); raises when the view cannot read the
        answer.
        """
        watch = sub.watch
        if self._memo_of is not raw:
            self._memo, self._memo_of = {}, raw
        call, view = watch._view.select(raw, sub, self._memo)
        if not call:
            return None
        # raw=True: Consul's JSON as answered (a copy: the view is memory).
        data = copy.deepcopy(view) if watch.raw else watch._view.decode(view)
        return view, data

    def _deliver(self, sub: Subscriber, index: int, view: Any, data: Any) -> Deferred:
        """
        Record ``view`` as what ``sub`` has seen and call its handler with
        ``data`` (queued behind any call still running); fires when done.
        """
        watch = sub.watch
        sub.delivered = True
        sub.last = view
        sub.last_index = index
        previous = sub.busy
        mine: Deferred = Deferred()
        sub.busy = mine

        def run(_: Any) -> Any:
            if sub not in self.subs:
                return None
            d = maybeDeferred(watch.handler, index, data)
            d.addErrback(lambda f: log.failure("watch handler failed (index {index})", f, index=index))
            return d

        def finished(_: Any) -> None:
            if sub.busy is mine:
                sub.busy = None
            mine.callback(None)

        after(previous).addCallback(run).addBoth(finished)
        return after(mine)

    # -- the loop

    def _waiting_for(self, d: Deferred) -> Deferred:
        """``d``, as the work :meth:`stop` cancels."""
        self._current = d

        def done(result: Any) -> Any:
            if self._current is d:
                self._current = None
            return result

        return d.addBoth(done)

    def _query(self) -> "Deferred[ConsulResponse]":
        """Send the blocking query at the current index."""
        q = self.query
        self.requests += 1
        if q.content_hash:
            # Agent-local state: no index, no consistency mode, no filter;
            # the last ContentHash makes the read block.
            return self._waiting_for(
                send(
                    self.hub.consul.http,
                    hash_request(q, self.hash),
                    wait=self.policy.wait_for(q) if self.hash else None,
                    token=q.token,
                )
            )
        return self._waiting_for(
            send(
                self.hub.consul.http,
                q.request,
                index=self.index,
                # Always explicit: the transport's client-side timeout is
                # computed from the wait sent.
                wait=self.policy.wait_for(q),
                consistency=q.consistency,
                token=q.token,
                dc=q.dc,
                filter=q.filter,
            )
        )

    def _pause(self, seconds: float) -> Deferred:
        """Sleep ``seconds`` on the clock (cancelled by :meth:`stop`)."""
        return self._waiting_for(deferLater(self.clock, seconds, lambda: None))

    @inlineCallbacks
    def _loop(self) -> Generator[Deferred, Any, None]:
        """Query, hand over, pause when due; until :meth:`stop`."""
        while not self._stopped:
            started = self.clock.seconds()
            try:
                response = yield self._query()
                index, raw, ready = self._read(response)
            except CancelledError:
                return  # stop() cancelled the query
            except Exception:
                pause = self._failed(Failure())
            else:
                pause = yield self._hand_over(started, index, raw, ready)
            if pause and not self._stopped:
                try:
                    yield self._pause(pause)
                except CancelledError:
                    return  # stop() cancelled the pause

    def _read(self, response: ConsulResponse) -> tuple[int, Any, list[tuple[Subscriber, Any]]]:
        """
        ``(index, data, ready)``: the answer and the subscribers it changes
        something for, with what they get.  Every view is read before any
        state changes: an answer that a view cannot read (an unexpected
        shape) raises, and is a failed query -- given to on_error and
        retried with backoff -- never a dead loop, nor an answer given to
        some handlers only.
        """
        index = response.meta.index or 0
        # A 404 is an answer only where the endpoint expects one (KV: no
        # such key); its data is null.
        raw = response.json() if response.code == 200 else None
        ready: list[tuple[Subscriber, Any]] = []
        # plan.go: "if p.lastParamVal != nil && p.lastParamVal.Equal(...)
        # { continue }" -- an unchanged index is no change, unless the query
        # carried no index (the first one, or the first after an error).
        if self.query.content_hash:
            # No index: a new ContentHash is the change (api/watch/plan.go
            # compares WaitHashVal); the handlers are given index 0.
            index = 0
            new = raw.get("ContentHash") if isinstance(raw, dict) else None
            changed = self.raw is _UNSET or self.hash is None or new != self.hash
        else:
            changed = self.raw is _UNSET or self.index == 0 or index != self.index
        if changed:
            for sub in list(self.subs):
                prepared = self._prepare(sub, raw)
                if prepared is not None:
                    ready.append((sub, prepared))
        return index, raw, ready

    @inlineCallbacks
    def _hand_over(
        self,
        started: float,
        index: int,
        raw: Any,
        ready: list[tuple[Subscriber, Any]],
    ) -> Generator[Deferred, Any, float]:
        """Take the answer as the poll's state and call the handlers; the pause due."""
        if self.query.content_hash:
            self.hash = raw.get("ContentHash") if isinstance(raw, dict) else None
            self.index = 0
        elif not self.query.hashed_index and index < self.index:
            log.info(
                "watch {query!r}: index went backwards ({old} -> {new}); resetting",
                query=self.query,
                old=self.index,
                new=index,
            )
            self.index = 0
        else:
            self.index = max(index, 1)
        changed = self.raw is _UNSET or raw != self.raw
        self.raw = raw
        if self.failures:
            log.info(
                "watch {query!r} recovered after {n} failed queries",
                query=self.query,
                n=self.failures,
            )
            self.failures = 0
            for sub in list(self.subs):
                sub.watch._notify_recover()
        # A watch that left in on_recover gets nothing; one that joined
        # there was given this answer by add().
        deliveries = [self._deliver(sub, index, *prepared) for sub, prepared in ready if sub in self.subs]
        if deliveries:
            yield DeferredList(deliveries)
        elapsed = self.clock.seconds() - started
        if changed or elapsed >= self.policy.min_interval:
            return 0.0
        pause = self.policy.min_interval - elapsed
        log.debug(
            "watch {query!r}: index moved without a change; pausing {pause:.2f}s",
            query=self.query,
            pause=pause,
        )
        return pause

    def _failed(self, failure: Failure) -> float:
        """Count a failed query, tell the watches; the delay before the next one."""
        self.failures += 1
        # plan.go on error: "p.lastParamVal = nil" -- the next query carries
        # no index, and as oldParamVal is then nil the DeepEqual test is
        # skipped: the first answer after an error reaches every handler,
        # even unchanged (and an event watch gets every buffered event).
        self.index = 0
        self.hash = None
        for sub in self.subs:
            sub.delivered = False
        delay = self.policy.delay(self.failures, self.hub.rng)
        log.warn(
            "watch {query!r} failed ({error}); retry {n} in {delay:.2f}s",
            query=self.query,
            error=_error_text(failure.value),
            n=self.failures,
            delay=delay,
        )
        for sub in list(self.subs):
            sub.watch._notify_error(failure)
        return delay


def _error_text(exc: BaseException) -> str:
    """A short text for a failed query (the transport's errors say what failed)."""
    return str(exc).strip() or type(exc).__name__


#: The attribute of a client that holds its hubs (one per clock).  Kept on
#: the client itself, so the client -> hub -> client cycle is collectable
#: garbage once nothing else refers to the client; a class-level mapping
#: keyed by the client would keep every client alive through its hub.
_HUBS_ATTR = "_txconsul_watch_hubs"


class WatchHub:
    """
    The polls of one client on one clock: watches that ask the same query
    share its poll.  Get it with :meth:`for_client`.

    :ivar rng: the generator of backoff jitter.
    """

    def __init__(self, consul: Any, clock: Any, rng: Optional[random.Random] = None) -> None:
        self.consul = consul
        self.clock = clock
        self.rng = rng if rng is not None else random.Random()
        self.polls: dict[tuple[WatchQuery, RetryPolicy], Poll] = {}

    @classmethod
    def for_client(cls, consul: Any, clock: Any = None) -> "WatchHub":
        """The hub of ``consul`` on ``clock`` (the client's reactor by default)."""
        if clock is None:
            clock = consul.reactor
        per_client: Optional[dict[int, WatchHub]] = getattr(consul, _HUBS_ATTR, None)
        if per_client is None:
            per_client = {}
            setattr(consul, _HUBS_ATTR, per_client)
        hub = per_client.get(id(clock))
        if hub is None or hub.clock is not clock:
            hub = per_client[id(clock)] = cls(consul, clock)
        return hub

    def subscribe(self, watch: "Watch") -> tuple[Poll, Subscriber]:
        """Attach ``watch`` to the poll of its query, starting one if needed."""
        key = (watch.query, watch.policy)
        poll = self.polls.get(key)
        new = poll is None
        if poll is None:
            poll = self.polls[key] = Poll(self, watch.query, watch.policy)
        sub = Subscriber(watch)
        poll.add(sub)
        if new:
            poll.start()
        return poll, sub

    def _forget(self, poll: Poll) -> None:
        key = (poll.query, poll.policy)
        if self.polls.get(key) is poll:
            del self.polls[key]

    def connections(self) -> int:
        """How many long-polls (HTTP requests in flight at most) are running."""
        return len(self.polls)
