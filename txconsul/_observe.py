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

from time import time
from typing import Any, Callable, NamedTuple, Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import ILogObserver, Logger, LogEvent, LogLevel
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


class RequestEvent(NamedTuple):
    """
    One finished request to the agent (an immutable named tuple).

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


#: How request events read as text.
_FORMAT = "{method} {path} -> {status} in {duration:.3f}s, {bytes} bytes{blocking_text}{error_text}"

_DEBUG = LogLevel.debug

#: Whether requests emit events (see :func:`set_request_events`).
_enabled = True


def emit_request(
    method: str,
    path: str,
    status: Optional[int],
    size: int,
    blocking: bool,
    error: Optional[str],
    clock: IReactorTime,
    started: float,
) -> None:
    """
    Emit the event of one finished request (unless events are off).

    The transport calls this once per request, from the callbacks it runs
    anyway.  The event is the dict ``log.debug(...)`` would build, handed
    to the logger's observer directly: ``Logger.emit`` first checks that
    the level is a real ``LogLevel`` (one of ours always is) and merges
    keyword arguments, which together cost more than the rest of the event.
    """
    if not _enabled:
        return
    if "?" in path:
        path = path.split("?", 1)[0]
    duration = clock.seconds() - started
    if duration < 0.0:
        duration = 0.0
    log.observer(
        {
            "log_logger": log,
            "log_level": _DEBUG,
            "log_namespace": NAMESPACE,
            "log_source": None,
            "log_format": _FORMAT,
            "log_time": time(),
            "txconsul_request": RequestEvent(method, path, status, duration, size, blocking, error),
            "method": method,
            "path": path,
            "status": status,
            "duration": duration,
            "bytes": size,
            "blocking": blocking,
            "error": error,
            "blocking_text": " (blocking)" if blocking else "",
            "error_text": f" ({error})" if error else "",
        }
    )


def _finished(
    result: Any, method: str, path: str, blocking: bool, clock: IReactorTime, started: float
) -> Any:
    status: Optional[int] = None
    error: Optional[str] = None
    if isinstance(result, Failure):
        error = result.type.__name__ if result.type is not None else "Exception"
        value = result.value
        status = getattr(value, "status", None)
        body = getattr(value, "body", None)
    else:
        status = getattr(result, "code", None)
        body = getattr(result, "body", None)
    size = len(body) if isinstance(body, bytes) else 0
    emit_request(method, path, status, size, blocking, error, clock, started)
    return result


def set_request_events(enabled: bool) -> None:
    """
    Turn the per-request events on (the default) or off for every client
    of this process.  Off saves their cost (about 2-4 microseconds of CPU
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
    ``d``'s result is passed through untouched.  For callers whose
    callbacks do not call :func:`emit_request` themselves.
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
