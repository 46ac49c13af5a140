# -*- test-case-name: tests.test_api_modern_cache -*-
"""
The agent cache options of the reads Consul caches (``?cached``, and the
``Cache-Control`` request header's ``max-age`` and ``stale-if-error``), as
the Go client sends them (api/api.go ``setQueryOptions``).

An answer from the cache carries ``X-Cache: HIT`` and ``Age``, read into
:attr:`~txconsul.QueryMeta.cache_hit` and :attr:`~txconsul.QueryMeta.cache_age`.
"""

from __future__ import annotations

import math
from typing import Optional

from .._duration import DurationLike, parse_duration
from .._request import Request

__all__ = ["with_cache"]


def _seconds(value: DurationLike, what: str) -> int:
    """A duration rounded to whole seconds, as Go's ``%.0f`` of ``Seconds()``."""
    seconds = parse_duration(value, what)
    # Go's %.0f rounds half to even, as Python's round() does.
    return int(round(seconds)) if not math.isinf(seconds) else 0


def with_cache(
    request: Request,
    cached: bool,
    max_age: Optional[DurationLike],
    stale_if_error: Optional[DurationLike],
    consistency: Optional[str] = None,
) -> Request:
    """
    ``request`` with the agent cache options applied.

    :raises ValueError: ``max_age``/``stale_if_error`` without ``cached``,
        a bad duration, or ``cached`` with ``consistency='consistent'``
        (Consul refuses the pair with a 400).
    :raises TypeError: ``cached`` that is not a bool.
    """
    if not isinstance(cached, bool):
        raise TypeError(f"cached must be True or False, not {cached!r}")
    if not cached:
        if max_age is not None or stale_if_error is not None:
            raise ValueError("max_age and stale_if_error apply to cached reads only: pass cached=True")
        return request
    if consistency == "consistent":
        raise ValueError("cached=True cannot be combined with consistency='consistent'")
    directives = []
    if max_age is not None:
        n = _seconds(max_age, "max_age")
        if n > 0:
            directives.append(f"max-age={n}")
    if stale_if_error is not None:
        n = _seconds(stale_if_error, "stale_if_error")
        if n > 0:
            directives.append(f"stale-if-error={n}")
    headers = request.headers
    if directives:
        headers = (*headers, ("Cache-Control", ", ".join(directives)))
    return request._replace(params=[*request.params, ("cached", None)], headers=headers)
