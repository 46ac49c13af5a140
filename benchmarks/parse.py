#!/usr/bin/env python3
"""
Microseconds to parse one Consul answer: txconsul's wire module (llhttp via
httptools, with its limits and checks) against h11.  Runs in the txconsul
venv (or any Python with txconsul and h11 installed):

    benchmarks/.venvs/txconsul/bin/python benchmarks/parse.py

Each answer is parsed whole (one read), best of 5 rounds of 20,000.
"""

import os
import sys
import timeit

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "drivers"))

from _workloads import ROUTES, headers  # noqa: E402

from txconsul._wire import ResponseParser  # noqa: E402


def answer(body: bytes) -> bytes:
    head = "HTTP/1.1 200 OK\r\nDate: Sun, 06 Dec 2026 06:00:00 GMT\r\n" + "".join(
        f"{n}: {v}\r\n" for n, v in headers()
    )
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def wire(raw: bytes):
    parser = ResponseParser()

    def parse():
        parser.reset()
        return parser.feed(raw)

    return parse


def h11_parse(raw: bytes):
    import h11

    def parse():
        conn = h11.Connection(h11.CLIENT)
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
        conn.send(h11.EndOfMessage())
        conn.receive_data(raw)
        body = b""
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) or event is h11.NEED_DATA:
                return body

    return parse


def main() -> None:
    cases = [
        ("kv.get, 1 key", ROUTES[("GET", "/v1/kv/foo")]),
        ("health, 100 instances", ROUTES[("GET", "/v1/health/service/big")]),
    ]
    print("| answer | txconsul._wire µs | h11 µs |")
    print("|---|---:|---:|")
    for name, body in cases:
        raw = answer(body)
        n = 20000 if len(raw) < 10000 else 2000
        cells = []
        for make in (wire, h11_parse):
            fn = make(raw)
            best = min(timeit.repeat(fn, number=n, repeat=5)) / n * 1e6
            cells.append(f"{best:.1f}")
        print(f"| {name} ({len(raw):,} bytes) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
