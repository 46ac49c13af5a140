# -*- test-case-name: tests.test_txn -*-
"""
Transactions: ``PUT /v1/txn``.

A transaction is a list of operations applied atomically: either all
succeed or none does.  Operations are dicts in Consul's own JSON shape::

    {"KV": {"Verb": "set", "Key": "k", "Value": "<base64>"}}

Differences from python-consul's ``txn.put``, on purpose: the ``Value`` of
each KV result comes back decoded to ``bytes`` (python-consul leaves the
base64 text), and a rolled-back transaction fails with :class:`TxnFailed`, a
subclass of the ``ClientError`` python-consul raises.

The ``kv_*`` helpers in this module (also reachable as ``consul.txn.kv_set``
and so on) build them without hand-written base64::

    result = yield consul.txn.put([
        Txn.kv_check_index("config/version", 41),
        Txn.kv_set("config/version", "42"),
        Txn.kv_get("config/other"),
    ])
"""

from __future__ import annotations

from base64 import b64encode
from typing import Any, Optional, Sequence

from .._errors import ClientError
from .._http import ConsulResponse
from ._base import Endpoint, Request, check_str, check_uint, endpoint
from .kv import KeyLike, ValueLike, decode_entry, encode_value, kv_path

__all__ = [
    "MAX_OPS",
    "Txn",
    "TxnFailed",
    "decode_results",
    "kv_cas",
    "kv_check_index",
    "kv_check_not_exists",
    "kv_check_session",
    "kv_delete",
    "kv_delete_cas",
    "kv_delete_tree",
    "kv_get",
    "kv_get_or_empty",
    "kv_get_tree",
    "kv_lock",
    "kv_set",
    "kv_unlock",
]

#: Consul rejects transactions with more operations than this (since 1.14;
#: 64 before).
MAX_OPS = 128


class TxnFailed(ClientError):
    """
    Consul rolled the transaction back (HTTP 409): nothing was applied.

    :ivar errors: Consul's list of ``{'OpIndex': i, 'What': '...'}`` dicts,
        one for every operation that failed.
    :ivar results: Consul's ``Results`` (``None`` on a rollback).
    """

    def __init__(
        self,
        message: str,
        errors: list[dict[str, Any]],
        results: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors = errors
        self.results = results


# -- operation builders ------------------------------------------------------


def _key(key: KeyLike, allow_empty: bool = False) -> str:
    kv_path(key, allow_empty=allow_empty)  # the same rules as kv.get/put
    if isinstance(key, bytes):
        try:
            return key.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"invalid key {key!r}: a transaction key must be UTF-8")
    return key


def _value(value: ValueLike) -> Optional[str]:
    raw = encode_value(value)
    return b64encode(raw).decode("ascii") if raw else None


def _kv(verb: str, key: str, **fields: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"Verb": verb, "Key": key}
    op.update((k, v) for k, v in fields.items() if v is not None)
    return {"KV": op}


def kv_set(key: KeyLike, value: ValueLike, flags: Optional[int] = None) -> dict[str, Any]:
    """Set ``key`` to ``value`` (``str``/``bytes``/``None``)."""
    return _kv(
        "set", _key(key), Value=_value(value), Flags=None if flags is None else check_uint(flags, "flags")
    )


def kv_cas(key: KeyLike, value: ValueLike, index: int, flags: Optional[int] = None) -> dict[str, Any]:
    """Set ``key`` only if its ModifyIndex is ``index`` (0: only if absent)."""
    return _kv(
        "cas",
        _key(key),
        Value=_value(value),
        Index=check_uint(index, "index"),
        Flags=None if flags is None else check_uint(flags, "flags"),
    )


def kv_lock(key: KeyLike, value: ValueLike, session: str, flags: Optional[int] = None) -> dict[str, Any]:
    """Acquire ``key``'s lock for ``session`` and set its value."""
    return _kv(
        "lock",
        _key(key),
        Value=_value(value),
        Session=check_str(session, "session"),
        Flags=None if flags is None else check_uint(flags, "flags"),
    )


def kv_unlock(key: KeyLike, value: ValueLike, session: str, flags: Optional[int] = None) -> dict[str, Any]:
    """Release ``key``'s lock held by ``session`` and set its value."""
    return _kv(
        "unlock",
        _key(key),
        Value=_value(value),
        Session=check_str(session, "session"),
        Flags=None if flags is None else check_uint(flags, "flags"),
    )


def kv_get(key: KeyLike) -> dict[str, Any]:
    """Read ``key``; the transaction fails if it does not exist."""
    return _kv("get", _key(key))


def kv_get_or_empty(key: KeyLike) -> dict[str, Any]:
    """Read ``key``, or an empty entry if it does not exist (newer Consul only)."""
    return _kv("get-or-empty", _key(key))


def kv_get_tree(prefix: KeyLike) -> dict[str, Any]:
    """Read every key starting with ``prefix`` (which must not be empty)."""
    return _kv("get-tree", _key(prefix))


def kv_check_index(key: KeyLike, index: int) -> dict[str, Any]:
    """Fail the transaction unless ``key``'s ModifyIndex is ``index``."""
    return _kv("check-index", _key(key), Index=check_uint(index, "index"))


