# -*- test-case-name: tests.test_observe -*-
"""
Observability: one structured :mod:`twisted.logger` event per Consul
request, and a small hook to feed those requests into a service's own
metrics.

Every request the client sends ends with one event at debug level in the
``txconsul.request`` namespace, carrying a :class:`RequestEvent` under the
``txconsul_request`` key and its fields as plain keys (``method``, ``path``
without the query string, ``status``, ``duration``, ``bytes``, ``blocking``,
``error``).  The token is never part of it: it travels only in
a header the event does not see.

Metrics: :func:`request_observer` wraps a callable taking a
:class:`RequestEvent` as a log observer; add it to
:data:`twisted.logger.globalLogPublisher`.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import attr
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import ILogObserver, Logger, LogEvent
from twisted.python.failure import Failure
from zope.interface import implementer

#: The log namespace of request events.
NAMESPACE = "txconsul.request"

log = Logger(namespace=NAMESPACE)

#: Path segments (after ``/v1/GROUP``) that name an operation rather than a
#: key, name or ID, per group; anything else becomes ``{}`` in
#: :attr:`RequestEvent.endpoint`.
_OPERATIONS: dict[str, frozenset[str]] = {
    "agent": frozenset(
        {
            "self",
            "members",
            "metrics",
            "reload",
            "maintenance",
            "join",
            "leave",
            "force-leave",
            "services",
            "checks",
            "service",
            "check",
            "register",
            "deregister",
            "pass",
            "warn",
            "fail",
            "update",
            "health",
            "id",
            "name",
            "token",
            "host",
            "version",
        }
    ),
    "catalog": frozenset(
        {
            "register",
            "deregister",
            "datacenters",
            "nodes",
            "services",
            "service",
            "node",
            "node-services",
            "connect",
        }
    ),
    "health": frozenset({"node", "checks", "service", "state", "connect", "ingress"}),
    "session": frozenset({"create", "destroy", "info", "node", "list", "renew"}),
    "acl": frozenset(
        {
            "bootstrap",
            "create",
            "update",
            "destroy",
            "info",
            "clone",
            "list",
            "replication",
            "token",
            "tokens",
            "policy",
            "policies",
            "role",
            "roles",
            "self",
            "name",
            "login",
            "logout",
            "rules",
            "translate",
        }
    ),
    "event": frozenset({"fire", "list"}),
    "status": frozenset({"leader", "peers"}),
    "coordinate": frozenset({"datacenters", "nodes", "node", "update"}),
    "operator": frozenset(
        {
            "raft",
            "configuration",
            "peer",
            "transfer-leader",
            "autopilot",
            "health",
            "state",
            "keyring",
            "usage",
        }
    ),
    "query": frozenset({"execute", "explain"}),
    "txn": frozenset(),
    "kv": frozenset(),
}


def endpoint_of(path: str) -> str:
    """
    ``path`` as a low-cardinality template for metrics labels: keys, names
    and IDs become ``{}`` (``/v1/kv/app/config`` -> ``/v1/kv/{}``,
    ``/v1/health/service/web`` -> ``/v1/health/service/{}``).
    """
    segments = path.split("?", 1)[0].split("/")
    # ['', 'v1', group, ...]
    if len(segments) < 3 or segments[1] != "v1":
        return "{}"
    group = segments[2]
    operations = _OPERATIONS.get(group)
    if operations is None:
        return f"/v1/{group}" + ("/{}" if len(segments) > 3 else "")
    out = ["", "v1", group]
    for segment in segments[3:]:
        if segment in operations:
            out.append(segment)
        elif out[-1] != "{}":
            out.append("{}")
    return "/".join(out)


@attr.s(frozen=True, slots=True, auto_attribs=True)
class RequestEvent:
    """
    One finished request to the agent.

    :ivar method: ``GET``, ``PUT``, ``DELETE`` or ``POST``.
    :ivar path: the request path without the query string (keys included).
    :ivar status: the HTTP status, or None when there was no answer
        (connection error, timeout, cancellation).
    :ivar duration: seconds from sending to the answer, on the client's clock.
    :ivar bytes: the size of the response body (0 without an answer).
    :ivar blocking: whether it was a blocking query (an ``index`` was sent).
    :ivar error: the exception's class name when the request failed
        (``NotFound``, ``Timeout``, ``CancelledError``...), else None.
    """

    method: str
    path: str
    status: Optional[int]
    duration: float
    bytes: int
    blocking: bool
    error: Optional[str]

    @property
    def endpoint(self) -> str:
        """:func:`endpoint_of` the path: a template for metrics labels."""
        return endpoint_of(self.path)


def _finished(
    result: Any, method: str, path: str, blocking: bool, clock: IReactorTime, started: float
) -> Any:
    status: Optional[int] = None
    size = 0
    error: Optional[str] = None
    if isinstance(result, Failure):
        error = result.type.__name__ if result.type is not None else "Exception"
        value = result.value
        status = getattr(value, "status", None)
        body = getattr(value, "body", None)
        size = len(body) if isinstance(body, bytes) else 0
    else:
        status = getattr(result, "code", None)
        body = getattr(result, "body", None)
        size = len(body) if isinstance(body, bytes) else 0
    event = RequestEvent(
        method=method,
        path=path.split("?", 1)[0],
        status=status,
        duration=max(0.0, clock.seconds() - started),
        bytes=size,
        blocking=blocking,
        error=error,
    )
    log.debug(
        "{method} {path} -> {status} in {duration:.3f}s, {bytes} bytes{blocking_text}{error_text}",
        txconsul_request=event,
        method=event.method,
        path=event.path,
        status=event.status,
        duration=event.duration,
        bytes=event.bytes,
        blocking=event.blocking,
        error=event.error,
        blocking_text=" (blocking)" if blocking else "",
        error_text=f" ({error})" if error else "",
    )
    return result


#: Whether requests emit events (see :func:`set_request_events`).
_enabled = True


def set_request_events(enabled: bool) -> None:
    """
    Turn the per-request events on (the default) or off for every client
    of this process.  Off saves their cost (about 7-12 microseconds of CPU
    per request, see benchmarks/observe_cost.py) on a hot path, and the
    metrics hook then sees nothing.
    """
    global _enabled
    _enabled = bool(enabled)


def request_events() -> bool:
    """Whether requests emit events (:func:`set_request_events`)."""
    return _enabled


def observe_request(d: Deferred, method: str, path: str, blocking: bool, clock: IReactorTime) -> Deferred:
    """
    Emit one request event when ``d`` (a request's Deferred) fires or fails;
    ``d``'s result is passed through untouched.  The transport calls this
    once per request.
    """
    if not _enabled:
        return d
    return d.addBoth(_finished, method, path, blocking, clock, clock.seconds())


@implementer(ILogObserver)
class RequestObserver:
    """
    A log observer that calls ``callback`` with the :class:`RequestEvent`
    of every request event and ignores every other event.  A failing
    callback is logged, never raised into the client.
    """

    def __init__(self, callback: Callable[[RequestEvent], Any]) -> None:
        self.callback = callback

    def __call__(self, event: LogEvent) -> None:
        """Pass a request event's :class:`RequestEvent` to the callback."""
        if event.get("log_namespace") != NAMESPACE:
            return
        request = event.get("txconsul_request")
        if isinstance(request, RequestEvent):
            try:
                self.callback(request)
            except Exception:
                # Not through `log`: an observer must not emit into itself.
                Logger(namespace="txconsul.observe").failure(
                    "request observer {callback!r} failed", callback=self.callback
                )


def request_observer(callback: Callable[[RequestEvent], Any]) -> RequestObserver:
    """
    A log observer feeding ``callback`` every finished request; add it with
    ``globalLogPublisher.addObserver(...)`` (and remove it the same way).
    """
    return RequestObserver(callback)
