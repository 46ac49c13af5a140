#!/usr/bin/env python3
"""
How many watches one process holds, with how many connections.

Serves a FakeConsul on 127.0.0.1 (real TCP, in this process, behind a
factory that counts open connections), starts watches through one
``txconsul.Consul`` client, waits until every handler has had its initial
call, then changes keys and times until each change reached its handler.

    python benchmarks/watch_scale.py                       # all scenarios
    python benchmarks/watch_scale.py --watches 20000 --scenario prefix

Scenarios:

- ``prefix``: N key watches on N distinct keys, all ``via_prefix`` one
  prefix: one ``keyprefix`` long-poll with per-key change detection.
- ``shared``: N key watches spread over M distinct keys: M long-polls.
- ``naive``: N key watches on N distinct keys, one long-poll each (what
  hand-written loops do); capped by ``--naive-max``.

This is a benchmark, not a test: it prints a table and exits.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet import task  # noqa: E402
from twisted.internet.defer import Deferred, inlineCallbacks  # noqa: E402
from twisted.protocols.policies import ProtocolWrapper, WrappingFactory  # noqa: E402
from twisted.web.server import Site  # noqa: E402

from txconsul import Consul  # noqa: E402
from txconsul.testing import FakeConsul  # noqa: E402
from txconsul.watch import Watch  # noqa: E402


class Counting(WrappingFactory):
    """Counts open and peak server-side connections."""

    def __init__(self, wrapped: Any) -> None:
        super().__init__(wrapped)
        self.open = 0
        self.peak = 0
        self.total = 0

    def registerProtocol(self, p: ProtocolWrapper) -> None:
        super().registerProtocol(p)
        self.open += 1
        self.total += 1
        self.peak = max(self.peak, self.open)

    def unregisterProtocol(self, p: ProtocolWrapper) -> None:
        super().unregisterProtocol(p)
        self.open -= 1


class QuietSite(Site):
    def log(self, request: Any) -> None:
        pass


@inlineCallbacks
def until(reactor: Any, cond: Any, timeout: float) -> Any:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("timed out")
        yield task.deferLater(reactor, 0.01, lambda: None)


@inlineCallbacks
def scenario(reactor: Any, name: str, n: int, distinct: int, via_prefix: bool, changes: int) -> Any:
    fake = FakeConsul(reactor, reactor=reactor)
    counting = Counting(QuietSite(fake.resource()))
    port = reactor.listenTCP(0, counting, interface="127.0.0.1", backlog=4096)
    consul = Consul(
        "127.0.0.1", port.getHost().port, reactor=reactor, environ={}, pool_size=max(64, distinct + 8)
    )
    calls: dict[int, list[Any]] = {i: [] for i in range(n)}
    watches = []
    t0 = time.monotonic()
    for i in range(n):
        key = f"bench/k{i % distinct}"
        kw: dict[str, Any] = {"via_prefix": "bench/"} if via_prefix else {}
        w = Watch(consul, "key", lambda idx, d, i=i: calls[i].append(d), key=key, **kw)
        w.startService()
        watches.append(w)
    yield until(reactor, lambda: all(calls[i] for i in range(n)), 300)
    yield until(reactor, lambda: fake.pending_queries() >= (1 if via_prefix else distinct), 300)
    started = time.monotonic() - t0
    polls = watches[0].hub.connections()
    conns = counting.open
    pending = fake.pending_queries()

    # Change `changes` distinct keys one after another; time until each
    # watch of a changed key has seen it.
    targets = list(range(min(changes, distinct)))
    expect = {i for i in range(n) if (i % distinct) in targets}
    t1 = time.monotonic()
    for k in targets:
        yield consul.kv.put(f"bench/k{k}", b"v")
    yield until(reactor, lambda: all(len(calls[i]) >= 2 for i in expect), 300)
    delivered = time.monotonic() - t1
    yield task.deferLater(reactor, 0.5, lambda: None)
    extra = sum(len(calls[i]) - 1 for i in range(n) if i not in expect)
    dupes = sum(len(calls[i]) - 2 for i in expect)

    for w in watches:
        w.stopService()
    yield consul.close()
    yield port.stopListening()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(
        scenario=name,
        watches=n,
        distinct=distinct,
        polls=polls,
        connections=conns,
        peak=counting.peak,
        pending=pending,
        start_s=started,
        changes=len(targets),
        deliver_s=delivered,
        spurious=extra,
        dupes=dupes,
        rss_mb=rss,
    )


@inlineCallbacks
def main(reactor: Any, args: argparse.Namespace) -> Any:
    plan = []
    if args.scenario in ("prefix", "all"):
        plan.append(("prefix", args.watches, args.watches, True))
    if args.scenario in ("shared", "all"):
        plan.append(("shared", args.watches, args.distinct, False))
    if args.scenario in ("naive", "all"):
        n = min(args.watches, args.naive_max)
        plan.append(("naive", n, n, False))
    rows = []
    for name, n, distinct, via in plan:
        row = yield scenario(reactor, name, n, distinct, via, args.changes)
        rows.append(row)
        print(
            f"{row['scenario']:>7}: {row['watches']} watches on {row['distinct']} keys -> "
            f"{row['polls']} long-polls, {row['connections']} open connections "
            f"(peak {row['peak']}), {row['pending']} blocked queries at the agent; "
            f"all initial calls in {row['start_s']:.2f}s; {row['changes']} changes "
            f"delivered in {row['deliver_s']:.2f}s; spurious calls {row['spurious']}, "
            f"duplicate calls {row['dupes']}; max RSS {row['rss_mb']:.0f} MiB",
            flush=True,
        )
    done: Deferred = Deferred()
    reactor.callLater(0, done.callback, rows)
    yield done


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--watches", type=int, default=10000)
    parser.add_argument("--distinct", type=int, default=100)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--naive-max", type=int, default=1000)
    parser.add_argument("--scenario", choices=("prefix", "shared", "naive", "all"), default="all")
    args = parser.parse_args()
    task.react(lambda reactor: main(reactor, args))
