"""Benchmark driver: txconsul (this repository), Twisted reactor."""

import _common
import _workloads
import _twisted_loop


def main():
    args = _common.parse_args()
    from txconsul import Consul

    def make_client():
        return Consul(host=args.host, port=args.port, environ={})

    def get(c):
        return _workloads.call(c, args.workload)

    def close(c):
        return c.close()

    vers = _common.versions("txconsul", "Twisted")
    _twisted_loop.run("txconsul", args, make_client, get, close, vers)


if __name__ == "__main__":
    main()
