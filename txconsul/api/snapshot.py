# -*- test-case-name: tests.test_api_modern_snapshot -*-
"""
Snapshots of the servers' state (``/v1/snapshot``), named after the Go
client's ``Snapshot().Save``/``Restore``: ``consul.snapshot.save`` streams
the gzipped tar archive to a file or a callable as it arrives (the bytes
are never collected unless asked for), ``consul.snapshot.restore`` sends
bytes or a file, read piece by piece.  Both need a token with
``acl:write`` (a management token) when ACLs are on.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

from twisted.internet.defer import Deferred

from .._errors import ResponseTooLarge
from .._http import HTTPTransport
from ._base import check_str

__all__ = ["Snapshot"]

#: What ``save`` writes to: a binary file-like object or a ``write(bytes)`` callable.
SinkLike = Union[Any, Callable[[bytes], Any]]


class _Collector:
    """
    Keeps a streamed body in memory, within ``max_response_body``: beyond
    it, raising from the stream's write ends the stream and drops its
    connection.
    """

    def __init__(self, limit: int, where: str, hint: str = "") -> None:
        # One buffer, not a list of pieces: a body in tiny pieces would
        # cost thirty times its size as separate objects.
        self.data = bytearray()
        self._size = 0
        self._limit = limit
        self._where = where
        self._hint = hint

    def __call__(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._limit:
            method, _, path = self._where.partition(" ")
            raise ResponseTooLarge(
                f"{self._where}: an answer over the limit of {self._limit} bytes (max_response_body){self._hint}",
                method=method,
                path=path,
            )
        self.data += chunk


class Snapshot:
    """``consul.snapshot``: save and restore the servers' state."""

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    def save(
        self,
        out: Optional[SinkLike] = None,
        *,
        stale: bool = False,
        dc: Optional[str] = None,
        token: Optional[str] = None,
    ) -> "Deferred[Any]":
        """
        Save a snapshot (``GET /v1/snapshot``).

        :param out: a binary file-like object (its ``write`` is called with
            each piece as it arrives) or a ``write(bytes)`` callable; with
            ``None`` the archive is collected and the Deferred fires with
            its bytes (failing with :class:`~txconsul.ResponseTooLarge`
            past the client's ``max_response_body``).
        :param stale: let any server answer (``?stale``), not only the leader.
        :returns: a Deferred firing with the archive's bytes (``out=None``),
            else with the :class:`~txconsul.QueryMeta` of the answer
            (``.index`` is the snapshot's Raft index).  Cancelling it drops
            the connection.
        """
        collector: Optional[_Collector] = None
        sink: Any = out
        if out is None:
            # Collected in memory, so bounded as any answer kept whole.
            collector = _Collector(
                self._transport.limits.max_body, "GET /v1/snapshot", "; pass out= to stream it instead"
            )
            write: Callable[[bytes], Any] = collector
        elif callable(getattr(sink, "write", None)):
            write = sink.write
        elif callable(sink):
            write = sink
        else:
            raise TypeError(f"out must be a file or a callable, not {type(out).__name__}")
        if dc is not None:
            check_str(dc, "dc")
        params = [("stale", None)] if stale else []
        d = self._transport.stream("GET", "/v1/snapshot", params, write, token=token, dc=dc)
        if collector is None:
            return d.addCallback(lambda response: response.meta)
        data = collector.data
        return d.addCallback(lambda _: bytes(data))

    def restore(
        self,
        data: Any,
        *,
        dc: Optional[str] = None,
        token: Optional[str] = None,
    ) -> "Deferred[bool]":
        """
        Restore a snapshot (``PUT /v1/snapshot``): replaces the servers'
        state with the archive's.  Fires ``True``.

        :param data: the archive as bytes, or a binary file-like object
            (read in pieces as the connection drains, sent chunked).
        """
        if isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        if not isinstance(data, bytes) and not callable(getattr(data, "read", None)):
            raise TypeError(f"data must be bytes or a binary file, not {type(data).__name__}")
        if dc is not None:
            check_str(dc, "dc")
        # Consul's answer is empty; a long one is not kept without bound.
        sink = _Collector(self._transport.limits.max_body, "PUT /v1/snapshot")
        d = self._transport.stream("PUT", "/v1/snapshot", [], sink, body=data, token=token, dc=dc)
        return d.addCallback(lambda _: True)
