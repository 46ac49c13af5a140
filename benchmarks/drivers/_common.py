"""
Shared plumbing for the benchmark drivers (standard library only).

Each driver runs in its own client's virtualenv, does a warm-up, then times a
fixed number of ``kv.get('foo')`` calls in one mode and prints ONE line of
JSON on stdout::

    {"client": ..., "mode": ..., "ops": ..., "seconds": ..., "ops_per_sec": ...,
     "concurrency": ..., "versions": {...}}

Modes:

``sequential``  one request at a time: the next starts when the previous answer
                has been decoded.
``concurrent``  ``--concurrency`` workers (64 by default) each issue requests
                back to back until ``--ops`` requests have been issued, so that
                many are in flight at all times.

Every answer is checked (index 42, value ``b"bar"``); a wrong answer or any
error makes the driver exit non-zero.
"""

import argparse
import cProfile
import importlib.metadata
import json
import resource
import sys
import time

import _workloads

KEY = "foo"
EXPECTED_VALUE = b"bar"
EXPECTED_INDEX = 42


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", choices=("sequential", "concurrent"), required=True)
    ap.add_argument("--workload", choices=_workloads.WORKLOADS, default="kv_get")
    ap.add_argument("--ops", type=int, required=True, help="timed operations")
    ap.add_argument("--warmup", type=int, default=500, help="untimed operations first")
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=120.0, help="give up (exit 3) after this many seconds")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the timed phase and dump the stats to FILE")
    ap.add_argument(
        "--begin-logging",
        action="store_true",
        help="Twisted drivers: begin logging to an info-level filter first, as a service does",
    )
    ap.add_argument(
        "--no-request-events",
        action="store_true",
        help="txconsul's per-request log events off (txconsul.observe.set_request_events(False))",
    )
    args = ap.parse_args(argv)
    if args.mode == "sequential":
        args.concurrency = 1
    if args.ops < 1 or args.warmup < 0 or args.concurrency < 1:
        ap.error("--ops and --concurrency must be >= 1, --warmup >= 0")
    return args


def check(index, data):
    """Raise unless (index, data) is the canned kv_get answer."""
    if data is None or data.get("Value") != EXPECTED_VALUE or int(index) != EXPECTED_INDEX:
        raise AssertionError(f"unexpected answer: index={index!r} data={data!r}")


def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def versions(*dists):
    out = {"python": sys.version.split()[0]}
    for name in dists:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


class Timer:
    """Times the measured phase, optionally under cProfile."""

    def __init__(self, profile_path=None):
        self.profile_path = profile_path
        self.profiler = cProfile.Profile() if profile_path else None
        self.start = self.end = None
        self.cpu_start = self.cpu_end = 0.0

    def begin(self):
        if self.profiler is not None:
            self.profiler.enable()
        self.cpu_start = _cpu()
        self.start = time.perf_counter()

    def finish(self):
        self.end = time.perf_counter()
        self.cpu_end = _cpu()
        if self.profiler is not None:
            self.profiler.disable()
            self.profiler.dump_stats(self.profile_path)

    @property
    def seconds(self):
        return self.end - self.start


def emit(client, args, timer, vers):
    seconds = timer.seconds
    result = {
        "client": client,
        "mode": args.mode,
        "workload": args.workload,
        "ops": args.ops,
        "seconds": round(seconds, 6),
        "ops_per_sec": round(args.ops / seconds, 1),
        "cpu_seconds": round(timer.cpu_end - timer.cpu_start, 6),
        "cpu_ms_per_op": round((timer.cpu_end - timer.cpu_start) * 1000 / args.ops, 5),
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "profiled": bool(args.profile),
        "versions": vers,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def fail(message, code=2):
    sys.stderr.write(f"driver error: {message}\n")
    sys.stderr.flush()
    return code
