#!/usr/bin/env python3
"""
What service discovery costs, and how fast traffic follows health.

Serves a FakeConsul and two twisted.web servers on 127.0.0.1 (real TCP, in
this process), registers both servers as ``web``, then measures:

- ``direct``: sequential treq GETs through a plain ``Agent`` to one server's
  address (no pool: a new connection per request);
- ``discovery``: the same through ``ConsulEndpointFactory(...).agent()`` to
  ``http://web.service.consul/`` (also a new connection per request, now
  with a cache lookup and a pick);
- ``move``: the time from a check-fail write being answered to the
  ``HealthCache`` holding the new instance list (one blocking-query round
  trip), over a number of fail/pass flips.

    python benchmarks/discovery.py [--requests 2000] [--rounds 5] [--flips 50]

GET rates are the best of ``rounds`` interleaved rounds of
``requests / rounds`` requests each.

This is a benchmark, not a test: it prints a table and exits.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import treq  # noqa: E402
from twisted.internet import task  # noqa: E402
from twisted.internet.defer import Deferred, ensureDeferred  # noqa: E402
from twisted.web.client import Agent, HTTPConnectionPool  # noqa: E402
from twisted.web.resource import Resource  # noqa: E402
from twisted.web.server import Site  # noqa: E402

from txconsul import Consul  # noqa: E402
from txconsul.discovery import ConsulEndpointFactory, ServiceName  # noqa: E402
from txconsul.testing import FakeConsul  # noqa: E402


class Hello(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"hello"


async def timed_gets(agent: Any, url: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        response = await treq.get(url, agent=agent)
        body = await response.content()
        assert body == b"hello", body
    return time.perf_counter() - start


async def until(reactor: Any, predicate: Any) -> None:
    while not predicate():
        d: Deferred = Deferred()
        reactor.callLater(0.0005, d.callback, None)
        await d


async def main(reactor: Any, requests: int, flips: int, rounds: int) -> None:
    fake = FakeConsul(reactor)
    site = reactor.listenTCP(0, Site(fake.resource()), interface="127.0.0.1")
    consul = Consul("127.0.0.1", site.getHost().port, reactor=reactor, environ={})
    ports = []
    for n in (1, 2):
        port = reactor.listenTCP(0, Site(Hello()), interface="127.0.0.1")
        ports.append(port.getHost().port)
        await consul.agent.service.register(
            "web",
            service_id=f"web-{n}",
            address="127.0.0.1",
            port=ports[-1],
            check={"TTL": "1h", "Status": "passing"},
        )

    direct = Agent(reactor, pool=HTTPConnectionPool(reactor, persistent=False))
    factory = ConsulEndpointFactory(reactor, consul)
    discovery = factory.agent()
    cache = factory.cache_for(ServiceName("web"))
    cache.startService()
    await cache.ready()

    await timed_gets(direct, f"http://127.0.0.1:{ports[0]}/", 50)  # warm up
    await timed_gets(discovery, "http://web.service.consul/", 50)
    # Interleaved rounds, best of each: the machine may be shared.
    per_round = max(1, requests // rounds)
    directs, discs = [], []
    for _ in range(rounds):
        directs.append(await timed_gets(direct, f"http://127.0.0.1:{ports[0]}/", per_round))
        discs.append(await timed_gets(discovery, "http://web.service.consul/", per_round))
    t_direct, t_disc, requests = min(directs), min(discs), per_round

    moves = []
    for i in range(flips):
        updates = cache.updates
        if i % 2 == 0:
            await consul.agent.check.ttl_fail("service:web-2")
        else:
            await consul.agent.check.ttl_pass("service:web-2")
        start = time.perf_counter()
        await until(reactor, lambda before=updates: cache.updates > before)
        moves.append(time.perf_counter() - start)
        assert len(cache.value) == (1 if i % 2 == 0 else 2)

    print(f"{'measure':<34} {'value':>12}")
    print(f"{'direct GET (new connection)':<34} {requests / t_direct:>9.0f}/s")
    print(f"{'discovery GET (new connection)':<34} {requests / t_disc:>9.0f}/s")
    print(f"{'discovery cost per request':<34} {(t_disc - t_direct) / requests * 1e6:>9.0f} us")
    print(f"{'health change -> cache, median':<34} {statistics.median(moves) * 1e3:>9.2f} ms")
    print(f"{'health change -> cache, max':<34} {max(moves) * 1e3:>9.2f} ms")
    await factory.stop()
    await consul.close()


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--flips", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    task.react(lambda reactor: ensureDeferred(main(reactor, args.requests, args.flips, args.rounds)))


if __name__ == "__main__":
    run()
