# -*- test-case-name: tests.test_request -*-
"""
What every endpoint group shares, in one import: the request mechanism
(:mod:`txconsul._request`) and the argument validators
(:mod:`txconsul._validate`).
"""

from __future__ import annotations

from .._request import Endpoint, Request, decode_json, decode_true, endpoint, read
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

