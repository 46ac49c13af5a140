"""Benchmark driver: python-consul 1.1.0's asyncio client (consul.aio, on aiohttp)."""

import asyncio
import types

import _asyncio_loop
import _common
import _workloads


def main():
    args = _common.parse_args()

    # --- PYTHON 3.11 SHIM (benchmark only, site-packages untouched) ----------
    # python-consul 1.1.0's consul/aio.py decorates its request method with
    # @asyncio.coroutine, which Python 3.11 removed; types.coroutine is the
    # equivalent for its generator-based ("yield from") coroutine.
    asyncio.coroutine = types.coroutine
    # -------------------------------------------------------------------------
    import consul.aio

    def make_client():
        return consul.aio.Consul(host=args.host, port=args.port)

    def get(c):
        return _workloads.call(c, args.workload)

    def close(c):
        # consul.aio.Consul.close() drops aiohttp's close() coroutine without
        # awaiting it; await the session's close directly instead.
        return c.http._session.close()

    vers = _common.versions("python-consul", "aiohttp")
    _asyncio_loop.run("python-consul-aio", args, make_client, get, close, vers)


if __name__ == "__main__":
    main()
