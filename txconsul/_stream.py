# -*- test-case-name: tests.test_api_modern_stream,tests.test_http_hostile_again,tests.test_http_hostile_loopback -*-
"""
Streamed requests: answers whose body is handed on as it arrives (the
agent's log monitor, snapshots) instead of being collected whole, and
request bodies produced from a file.

A stream gets a connection of its own: the pooled connections parse whole
answers within :class:`~txconsul._wire.Limits`, while a stream may run for
hours and be any size.  The connection is made with the transport's own
endpoint (so TLS and Unix sockets apply as for every request) and parsed
as it arrives, as strictly as any answer and within the same limits except
the body's, or goes through the injected ``IAgent`` when the client was
given one.  It is closed when the stream ends or is
cancelled; it is never put back into a pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, cast

from twisted.internet.defer import CancelledError, Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import ITCPTransport
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web.client import ResponseDone
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers

from ._errors import ConsulConnectionError, ConsulException, Timeout, error_for_status
from ._wire import (
    Limits,
    StreamParser,
    WireError,
    check_header_value,
    check_target,
    check_token,
    encode_request,
)

if TYPE_CHECKING:
    from ._http import ConsulResponse, HTTPTransport

#: Most bytes of an error answer's body a stream reads (the rest is dropped).
ERROR_BODY_LIMIT = 64 * 1024

#: Bytes read from a file body at a time.
FILE_CHUNK = 64 * 1024


class _StreamConnection(Protocol):
    """
    One streamed HTTP/1.1 exchange on a connection of its own: sends the
    request (a file body chunk by chunk, as the transport drains), parses
    the answer with :class:`~txconsul._wire.StreamParser` (framing, header
    block, trailers and ``1xx`` answers checked and bounded as for any
    answer) and hands the body on as it arrives.  Answers may arrive while
    the request is still being written.
    """

    def __init__(self, head: bytes, body: Any, handler: "_Handler", limits: Limits) -> None:
        self._head = head
        self._body = body
        self._handler = handler
        self._parser = StreamParser(limits, handler.response, handler.data)
        self._ended = False
        self._sending_file = False

    def connectionMade(self) -> None:
        """Write the request (and the first piece of a file body)."""
        self._handler.connection = self
        transport: Any = self.transport
        transport.write(self._head)
        if self._body is not None and not isinstance(self._body, bytes):
            self._sending_file = True
            transport.registerProducer(self, False)
            self.resumeProducing()

    # A pull producer of the file body, in HTTP chunks.
    def resumeProducing(self) -> None:
        """Write the next piece of the file body."""
        transport: Any = self.transport
        if not self._sending_file or transport is None:
            return
        piece = self._body.read(FILE_CHUNK)
        if isinstance(piece, str):
            piece = piece.encode("utf-8")
        if piece:
            transport.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            return
        self._sending_file = False
        transport.unregisterProducer()
        transport.write(b"0\r\n\r\n")

    def pauseProducing(self) -> None:
        """Nothing to do: the transport asks for each piece."""

    def stopProducing(self) -> None:
        """Stop sending the file body."""
        self._sending_file = False

    def dataReceived(self, data: bytes) -> None:
        """Parse answer bytes; hand body bytes on."""
        if self._ended:
            return
        try:
            done = self._parser.feed(data)
        except WireError as e:
            # Malformed or over a limit: nothing more is read.
            self._end(Failure(e))
            self.close()
            return
        if done is not None:
            self._end(None)
            # The request said "Connection: close", so the agent closes it;
            # close it here too, later (closing from inside dataReceived
            # would re-enter a peer that answers synchronously).
            self._handler.clock.callLater(0, self._drop)

    def _drop(self) -> None:
        transport: Any = self.transport
        if transport is not None and self.connected:
            transport.loseConnection()

    def close(self) -> None:
        """Drop the connection (a cancelled stream)."""
        self._sending_file = False
        if self.transport is not None:
            # Every stream transport (TCP, TLS, UNIX, in memory) can abort.
            cast(ITCPTransport, self.transport).abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """A body read until close ends here; anything else broke off."""
        self._sending_file = False
        if not self._ended:
            try:
                done = self._parser.eof()
            except WireError:
                done = None
            self._end(None if done is not None else reason)
        self._handler.gone()

    def _end(self, failure: Optional[Failure]) -> None:
        if not self._ended:
            self._ended = True
            self._handler.end(failure)


class _Handler:
    """Routes one stream's events to the caller's ``write`` and Deferred."""

    def __init__(
        self,
        write: Callable[[bytes], Any],
        result: "Deferred[Any]",
        method: str,
        path: str,
        address: str,
        expect: Sequence[int],
    ) -> None:
        self.write = write
        self.result = result
        self.method = method
        self.path = path
        self.address = address
        self.expect = expect
        self.connection: Any = None
        self.timer: Any = None
        self.cancelled = False
        self.clock: Any = None
        self._code = 0
        self._headers: Any = None
        self._error_body: Optional[list[bytes]] = None
        self._error_size = 0
        #: strings kept out of error messages (the token sent, credentials).
        self.secrets: Sequence[str] = ()
        #: the transport's set of open streams, this one's until it is gone.
        self.streams: Optional[set[Any]] = None
        self._gone = False
        self._gone_waiters: list[Deferred[None]] = []

    def response(self, code: int, headers: Any) -> None:
        """The status and headers arrived."""
        self._code = code
        self._headers = headers
        if code not in self.expect:
            # An error answer is read whole before the stream fails: the
            # timeout keeps running for its body.
            self._error_body = []
        elif self.timer is not None and self.timer.active():
            self.timer.cancel()

    def data(self, chunk: bytes) -> None:
        """Body bytes: to ``write``, or kept (bounded) for an error."""
        if self.result.called:
            return
        if self._error_body is not None:
            piece = chunk[: ERROR_BODY_LIMIT - self._error_size]
            self._error_body.append(piece)
            self._error_size += len(piece)
            if self._error_size >= ERROR_BODY_LIMIT:
                # Enough of an error: fail now, read no more of it.
                self.end(None)
                if self.connection is not None:
                    self.connection.close()
            return
        try:
            self.write(chunk)
        except BaseException:
            f = Failure()
            self.result.errback(f)
            if self.connection is not None:
                self.connection.close()

    def gone(self) -> None:
        """Nothing of the stream is open any more (its connection is closed)."""
        if self._gone:
            return
        self._gone = True
        if self.streams is not None:
            self.streams.discard(self)
        waiters, self._gone_waiters = self._gone_waiters, []
        for d in waiters:
            d.callback(None)

    def stop(self) -> "Deferred[None]":
        """
        Cancel the stream (if it is still running) and drop its connection;
        fires once the connection is closed.
        """
        if self._gone:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._gone_waiters.append(d)
        if not self.result.called:
            self.result.cancel()
        elif self.connection is not None:
            self.connection.close()
        return d

    def end(self, failure: Optional[Failure]) -> None:
        """The body ended (``failure`` is ``None``) or the exchange broke off."""
        from ._http import ConsulResponse, _wire_error, parse_meta

        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        if self.result.called or self.cancelled:
            return
        where = f"{self.method} {self.path}"
        if self._error_body is not None and (failure is None or not failure.check(WireError)):
            # (An error answer cut short still fails with its status.)
            self.result.errback(
                error_for_status(
                    self._code, self.method, self.path, b"".join(self._error_body), redact=self.secrets
                )
            )
        elif failure is None:
            meta = parse_meta(self._headers)
            self.result.callback(ConsulResponse(self._code, self._headers, b"", meta, self.method, self.path))
        elif failure.check(WireError):
            self.result.errback(_wire_error(failure.value, where, self.address, self.method, self.path))
        elif failure.check(ConsulException):
            self.result.errback(failure)
        else:
            what = "the stream broke off" if self._headers is not None else "cannot talk to Consul"
            self.result.errback(
                ConsulConnectionError(
                    f"{where}: {what} at {self.address}: {failure.type.__name__}: {failure.getErrorMessage()}",
                    method=self.method,
                    path=self.path,
                )
            )


class _ConnectionFactory(Factory):
    """Builds the one :class:`_StreamConnection` of a stream."""

    def __init__(self, conn: _StreamConnection) -> None:
        self._conn = conn

    def buildProtocol(self, addr: Any) -> _StreamConnection:
        """The stream's connection."""
        return self._conn


