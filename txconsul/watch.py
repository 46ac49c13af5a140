# -*- test-case-name: tests.test_watch -*-
"""
Watches: services that follow a Consul view with blocking queries and call a
handler when it changes, correct by construction.

A :class:`Watch` is a :class:`twisted.application.service.Service`.  Its
blocking queries are issued by a shared :class:`_Poll` that owns a
:class:`~twisted.internet.task.LoopingCall` on the injected clock; each tick
is one blocking query.  Watches of one client that issue the same query (same
method, path, parameters, token, datacenter, consistency and retry policy)
share one poll, hence one HTTP long-poll, and the result is fanned out.

The rules, from Consul's blocking-query guidance and ``consul watch``:

- the handler ``(index, data)`` fires once with the initial state, then only
  when the index moved and the data really changed (same index or equal
  data: no call); a deleted key is reported as ``None`` (api/watch/plan.go:
  ``lastParamVal.Equal`` then ``reflect.DeepEqual(p.lastResult, result)``);
- a handler may return a Deferred: the next query waits for it, so handler
  calls never overlap and nothing queues up;
- the index is reset to 0 when it goes backwards, never used below 1, and a
  loop whose queries return quickly without a data change is rate limited;
- errors never stop a watch: the query is retried with exponential backoff
  (1 s doubling per consecutive failure, at most 180 s, less up to 20%
  jitter; all configurable); the index is reset, and the first answer after an
  error is given to the handler even when it equals the last one (plan.go
  sets ``lastParamVal = nil`` on error, which skips the ``DeepEqual`` test);
  loss and recovery are logged and given to the optional ``on_error`` /
  ``on_recover`` callbacks;
- ``stopService`` cancels the query in flight.

The data a handler receives is decoded like the client decodes it (KV
``Value`` and event ``Payload`` as ``bytes``); with ``raw=True`` it is the
JSON ``consul watch`` gives its handler: Consul's answer as the Go ``api``
package re-encodes it (KV entries and events in the ``api.KVPair`` /
``api.UserEvent`` field order, ``"Session": ""`` included, ``Value`` and
``Payload`` base64).
"""

from __future__ import annotations

import copy
import random
from typing import Any, Callable, Optional, Sequence, Union

import attr
from twisted.application.service import Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    inlineCallbacks,
    maybeDeferred,
    succeed,
)
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._duration import MAX_WAIT, DurationLike
from ._http import ConsulResponse, Param, _describe, check_consistency
from .api._base import check_str, check_wait, path_segment
from .api.event import decode_event
from .api.kv import decode_entry, kv_path

__all__ = [
    "CHECK_STATES",
    "DEFAULT_WAIT",
    "EVENT_WAIT",
    "JITTER",
    "MAX_BACKOFF",
    "RETRY_INTERVAL",
    "RetryPolicy",
    "WATCH_TYPES",
    "Watch",
    "WatchQuery",
    "build_watch",
    "event_id_to_index",
    "watch_checks",
    "watch_event",
    "watch_key",
    "watch_keyprefix",
    "watch_nodes",
    "watch_service",
    "watch_services",
]

log = Logger()

#: The watch types, as in Consul's watch documentation.
WATCH_TYPES = ("key", "keyprefix", "services", "nodes", "service", "checks", "event")

#: The states a ``checks`` watch may follow.
CHECK_STATES = ("any", "passing", "warning", "critical")

Handler = Callable[[int, Any], Any]


# -- queries -----------------------------------------------------------------


