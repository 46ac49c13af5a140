# -*- test-case-name: tests.test_faultproxy -*-
"""
A loopback TCP proxy that injects network faults, for process-level tests.

A client talks to the proxy's port; the proxy forwards to ``target`` (a
host and port) and can be switched at any moment between:

- :meth:`FaultProxy.pass_through`: bytes flow both ways (the default);
- :meth:`FaultProxy.blackhole`: connections stay open, new ones are
  accepted, and every byte in either direction is swallowed: the stalled
  partition, in which nothing fails and nothing answers;
- :meth:`FaultProxy.delay`: bytes flow, each chunk ``seconds`` late (order
  kept);
- :meth:`FaultProxy.refuse`: the proxy stops listening, so new connections
  are refused; open connections are left alone;
- :meth:`FaultProxy.reset`: open connections are reset (RST), and so is
  every new one;
- :meth:`FaultProxy.heal`: back to pass-through, listening again on the
  same port.

Bytes swallowed by a blackhole are kept and delivered on :meth:`heal`, as
TCP retransmission would deliver them once a partition heals; pass
``deliver_on_heal=False`` to discard them instead (a connection is then
reset on heal, since its byte stream has a hole).

The proxy takes its reactor as an argument; delays may run on a separate
``clock`` (a :class:`~twisted.internet.task.Clock` in tests).
"""

from __future__ import annotations

import socket
import struct
from typing import Any, Optional

from twisted.internet.protocol import ClientFactory, Factory, Protocol

PASS = "pass"
BLACKHOLE = "blackhole"
DELAY = "delay"
REFUSE = "refuse"
RESET = "reset"


def _rst(transport: Any) -> None:
    """Close ``transport`` with a TCP RST rather than a FIN."""
    try:
        transport.getHandle().setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (AttributeError, OSError):
        pass
    transport.abortConnection()


