"""
Benchmark driver: the floor client.

The least a Twisted Consul client can do: a minimal ``Protocol`` speaking
keep-alive HTTP/1.1 (request bytes built once per workload; the answer
framed by ``Content-Length`` only) and ``json.loads`` of the body, one
connection per request in flight.  No validation, limits, timeouts,
cancellation or base64 decoding: a real client's cost is measured against
this one's.
"""

import json

import _common
import _twisted_loop
import _workloads
from twisted.internet import defer, endpoints, protocol, reactor


class Floor(protocol.Protocol):
    """One keep-alive connection, one request at a time."""

    def connectionMade(self):
        self._buf = b""
        self._d = None
        self._need = -1
        self._index = None

    def send(self, data):
        self._d = defer.Deferred()
        self.transport.write(data)
        return self._d

    def dataReceived(self, data):
        buf = self._buf + data
        if self._need < 0:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                self._buf = buf
                return
            length = 0
            for line in buf[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"x-consul-index":
                    self._index = int(value)
            buf = buf[end + 4 :]
            self._need = length
        if len(buf) < self._need:
            self._buf = buf
            return
        body, self._buf, self._need = buf[: self._need], b"", -1
        d, self._d = self._d, None
        d.callback((self._index, json.loads(body)))


class FloorClient:
    """Idle connections reused; a new one per extra request in flight."""

    def __init__(self, host, port, workload):
        method, path, body = _workloads.REQUESTS[workload]
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        if body is not None:
            head += f"Content-Length: {len(body)}\r\n"
        self._data = head.encode() + b"\r\n" + (body or b"")
        self._put = method == "PUT"
        self._endpoint = endpoints.TCP4ClientEndpoint(reactor, host, port)
        self._idle = []
        self._all = []

    @defer.inlineCallbacks
    def call(self):
        if self._idle:
            conn = self._idle.pop()
        else:
            conn = yield endpoints.connectProtocol(self._endpoint, Floor())
            self._all.append(conn)
        index, data = yield conn.send(self._data)
        self._idle.append(conn)
        return data if self._put else (index, data)

    def close(self):
        for conn in self._all:
            conn.transport.loseConnection()


def main():
    args = _common.parse_args()
    vers = _common.versions("Twisted")
    _twisted_loop.run(
        "floor",
        args,
        lambda: FloorClient(args.host, args.port, args.workload),
        lambda c: c.call(),
        lambda c: c.close(),
        vers,
        raw=True,
    )


if __name__ == "__main__":
    main()
