# -*- test-case-name: tests.test_fake_fidelity -*-
"""
Go's text formats as Consul reads and writes them: ``%q`` quoting,
``strconv.ParseUint``, ``time.ParseDuration`` / ``time.Duration.String()``
and RFC 3339 times.  Pure functions, no state.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from .._duration import parse_go_duration

__all__ = [
    "go_duration",
    "go_quote",
    "go_time",
    "parse_go_duration",
    "parse_go_time",
    "parse_uint",
]

#: ``strconv.ParseUint(s, 10, 64)`` accepts ASCII digits only (no sign, no
#: underscores, no other Unicode digits).
_UINT_RE = re.compile(r"[0-9]+\Z")


def go_quote(text: str) -> str:
    """Quote a string roughly as Go's ``%q`` / ``strconv.Quote`` does."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append(
                {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[
                    ch
                ]
            )
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\x%02x" % ord(ch))
        elif 0xDC80 <= ord(ch) <= 0xDCFF:  # an undecodable byte (surrogateescape)
            out.append("\\x%02x" % (ord(ch) - 0xDC00))
        elif not ch.isprintable():
            out.append("\\u%04x" % ord(ch) if ord(ch) <= 0xFFFF else "\\U%08x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def parse_uint(text: str) -> int:
    """
    Parse like Go's ``strconv.ParseUint(text, 10, 64)``.

    :raises ValueError: with strconv's message (``invalid syntax`` or
        ``value out of range``).
    """
    if not _UINT_RE.match(text):
        raise ValueError(f"strconv.ParseUint: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if value >= 2**64:
        raise ValueError(f"strconv.ParseUint: parsing {go_quote(text)}: value out of range")
    return value


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` of ``seconds`` (``'0s'``, ``'100ms'``, ``'1m0s'``)."""
    ns = int(round(seconds * 1e9))
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)

    def frac(value: int, unit: int) -> str:
        whole, rest = divmod(value, unit)
        if not rest:
            return str(whole)
        digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
        return f"{whole}.{digits}"

    if u < 1000:
        return f"{sign}{u}ns"
    if u < 1_000_000:
        return f"{sign}{frac(u, 1000)}\u00b5s"
    if u < 1_000_000_000:
        return f"{sign}{frac(u, 1_000_000)}ms"
    hours, rest = divmod(u, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + frac(rest, 10**9) + "s"


def go_time(seconds: float) -> str:
    """A clock reading as Go's RFC 3339 (nanosecond) JSON time."""
    dt = datetime.fromtimestamp(seconds, timezone.utc)
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if dt.microsecond:
        text += ("." + f"{dt.microsecond:06d}").rstrip("0")
    return text + "Z"


def parse_go_time(text: str) -> float:
    """Parse an RFC 3339 time as Go's ``time.Time`` JSON decoding does, to seconds."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    m = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", value)
    if m:  # Python wants at most 6 fraction digits
        value = f"{m.group(1)}.{m.group(2)[:6].ljust(6, '0')}{m.group(3)}"
    return datetime.fromisoformat(value).timestamp()
