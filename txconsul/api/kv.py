# -*- test-case-name: tests.test_kv -*-
"""
The KV store: ``/v1/kv/``.

Differences from python-consul, on purpose: invalid arguments (a key starting
with ``/``, ``separator`` without ``keys``, conflicting ``cas``/``acquire``/
``release``) raise ``ValueError`` or ``TypeError`` at the call, where
python-consul asserts or lets Consul answer.
"""

from __future__ import annotations

import re
from binascii import a2b_base64
from typing import Any, Optional, Union

from .._duration import DurationLike
from .._http import ConsulResponse, Param, quote_key
from ._base import Endpoint, Request, check_str, check_uint, endpoint, read

__all__ = [
    "KV",
    "KeyLike",
    "ValueLike",
    "decode_entry",
    "decode_get",
    "decode_list",
    "encode_value",
    "kv_path",
]

KeyLike = Union[str, bytes]
ValueLike = Union[str, bytes, None]

# Characters quote_key leaves as they are.  A key made only of them, with no
# segment that is empty or starts with '.', needs no escaping and no segment
# checks: kv_path's fast path (the common case; it saves about a microsecond).
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9_.~/-]*")


def kv_path(key: KeyLike, allow_empty: bool = False) -> str:
    """
    Validate a key and build its escaped ``/v1/kv/`` path.

    :raises TypeError: if the key is not ``str`` or ``bytes``.
    :raises ValueError: for a key that starts with ``/``, that has an empty,
        ``.`` or ``..`` segment (Consul's router redirects those), or an empty
        key where one is required.
    """
    if isinstance(key, bytes):
        text = key.decode("utf-8", "surrogateescape")
    elif isinstance(key, str):
        text = key
    else:
        raise TypeError(f"key must be str or bytes, not {type(key).__name__}")
    if _PLAIN_KEY.fullmatch(text) and "//" not in text and "/." not in text:
        return "/v1/kv/" + text
    if not text:
        if allow_empty:
            return "/v1/kv/"
        raise ValueError("key must not be empty (use recurse=True to read every key)")
    if text.startswith("/"):
        raise ValueError(f"invalid key {text!r}: a key must not begin with '/'")
    segments = text.split("/")
    inner = segments[:-1]  # a trailing '/' (a "folder" key) is fine
    if any(s in ("", ".", "..") for s in inner) or segments[-1] in (".", ".."):
        raise ValueError(
            f"invalid key {text!r}: Consul's HTTP router rewrites keys with '//', '.' or '..' segments"
        )
    raw = text.encode("utf-8", "surrogateescape")
    return "/v1/kv/" + quote_key(raw)  # type: ignore[arg-type]


def encode_value(value: ValueLike) -> bytes:
    """
    The request body for a value: ``str`` as UTF-8, ``bytes`` as is,
    ``None`` as empty.

    :raises TypeError: for any other type.
    """
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"value must be str, bytes or None, not {type(value).__name__}")


def decode_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """Decode one KV entry in place: ``Value`` from base64 to bytes (or None)."""
    value = entry.get("Value")
    # a2b_base64 is what b64decode calls, minus its argument juggling.
    entry["Value"] = None if value is None else a2b_base64(value)
    return entry


def decode_get(response: ConsulResponse, single: bool = True) -> Any:
    """
    Decode a KV read: ``None`` for a 404, the entry (or with ``single``
    false the list of entries, or of keys) otherwise.
    """
    if response.code == 404:
        return None
    data = response.json()
    if data is None:
        return None
    if data and isinstance(data[0], dict):
        for entry in data:
            # decode_entry, inlined: a call per entry is a tenth of the
            # decoding time of a 1,000-key listing.
            value = entry.get("Value")
            entry["Value"] = None if value is None else a2b_base64(value)
        if single:
            return data[0]
    return data


def decode_list(response: ConsulResponse) -> Any:
    """Decode a KV listing (``recurse`` or ``keys``): see :func:`decode_get`."""
    return decode_get(response, False)


