# -*- test-case-name: tests.test_watch -*-
"""
The :class:`Watch` service and the ``watch_*`` conveniences that build and
start one.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import attr
from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.logger import Logger
from twisted.python.failure import Failure

from .._duration import DurationLike
from .._validate import check_wait
from ._plans import build_watch
from ._poll import JITTER, MAX_BACKOFF, RETRY_INTERVAL, RetryPolicy, WatchHub, Poll, Subscriber, after

__all__ = [
    "Handler",
    "Watch",
    "watch_checks",
    "watch_event",
    "watch_key",
    "watch_keyprefix",
    "watch_nodes",
    "watch_service",
    "watch_services",
]

log = Logger()

#: A watch handler: called with ``(index, data)``; may return a Deferred.
Handler = Callable[[int, Any], Any]


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
    :param raw: give handlers Consul's JSON as answered (``Value`` and
        ``Payload`` still base64) instead of decoded data.
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
        self._poll: Optional[Poll] = None
        self._sub: Optional[Subscriber] = None

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
            return after(sub.busy)
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
