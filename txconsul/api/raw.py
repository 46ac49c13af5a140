# -*- test-case-name: tests.test_api_modern_agent -*-
"""
The raw request: any Consul HTTP endpoint, for those no group wraps yet.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional, Sequence

from twisted.internet.defer import Deferred

from .._duration import DurationLike
from .._http import ConsulResponse, HTTPTransport, check_consistency
from ._base import check_index, check_wait

#: The methods Consul's HTTP API uses.
METHODS = ("GET", "PUT", "POST", "DELETE")

#: A path of printable ASCII without a query, fragment or whitespace.
_PATH = re.compile(r"/v1/[!$&'()*+,\-./0-9:;=@A-Z_a-z~%]*\Z")

_MISSING: Any = object()


def raw_request(
    transport: HTTPTransport,
    method: str,
    path: str,
    params: Any = None,
    *,
    body: Optional[bytes] = None,
    json: Any = _MISSING,
    token: Optional[str] = None,
    dc: Optional[str] = None,
    consistency: Optional[str] = None,
    index: Any = None,
    wait: Optional[DurationLike] = None,
    expect: Sequence[int] = (200,),
) -> "Deferred[ConsulResponse]":
    """
    Validate and send one request; see :meth:`txconsul.Consul.request`.
    """
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"invalid method {method!r}: use one of {', '.join(METHODS)}")
    if not isinstance(path, str) or not _PATH.match(path):
        raise ValueError(
            f"invalid path {path!r}: must start with '/v1/' and be already "
            "percent-escaped, without '?' (use params) or whitespace"
        )
    if body is not None and json is not _MISSING:
        raise ValueError("give body or json, not both")
    if body is not None and not isinstance(body, bytes):
        raise TypeError(f"body must be bytes, not {type(body).__name__}")
    if isinstance(params, Mapping):
        params = list(params.items())
    check_consistency(consistency)
    idx = check_index(index)
    seconds = check_wait(wait)
    extra: dict[str, Any] = {}
    if json is not _MISSING:
        extra["json_body"] = json
    return transport.request(
        method.upper(),
        path,
        params,
        body,
        token=token,
        dc=dc,
        consistency=consistency,
        index=idx,
        wait=seconds,
        expect=tuple(expect),
        **extra,
    )
