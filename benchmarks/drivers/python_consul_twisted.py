"""Benchmark driver: python-consul 1.1.0's Twisted adapter (consul.twisted)."""

import _common
import _workloads
import _twisted_loop


def main():
    args = _common.parse_args()
    # No Python 3.11 shim is needed for consul.twisted on the code path the
    # benchmark uses (import, construction, kv.get).  The library is used as
    # shipped, including its HTTPConnectionPool defaults (persistent, at most 2
    # idle connections kept per host).
    import consul.twisted

    def make_client():
        return consul.twisted.Consul(args.host, args.port)

    def get(c):
        return _workloads.call(c, args.workload)

    def close(c):
        # python-consul's Twisted client has no close(); reach its pool so the
        # run ends without leaving connections behind.
        pool = getattr(getattr(c.http.client, "_agent", None), "_pool", None)
        return pool.closeCachedConnections() if pool is not None else None

    vers = _common.versions("python-consul", "Twisted", "treq")
    _twisted_loop.run("python-consul-twisted", args, make_client, get, close, vers)


if __name__ == "__main__":
    main()
