# -*- test-case-name: tests.test_request -*-
"""
What every endpoint group shares, in one import: the request mechanism
(:mod:`txconsul._request`) and the argument validators
(:mod:`txconsul._validate`).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence, Union

from .._http import ConsulResponse, Param
from .._request import Endpoint, Request, decode_json, decode_true, endpoint, read
from .._validate import (
    check_bool_text,
    check_cas,
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
    "TagLike",
    "check_bool_text",
    "check_cas",
    "check_consistency",
    "check_index",
    "check_str",
    "check_str_map",
    "check_uint",
    "check_wait",
    "decode_bool",
    "decode_json",
    "decode_true",
    "endpoint",
    "path_segment",
    "read",
    "read_params",
]


def decode_bool(response: ConsulResponse) -> bool:
    """The JSON boolean body of a write Consul answers ``true``/``false``."""
    return bool(response.json())


#: A tag or a list of tags, all of which must match.
TagLike = Union[str, Sequence[str], None]


def read_params(
    *,
    near: Optional[str] = None,
    node_meta: Optional[Mapping[str, str]] = None,
    tag: TagLike = None,
    passing: Optional[bool] = None,
) -> list[Param]:
    """
    The query parameters shared by catalog and health reads: repeated
    ``tag`` (all must match), ``near``, repeated ``node-meta=k:v`` and, for
    health reads, ``passing``.
    """
    params: list[Param] = []
    if tag is not None:
        tags = [tag] if isinstance(tag, (str, bytes)) else tag
        if not isinstance(tags, (list, tuple)):
            raise TypeError("tag must be a string or a list of strings")
        for t in tags:
            params.append(("tag", check_str(t, "tag")))
    if near is not None:
        params.append(("near", check_str(near, "near")))
    meta = check_str_map(node_meta, "node_meta")
    if meta:
        for k, v in meta.items():
            if ":" in k:
                raise ValueError(f"invalid node_meta key {k!r}: must not contain ':'")
            params.append(("node-meta", f"{k}:{v}"))
    if passing:
        params.append(("passing", "1"))
    return params
