# -*- test-case-name: tests.test_kv -*-
"""
What every endpoint group shares: argument validation and the blocking read.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar
from urllib.parse import quote

from twisted.internet.defer import Deferred

from .._duration import DurationLike, parse_wait
from .._http import (
    ConsulResponse,
    HTTPTransport,
    ParamsLike,
    QueryMeta,
    check_consistency,
)

T = TypeVar("T")


def check_index(index: Any) -> Optional[int]:
    """
    Validate a blocking ``index``: ``None``, an int >= 0, a decimal string
    (python-consul returns the header as a string) or a :class:`QueryMeta`.

    :raises ValueError: for a negative or non-numeric index.
    :raises TypeError: for another type.
    """
    if index is None:
        return None
    if isinstance(index, QueryMeta):
        return index.index
    if isinstance(index, bool):
        raise TypeError(f"index must be an int, not {index!r}")
    if isinstance(index, int):
        value = index
    elif isinstance(index, (str, bytes)):
        text = index.decode("ascii", "replace") if isinstance(index, bytes) else index
        if not text.strip().isdigit():
            raise ValueError(f"invalid index {index!r}: must be a non-negative integer")
        value = int(text)
    else:
        raise TypeError(f"index must be an int or a numeric string, not {type(index).__name__}")
    if value < 0:
        raise ValueError(f"invalid index {index!r}: must be >= 0")
    return value


def check_wait(wait: Optional[DurationLike]) -> Optional[float]:
    """Validate ``wait`` (see :func:`txconsul._duration.parse_wait`)."""
    if wait is None:
        return None
    return parse_wait(wait)


def check_str(value: Any, what: str, allow_empty: bool = False) -> str:
    """Require a ``str`` (``bytes`` is decoded as UTF-8)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if not allow_empty and not value:
        raise ValueError(f"{what} must not be empty")
    return value


def path_segment(value: Any, what: str) -> str:
    """
    Validate a name or ID and escape it as one path segment, so that
    ``'#'``, ``':'``, ``'?'``, ``'/'`` and spaces survive.
    """
    return quote(check_str(value, what), safe="")


class Endpoint:
    """
    Base of every endpoint group: holds the transport.

    :param transport: the client's :class:`~txconsul._http.HTTPTransport`.
    """

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport

    def _read(
        self,
        path: str,
        decode: Callable[[ConsulResponse], T],
        params: Optional[ParamsLike] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        meta: bool = False,
        expect: tuple[int, ...] = (200,),
        blocking: bool = True,
    ) -> "Deferred[tuple[Any, T]]":
        """
        A blocking-capable GET answering ``(index, decode(response))``; with
        ``meta=True`` the first element is the whole :class:`QueryMeta`.

        Arguments are validated before any request is sent.
        """
        idx = check_index(index)
        seconds = check_wait(wait)
        check_consistency(consistency)
        d = self._transport.request(
            "GET",
            path,
            params,
            token=token,
            dc=dc,
            consistency=consistency,
            index=idx,
            wait=seconds,
            expect=expect,
            require_index=blocking,
        )

        def got(response: ConsulResponse) -> tuple[Any, T]:
            data = decode(response)
            head = response.meta if meta else response.meta.index
            return head, data

        return d.addCallback(got)


def decode_json(response: ConsulResponse) -> Any:
    """The body as JSON."""
    return response.json()


def decode_true(response: ConsulResponse) -> bool:
    """``True`` for an empty 200 body, else the JSON boolean."""
    if not response.body.strip():
        return True
    return bool(response.json())
