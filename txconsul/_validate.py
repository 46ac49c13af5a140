# -*- test-case-name: tests.test_request -*-
"""
Argument validators shared by the endpoint groups and the watches.

Each one checks a value before any request is sent and raises ``TypeError``
or ``ValueError`` with a message that names the argument.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional
from urllib.parse import quote

from ._duration import DurationLike, parse_wait
from ._http import QueryMeta, check_consistency

__all__ = [
    "UINT64_MAX",
    "check_bool_text",
    "check_consistency",
    "check_index",
    "check_str",
    "check_str_map",
    "check_uint",
    "check_wait",
    "path_segment",
]

#: The largest value of Consul's unsigned 64-bit integers (indexes, flags).
UINT64_MAX = 2**64 - 1


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


def check_uint(value: Any, what: str) -> int:
    """
    Require an unsigned 64-bit integer (a ``cas`` index, ``flags``...).

    :raises TypeError: for a non-int (``bool`` included).
    :raises ValueError: outside ``0 .. 2**64-1``.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if not 0 <= value <= UINT64_MAX:
        raise ValueError(f"invalid {what} {value!r}: must be between 0 and 2**64-1")
    return value


def check_str_map(value: Any, what: str = "meta") -> Optional[dict[str, str]]:
    """
    A dict of strings (service or node metadata, tagged addresses), copied;
    ``None`` stays ``None``.  Values may be empty, keys may not.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict of strings, not {type(value).__name__}")
    out = {}
    for k, v in value.items():
        out[check_str(k, f"{what} key")] = check_str(v, f"{what} value", allow_empty=True)
    return out


def check_bool_text(value: Any, what: str) -> str:
    """``True``/``False`` or ``'true'``/``'false'`` as Consul's ``'true'``/``'false'``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    raise ValueError(f"invalid {what} {value!r}: use True or False")
