#!/usr/bin/env python3
"""
Snapshot save and restore through a real socket: a FakeConsul served on
127.0.0.1 in this process, filled with ``--keys`` KV entries of
``--size`` bytes, saved to a file with ``consul.snapshot.save(f)`` and
restored from it with ``consul.snapshot.restore(f)``.

    python benchmarks/snapshot.py --keys 20000 --size 512

Prints the archive size and the seconds each direction took (client and
fake share the process and the reactor, so this is an upper bound on the
client's cost).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from twisted.internet import defer, reactor, task
from twisted.web.server import Site

from txconsul import Consul
from txconsul.testing import FakeConsul
from txconsul.testing._kv import Entry


@defer.inlineCallbacks
def main(reactor_: object, keys: int, size: int) -> object:
    fake = FakeConsul(reactor, reactor=reactor)
    port = reactor.listenTCP(0, Site(fake.resource()), interface="127.0.0.1")
    c = Consul("127.0.0.1", port.getHost().port, reactor=reactor, environ={})
    for i in range(keys):
        idx = fake.core.next_index()
        fake.kv.entries[f"bench/{i:08d}"] = Entry(
            key=f"bench/{i:08d}", value=os.urandom(size), create_index=idx, modify_index=idx
        )
    path = os.path.join(tempfile.mkdtemp(), "bench.snap")
    start = time.perf_counter()
    with open(path, "wb") as f:
        yield c.snapshot.save(f)
    saved = time.perf_counter() - start
    start = time.perf_counter()
    with open(path, "rb") as f:
        yield c.snapshot.restore(f)
    restored = time.perf_counter() - start
    print(
        f"{keys} keys x {size} B: archive {os.path.getsize(path) / 1e6:.2f} MB, "
        f"save {saved:.3f} s, restore {restored:.3f} s"
    )
    yield c.close()
    yield port.stopListening()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=20000)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()
    task.react(main, [args.keys, args.size])