class KV(Endpoint):
    """
    The key/value store, as ``consul.kv``.

    Keys and values may be ``str`` or ``bytes``; values come back as
    ``bytes`` (``None`` when empty).  Invalid arguments raise ``ValueError`` or
    ``TypeError`` at the call, before any request is sent.
    """

    @endpoint
    def get(
        self,
        key: KeyLike,
        index: Any = None,
        recurse: bool = False,
        wait: Optional[DurationLike] = None,
        token: Optional[str] = None,
        consistency: Optional[str] = None,
        keys: bool = False,
        separator: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """
        Read a key, a prefix (``recurse=True``) or key names (``keys=True``).

        Fires with ``(index, data)``: ``data`` is the entry dict (``Key``,
        ``Value`` as bytes or None, ``Flags``, ``Session``, ``LockIndex``,
        ``CreateIndex``, ``ModifyIndex``), a list of entries for ``recurse``,
        a list of key strings for ``keys``, or ``None`` when nothing matches.

        :param index: block until the data changes past this index.
        :param wait: how long to block: ``'10s'``, ``'5m'`` or seconds (at
            most 10 minutes).
        :param separator: with ``keys``, list only up to this separator.
        :param meta: fire with ``(QueryMeta, data)`` instead.
        :raises ValueError: at the call, for ``separator`` without ``keys``
            (python-consul sends it and Consul ignores it), for an empty key
            without ``recurse``/``keys`` or a key starting with ``/``
            (python-consul uses ``assert`` for that).
        """
        listing = bool(recurse or keys)
        path = kv_path(key, allow_empty=listing)
        params: list[Param] = []
        if keys:
            params.append(("keys", None))
            if separator is not None:
                params.append(("separator", check_str(separator, "separator")))
        elif recurse:
            params.append(("recurse", None))
        elif separator is not None:
            raise ValueError("separator only applies with keys=True")
        return read(path, decode_list if listing else decode_get, params, expect=(200, 404))

    @endpoint
    def put(
        self,
        key: KeyLike,
        value: ValueLike,
        cas: Optional[int] = None,
        flags: Optional[int] = None,
        acquire: Optional[str] = None,
        release: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Write ``value`` at ``key``; fires with ``True`` or ``False``.

        :param cas: write only if the key's ModifyIndex equals this (0: only
            if the key does not exist).
        :param flags: an opaque unsigned 64-bit integer stored with the key.
        :param acquire: take the key's lock for this session ID.
        :param release: release the key's lock held by this session ID.

        At most one of ``cas``, ``acquire`` and ``release`` may be given
        (else ``ValueError`` at the call; Consul would answer 400).  A
        value larger than the agent's limit (512 KiB by default) fails with
        :class:`~txconsul.ClientError` (status 413).
        """
        path = kv_path(key)
        body = encode_value(value)
        given = [n for n, v in (("cas", cas), ("acquire", acquire), ("release", release)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"conflicting arguments: {' and '.join(given)} cannot be combined")
        params: list[Param] = []
        if cas is not None:
            params.append(("cas", str(check_uint(cas, "cas"))))
        if flags is not None:
            params.append(("flags", str(check_uint(flags, "flags"))))
        if acquire is not None:
            params.append(("acquire", check_str(acquire, "acquire")))
        if release is not None:
            params.append(("release", check_str(release, "release")))
        return Request("PUT", path, params, body)

    @endpoint
    def delete(
        self,
        key: KeyLike,
        recurse: Optional[bool] = None,
        cas: Optional[int] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Delete a key, or every key with this prefix (``recurse=True``).
        Fires with ``True`` or ``False`` (a failed ``cas``).

        :param cas: delete only if the key's ModifyIndex equals this.
        """
        path = kv_path(key, allow_empty=bool(recurse))
        params: list[Param] = []
        if recurse:
            if cas is not None:
                raise ValueError("conflicting arguments: recurse and cas cannot be combined")
            params.append(("recurse", None))
        if cas is not None:
            params.append(("cas", str(check_uint(cas, "cas"))))
        return Request("DELETE", path, params)
