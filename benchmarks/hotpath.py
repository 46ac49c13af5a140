#!/usr/bin/env python3
"""
txconsul's per-call cost with no sockets and no event loop: the whole client
stack (endpoint method, request building, the connection pool, the HTTP
parser, the response decoding) answered in memory with the canned bytes of
``drivers/_workloads.py``.

    python benchmarks/hotpath.py                       # every small workload
    python benchmarks/hotpath.py --workloads kv_get --profile

Run it with a Python that has this checkout installed (the ``.venv`` of the
repository, or ``benchmarks/.venvs/txconsul``).  It prints microseconds per
call, sequential (one call, then its answer) and with 64 calls in flight,
best of ``--rounds``.  What it leaves out (the reactor, the kernel) is the
same for every version of the client, so it isolates what changes make to
the client's own work; ``run.py`` measures the real thing.
"""

from __future__ import annotations

import argparse
import cProfile
import heapq
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "drivers"))
import _workloads  # noqa: E402

from twisted.internet.defer import succeed  # noqa: E402

from txconsul import Consul  # noqa: E402

SMALL = ("kv_get", "kv_put", "health")


def canned_answer(workload: str) -> bytes:
    """The bytes nginx answers ``workload``'s request with (near enough)."""
    method, target, _ = _workloads.REQUESTS[workload]
    body = _workloads.ROUTES[(method, target.split("?")[0])]
    lines = [
        b"HTTP/1.1 200 OK",
        b"Server: nginx",
        b"Date: Sun, 06 Dec 2026 07:00:00 GMT",
        b"Content-Type: application/json",
        b"Content-Length: %d" % len(body),
        b"Connection: keep-alive",
    ]
    lines += [f"{k}: {v}".encode() for k, v in _workloads.headers() if k != "Content-Type"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class _Call:
    """A delayed call on :class:`HeapClock`."""

    __slots__ = ("time", "f", "args", "live")

    def __init__(self, when, f, args):
        self.time, self.f, self.args, self.live = when, f, args, True

    def __lt__(self, other):
        return self.time < other.time

    def active(self):
        return self.live

    def getTime(self):
        return self.time

    def cancel(self):
        self.live = False


class HeapClock:
    """The parts of a reactor the client uses (a heap, like the real one)."""

    def __init__(self):
        self.now = 0.0
        self.calls: list[_Call] = []

    def seconds(self):
        return self.now

    def callLater(self, delay, f, *args):
        call = _Call(self.now + delay, f, args)
        heapq.heappush(self.calls, call)
        if len(self.calls) > 4096:  # drop cancelled calls, as the reactor does
            self.calls = [c for c in self.calls if c.live]
            heapq.heapify(self.calls)
        return call


class _Transport:
    """Records what the client writes; :meth:`answer` delivers the reply."""

    def __init__(self, pending: list):
        self.pending = pending
        self.protocol = None

    def write(self, data):
        self.pending.append(self.protocol)

    def loseConnection(self):
        self.protocol.connectionLost(None)

    abortConnection = loseConnection


class MemoryEndpoint:
    """Connects at once to an in-memory peer that answers every request alike."""

    def __init__(self, answer: bytes):
        self.answer = answer
        self.pending: list = []

    def connect(self, factory):
        protocol = factory.buildProtocol(None)
        transport = _Transport(self.pending)
        transport.protocol = protocol
        protocol.makeConnection(transport)
        return succeed(protocol)

    def flush(self):
        pending = self.pending[:]
        del self.pending[:]  # the transports hold this list
        for protocol in pending:
            protocol.dataReceived(self.answer)


def measure(workload: str, inflight: int, ops: int, profile=None) -> float:
    """Microseconds per call, ``inflight`` calls at a time."""
    endpoint = MemoryEndpoint(canned_answer(workload))
    client = Consul(host="127.0.0.1", port=8500, environ={}, reactor=HeapClock(), endpoint=endpoint)
    results: list = []
    collect = results.append
    check = _workloads.check

    def batch(n):
        for _ in range(n):
            _workloads.call(client, workload).addBoth(collect)
        endpoint.flush()
        if len(results) != n:
            raise AssertionError(f"{len(results)} answers to {n} calls")
        for r in results:
            check(workload, r)
        results.clear()

    for _ in range(max(1, 2000 // inflight)):
        batch(inflight)  # warm-up, and open the connections
    rounds = max(1, ops // inflight)
    if profile is not None:
        profile.enable()
    start = time.perf_counter()
    for _ in range(rounds):
        batch(inflight)
    elapsed = time.perf_counter() - start
    if profile is not None:
        profile.disable()
    return elapsed / (rounds * inflight) * 1e6


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument(
        "--workloads",
        default=",".join(SMALL),
        help=f"comma-separated, from: {', '.join(_workloads.WORKLOADS)}",
    )
    ap.add_argument("--ops", type=int, default=20000, help="calls per measurement (20000)")
    ap.add_argument("--rounds", type=int, default=5, help="measurements, best reported (5)")
    ap.add_argument(
        "--profile", action="store_true", help="cProfile one measurement per workload and mode instead"
    )
    args = ap.parse_args(argv)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    for w in workloads:
        if w not in _workloads.WORKLOADS:
            ap.error(f"unknown workload {w!r}")
    print("| workload | sequential µs/call | 64 in flight µs/call |")
    print("|---|---:|---:|")
    for w in workloads:
        ops = args.ops // 20 if w in ("kv_recurse", "health100") else args.ops
        if args.profile:
            for inflight in (1, 64):
                prof = cProfile.Profile()
                measure(w, inflight, ops, prof)
                print(f"\n===== {w}, {inflight} in flight =====")
                pstats.Stats(prof).strip_dirs().sort_stats("tottime").print_stats(
                    int(__import__("os").environ.get("TOP", "25"))
                )
            continue
        seq = min(measure(w, 1, ops) for _ in range(args.rounds))
        conc = min(measure(w, 64, ops) for _ in range(args.rounds))
        print(f"| {w} | {seq:.2f} | {conc:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
