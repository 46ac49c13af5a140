"""
Benchmark driver: the floor client plus what every txconsul request must do.

The floor client (``floor_twisted.py``) with exactly three things added, each
one a requirement of txconsul rather than a choice of its design:

- the answer is parsed by llhttp through ``txconsul._wire.ResponseParser``,
  with its limits and strict framing (the transport issue asks for llhttp);
- each request ends with txconsul's structured debug log event
  (``txconsul._observe.emit_request``; the observability issue asks for one
  per request, on by default);
- KV values are decoded from base64, as python-consul's API returns them.

Still no validation of arguments, no timeouts, no cancellation, no
connection cap, no status or index checks, no ``QueryMeta``: so its CPU per
operation is a lower bound for any client meeting those requirements.
"""

import json
from binascii import a2b_base64

import _common
import _twisted_loop
from floor_twisted import FloorClient
from twisted.internet import defer, endpoints, protocol, reactor

from txconsul._observe import emit_request
from txconsul._wire import ResponseParser


class Required(protocol.Protocol):
    """One keep-alive connection, one request at a time, parsed by llhttp."""

    def connectionMade(self):
        self._parser = ResponseParser()
        self._d = None

    def send(self, data):
        self._d = defer.Deferred()
        self._started = reactor.seconds()
        self._parser.reset()
        self.transport.write(data)
        return self._d

    def dataReceived(self, data):
        response = self._parser.feed(data)
        if response is None:
            return
        emit_request(
            "GET", "/v1/kv/foo", response.code, len(response.body), False, None, reactor, self._started
        )
        index = response.headers.raw.get(b"x-consul-index")
        d, self._d = self._d, None
        d.callback((int(index[0]) if index else None, json.loads(response.body)))


class RequiredClient(FloorClient):
    """The floor's connection handling, with :class:`Required` connections."""

    @defer.inlineCallbacks
    def call(self):
        if self._idle:
            conn = self._idle.pop()
        else:
            conn = yield endpoints.connectProtocol(self._endpoint, Required())
            self._all.append(conn)
        index, data = yield conn.send(self._data)
        self._idle.append(conn)
        if self._put:
            return data
        if data and isinstance(data, list) and isinstance(data[0], dict) and "Value" in data[0]:
            for entry in data:
                value = entry.get("Value")
                entry["Value"] = None if value is None else a2b_base64(value)
            if self._single:
                data = data[0]
        return index, data


def main():
    args = _common.parse_args()
    vers = _common.versions("Twisted")

    def make():
        client = RequiredClient(args.host, args.port, args.workload)
        client._single = args.workload == "kv_get"
        return client

    _twisted_loop.run("floor-required", args, make, lambda c: c.call(), lambda c: c.close(), vers)


if __name__ == "__main__":
    main()
