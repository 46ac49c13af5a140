# -*- test-case-name: tests.test_discovery_cache -*-
"""
Caches kept fresh by blocking queries: the healthy instances of a service,
a key or a prefix, the catalog's services or nodes.

Each cache is a :class:`~twisted.application.service.Service`.  Started, it
follows its view through a shared watch (:mod:`txconsul.watch`) and keeps
the last answer: :attr:`value`, a :meth:`ready` Deferred for the first
answer, change callbacks given a :class:`Diff` (what was added, changed and
removed, never the whole view again), and while the agent cannot be reached
the last good value stays, with the error and its age exposed.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import attr
from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks, maybeDeferred, succeed
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..watch import JITTER, MAX_BACKOFF, RETRY_INTERVAL, Watch

__all__ = [
    "CacheStopped",
    "CatalogCache",
    "Diff",
    "HealthCache",
    "Instance",
    "KVCache",
]

log = Logger()

ChangeCallback = Callable[["Diff"], Any]


class CacheStopped(Exception):
    """The cache was stopped before it had a first answer."""


@attr.s(frozen=True, slots=True, auto_attribs=True)
class Diff:
    """
    What one answer changed, by key (an instance's ``(node, service_id)``, a
    KV key, a service name or a node name).

    :ivar added: key -> new item, for keys that were not there.
    :ivar changed: key -> new item, for keys whose item differs.
    :ivar removed: key -> old item, for keys that are gone.
    """

    added: Mapping[Any, Any] = attr.ib(factory=dict)
    changed: Mapping[Any, Any] = attr.ib(factory=dict)
    removed: Mapping[Any, Any] = attr.ib(factory=dict)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @classmethod
    def between(cls, old: Mapping[Any, Any], new: Mapping[Any, Any]) -> "Diff":
        """The diff that turns the mapping ``old`` into ``new``."""
        added = {k: v for k, v in new.items() if k not in old}
        changed = {k: v for k, v in new.items() if k in old and old[k] != v}
        removed = {k: v for k, v in old.items() if k not in new}
        return cls(added, changed, removed)


#: Check statuses from best to worst; ``maintenance`` counts as critical,
#: as Consul's own health filtering does.
_SEVERITY = {"passing": 0, "warning": 1, "critical": 2, "maintenance": 2}


@attr.s(frozen=True, slots=True, auto_attribs=True)
class Instance:
    """
    One instance of a service, from ``/v1/health/service/<name>``.

    :ivar node: the node name.
    :ivar service_id: the service ID on that node.
    :ivar service: the service name.
    :ivar address: where to connect: the service address, or the node's
        when the service has none (as Consul's DNS interface answers).
    :ivar port: the service port.
    :ivar tags: the service tags.
    :ivar meta: the service metadata.
    :ivar weights: ``(passing, warning)`` from the service's ``Weights``
        (``(1, 1)`` when Consul gave none).
    :ivar status: the worst status of the instance's checks, node checks
        included: ``'passing'``, ``'warning'`` or ``'critical'``.
    """

    node: str
    service_id: str
    service: str
    address: str
    port: int
    tags: tuple[str, ...] = ()
    meta: Mapping[str, str] = attr.ib(factory=dict, hash=False)
    weights: tuple[int, int] = (1, 1)
    status: str = "passing"

    @property
    def key(self) -> tuple[str, str]:
        """``(node, service_id)``: what identifies the instance."""
        return (self.node, self.service_id)

    @property
    def weight(self) -> int:
        """The weight that applies to the current status."""
        return self.weights[1] if self.status == "warning" else self.weights[0]

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> "Instance":
        """Read one entry of a ``/v1/health/service`` answer."""
        node = entry.get("Node") or {}
        svc = entry.get("Service") or {}
        worst = 0
        for check in entry.get("Checks") or []:
            worst = max(worst, _SEVERITY.get(check.get("Status"), 2))
        weights = svc.get("Weights") or {}
        return cls(
            node=node.get("Node", ""),
            service_id=svc.get("ID", ""),
            service=svc.get("Service", ""),
            address=svc.get("Address") or node.get("Address") or "",
            port=int(svc.get("Port") or 0),
            tags=tuple(svc.get("Tags") or ()),
            meta=dict(svc.get("Meta") or {}),
            weights=(int(weights.get("Passing", 1)), int(weights.get("Warning", 1))),
            status=("passing", "warning", "critical")[worst],
        )


class _Cache(Service):
    """What every cache shares: value, readiness, callbacks, errors."""

    def __init__(self, consul: Any, clock: Any = None) -> None:
        self._consul = consul
        self._clock = clock if clock is not None else consul.reactor
        self._watch: Any = None
        self._waiting: list[Deferred] = []
        self._listeners: list[ChangeCallback] = []
        self._items: dict[Any, Any] = {}
        #: The current value (see the subclass); its empty form until ready.
        self.value: Any = self._empty()
        #: The Consul index of the last answer (0 before the first).
        self.index = 0
        #: How many answers changed an item (the first one included): as
        #: many as the diffs given to change callbacks.
        self.updates = 0
        #: The :class:`~twisted.python.failure.Failure` of the last failed
        #: query while the agent cannot be reached, else ``None``.
        self.error: Optional[Failure] = None
        self._error_since: Optional[float] = None
        self._updated_at: Optional[float] = None
        self._ready = False

    # -- what subclasses give

    def _empty(self) -> Any:
        raise NotImplementedError

    def _make_watch(self) -> Any:
        raise NotImplementedError

    def _convert(self, data: Any) -> tuple[Any, dict[Any, Any]]:
        """``(value, items by key)`` of a watch answer."""
        raise NotImplementedError

    # -- public

    @property
    def consul(self) -> Any:
        """The :class:`txconsul.Consul` the cache queries."""
        return self._consul

    @property
    def is_ready(self) -> bool:
        """Whether a first answer has come."""
        return self._ready

    def ready(self) -> "Deferred[Any]":
        """
        A Deferred that fires with :attr:`value` once the first answer came
        (at once when it already has), or fails with :class:`CacheStopped`
        when the cache is stopped first.  Cancelling it only stops waiting.
        """
        if self._ready:
            d: Deferred = Deferred()
            d.callback(self.value)
            return d

        def cancel(d: Deferred) -> None:
            if d in self._waiting:
                self._waiting.remove(d)

        d = Deferred(cancel)
        self._waiting.append(d)
        return d

    def on_change(self, callback: ChangeCallback) -> Callable[[], None]:
        """
        Call ``callback(diff)`` with a :class:`Diff` after each answer that
        changed the value (the first answer: everything is ``added``).
        Returns a function that removes the callback.
        """
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    @property
    def age(self) -> Optional[float]:
        """Seconds since the last successful answer (``None`` before one)."""
        if self._updated_at is None:
            return None
        return self._clock.seconds() - self._updated_at

    @property
    def stale(self) -> bool:
        """Whether queries are failing, so :attr:`value` may be out of date."""
        return self.error is not None

    @property
    def error_age(self) -> Optional[float]:
        """Seconds since queries started failing (``None`` when they are not)."""
        if self._error_since is None:
            return None
        return self._clock.seconds() - self._error_since

    def startService(self) -> None:
        """Start following the view (a started cache is left alone)."""
        if self._watch is not None:
            return
        super().startService()
        self._watch = self._make_watch()
        self._watch.startService()

    def stopService(self) -> Deferred:
        """
        Stop following; :attr:`value` keeps the last answer.  ``ready()``
        Deferreds still waiting fail with :class:`CacheStopped`.  Returns a
        Deferred that fires once stopped.
        """
        super().stopService()
        watch, self._watch = self._watch, None
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.errback(CacheStopped(f"{self!r} stopped before its first answer"))
        if watch is None:
            return succeed(None)
        return maybeDeferred(watch.stopService)

    # -- from the watch

    def _handle(self, index: int, data: Any) -> None:
        try:
            value, items = self._convert(data)
        except Exception:
            failure = Failure()
            log.failure("{cache!r} cannot read an answer", failure, cache=self)
            self._failed(failure)
            return
        diff = Diff.between(self._items, items)
        first = not self._ready
        self.index = index
        self._updated_at = self._clock.seconds()
        self.error = None
        self._error_since = None
        # The value is always the latest (with near=, the same instances
        # may come in a new order); callbacks only hear of item changes.
        self._items = items
        self.value = value
        if not diff and not first:
            return
        self.updates += 1
        self._ready = True
        # Callbacks first: one added by code that ready() resumes gets the
        # changes after this answer, not this one again.
        for listener in list(self._listeners):
            maybeDeferred(listener, diff).addErrback(
                lambda f: log.failure("change callback of {cache!r} failed", f, cache=self)
            )
        waiting, self._waiting = self._waiting, []
        for d in waiting:
            d.callback(value)

    def _failed(self, failure: Failure) -> None:
        if self._error_since is None:
            self._error_since = self._clock.seconds()
        self.error = failure

    def _recovered(self) -> None:
        self.error = None
        self._error_since = None


def _tag_list(tag: Union[str, Sequence[str], None]) -> list[str]:
    if tag is None:
        return []
    if isinstance(tag, str):
        return [tag]
    tags = list(tag)
    for t in tags:
        if not isinstance(t, str):
            raise TypeError(f"tag must be a str or a list of str, not {type(t).__name__}")
    return tags


class HealthCache(_Cache):
    """
    The healthy instances of a service, kept fresh.

    :attr:`value` is a tuple of :class:`Instance`, in Consul's order.

    :param consul: a :class:`txconsul.Consul`.
    :param service: the service name.
    :param tag: a tag or a list of tags; instances must have all.
    :param passing: ``True`` (default): only instances whose checks all
        pass (Consul's ``?passing``); ``False``: every instance without a
        critical check (passing or warning), as Consul's DNS answers.
    :param near: a node name, or ``'_agent'``, to sort instances by
        round-trip time from it (Consul's ``?near``).
    :param dc: the datacenter (the client's default when ``None``).
    :param token: an ACL token for the queries.
    :param filter: a Consul filter expression.
    :param wait: the blocking wait (``'5m'`` by default).
    :param clock: the clock (``consul.reactor`` by default).
    """

    def __init__(
        self,
        consul: Any,
        service: str,
        *,
        tag: Union[str, Sequence[str], None] = None,
        passing: bool = True,
        near: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        filter: Optional[str] = None,
        wait: Any = None,
        clock: Any = None,
    ) -> None:
        if not isinstance(service, str) or not service:
            raise ValueError(f"invalid service {service!r}: must be a non-empty str")
        if near is not None and (not isinstance(near, str) or not near):
            raise ValueError(f"invalid near {near!r}: must be a node name or '_agent'")
        self.service = service
        self.tags = tuple(_tag_list(tag))
        self.passing = bool(passing)
        self.near = near
        self._params = dict(dc=dc, token=token, filter=filter, wait=wait)
        super().__init__(consul, clock)
        # Validate every parameter now, before any request.
        if near is None:
            self._make_watch()

    def __repr__(self) -> str:
        tags = f" tags={list(self.tags)!r}" if self.tags else ""
        return f"<HealthCache {self.service}{tags} passing={self.passing}>"

    def _empty(self) -> Any:
        return ()

    def _make_watch(self) -> Any:
        p = self._params
        if self.near is None:
            return Watch(
                self._consul,
                "service",
                self._handle,
                on_error=self._failed,
                on_recover=self._recovered,
                clock=self._clock,
                service=self.service,
                tag=list(self.tags) or None,
                passingonly=self.passing,
                **{k: v for k, v in p.items() if v is not None},
            )
        # The shared watches have no ``near``: follow it with blocking reads
        # of the public client instead.
        return _BlockingFollower(
            self._clock,
            lambda index, wait: self._consul.health.service(
                self.service,
                index=index,
                wait=wait,
                passing=self.passing or None,
                tag=list(self.tags) or None,
                dc=p["dc"],
                near=self.near,
                token=p["token"],
                filter=p["filter"],
            ),
            self._handle,
            self._failed,
            self._recovered,
            wait=p["wait"],
        )

    def _convert(self, data: Any) -> tuple[Any, dict[Any, Any]]:
        instances = [Instance.from_entry(e) for e in data or []]
        if not self.passing:
            instances = [i for i in instances if i.status != "critical"]
        value = tuple(instances)
        return value, {i.key: i for i in value}


class KVCache(_Cache):
    """
    One key, or every key under a prefix, kept fresh.

    With ``key``, :attr:`value` is the entry (a dict, ``Value`` as bytes) or
    ``None`` when the key does not exist; with ``prefix`` it is a dict of
    key -> entry, in key order (empty when nothing is under it).  Diffs are
    by key.

    :param consul: a :class:`txconsul.Consul`.
    :param key: the key to follow; or
    :param prefix: the prefix to follow (``''``: the whole store).
    :param dc: as for the watches.
    :param token: as for the watches.
    :param consistency: as for the watches.
    :param wait: as for the watches.
    :param clock: the clock (``consul.reactor`` by default).
    """

    def __init__(
        self,
        consul: Any,
        key: Optional[str] = None,
        *,
        prefix: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        consistency: Optional[str] = None,
        wait: Any = None,
        clock: Any = None,
    ) -> None:
        if (key is None) == (prefix is None):
            raise ValueError("KVCache needs exactly one of key or prefix")
        self.key = key
        self.prefix = prefix
        self._params = dict(dc=dc, token=token, consistency=consistency, wait=wait)
        super().__init__(consul, clock)
        self._make_watch()

    def __repr__(self) -> str:
        what = f"key={self.key!r}" if self.key is not None else f"prefix={self.prefix!r}"
        return f"<KVCache {what}>"

    def _empty(self) -> Any:
        return None if self.key is not None else {}

    def _make_watch(self) -> Any:
        params = {k: v for k, v in self._params.items() if v is not None}
        if self.key is not None:
            params["key"] = self.key
            kind = "key"
        else:
            params["prefix"] = self.prefix
            kind = "keyprefix"
        return Watch(
            self._consul,
            kind,
            self._handle,
            on_error=self._failed,
            on_recover=self._recovered,
            clock=self._clock,
            **params,
        )

    def get(self, key: str) -> Optional[dict[str, Any]]:
        """The entry of ``key`` as last seen, or ``None``."""
        return self._items.get(key)

    def _convert(self, data: Any) -> tuple[Any, dict[Any, Any]]:
        if self.key is not None:
            return data, ({data["Key"]: data} if data is not None else {})
        entries = sorted(data or [], key=lambda e: e["Key"])
        items = {e["Key"]: e for e in entries}
        return dict(items), items


class CatalogCache(_Cache):
    """
    The catalog's services (``what='services'``: :attr:`value` is
    ``{name: [tags]}``) or nodes (``what='nodes'``: ``{node name: node}``),
    kept fresh.  Diffs are by service or node name.

    :param consul: a :class:`txconsul.Consul`.
    :param what: ``'services'`` or ``'nodes'``.
    :param dc: as for the watches.
    :param token: as for the watches.
    :param consistency: as for the watches.
    :param filter: as for the watches.
    :param wait: as for the watches.
    :param clock: the clock (``consul.reactor`` by default).
    """

    def __init__(
        self,
        consul: Any,
        what: str = "services",
        *,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        consistency: Optional[str] = None,
        filter: Optional[str] = None,
        wait: Any = None,
        clock: Any = None,
    ) -> None:
        if what not in ("services", "nodes"):
            raise ValueError(f"invalid what {what!r}: use 'services' or 'nodes'")
        self.what = what
        self._params = dict(dc=dc, token=token, consistency=consistency, filter=filter, wait=wait)
        super().__init__(consul, clock)
        self._make_watch()

    def __repr__(self) -> str:
        return f"<CatalogCache {self.what}>"

    def _empty(self) -> Any:
        return {}

    def _make_watch(self) -> Any:
        params = {k: v for k, v in self._params.items() if v is not None}
        return Watch(
            self._consul,
            self.what,
            self._handle,
            on_error=self._failed,
            on_recover=self._recovered,
            clock=self._clock,
            **params,
        )

    def _convert(self, data: Any) -> tuple[Any, dict[Any, Any]]:
        if self.what == "services":
            items = {name: list(tags or []) for name, tags in sorted((data or {}).items())}
        else:
            items = {n["Node"]: n for n in data or []}
        return dict(items), items


class _BlockingFollower:
    """
    A blocking-read loop on the public client, for what the shared watches
    do not offer (``near``), with the watches' rules: the index reset when
    it goes backwards and never below 1, reset after an error (and the next
    answer delivered even when unchanged), the watches' backoff on errors
    (``RETRY_INTERVAL`` doubling up to ``MAX_BACKOFF``, less up to
    ``JITTER``), and a one-second pause when an answer came back quickly
    unchanged.
    """

    def __init__(
        self,
        clock: Any,
        read: Callable[[int, Any], Deferred],
        handler: Callable[[int, Any], Any],
        on_error: Callable[[Failure], Any],
        on_recover: Callable[[], Any],
        wait: Any = None,
        rng: Optional[random.Random] = None,
    ) -> None:
        self._clock = clock
        self._read = read
        self._handler = handler
        self._on_error = on_error
        self._on_recover = on_recover
        self._wait = wait if wait is not None else "5m"
        self._rng = rng or random.Random()
        self._current: Optional[Deferred] = None
        self._running = False
        self._last: Any = None

    def startService(self) -> None:
        self._running = True
        self._loop()

    def stopService(self) -> None:
        self._running = False
        current, self._current = self._current, None
        if current is not None:
            current.cancel()

    def _sleep(self, seconds: float) -> Deferred:
        d = self._current = deferLater(self._clock, seconds, lambda: None)
        return d

    @inlineCallbacks
    def _loop(self) -> Any:
        index, failures, delivered = 0, 0, False
        while self._running:
            started = self._clock.seconds()
            try:
                d = self._current = self._read(index, self._wait)
                new_index, data = yield d
            except CancelledError:
                return
            except Exception:
                if not self._running:
                    return
                failures += 1
                index, delivered = 0, False
                self._on_error(Failure())
                delay = min(MAX_BACKOFF, RETRY_INTERVAL * 2.0 ** (min(failures, 64) - 1))
                delay *= 1 - JITTER * self._rng.random()
                try:
                    yield self._sleep(delay)
                except CancelledError:
                    return
                continue
            if not self._running:
                return
            if failures:
                failures = 0
                self._on_recover()
            new_index = int(new_index or 0)
            changed = not delivered or data != self._last
            index = 0 if new_index < index else max(new_index, 1)
            if changed:
                delivered, self._last = True, data
                self._handler(new_index, data)
            elif self._clock.seconds() - started < 1.0:
                try:
                    yield self._sleep(1.0 - (self._clock.seconds() - started))
                except CancelledError:
                    return