class _Pipe:
    """
    One proxied connection: the accepted ``down`` side and the ``up``
    side to the target, connected lazily (not while blackholed).
    """

    def __init__(self, proxy: "FaultProxy", down: "_Down") -> None:
        self.proxy = proxy
        self.down = down
        self.up: Optional[_Up] = None
        self.connecting = False
        self.closed = False
        #: bytes held while blackholed: (direction, data), in order.
        self.held: list[tuple[str, Optional[bytes]]] = []
        #: bytes waiting for the upstream connection.
        self.pending_up: list[bytes] = []
        #: when the last delayed chunk is due, per direction.
        self.due = {"up": 0.0, "down": 0.0}

    def connect(self) -> None:
        if self.up is not None or self.connecting or self.closed:
            return
        self.connecting = True
        factory = ClientFactory()
        factory.protocol = lambda: _Up(self)  # type: ignore[assignment]
        factory.clientConnectionFailed = lambda connector, reason: self.close()  # type: ignore[method-assign]
        host, port = self.proxy.target
        self.proxy.reactor.connectTCP(host, port, factory)

    def upstream_made(self, up: "_Up") -> None:
        self.connecting = False
        if self.closed:
            up.transport.abortConnection()
            return
        self.up = up
        pending, self.pending_up = self.pending_up, []
        for data in pending:
            up.transport.write(data)

    def received(self, direction: str, data: Optional[bytes]) -> None:
        """
        ``data`` arrived from the client (``'up'``) or the target
        (``'down'``); ``None`` is that side closing, which travels like
        data (held by a blackhole, late under a delay).
        """
        if data is not None:
            self.proxy.bytes_in[direction] += len(data)
        mode = self.proxy.mode
        if mode == BLACKHOLE:
            self.held.append((direction, data))
            return
        if mode == DELAY:
            clock = self.proxy.clock
            now = clock.seconds()
            due = max(now + self.proxy.delay_seconds, self.due[direction])
            self.due[direction] = due
            clock.callLater(due - now, self.forward, direction, data)
            return
        self.forward(direction, data)

    def forward(self, direction: str, data: Optional[bytes]) -> None:
        if self.closed:
            return
        if data is None:
            self.close()
            return
        self.proxy.bytes_out[direction] += len(data)
        if direction == "down":
            self.down.transport.write(data)
        elif self.up is not None:
            self.up.transport.write(data)
        else:
            self.pending_up.append(data)
            self.connect()

    def heal(self, deliver: bool) -> None:
        held, self.held = self.held, []
        if held and not deliver:
            self.reset()
            return
        self.connect()
        for direction, data in held:
            self.forward(direction, data)

    def reset(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy._pipes.discard(self)
        _rst(self.down.transport)
        if self.up is not None:
            _rst(self.up.transport)

    def close(self) -> None:
        """One side closed: close the other, after what was already sent."""
        if self.closed:
            return
        self.closed = True
        self.proxy._pipes.discard(self)
        self.down.transport.loseConnection()
        if self.up is not None:
            self.up.transport.loseConnection()


class _Down(Protocol):
    def __init__(self, proxy: "FaultProxy") -> None:
        self.proxy = proxy
        self.pipe: Optional[_Pipe] = None

    def connectionMade(self) -> None:
        self.proxy.accepted += 1
        self.pipe = _Pipe(self.proxy, self)
        if self.proxy.mode == RESET:
            self.pipe.reset()
            return
        self.proxy._pipes.add(self.pipe)
        if self.proxy.mode != BLACKHOLE:
            self.pipe.connect()

    def dataReceived(self, data: bytes) -> None:
        assert self.pipe is not None
        if not self.pipe.closed:
            self.pipe.received("up", data)

    def connectionLost(self, reason: Any) -> None:
        if self.pipe is not None and not self.pipe.closed:
            self.pipe.received("up", None)


class _Up(Protocol):
    def __init__(self, pipe: _Pipe) -> None:
        self.pipe = pipe

    def connectionMade(self) -> None:
        self.pipe.upstream_made(self)

    def dataReceived(self, data: bytes) -> None:
        if not self.pipe.closed:
            self.pipe.received("down", data)

    def connectionLost(self, reason: Any) -> None:
        if not self.pipe.closed:
            self.pipe.received("down", None)


class FaultProxy:
    """
    A TCP proxy on ``interface`` (loopback by default) in front of
    ``target``, with switchable faults.  Call :meth:`start` to listen, and
    :meth:`stop` at the end (it closes every connection).

    :param reactor: provides ``listenTCP``, ``connectTCP`` and time.
    :param target: ``(host, port)`` to forward to.
    :param clock: runs :meth:`delay`'s timers; ``reactor`` by default.

    :ivar port: the port it listens on (after :meth:`start`).
    :ivar mode: the current fault: ``'pass'``, ``'blackhole'``, ``'delay'``,
        ``'refuse'`` or ``'reset'``.
    :ivar accepted: how many connections it accepted.
    :ivar bytes_in: bytes received from the client (``'up'``) and the
        target (``'down'``), swallowed ones included.
    :ivar bytes_out: bytes forwarded, per direction.
    """

    def __init__(
        self, reactor: Any, target: tuple[str, int], clock: Any = None, interface: str = "127.0.0.1"
    ) -> None:
        self.reactor = reactor
        self.clock = clock if clock is not None else reactor
        self.target = target
        self.interface = interface
        self.mode = PASS
        self.delay_seconds = 0.0
        self.port = 0
        self.accepted = 0
        self.bytes_in = {"up": 0, "down": 0}
        self.bytes_out = {"up": 0, "down": 0}
        self._deliver_on_heal = True
        self._listening: Any = None
        self._pipes: set[_Pipe] = set()

    def _factory(self) -> Factory:
        factory = Factory()
        factory.protocol = lambda: _Down(self)  # type: ignore[assignment]
        return factory

    def start(self, port: int = 0) -> int:
        """Listen (on a free port by default); returns the port."""
        self._listening = self.reactor.listenTCP(port, self._factory(), interface=self.interface)
        self.port = self._listening.getHost().port
        return self.port

    @property
    def address(self) -> tuple[str, int]:
        """``(interface, port)``: where clients connect."""
        return (self.interface, self.port)

    def pass_through(self) -> None:
        """Forward bytes as they come (held bytes stay held: use :meth:`heal`)."""
        self.mode = PASS

    def blackhole(self, deliver_on_heal: bool = True) -> None:
        """Swallow every byte both ways, on open and new connections."""
        self.mode = BLACKHOLE
        self._deliver_on_heal = deliver_on_heal

    def delay(self, seconds: float) -> None:
        """Forward every chunk ``seconds`` late (on ``clock``), order kept."""
        if seconds < 0:
            raise ValueError(f"invalid delay {seconds!r}: must be >= 0")
        self.mode = DELAY
        self.delay_seconds = float(seconds)

    def refuse(self) -> "Any":
        """Stop listening: new connections are refused.  Returns a Deferred."""
        self.mode = REFUSE
        return self._stop_listening()

    def reset(self) -> None:
        """Reset every open connection, and every new one until healed."""
        self.mode = RESET
        for pipe in list(self._pipes):
            pipe.reset()

    def heal(self) -> None:
        """Back to pass-through: listen again, deliver held bytes."""
        self.mode = PASS
        if self._listening is None:
            self.start(self.port)
        for pipe in list(self._pipes):
            pipe.heal(self._deliver_on_heal)

    def _stop_listening(self) -> Any:
        from twisted.internet.defer import succeed

        if self._listening is None:
            return succeed(None)
        listening, self._listening = self._listening, None
        return listening.stopListening()

    def stop(self) -> Any:
        """Stop listening and abort every connection; returns a Deferred."""
        for pipe in list(self._pipes):
            pipe.reset()
        return self._stop_listening()

    def __repr__(self) -> str:
        return f"<FaultProxy :{self.port} -> {self.target[0]}:{self.target[1]} {self.mode}>"
