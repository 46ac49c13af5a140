# -*- test-case-name: tests.test_request -*-
"""
What every endpoint group shares, in one import: the request mechanism
(:mod:`txconsul._request`) and the argument validators
(:mod:`txconsul._validate`).
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet.defer import Deferred

from .._request import Endpoint as _Endpoint
from .._request import Request, decode_json, decode_true, endpoint, read
from .._validate import (
    check_bool_text,
    check_consistency,
    check_index,
    check_str,
    check_str_map,
    check_uint,
    check_wait,
    path_segment,
)

__all__ = [
    "Endpoint",
    "Request",
    "check_bool_text",
    "check_consistency",
    "check_index",
    "check_str",
    "check_str_map",
    "check_uint",
    "check_wait",
    "decode_json",
    "decode_true",
    "endpoint",
    "path_segment",
    "read",
]


class Endpoint(_Endpoint):
    """The base of the endpoint groups (transitional: ``_read`` goes away)."""

    def _read(self, path: str, decode: Callable[..., Any], params: Any = None, *, index: Any = None,
              wait: Any = None, consistency: Any = None, token: Any = None, dc: Any = None,
              meta: bool = False, expect: tuple[int, ...] = (200,), blocking: bool = True) -> Deferred:
        from .._request import send
        req = Request("GET", path, params or (), decode=decode, blocking=blocking, expect=expect)
        d = send(self._transport, req, index=index, wait=wait, consistency=consistency, token=token, dc=dc)
        return d.addCallback(lambda r: ((r.meta if meta else r.meta.index), decode(r)))
