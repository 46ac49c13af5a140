"""
The measurement loop shared by the asyncio drivers: ``--concurrency`` worker
coroutines under ``asyncio.gather``, each issuing requests back to back.
"""

import asyncio
import sys
import traceback

from _common import Timer, emit, fail
from _workloads import check


async def _run_ops(get, n, concurrency, workload, raw=False):
    remaining = n

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            result = await get()
            check(workload, result, raw)

    if concurrency == 1:
        await worker()
    else:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, n))))


def run(client_name, args, make_client, get, close, vers, raw=False):
    """
    Run one measurement in a fresh event loop and exit the process.

    :param make_client: ``() -> client``, called inside the running loop.
    :param get: ``(client) -> awaitable of (index, data)``.
    :param close: ``(client) -> awaitable or None``.
    """

    async def main():
        client = make_client()
        try:
            call = lambda: get(client)  # noqa: E731
            if args.warmup:
                await _run_ops(call, args.warmup, args.concurrency, args.workload, raw)
            timer = Timer(args.profile)
            timer.begin()
            await _run_ops(call, args.ops, args.concurrency, args.workload, raw)
            timer.finish()
            emit(client_name, args, timer, vers)
        finally:
            closing = close(client)
            if closing is not None:
                await closing

    async def bounded():
        await asyncio.wait_for(main(), args.timeout)

    try:
        asyncio.run(bounded())
    except asyncio.TimeoutError:
        sys.exit(fail(f"no result within {args.timeout:g}s", 3))
    except BaseException:
        sys.exit(fail(traceback.format_exc()))
    sys.exit(0)
