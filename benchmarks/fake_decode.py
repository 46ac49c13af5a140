"""
How much does decoding request bodies as Go does cost FakeConsul?

Measures, in this process and without sockets:

* ``decode(SERVICE_DEFINITION, body)`` alone, in microseconds per body;
* ``PUT /v1/agent/service/register`` through the in-memory client
  (``FakeConsul(clock).client().agent.service.register``), in requests per
  second.

Run from the repository root: ``python benchmarks/fake_decode.py``.  Point
``PYTHONPATH`` at another checkout to compare (the decode figure is skipped
where ``_gojson`` does not exist).
"""

from __future__ import annotations

import json
import time

from twisted.internet.task import Clock

from txconsul.testing import FakeConsul

BODY = {
    "Name": "web",
    "ID": "web-1",
    "Tags": ["a", "b"],
    "Port": 8080,
    "Address": "10.0.0.1",
    "Meta": {"version": "1"},
    "Weights": {"Passing": 3, "Warning": 1},
    "Check": {"TTL": "10s", "DeregisterCriticalServiceAfter": "1m"},
}


def bench_decode(n: int = 20000) -> None:
    try:
        from txconsul.testing._gojson import decode
        from txconsul.testing._shapes import SERVICE_DEFINITION
    except ImportError:
        print("decode: (no _gojson in this checkout)")
        return
    raw = json.dumps(BODY).encode()
    start = time.perf_counter()
    for _ in range(n):
        decode(SERVICE_DEFINITION, raw)
    elapsed = time.perf_counter() - start
    print(f"decode(SERVICE_DEFINITION): {elapsed / n * 1e6:.1f} us per body ({n} bodies)")


def bench_register(n: int = 3000) -> None:
    clock = Clock()
    consul = FakeConsul(clock, seed=1).client()
    body = dict(BODY)
    check = body.pop("Check")
    start = time.perf_counter()
    for i in range(n):
        d = consul.agent.service.register(
            body["Name"],
            service_id=f"web-{i % 50}",
            address=body["Address"],
            port=body["Port"],
            tags=body["Tags"],
            check={"TTL": check["TTL"]},
        )
        failures: list = []
        d.addErrback(failures.append)
        if failures:
            raise SystemExit(str(failures[0]))
    elapsed = time.perf_counter() - start
    print(f"agent.service.register in memory: {n / elapsed:.0f} requests/s ({n} requests)")


if __name__ == "__main__":
    bench_decode()
    bench_register()
