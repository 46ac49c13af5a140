"""
Fallback canned "Consul agent" for the benchmark, used when nginx is not
available.  Runs in its own process (started by run.py with the txconsul
venv's Python, which has Twisted).

It is a minimal HTTP/1.1 keep-alive responder, not a general web server: every
``GET /v1/kv/foo`` gets the same canned answer that the nginx config serves,
anything else gets a 404.  Request bodies are not supported (the benchmark
sends none).

Prints ``READY <port>`` on stdout once it listens, and stops by itself after
``--lifetime`` seconds in case its parent dies without stopping it.
"""

import argparse
import sys

from twisted.internet import protocol, reactor

BODY = (
    b'[{"LockIndex":0,"Key":"foo","Flags":0,"Value":"YmFy",'
    b'"CreateIndex":42,"ModifyIndex":42}]'
)
OK = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"X-Consul-Index: 42\r\n"
    b"X-Consul-KnownLeader: true\r\n"
    b"X-Consul-LastContact: 0\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n"
    b"\r\n" + BODY
)
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
            head, buf = buf[:end], buf[end + 4 :]
            line = head.split(b"\r\n", 1)[0].split(b" ")
            if len(line) >= 2 and line[0] == b"GET" and line[1].split(b"?")[0] == b"/v1/kv/foo":
                out.append(OK)
            else:
                out.append(NOT_FOUND)
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
