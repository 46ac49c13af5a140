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

from .._http import HTTPTransport
from ._base import check_str

__all__ = ["Snapshot"]

#: What ``save`` writes to: a binary file-like object or a ``write(bytes)`` callable.
SinkLike = Union[Any, Callable[[bytes], Any]]


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
            its bytes.
        :param stale: let any server answer (``?stale``), not only the leader.
        :returns: a Deferred firing with the archive's bytes (``out=None``),
            else with the :class:`~txconsul.QueryMeta` of the answer
            (``.index`` is the snapshot's Raft index).  Cancelling it drops
            the connection.
        """
        chunks: Optional[list[bytes]] = None
        sink: Any = out
        if out is None:
            chunks = []
            write: Callable[[bytes], Any] = chunks.append
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
        if chunks is None:
            return d.addCallback(lambda response: response.meta)
        return d.addCallback(lambda _: b"".join(chunks))

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
        sink: list[bytes] = []
        d = self._transport.stream("PUT", "/v1/snapshot", [], sink.append, body=data, token=token, dc=dc)
        return d.addCallback(lambda _: True)
