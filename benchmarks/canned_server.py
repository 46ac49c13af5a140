"""
Fallback canned "Consul agent" for the benchmark, used when nginx is not
available.  Runs in its own process (started by run.py with the txconsul
venv's Python, which has Twisted).

It is a minimal HTTP/1.1 keep-alive responder, not a general web server: each
route of ``drivers/_workloads.py`` gets its canned answer (request bodies are
read by ``Content-Length`` and dropped), anything else gets a 404.

Prints ``READY <port>`` on stdout once it listens, and stops by itself after
``--lifetime`` seconds in case its parent dies without stopping it.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "drivers"))

from _workloads import ROUTES, headers  # noqa: E402
from twisted.internet import protocol, reactor  # noqa: E402


def _answer(body):
    head = "HTTP/1.1 200 OK\r\n" + "".join(f"{n}: {v}\r\n" for n, v in headers())
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


ANSWERS = {(m.encode(), p.encode()): _answer(body) for (m, p), body in ROUTES.items()}
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class Canned(protocol.Protocol):
    def connectionMade(self):
        self._buf = b""

    def dataReceived(self, data):
        buf = self._buf + data
        out = []
        while True:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                break
            head = buf[:end]
            lines = head.split(b"\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if len(buf) < end + 4 + length:
                break
            buf = buf[end + 4 + length :]
            parts = lines[0].split(b" ")
            key = (parts[0], parts[1].split(b"?")[0]) if len(parts) >= 2 else None
            out.append(ANSWERS.get(key, NOT_FOUND))
        self._buf = buf
        if out:
            self.transport.write(b"".join(out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=3600.0)
    args = ap.parse_args()
    factory = protocol.Factory.forProtocol(Canned)
    port = reactor.listenTCP(args.port, factory, interface="127.0.0.1", backlog=256)
    reactor.callLater(args.lifetime, reactor.stop)
    sys.stdout.write(f"READY {port.getHost().port}\n")
    sys.stdout.flush()
    reactor.run()


if __name__ == "__main__":
    main()
