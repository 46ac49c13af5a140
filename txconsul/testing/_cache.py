# -*- test-case-name: tests.test_api_modern_cache -*-
"""
FakeConsul's agent cache: ``?cached`` reads of the endpoints Consul caches
with background refresh (``/v1/catalog/services``,
``/v1/catalog/service/:s``, ``/v1/health/service/:s``) answer with
``X-Cache: MISS`` the first time and ``X-Cache: HIT`` plus ``Age`` after
that (agent/http.go ``setCacheMeta``; agent/cache/cache.go).

A background-refresh entry is always fresh: the fake computes every answer
from its current state and tracks, per request, when the answer last
changed (``Age`` counts from there, as Consul's ``FetchedAt`` moves with
each refresh that brought new data).  ``Cache-Control: max-age=N`` turns
an older entry into a miss, ``must-revalidate`` or ``max-age=0`` always
miss; ``stale-if-error`` is validated and otherwise unused (the fake's
servers never fail).  Other endpoints ignore ``?cached``, as Consul's do.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred

from ._core import parse_cache_control

__all__ = ["AgentCachePart", "CACHED_ROUTES", "parse_cache_control"]

#: Route patterns whose reads the agent caches (background refresh).
CACHED_ROUTES = (
    "/v1/catalog/services",
    "/v1/catalog/service/",
    "/v1/health/service/",
    "/v1/health/connect/",
    "/v1/health/ingress/",
)

#: Query parameters that do not make a different cache entry.
_NOT_KEY = frozenset({"cached", "index", "wait", "token", "stale", "consistent", "leader"})


class _Entry:
    __slots__ = ("fetched_at", "fingerprint")

    def __init__(self, fetched_at: float, fingerprint: Any) -> None:
        self.fetched_at = fetched_at
        self.fingerprint = fingerprint


class AgentCachePart:
    """
    The agent cache's bookkeeping.

    :ivar hits: how many ``?cached`` reads were hits.
    :ivar misses: how many were misses.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._entries: dict[Any, _Entry] = {}
        self.hits = 0
        self.misses = 0

    def routes(self) -> list[Any]:
        """None of its own: it marks other routes' answers."""
        return []

    @staticmethod
    def applies(path: str) -> bool:
        """Whether Consul caches reads of ``path``."""
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in CACHED_ROUTES)

    def check(self, req: Any) -> tuple[Optional[float], bool]:
        """
        ``(max_age, must_revalidate)`` of the request's ``Cache-Control``
        (already validated: every cached route calls ``s.parse``).
        """
        return parse_cache_control(req.headers.get("cache-control"))

    def mark(self, req: Any, result: Any) -> Any:
        """Add ``X-Cache``/``Age`` to a cached read's answer (or its Deferred's)."""
        max_age, must = self.check(req)
        key = (req.path, tuple(sorted((n, v) for n, v in req.query if n not in _NOT_KEY)), req.token)
        if isinstance(result, Deferred):
            return result.addCallback(self._mark, key, max_age, must)
        return self._mark(result, key, max_age, must)

    def _mark(self, reply: Any, key: Any, max_age: Optional[float], must: bool) -> Any:
        if getattr(reply, "status", 500) != 200:
            return reply
        now = float(self.core.clock.seconds())
        fingerprint = (reply.index, repr(reply.body))
        entry = self._entries.get(key)
        hit = entry is not None and not must
        if entry is not None and entry.fingerprint != fingerprint:
            # The background refresh brought new data: fetched now.
            entry.fetched_at, entry.fingerprint = now, fingerprint
        if hit and max_age is not None and entry is not None and now - entry.fetched_at > max_age:
            hit = False
        if not hit:
            self.misses += 1
            self._entries[key] = _Entry(now, fingerprint)
            reply.headers["X-Cache"] = "MISS"
            return reply
        assert entry is not None
        self.hits += 1
        reply.headers["X-Cache"] = "HIT"
        reply.headers["Age"] = "%.0f" % (now - entry.fetched_at)
        return reply
