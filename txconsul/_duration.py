# -*- test-case-name: tests.test_duration -*-
"""
Durations as Consul writes them (Go's ``time.ParseDuration``) and as users
write them in Python (numbers of seconds).
"""

from __future__ import annotations

from typing import Union

DurationLike = Union[str, int, float]

#: Consul clamps a blocking query's wait to ten minutes.
MAX_WAIT = 600.0

_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
#: The largest duration Go can hold (``math.MaxInt64`` nanoseconds), in seconds.
_GO_MAX_DURATION = (2**63 - 1) / 1e9


def parse_go_duration(text: str) -> float:
    """
    Parse a duration exactly as Go's ``time.ParseDuration`` does (``'10s'``,
    ``'-1m30s'``, ``'300000ms'``): a sign, then number-unit pairs; a bare
    number other than ``0`` is invalid, and so is surrounding whitespace or
    a duration beyond Go's int64 nanoseconds.

    :raises ValueError: on a malformed duration.
    """
    s = text
    if s in ("0", "+0", "-0"):
        return 0.0
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if not s:
        raise ValueError(text)
    total = 0.0
    i = 0
    while i < len(s):
        j = i
        while j < len(s) and (s[j].isdigit() or s[j] == "."):
            j += 1
        if j == i:
            raise ValueError(text)
        number = float(s[i:j])
        k = j
        while k < len(s) and not (s[k].isdigit() or s[k] == "."):
            k += 1
        unit = s[j:k]
        if unit not in _UNITS:
            raise ValueError(text)
        total += number * _UNITS[unit]
        i = k
    if total > _GO_MAX_DURATION:
        # time.ParseDuration: "invalid duration" on int64 overflow.
        raise ValueError(text)
    return sign * total


def parse_duration(value: DurationLike, what: str = "duration") -> float:
    """
    Turn ``'10s'``, ``'250ms'``, ``'1m30s'`` or a number of seconds into seconds.

    A string is read by :func:`parse_go_duration`, after surrounding
    whitespace is dropped; negative durations are refused.

    :param value: a Go duration string or a non-negative number of seconds.
    :param what: the name used in the error message.
    :raises ValueError: for a malformed or negative duration.
    :raises TypeError: for a value that is neither a string nor a number.
    """
    if isinstance(value, bool):
        raise TypeError(f"{what} must be a duration string or seconds, not {value!r}")
    if isinstance(value, (int, float)):
        if value != value or value < 0 or value == float("inf"):
            raise ValueError(f"invalid {what} {value!r}: must be a finite number >= 0")
        return float(value)
    if not isinstance(value, str):
        raise TypeError(
            f"{what} must be a duration string like '10s' or a number of seconds, not {type(value).__name__}"
        )
    text = value.strip()
    if text == "":
        raise ValueError(f"invalid {what} '': empty")
    try:
        seconds = parse_go_duration(text)
    except ValueError:
        seconds = -1.0
    if seconds < 0 or text[:1] == "-":
        raise ValueError(
            f"invalid {what} {value!r}: use a number of seconds or a duration like '10s', '250ms', '5m'"
        )
    return seconds


def parse_wait(value: DurationLike) -> float:
    """
    Validate a blocking query's ``wait``: a duration of at most ten minutes.

    :raises ValueError: if the duration is malformed, not positive, or longer
        than Consul's 10 minute cap.
    """
    seconds = parse_duration(value, "wait")
    if seconds <= 0:
        raise ValueError(f"invalid wait {value!r}: must be greater than zero")
    if seconds > MAX_WAIT:
        raise ValueError(f"invalid wait {value!r}: Consul caps blocking queries at 10 minutes")
    return seconds


def format_duration(seconds: float) -> str:
    """
    Format seconds as a Go duration in whole milliseconds (``'300000ms'``).

    A positive duration under one millisecond is sent as ``'1ms'``, as the
    official Go client does.
    """
    ms = int(round(seconds * 1000))
    if seconds > 0 and ms == 0:
        ms = 1
    return f"{ms}ms"


def format_seconds(seconds: float) -> str:
    """Format seconds for Consul bodies: ``'15s'``, ``'1.5s'``."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return format_duration(seconds)
