"""Benchmark driver: py-consul's asyncio client (consul.aio, on aiohttp)."""

import _asyncio_loop
import _common
import _workloads


def main():
    args = _common.parse_args()
    import consul.aio

    def make_client():
        # Constructed inside the running loop: aiohttp binds its session there.
        # aiohttp's default connector limit (100) is above the 64 in flight.
        return consul.aio.Consul(host=args.host, port=args.port)

    def get(c):
        return _workloads.call(c, args.workload)

    def close(c):
        return c.close()

    vers = _common.versions("py-consul", "aiohttp")
    _asyncio_loop.run("py-consul-aio", args, make_client, get, close, vers)


if __name__ == "__main__":
    main()