@attr.s(frozen=True, slots=True, auto_attribs=True, repr=False)
class WatchQuery:
    """
    One blocking query, exactly: the key under which watches share a poll.

    :ivar path: the escaped path, starting with ``/v1/``.
    :ivar params: extra query parameters, in order (``None`` value: a flag).
    :ivar token: the ACL token, or ``None`` for the client's default
        (never shown in ``repr``).
    :ivar dc: the datacenter, or ``None`` for the client's default.
    :ivar consistency: ``None`` (client default), ``'default'``,
        ``'consistent'`` or ``'stale'``.
    :ivar kind: how answers are read: ``'key'``, ``'keyprefix'``,
        ``'event'`` or ``'json'``.
    :ivar method: always ``'GET'``.
    """

    path: str
    params: tuple[Param, ...] = ()
    token: Optional[str] = None
    dc: Optional[str] = None
    consistency: Optional[str] = None
    kind: str = "json"
    method: str = "GET"

    @property
    def hashed_index(self) -> bool:
        """Whether the index is a hash (events), not a Raft index."""
        return self.kind == "event"

    def __repr__(self) -> str:
        token = "set" if self.token else "default"
        return (
            f"<WatchQuery {self.method} {self.path} params={list(self.params)!r} "
            f"dc={self.dc!r} consistency={self.consistency!r} token={token}>"
        )


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
EVENT_WAIT = MAX_WAIT


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
            raise ValueError(
                f"invalid backoff_cap {self.backoff_cap!r}: must be >= backoff"
            )
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
        """The ``wait`` sent with ``query``: :attr:`wait`, else its default."""
        if self.wait is not None:
            return self.wait
        return EVENT_WAIT if query.kind == "event" else DEFAULT_WAIT


def _tags(tag: Union[str, Sequence[str], None]) -> list[str]:
    if tag is None:
        return []
    if isinstance(tag, (str, bytes)):
        return [check_str(tag, "tag")]
    return [check_str(t, "tag") for t in tag]


# -- views: what one watch sees of a query's answer ------------------------------


