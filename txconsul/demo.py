# -*- test-case-name: tests.test_demo -*-
"""
``python -m txconsul.demo``: a self-contained tour that ends by itself.

1. Starts a FakeConsul on a free loopback port.
2. Writes, reads and long-polls a key with a :class:`~txconsul.Consul` client.
3. Watches a key with :func:`txconsul.watch.watch_key` while a few values are
   written: the handler fires for the initial state, for each real change
   (not for a write that changes nothing) and for the delete.
4. Runs ``twistd -n consul-watch`` against the same agent, which prints the
   current ``demo/`` keys once as JSON and exits, as ``consul watch`` does
   without a handler.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from twisted.internet import task
from twisted.internet.defer import Deferred, ensureDeferred, maybeDeferred
from twisted.internet.utils import getProcessOutputAndValue
from twisted.web.server import Site

from txconsul import Consul
from txconsul.testing import FakeConsul
from txconsul.watch import watch_key

_TWISTD = "from twisted.scripts.twistd import run; run()"


class _QuietSite(Site):
    def log(self, request: Any) -> None:
        pass


def _child_env() -> dict[str, str]:
    """The environment for twistd: this txconsul (and its plugin) importable."""
    import txconsul

    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(txconsul.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _pause(reactor: Any, seconds: float) -> "Deferred[None]":
    return task.deferLater(reactor, seconds, lambda: None)


async def main(reactor: Any, say: Callable[[str], None] = print) -> None:
    """Run the tour on ``reactor``, reporting through ``say``."""
    fake = FakeConsul(reactor, reactor=reactor)
    port = reactor.listenTCP(0, _QuietSite(fake.resource()), interface="127.0.0.1")
    address = f"127.0.0.1:{port.getHost().port}"
    say(f"FakeConsul listening on {address}")
    consul = Consul("127.0.0.1", port.getHost().port, reactor=reactor, environ={})
    writer = Consul("127.0.0.1", port.getHost().port, reactor=reactor, environ={})
    try:
        say("\n-- the client --")
        ok = await consul.kv.put("demo/greeting", "hello")
        say(f"put demo/greeting = 'hello' -> {ok}")
        index, data = await consul.kv.get("demo/greeting")
        say(f"get demo/greeting -> index {index}, value {data['Value']!r}")
        poll = consul.kv.get("demo/greeting", index=index, wait="30s")
        reactor.callLater(0.2, writer.kv.put, "demo/greeting", "hello again")
        new_index, data = await poll
        say(
            f"long-poll woke when another client wrote: index {index} -> {new_index}, value {data['Value']!r}"
        )

        say("\n-- a watch on demo/config --")
        fired: list[Any] = []

        def handler(index: int, entry: Any) -> None:
            value = None if entry is None else entry["Value"]
            fired.append(value)
            say(f"  handler fired: index {index}, value {value!r}")

        watch = watch_key(consul, "demo/config", handler)
        await _pause(reactor, 0.2)
        for value in ["v1", "v2", "v2", "v3"]:
            say(f"write demo/config = {value!r}")
            await writer.kv.put("demo/config", value)
            await _pause(reactor, 0.2)
        say("delete demo/config")
        await writer.kv.delete("demo/config")
        await _pause(reactor, 0.2)
        await writer.kv.put("demo/config", "final")
        await _pause(reactor, 0.2)
        await maybeDeferred(watch.stopService)
        say(f"the handler fired {len(fired)} times (the repeated 'v2' did not fire it)")

        say("\n-- twistd -n consul-watch --type keyprefix --prefix demo/ (no handler: print once) --")
        out, err, code = await getProcessOutputAndValue(
            sys.executable,
            [
                "-c",
                _TWISTD,
                "-n",
                "--pidfile=",
                "--logfile=/dev/null",
                "consul-watch",
                "--http-addr",
                address,
                "--type",
                "keyprefix",
                "--prefix",
                "demo/",
            ],
            env=_child_env(),
        )
        say(out.decode("utf-8", "replace").rstrip() or err.decode("utf-8", "replace"))
        say(f"consul-watch exited with {code}")
    finally:
        await consul.close()
        await writer.close()
        await port.stopListening()
    say("\ndone")


def run() -> None:
    """Entry point of ``python -m txconsul.demo``."""
    task.react(lambda reactor: ensureDeferred(main(reactor)))


if __name__ == "__main__":  # pragma: no cover
    run()
