"""
What the per-request log event (txconsul._observe) costs: microseconds per
finished request, by hand, with no observer beyond Twisted's start-up
buffer, with a filtering observer that drops debug events (what a service
gets with a level filter), and with the metrics hook.  Each line gives the
event as the transport emits it (``emit_request``, from callbacks it runs
anyway) and through ``observe_request`` (one more Deferred callback).

    python benchmarks/observe_cost.py [N]
"""

from __future__ import annotations

import sys
import time

from twisted.internet.defer import succeed
from twisted.internet.task import Clock
from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    globalLogPublisher,
)

from txconsul._observe import emit_request, observe_request, request_observer


class Answer:
    """Stands for a ConsulResponse."""

    code = 200
    body = b'[{"Key":"foo","Value":"YmFy"}]'


def per_request(n: int) -> float:
    """Microseconds per observe_request on an answered request."""
    clock = Clock()
    answer = Answer()
    start = time.perf_counter()
    for _ in range(n):
        observe_request(succeed(answer), "GET", "/v1/kv/foo", False, clock)
    return (time.perf_counter() - start) / n * 1e6


def per_emit(n: int) -> float:
    """Microseconds per emit_request, the transport's own call."""
    clock = Clock()
    start = time.perf_counter()
    for _ in range(n):
        emit_request("GET", "/v1/kv/foo", 200, 30, False, None, clock, 0.0)
    return (time.perf_counter() - start) / n * 1e6


def both(n: int) -> str:
    """Both measurements, as one line's text."""
    return f"{per_emit(n):.2f} us emitted, {per_request(n):.2f} us through a callback"


def main(n: int) -> None:
    """Print the cost in three set-ups."""
    print(f"buffered (logging not begun): {both(n)}")
    dropped: list[object] = []
    levels = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)
    globalLogBeginner.beginLoggingTo(
        [FilteringLogObserver(dropped.append, [levels])], discardBuffer=True, redirectStandardIO=False
    )
    print(f"info-level filter:            {both(n)}")
    seen: list[object] = []
    globalLogPublisher.addObserver(request_observer(seen.append))
    print(f"plus the metrics hook:        {both(n)} ({len(seen)} events)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