def open_stream(
    transport: "HTTPTransport",
    method: str,
    path: str,
    params: Sequence[tuple[str, Optional[str]]],
    write: Callable[[bytes], Any],
    *,
    body: Any = None,
    content_type: Optional[bytes] = None,
    token: Optional[str] = None,
    dc: Optional[str] = None,
    use_dc: bool = True,
    expect: Sequence[int] = (200,),
    timeout: Optional[float] = None,
) -> "Deferred[ConsulResponse]":
    """
    Send one request and hand its answer's body to ``write`` chunk by chunk.

    The Deferred fires with a :class:`~txconsul._http.ConsulResponse` (its
    ``body`` empty, its ``meta`` and ``headers`` the answer's) once the
    body has ended; an answer whose status is not in ``expect`` fails with
    the usual :mod:`txconsul._errors` exception and nothing reaches
    ``write``.  An exception from ``write`` ends the stream with that
    exception.  Cancelling the Deferred closes the connection.

    :param body: ``None``, bytes, or a binary file-like object (read in
        pieces as the connection drains, sent chunked; read whole when the
        client was given an ``IAgent``).
    :param timeout: seconds to wait for the connection and the answer's
        headers (the body itself may take as long as it takes), or ``None``.
    """
    from ._http import encode_params

    query: list[tuple[str, Optional[str]]] = []
    if use_dc:
        dc = dc if dc is not None else transport.dc
        if dc:
            query.append(("dc", dc))
    query.extend(params)
    target = transport._prefix + check_target(path.encode("ascii"))
    if query:
        target += b"?" + encode_params(query)
    tok = check_token(token, "token") if token is not None else transport.token
    if body is not None and not isinstance(body, bytes) and not hasattr(body, "read"):
        raise TypeError(f"a stream body is bytes or a file, not {type(body).__name__}")
    if body is not None:
        content_type = content_type or b"application/octet-stream"
    if content_type is not None:
        check_header_value("Content-Type", content_type)

    def cancel(_: Deferred) -> None:
        handler.cancelled = True
        if handler.timer is not None and handler.timer.active():
            handler.timer.cancel()
        if handler.connection is not None:
            handler.connection.close()
        elif connecting is not None and not connecting.called:
            connecting.cancel()

    result: Deferred[ConsulResponse] = Deferred(cancel)
    handler = _Handler(write, result, method, path, transport.address, expect)
    handler.clock = transport.clock
    handler.secrets = transport._secrets(tok)
    connecting: Optional[Deferred[Any]] = None
    where = f"{method} {path}"

    if timeout is not None:

        def expire() -> None:
            if not result.called:
                result.errback(
                    Timeout(
                        f"{where}: no answer from {transport.address} within {timeout:g}s",
                        method=method,
                        path=path,
                    )
                )
                if handler.connection is not None:
                    handler.connection.close()
                elif connecting is not None and not connecting.called:
                    connecting.cancel()

        clock: Any = transport.clock
        handler.timer = clock.callLater(timeout, expire)

    handler.streams = transport._streams
    transport._streams.add(handler)
    if transport._agent is not None:
        _through_agent(transport, method, target, tok, content_type, body, handler)

        def gone(passthrough: Any) -> Any:
            # (The agent owns the connection: over is over.)
            handler.gone()
            return passthrough

        result.addBoth(gone)
        return result

    prefix = transport._head_lines + b"Connection: close\r\n"
    if body is None or isinstance(body, bytes):
        head = encode_request(
            method,
            target,
            prefix,
            tok,
            content_type,
            body if body is not None or method in ("GET", "DELETE") else b"",
        )
    else:
        head = (
            encode_request(method, target, prefix, tok, content_type, None)[:-2]
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
    conn = _StreamConnection(head, body if not isinstance(body, bytes) else None, handler, transport.limits)
    endpoint: Any = transport._endpoint
    # (An endpoint that raises instead of failing its Deferred fails the
    # stream too, so that nothing is left registered for close() to wait on.)
    connecting = maybeDeferred(endpoint.connect, _ConnectionFactory(conn))

    def not_connected(f: Failure) -> None:
        if not f.check(CancelledError):
            handler.end(f)
        handler.gone()

    connecting.addErrback(not_connected)
    return result


def _through_agent(
    transport: "HTTPTransport",
    method: str,
    target: bytes,
    tok: Optional[str],
    content_type: Optional[bytes],
    body: Any,
    handler: _Handler,
) -> None:
    """Run a stream through an injected ``IAgent`` (whose ``deliverBody`` streams)."""
    from ._http import BytesProducer

    headers = Headers(dict(transport._static_headers))
    if tok:
        headers.setRawHeaders(b"x-consul-token", [tok.encode("ascii")])
    if content_type is not None:
        headers.setRawHeaders(b"content-type", [content_type])
    producer: Any = None
    if body is not None and not isinstance(body, bytes):
        # An IAgent takes a producer; FileBodyProducer would cooperate on
        # the global reactor, which library code never touches.  Through an
        # injected agent a file body is read whole (the pooled path streams it).
        body = body.read()
        if isinstance(body, str):
            body = body.encode("utf-8")
    if body is not None:
        producer = BytesProducer(body)
    agent: Any = transport._agent
    requested = agent.request(method.encode("ascii"), transport._origin + target, headers, producer)

    class _Relay(Protocol):
        def dataReceived(self, data: bytes) -> None:
            handler.data(data)

        def connectionLost(self, reason: Failure = connectionDone) -> None:
            handler.end(None if reason.check(ResponseDone, PotentialDataLoss) else reason)

    class _Closer:
        def __init__(self) -> None:
            self.relay: Any = None

        def close(self) -> None:
            if self.relay is not None and self.relay.transport is not None:
                self.relay.transport.stopProducing()
            elif not requested.called:
                requested.cancel()

    closer = _Closer()
    handler.connection = closer

    def got(response: Any) -> None:
        handler.response(response.code, response.headers)
        closer.relay = _Relay()
        response.deliverBody(closer.relay)

    def failed(f: Failure) -> None:
        reasons = getattr(f.value, "reasons", None)
        if f.check(CancelledError) or (reasons and all(r.check(CancelledError) for r in reasons)):
            return
        handler.end(reasons[0] if reasons else f)

    requested.addCallbacks(got, failed)
