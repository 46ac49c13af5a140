# -*- test-case-name: tests.test_fake -*-
"""
FakeConsul's request journal: every request its HTTP resource received, as
plain values a test can inspect (``fake.requests``).
"""

from __future__ import annotations

import json
from typing import Any, Optional

import attr

#: Headers and query parameters that carry an ACL token: kept in the
#: journal (the test sent them) but never shown by ``repr``.
_SECRET_HEADERS = frozenset({"x-consul-token", "authorization"})
_SECRET_PARAMS = frozenset({"token"})
_HIDDEN = "<hidden>"


@attr.s(frozen=True, slots=True, auto_attribs=True, repr=False)
class RecordedRequest:
    """
    One request as FakeConsul received it.

    :ivar method: the HTTP method (``'GET'``, ``'PUT'``...).
    :ivar path: the percent-decoded path (``'/v1/kv/a b'``).
    :ivar query: the query string as ``[(name, value)]`` pairs, in order,
        with ``''`` for a bare flag (``?recurse``).
    :ivar headers: header names (lower case) to their first value.
    :ivar body: the body bytes (``b''`` when there was none).
    :ivar raw_path: the path as it came on the wire, still percent-encoded
        (``'/v1/kv/a%20b'``): what a test of a client's escaping compares.

    Its ``repr`` hides token headers and parameters and shows only the
    body's length (a body may hold a SecretID).
    """

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes
    raw_path: str = ""

    def param(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of query parameter ``name``, or ``default``."""
        for key, value in self.query:
            if key == name:
                return value
        return default

    def params(self) -> dict[str, str]:
        """The query parameters as a dict (the first value of each)."""
        out: dict[str, str] = {}
        for key, value in self.query:
            out.setdefault(key, value)
        return out

    def json(self) -> Any:
        """The body decoded as JSON, or ``None`` when it is empty."""
        return json.loads(self.body) if self.body.strip() else None

    def __repr__(self) -> str:
        query = [(k, _HIDDEN if k in _SECRET_PARAMS else v) for k, v in self.query]
        headers = {k: (_HIDDEN if k in _SECRET_HEADERS else v) for k, v in self.headers.items()}
        return (
            f"RecordedRequest(method={self.method!r}, raw_path={self.raw_path!r}, query={query!r}, "
            f"headers={headers!r}, body=<{len(self.body)} bytes>)"
        )