def _decode_kv(entry: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    # decode_entry decodes in place; the view is the subscriber's memory of
    # what it was last given, so the handler gets a copy.  (raw=True does
    # not come here: it re-encodes the Go struct instead, see _go_kv.)
    return None if entry is None else decode_entry(copy.deepcopy(entry))


def _decode_kv_list(entries: Optional[list[Any]]) -> Optional[list[Any]]:
    if entries is None:
        return None
    return [_decode_kv(e) for e in entries]


def _decode_events(events: Optional[list[Any]]) -> list[Any]:
    return [decode_event(copy.deepcopy(e)) for e in events or []]


#: api.KVPair's fields, in order, with the zero value Go writes for each.
#: ``Session`` has no ``omitempty``: ``consul watch`` always shows it, ``""``
#: when the key is not locked, although Consul's HTTP answer leaves it out.
_KV_FIELDS: tuple[tuple[str, Any], ...] = (
    ("Key", ""), ("CreateIndex", 0), ("ModifyIndex", 0), ("LockIndex", 0),
    ("Flags", 0), ("Value", None), ("Session", ""),
)

#: api.KVPair fields tagged ``json:",omitempty"``.
_KV_OMITEMPTY = ("Namespace", "Partition")

#: api.UserEvent's fields, in order, with Go's zero values (no omitempty).
_EVENT_FIELDS: tuple[tuple[str, Any], ...] = (
    ("ID", ""), ("Name", ""), ("Payload", None), ("NodeFilter", ""),
    ("ServiceFilter", ""), ("TagFilter", ""), ("Version", 0), ("LTime", 0),
)


def _go_struct(entry: dict[str, Any], fields: Sequence[tuple[str, Any]],
               omitempty: Sequence[str] = ()) -> dict[str, Any]:
    """``entry`` decoded into a Go struct and encoded again: known fields only."""
    out = {name: copy.deepcopy(entry.get(name, zero)) for name, zero in fields}
    for name in omitempty:
        if entry.get(name):
            out[name] = entry[name]
    return out


def _go_kv(entry: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if entry is None:
        return None
    return _go_struct(entry, _KV_FIELDS, _KV_OMITEMPTY)


def event_id_to_index(event_id: str) -> int:
    """
    The index Consul derives from an event ID (``api.Event.IDToIndex``): the
    XOR of the UUID's two halves.
    """
    lower = event_id[0:8] + event_id[9:13] + event_id[14:18]
    upper = event_id[19:23] + event_id[24:36]
    return int(lower, 16) ^ int(upper, 16)


class _View:
    """What one watch sees of an answer, and how it is decoded."""

    def select(self, raw: Any, sub: "_Subscriber", index: int,
               memo: dict[str, Any]) -> tuple[bool, Any]:
        """
        ``(worth_a_call, raw_view)`` for this subscriber; ``memo`` is shared
        by every subscriber of one answer.
        """
        if "copy" not in memo:
            memo["copy"] = copy.deepcopy(raw)
        view = memo["copy"]
        if sub.delivered and view == sub.last:
            return False, view
        return True, view

    def decode(self, view: Any) -> Any:
        """The view as handlers get it (a fresh copy)."""
        return copy.deepcopy(view)

    def go(self, view: Any) -> Any:
        """The view as ``consul watch`` gives it (``raw=True``): a fresh copy."""
        return copy.deepcopy(view)


class _KeyView(_View):
    """One key: from a single-key read, or picked out of a prefix read."""

    def __init__(self, key: Optional[str] = None) -> None:
        self.key = key

    def select(self, raw: Any, sub: "_Subscriber", index: int,
               memo: dict[str, Any]) -> tuple[bool, Any]:
        entry = None
        if raw:
            if self.key is None:
                entry = raw[0]
            else:
                by_key = memo.get("by_key")
                if by_key is None:
                    by_key = memo["by_key"] = {e.get("Key"): e for e in raw}
                entry = by_key.get(self.key)
        entry = dict(entry) if entry is not None else None
        if sub.delivered and entry == sub.last:
            return False, entry
        return True, entry

    def decode(self, view: Any) -> Any:
        return _decode_kv(view)

    def go(self, view: Any) -> Any:
        return _go_kv(view)


class _PrefixView(_View):
    def decode(self, view: Any) -> Any:
        return _decode_kv_list(view)

    def go(self, view: Any) -> Any:
        # kv.List: a 404 (nothing under the prefix) is a nil slice: null.
        return None if view is None else [_go_kv(e) for e in view]


class _ChecksView(_View):
    """
    Checks carrying every one of ``tags`` in ``ServiceTags`` (Consul's HTTP
    API has no tag parameter for /v1/health/state or /v1/health/checks, so
    the filter runs here, on the shared answer).
    """

    def __init__(self, tags: Sequence[str]) -> None:
        self.tags = tuple(tags)

    def select(self, raw: Any, sub: "_Subscriber", index: int,
               memo: dict[str, Any]) -> tuple[bool, Any]:
        key = "tags\0" + "\0".join(self.tags)
        view = memo.get(key)
        if view is None:
            view = [
                copy.deepcopy(c) for c in raw or []
                if all(t in (c.get("ServiceTags") or []) for t in self.tags)
            ]
            memo[key] = view
        if sub.delivered and view == sub.last:
            return False, view
        return True, view


class _EventView(_View):
    """Only the events new since this watch's last call, as ``consul watch``."""

    def select(self, raw: Any, sub: "_Subscriber", index: int,
               memo: dict[str, Any]) -> tuple[bool, Any]:
        events = list(raw or [])
        if sub.delivered:
            for i, e in enumerate(events):
                if event_id_to_index(e.get("ID", "")) == sub.last_index:
                    events = events[i + 1:]
                    break
            if not events:
                return False, []
        return True, copy.deepcopy(events)

    def decode(self, view: Any) -> Any:
        return _decode_events(view)

    def go(self, view: Any) -> Any:
        return [_go_struct(e, _EVENT_FIELDS) for e in view]


@attr.s(frozen=True, slots=True, auto_attribs=True)
class _Plan:
    query: WatchQuery
    view: _View
    type: str


def build_watch(
    type: str,
    *,
    key: Optional[str] = None,
    prefix: Optional[str] = None,
    service: Optional[str] = None,
    tag: Union[str, Sequence[str], None] = None,
    passingonly: bool = False,
    state: Optional[str] = None,
    name: Optional[str] = None,
    dc: Optional[str] = None,
    token: Optional[str] = None,
    stale: bool = False,
    consistency: Optional[str] = None,
    filter: Optional[str] = None,
    via_prefix: Optional[str] = None,
) -> _Plan:
    """
    Validate watch parameters (Consul's watch names) and build the query.

    :raises ValueError: for a missing or conflicting parameter, naming it.
    :raises TypeError: for an argument of the wrong type.
    """
    if type not in WATCH_TYPES:
        raise ValueError(f"invalid watch type {type!r}: use one of {', '.join(WATCH_TYPES)}")
    given = {
        "key": key is not None,
        "prefix": prefix is not None,
        "service": service is not None,
        "tag": bool(tag),
        "passingonly": bool(passingonly),
        "state": state is not None,
        "name": name is not None,
        "filter": filter is not None,
        "via_prefix": via_prefix is not None,
        "stale": bool(stale) or consistency is not None,
    }
    allowed = {
        "key": {"key", "via_prefix", "stale"},
        "keyprefix": {"prefix", "stale"},
        "services": {"filter", "stale"},
        "nodes": {"filter", "stale"},
        "service": {"service", "tag", "passingonly", "filter", "stale"},
        # "tag" on checks: the variant of hashicorp/consul's checksWatch that
        # calls health.StateTags / health.ChecksTags (issue #17642); released
        # Consul answers "Invalid parameters: [tag]".
        "checks": {"service", "state", "tag", "filter", "stale"},
        "event": {"name"},
    }[type]
    bad = sorted(k for k, v in given.items() if v and k not in allowed)
    if bad:
        raise ValueError(f"{', '.join(bad)} cannot be used with a {type!r} watch")
    if stale and consistency not in (None, "stale"):
        raise ValueError("stale=True conflicts with consistency=" + repr(consistency))
    mode = "stale" if stale else check_consistency(consistency)
    if dc is not None:
        dc = check_str(dc, "dc")
    if token is not None and not isinstance(token, str):
        raise TypeError("token must be a str")
    params: list[Param] = []
    view: _View = _View()
    kind = "json"
    if type == "key":
        if not key:
            raise ValueError("a 'key' watch needs key")
        if via_prefix is not None:
            text_key = check_str(key, "key")
            if not text_key.startswith(check_str(via_prefix, "via_prefix", allow_empty=True)):
                raise ValueError(f"key {key!r} is not under via_prefix {via_prefix!r}")
            path = kv_path(via_prefix, allow_empty=True)
            params.append(("recurse", None))
            kind = "keyprefix"
            view = _KeyView(text_key)
        else:
            path = kv_path(key)
            kind = "key"
            view = _KeyView()
    elif type == "keyprefix":
        if prefix is None:
            raise ValueError("a 'keyprefix' watch needs prefix")
        path = kv_path(prefix, allow_empty=True)
        params.append(("recurse", None))
        kind = "keyprefix"
        view = _PrefixView()
    elif type == "services":
        path = "/v1/catalog/services"
    elif type == "nodes":
        path = "/v1/catalog/nodes"
    elif type == "service":
        if not service:
            raise ValueError("a 'service' watch needs service")
        path = "/v1/health/service/" + path_segment(service, "service")
        for t in _tags(tag):
            params.append(("tag", t))
        if passingonly:
            params.append(("passing", "1"))
    elif type == "checks":
        if service is not None and state is not None:
            raise ValueError("a 'checks' watch takes service or state, not both")
        if service is not None:
            path = "/v1/health/checks/" + path_segment(service, "service")
        else:
            state = "any" if state is None else state
            if state not in CHECK_STATES:
                raise ValueError(
                    f"invalid state {state!r}: use one of {', '.join(CHECK_STATES)}"
                )
            path = "/v1/health/state/" + state
        tags = _tags(tag)
        if tags:
            view = _ChecksView(tags)
    else:  # event
        path = "/v1/event/list"
        if name:
            params.append(("name", check_str(name, "name")))
        kind = "event"
        view = _EventView()
        mode = None  # stale does not apply to events
    if filter is not None:
        params.append(("filter", check_str(filter, "filter")))
    query = WatchQuery(path, tuple(params), token, dc, mode, kind)
    return _Plan(query, view, type)


# -- the shared poll -----------------------------------------------------------


class _Subscriber:
    """One watch's delivery state on a poll."""

    __slots__ = ("watch", "delivered", "last", "last_index", "busy")

    def __init__(self, watch: "Watch") -> None:
        self.watch = watch
        self.delivered = False
        self.last: Any = None
        self.last_index = 0
        self.busy: Optional[Deferred] = None


_UNSET: Any = object()


class _Poll:
    """
    One blocking query loop, shared by every watch that asks it.

    A :class:`LoopingCall` (interval 0, on the hub's clock) runs :meth:`_tick`;
    each tick is one query, then the fan-out (waiting for the handlers), then
    a backoff or rate-limit pause when one is due.
    """

    def __init__(self, hub: "WatchHub", query: WatchQuery, policy: RetryPolicy) -> None:
        self.hub = hub
        self.query = query
        self.policy = policy
        self.clock = hub.clock
        self.index = 0
        self.raw: Any = _UNSET
        self.subs: dict[_Subscriber, None] = {}  # an ordered set
        self.failures = 0
        self.requests = 0
        self._current: Optional[Deferred] = None
        self._stopped = False
        self._memo: dict[str, Any] = {}
        self._memo_of: Any = _UNSET
        self._loop = LoopingCall(self._tick)
        self._loop.clock = self.clock

    def start(self) -> None:
        """Start querying."""
        self._loop.start(0, now=True).addErrback(
            lambda f: log.failure("watch loop for {query!r} died", f, query=self.query)
        )

    def stop(self) -> None:
        """Stop the loop and cancel the query (or pause) in flight."""
        self._stopped = True
        if self._loop.running:
            self._loop.stop()
        current, self._current = self._current, None
        if current is not None:
            current.cancel()

    # -- subscribers

    def add(self, sub: _Subscriber) -> None:
        """Subscribe; a late joiner gets the state the poll already has."""
        self.subs[sub] = None
        if self.raw is _UNSET:
            return
        try:
            ready = self._prepare(sub, self.index, self.raw)
        except Exception:
            # Another view of the same query could read this answer, this
            # one cannot: the watch gets the error, and the next answer.
            failure = Failure()
            log.warn(
                "watch {query!r}: cannot read the current answer ({error})",
                query=self.query, error=_describe(failure.value),
            )
            sub.watch._notify_error(failure)
            return
        if ready is not None:
            self._deliver(sub, self.index, *ready)

    def remove(self, sub: _Subscriber) -> None:
        """Unsubscribe; the last one out stops the poll."""
        self.subs.pop(sub, None)
        if not self.subs:
            self.hub._forget(self)
            self.stop()

    def _prepare(self, sub: _Subscriber, index: int, raw: Any) -> Optional[tuple[Any, Any]]:
        """
        ``(view, data)`` when this answer changes what ``sub`` has seen,
        else ``None``.  Changes no state (but the memo shared by the
        subscribers of one answer); raises when the view cannot read the
        answer.
        """
        watch = sub.watch
        if self._memo_of is not raw:
            self._memo, self._memo_of = {}, raw
        call, view = watch._view.select(raw, sub, index, self._memo)
        if not call:
            return None
        data = watch._view.go(view) if watch.raw else watch._view.decode(view)
        return view, data

    def _deliver(self, sub: _Subscriber, index: int, view: Any, data: Any) -> Deferred:
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
            d.addErrback(
                lambda f: log.failure(
                    "watch handler failed (index {index})", f, index=index
                )
            )
            return d

        def finished(_: Any) -> None:
            if sub.busy is mine:
                sub.busy = None
            mine.callback(None)

        _after(previous).addCallback(run).addBoth(finished)
        return _after(mine)

    # -- one tick

    def _issue(self) -> "Deferred[ConsulResponse]":
        q = self.query
        self.requests += 1
        return self.hub.consul.http.request(
            q.method,
            q.path,
            list(q.params),
            token=q.token,
            dc=q.dc,
            consistency=q.consistency,
            index=self.index,
            # Always explicit: the transport's client-side timeout is
            # computed from the wait sent, and an event list without one
            # blocks twice as long as other endpoints do.
            wait=self.policy.wait_for(q),
            # api/kv.go getInternal: a KV 404 is "no such key" (nil, with
            # the index); for every other endpoint requireOK makes a 404 an
            # error, retried like any other.
            expect=(200, 404) if q.kind in ("key", "keyprefix") else (200,),
            require_index=True,
        )

    @inlineCallbacks
    def _tick(self) -> Any:
        if self._stopped:
            return
        started = self.clock.seconds()
        sent_index = self.index
        try:
            d = self._current = self._issue()
            response = yield d
            self._current = None
            if self._stopped:
                return
            new_index = response.meta.index or 0
            raw = response.json() if response.code == 200 else None
            first = self.raw is _UNSET
            # Every subscriber's view is read before any state changes: an
            # answer that a view cannot read (an unexpected shape) is a
            # failed query -- given to on_error and retried with backoff --
            # never a dead loop, nor an answer given to some handlers only.
            # plan.go: "if p.lastParamVal != nil && p.lastParamVal.Equal(...)
            # { continue }" -- an unchanged index is no change, unless the
            # query carried no index (the first one, or the first after an
            # error).
            ready: list[tuple[_Subscriber, tuple[Any, Any]]] = []
            if first or sent_index == 0 or new_index != sent_index:
                for sub in list(self.subs):
                    prepared = self._prepare(sub, new_index, raw)
                    if prepared is not None:
                        ready.append((sub, prepared))
        except CancelledError:
            return
        except Exception:
            failure = Failure()
            self._current = None
            if self._stopped:
                return
            yield self._failed(failure)
            return
        old_index, old_raw = self.index, self.raw
        if not self.query.hashed_index and new_index < old_index:
            log.info(
                "watch {query!r}: index went backwards ({old} -> {new}); resetting",
                query=self.query, old=old_index, new=new_index,
            )
            self.index = 0
        else:
            self.index = max(new_index, 1)
        data_changed = first or raw != old_raw
        self.raw = raw
        if self.failures:
            log.info(
                "watch {query!r} recovered after {n} failed queries",
                query=self.query, n=self.failures,
            )
            self.failures = 0
            for sub in list(self.subs):
                sub.watch._notify_recover()
            if self._stopped:
                return
        # A watch that left in on_recover gets nothing; one that joined there
        # was given this answer by add().
        deliveries = [
            self._deliver(sub, new_index, *prepared)
            for sub, prepared in ready if sub in self.subs
        ]
        if deliveries:
            yield DeferredList(deliveries)
        if self._stopped:
            return
        elapsed = self.clock.seconds() - started
        if not data_changed and elapsed < self.policy.min_interval:
            pause = self.policy.min_interval - elapsed
            log.debug(
                "watch {query!r}: index moved without a change; pausing {pause:.2f}s",
                query=self.query, pause=pause,
            )
            try:
                yield self._pause(pause)
            except CancelledError:
                return

    def _pause(self, seconds: float) -> Deferred:
        """Sleep ``seconds`` on the clock, as the poll's cancellable work in flight."""
        d = self._current = deferLater(self.clock, seconds, lambda: None)

        def done(result: Any) -> Any:
            if self._current is d:
                self._current = None
            return result

        return d.addBoth(done)

    @inlineCallbacks
    def _failed(self, failure: Failure) -> Any:
        self.failures += 1
        # plan.go on error: "p.lastParamVal = nil" -- the next query carries
        # no index, and as oldParamVal is then nil the DeepEqual test is
        # skipped: the first answer after an error reaches every handler,
        # even unchanged (and an event watch gets every buffered event).
        self.index = 0
        for sub in self.subs:
            sub.delivered = False
        delay = self.policy.delay(self.failures, self.hub.rng)
        log.warn(
            "watch {query!r} failed ({error}); retry {n} in {delay:.2f}s",
            query=self.query, error=_describe(failure.value), n=self.failures,
            delay=delay,
        )
        for sub in list(self.subs):
            sub.watch._notify_error(failure)
        if self._stopped:
            return
        try:
            yield self._pause(delay)
        except CancelledError:
            return


def _after(d: Optional[Deferred]) -> Deferred:
    """A new Deferred that fires with ``None`` once ``d`` has fired."""
    if d is None:
        return succeed(None)
    out: Deferred = Deferred()

    def relay(result: Any) -> Any:
        out.callback(None)
        return result

    d.addBoth(relay)
    return out


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
        self.polls: dict[tuple[WatchQuery, RetryPolicy], _Poll] = {}

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

    def subscribe(self, watch: "Watch") -> tuple[_Poll, _Subscriber]:
        """Attach ``watch`` to the poll of its query, starting one if needed."""
        key = (watch.query, watch.policy)
        poll = self.polls.get(key)
        new = poll is None
        if poll is None:
            poll = self.polls[key] = _Poll(self, watch.query, watch.policy)
        sub = _Subscriber(watch)
        poll.add(sub)
        if new:
            poll.start()
        return poll, sub

    def _forget(self, poll: _Poll) -> None:
        key = (poll.query, poll.policy)
        if self.polls.get(key) is poll:
            del self.polls[key]

    def connections(self) -> int:
        """How many long-polls (HTTP requests in flight at most) are running."""
        return len(self.polls)


# -- the service -----------------------------------------------------------------


class Watch(Service):
    """
    A service that calls ``handler(index, data)`` with the initial state of a
    Consul view and then on every real change.

    Build it with :func:`build_watch` parameters through the ``watch_*``
    functions (which also start it), or directly and attach it to a service
    parent.

    :param consul: a :class:`txconsul.Consul`.
    :param type: a watch type (:data:`WATCH_TYPES`).
    :param handler: ``(index, data)``; may return a Deferred, which the next
        query waits for.  Exceptions are logged, never fatal.
    :param on_error: called with the :class:`~twisted.python.failure.Failure`
        of each failed query (the watch keeps retrying).
    :param on_recover: called with no arguments when a query succeeds after
        failures.
    :param clock: the clock of the loop (the client's reactor by default).
    :param raw: give handlers the JSON ``consul watch`` gives (base64
        ``Value``, Go ``api`` struct shapes).
    :param wait: the blocking wait (``'5m'`` or seconds; by default
        :data:`DEFAULT_WAIT`, or :data:`EVENT_WAIT` for event watches).
        It is always sent, so the client-side timeout matches it.
    :param backoff: the first retry delay in seconds (1 s; it doubles with
        each failure in a row); ``backoff_cap`` the longest (180 s);
        ``jitter`` the random fraction of each delay (0.2); ``min_interval``
        the rate limit (see :class:`RetryPolicy`).
    :param params: the watch parameters of :func:`build_watch` (``key``,
        ``prefix``, ``service``, ``tag`` (``service`` and ``checks``),
        ``passingonly``, ``state``,
        ``name``, ``dc``, ``token``, ``stale``, ``consistency``, ``filter``,
        ``via_prefix``).
    """

    def __init__(
        self,
        consul: Any,
        type: str,
        handler: Handler,
        *,
        on_error: Optional[Callable[[Failure], Any]] = None,
        on_recover: Optional[Callable[[], Any]] = None,
        clock: Any = None,
        raw: bool = False,
        wait: Optional[DurationLike] = None,
        backoff: float = RETRY_INTERVAL,
        backoff_cap: float = MAX_BACKOFF,
        jitter: float = JITTER,
        min_interval: float = 1.0,
        hub: Optional[WatchHub] = None,
        **params: Any,
    ) -> None:
        if not callable(handler):
            raise TypeError("handler must be callable")
        plan = build_watch(type, **params)
        self.type = type
        self.query = plan.query
        self._view = plan.view
        self.handler = handler
        self.on_error = on_error
        self.on_recover = on_recover
        self.raw = raw
        self.policy = RetryPolicy(
            wait=check_wait(wait),
            backoff=backoff,
            backoff_cap=backoff_cap,
            jitter=jitter,
            min_interval=min_interval,
        )
        # The default made explicit, so that a watch without wait= shares
        # the poll of one asking for the same wait outright.
        self.policy = attr.evolve(self.policy, wait=self.policy.wait_for(self.query))
        self.hub = hub if hub is not None else WatchHub.for_client(consul, clock)
        self._poll: Optional[_Poll] = None
        self._sub: Optional[_Subscriber] = None

    def __repr__(self) -> str:
        return f"<Watch {self.type} {self.query!r}>"

    @property
    def index(self) -> int:
        """The index of the last call to the handler (0 before the first)."""
        return self._sub.last_index if self._sub is not None else 0

    def startService(self) -> None:
        """
        Subscribe to the shared poll of this watch's query.  Starting a
        started watch does nothing: the ``watch_*`` functions return started
        watches, which may then be given a service parent that starts them
        again; one subscription, and one :meth:`stopService`, still.
        """
        if self._poll is not None:
            return
        super().startService()
        self._poll, self._sub = self.hub.subscribe(self)

    def stopService(self) -> Optional[Deferred]:
        """
        Unsubscribe; when no other watch shares the query, cancel the query
        in flight.  Fires at once, or when a handler call in progress ends.
        """
        super().stopService()
        poll, sub = self._poll, self._sub
        self._poll = None
        if poll is None or sub is None:
            return None
        poll.remove(sub)
        if sub.busy is not None:
            return _after(sub.busy)
        return None

    def _notify_error(self, failure: Failure) -> None:
        if self.on_error is not None:
            maybeDeferred(self.on_error, failure).addErrback(
                lambda f: log.failure("watch on_error callback failed", f)
            )

    def _notify_recover(self) -> None:
        if self.on_recover is not None:
            maybeDeferred(self.on_recover).addErrback(
                lambda f: log.failure("watch on_recover callback failed", f)
            )


# -- conveniences ------------------------------------------------------------------


def _started(watch: Watch) -> Watch:
    watch.startService()
    return watch


def watch_key(consul: Any, key: str, handler: Handler, **kwargs: Any) -> Watch:
    """
    Watch one key; ``data`` is the entry dict (``Value`` as bytes) or
    ``None`` when the key does not exist.  With ``via_prefix='app/'`` the
    key is followed through one shared ``keyprefix`` query of that prefix.
    Returns the started :class:`Watch`; ``stopService()`` stops it.
    """
    return _started(Watch(consul, "key", handler, key=key, **kwargs))


def watch_keyprefix(consul: Any, prefix: str, handler: Handler, **kwargs: Any) -> Watch:
    """Watch every key under ``prefix``; ``data`` is a list of entries or ``None``."""
    return _started(Watch(consul, "keyprefix", handler, prefix=prefix, **kwargs))


def watch_services(consul: Any, handler: Handler, **kwargs: Any) -> Watch:
    """Watch the catalog's services (``{name: [tags]}``)."""
    return _started(Watch(consul, "services", handler, **kwargs))


def watch_nodes(consul: Any, handler: Handler, **kwargs: Any) -> Watch:
    """Watch the catalog's nodes (a list)."""
    return _started(Watch(consul, "nodes", handler, **kwargs))


def watch_service(consul: Any, service: str, handler: Handler, **kwargs: Any) -> Watch:
    """
    Watch the health of a service's instances (``tag=`` one or more tags,
    ``passingonly=True``); ``data`` is the list ``/v1/health/service`` gives.
    """
    return _started(Watch(consul, "service", handler, service=service, **kwargs))


def watch_checks(consul: Any, handler: Handler, **kwargs: Any) -> Watch:
    """
    Watch health checks by ``service=`` or by ``state=`` (default
    ``'any'``); ``tag=`` (one or more) keeps the checks whose
    ``ServiceTags`` hold every tag.
    """
    return _started(Watch(consul, "checks", handler, **kwargs))


def watch_event(consul: Any, handler: Handler, name: Optional[str] = None, **kwargs: Any) -> Watch:
    """
    Watch user events (of ``name``, or all); ``data`` is the list of events
    new since the last call (``Payload`` as bytes), all buffered ones first.
    """
    return _started(Watch(consul, "event", handler, name=name, **kwargs))
