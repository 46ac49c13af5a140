"""
The measurement loop shared by the Twisted drivers (same code for every
Twisted client, so the harness adds the same overhead to each).
"""

import sys

from _common import Timer, emit, fail
from _workloads import check
from twisted.internet import defer, reactor
from twisted.python.failure import Failure


def _run_ops(get, n, concurrency, workload, raw):
    """Fire when ``n`` calls of ``get()`` have answered, ``concurrency`` at a time."""
    remaining = [n]

    @defer.inlineCallbacks
    def worker():
        while remaining[0] > 0:
            remaining[0] -= 1
            result = yield get()
            check(workload, result, raw)

    if concurrency == 1:
        return worker()
    return defer.gatherResults([worker() for _ in range(min(concurrency, n))], consumeErrors=True)


def begin_logging():
    """
    Begin logging as a service does: to an observer that keeps info level
    and above (here, dropping them).  Until a process begins logging,
    Twisted keeps its last 65,536 events, debug included, in memory for the
    observers to come, which no long-running service pays for.
    """
    from twisted.logger import (
        FilteringLogObserver,
        LogLevel,
        LogLevelFilterPredicate,
        globalLogBeginner,
    )

    levels = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)
    observer = FilteringLogObserver(lambda event: None, [levels])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def run(client_name, args, make_client, get, close, vers, raw=False):
    """
    Run one measurement under the global reactor and exit the process.

    :param make_client: ``() -> client``, called once the reactor runs.
    :param get: ``(client) -> Deferred[(index, data)]`` for ``kv.get('foo')``.
    :param close: ``(client) -> Deferred or None``.
    """
    outcome = {"code": 0}
    if args.begin_logging:
        begin_logging()
    if args.no_request_events:
        from txconsul.observe import set_request_events

        set_request_events(False)

    @defer.inlineCallbacks
    def main():
        client = make_client()
        try:
            call = lambda: get(client)  # noqa: E731
            if args.warmup:
                yield _run_ops(call, args.warmup, args.concurrency, args.workload, raw)
            timer = Timer(args.profile)
            timer.begin()
            yield _run_ops(call, args.ops, args.concurrency, args.workload, raw)
            timer.finish()
            emit(client_name, args, timer, vers)
        finally:
            yield close(client)

    def done(result):
        if isinstance(result, Failure):
            outcome["code"] = fail(result.getTraceback())
        if reactor.running:
            reactor.stop()

    def too_slow():
        outcome["code"] = fail(f"no result within {args.timeout:g}s", 3)
        reactor.stop()

    guard = reactor.callLater(args.timeout, too_slow)

    def start():
        d = main()
        d.addBoth(lambda r: (guard.cancel() if guard.active() else None, r)[1])
        d.addBoth(done)

    reactor.callWhenRunning(start)
    reactor.run()
    sys.exit(outcome["code"])