def kv_check_session(key: KeyLike, session: Optional[str]) -> dict[str, Any]:
    """Fail the transaction unless ``key`` is locked by ``session`` (``None``: unlocked)."""
    sess = "" if session is None else check_str(session, "session", allow_empty=True)
    op = _kv("check-session", _key(key))
    op["KV"]["Session"] = sess
    return op


def kv_check_not_exists(key: KeyLike) -> dict[str, Any]:
    """Fail the transaction if ``key`` exists."""
    return _kv("check-not-exists", _key(key))


def kv_delete(key: KeyLike) -> dict[str, Any]:
    """Delete ``key`` (no error if it does not exist)."""
    return _kv("delete", _key(key))


def kv_delete_tree(prefix: KeyLike) -> dict[str, Any]:
    """Delete every key starting with ``prefix`` (``''``: every key)."""
    return _kv("delete-tree", _key(prefix, allow_empty=True))


def kv_delete_cas(key: KeyLike, index: int) -> dict[str, Any]:
    """Delete ``key`` only if its ModifyIndex is ``index``."""
    return _kv("delete-cas", _key(key), Index=check_uint(index, "index"))


# -- decoding ------------------------------------------------------------------


def decode_results(results: Any) -> Any:
    """Decode KV results in place: each ``Value`` from base64 to bytes (or None)."""
    for result in results or ():
        if isinstance(result, dict) and isinstance(result.get("KV"), dict):
            decode_entry(result["KV"])
    return results


def _check_payload(payload: Any) -> list[dict[str, Any]]:
    if isinstance(payload, (str, bytes, dict)) or not isinstance(payload, Sequence):
        raise TypeError(f"payload must be a list of operation dicts, not {type(payload).__name__}")
    ops = list(payload)
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise TypeError(f"payload[{i}] must be an operation dict, not {type(op).__name__}")
    if len(ops) > MAX_OPS:
        raise ValueError(
            f"payload has {len(ops)} operations: Consul allows at most {MAX_OPS} per transaction"
        )
    return ops


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = [f"op {e.get('OpIndex')}: {e.get('What')}" for e in errors if isinstance(e, dict)]
    return "; ".join(parts) or "no error detail"


def _decode_txn(response: ConsulResponse) -> dict[str, Any]:
    """Consul's answer, KV values decoded; a rollback (409) is :class:`TxnFailed`."""
    data = response.json() or {}
    if response.code == 409:
        errors = data.get("Errors") or []
        raise TxnFailed(
            f"PUT /v1/txn: 409 transaction rolled back: {_describe(errors)}",
            errors,
            data.get("Results"),
            method="PUT",
            path="/v1/txn",
            status=409,
            body=response.body,
        )
    decode_results(data.get("Results"))
    return data


class Txn(Endpoint):
    """
    Atomic transactions, as ``consul.txn``.

    The ``kv_*`` operation builders are available as static methods.
    """

    kv_set = staticmethod(kv_set)
    kv_cas = staticmethod(kv_cas)
    kv_lock = staticmethod(kv_lock)
    kv_unlock = staticmethod(kv_unlock)
    kv_get = staticmethod(kv_get)
    kv_get_or_empty = staticmethod(kv_get_or_empty)
    kv_get_tree = staticmethod(kv_get_tree)
    kv_check_index = staticmethod(kv_check_index)
    kv_check_session = staticmethod(kv_check_session)
    kv_check_not_exists = staticmethod(kv_check_not_exists)
    kv_delete = staticmethod(kv_delete)
    kv_delete_tree = staticmethod(kv_delete_tree)
    kv_delete_cas = staticmethod(kv_delete_cas)

    @endpoint
    def put(
        self,
        payload: Sequence[dict[str, Any]],
        *,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        consistency: Optional[str] = None,
    ) -> Request:
        """
        Apply ``payload``, a list of operation dicts, atomically.

        Fires with Consul's answer ``{'Results': [...], 'Errors': None}``
        (a read-only transaction's answer also carries Consul's query-meta
        fields, ``Index``, ``LastContact``, ``KnownLeader``...).
        Unlike python-consul, which hands back the raw JSON, the ``Value`` of
        every KV result is decoded from base64 to ``bytes`` (``None`` when
        empty; only ``get``-type verbs return values).

        When any operation fails Consul rolls everything back and answers
        409.  python-consul then raises :class:`~txconsul.ClientError` with
        the body in its message; txconsul fails the Deferred with
        :class:`TxnFailed`, a ``ClientError`` whose ``errors`` lists every
        failing operation as ``{'OpIndex': i, 'What': '...'}``.

        :param consistency: for read-only transactions (only ``get``,
            ``get-tree`` and ``check-*`` verbs), ``'stale'`` or
            ``'consistent'``.
        :raises ValueError: synchronously, for more than 128 operations.
        :raises TypeError: synchronously, if ``payload`` is not a list of dicts.
        """
        ops = _check_payload(payload)
        return Request("PUT", "/v1/txn", json_body=ops, decode=_decode_txn, expect=(200, 409))
