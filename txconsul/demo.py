# -*- test-case-name: tests.test_demo -*-
"""
``python -m txconsul.demo``: a self-contained tour.

Starts a FakeConsul on a free loopback port, then with a real client writes
a key, reads it, long-polls it while another client changes it, and stops.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from twisted.internet import task
from twisted.internet.defer import ensureDeferred
from twisted.web.server import Site

from txconsul import Consul
from txconsul.testing import FakeConsul


class _QuietSite(Site):
    def log(self, request: Any) -> None:
        pass


async def main(reactor: Any, say: Callable[[str], None] = print) -> None:
    """Run the tour on ``reactor``, reporting through ``say``."""
    fake = FakeConsul(reactor, reactor=reactor)
    port = reactor.listenTCP(0, _QuietSite(fake.resource()), interface="127.0.0.1")
    address = port.getHost()
    say(f"FakeConsul listening on 127.0.0.1:{address.port}")
    consul = Consul("127.0.0.1", address.port, reactor=reactor, environ={})
    writer = Consul("127.0.0.1", address.port, reactor=reactor, environ={})
    try:
        ok = await consul.kv.put("demo/greeting", "hello")
        say(f"put demo/greeting = 'hello' -> {ok}")
        index, data = await consul.kv.get("demo/greeting")
        say(f"get demo/greeting -> index {index}, value {data['Value']!r}")

        say("long-polling demo/greeting while another client writes it...")
        poll = consul.kv.get("demo/greeting", index=index, wait="30s")
        reactor.callLater(0.2, writer.kv.put, "demo/greeting", "hello again")
        new_index, data = await poll
        say(f"long-poll woke: index {index} -> {new_index}, value {data['Value']!r}")

        await writer.kv.delete("demo/greeting")
        new_index, data = await consul.kv.get("demo/greeting")
        say(f"after delete: index {new_index}, data {data}")
    finally:
        await consul.close()
        await writer.close()
        await port.stopListening()
    say("done")


def run() -> None:
    """Entry point of ``python -m txconsul.demo``."""
    task.react(lambda reactor: ensureDeferred(main(reactor)))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
