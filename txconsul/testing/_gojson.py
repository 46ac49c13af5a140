# -*- test-case-name: tests.test_fake_decode -*-
"""
Decode request bodies the way Consul's Go code does: ``encoding/json`` into
a declared struct shape.

Consul's HTTP handlers decode bodies with ``decodeBody`` (agent/http.go),
which calls ``lib.DecodeJSON`` (lib/json.go): a ``json.Decoder`` with
``DisallowUnknownFields()``, decoding the first JSON value into a Go struct.
The rules reproduced here (Go 1.23's ``encoding/json/decode.go``, the Go
release Consul 1.21 is built with, ``.go-version``):

* an object key matches a struct field by exact name first, then
  case-insensitively (``foldName``);
* an unknown key is ``json: unknown field "<key>"`` when unknown fields are
  disallowed (``decodeBody``), ignored otherwise;
* a JSON value of the wrong kind is ``json: cannot unmarshal <kind> into Go
  struct field <Struct>.<Field.Path> of type <type>``, where ``<Struct>`` is
  the innermost named struct being decoded (empty for the anonymous
  ``aux`` structs of Consul's custom ``UnmarshalJSON`` methods) and the path
  is every field name from the outermost decoder down; ``json: cannot
  unmarshal <kind> into Go value of type <type>`` outside any struct;
* a number that does not fit an integer field is ``number <literal>``;
* ``null`` leaves a string/number/bool/struct field alone and sets a
  pointer, map, slice or interface to nil;
* a type with its own ``UnmarshalJSON`` (Consul's ``CheckType``,
  ``ServiceDefinition``...) decodes with a new decoder: an error inside it
  is re-labelled with the outer decoder's field path when there is one.

Durations: ``time.Duration`` fields are int64 nanoseconds to Go (a JSON
string is a type error), but Consul's structs that accept ``"10s"``
declare the field as ``interface{}`` in their ``aux`` struct and parse a
string with ``time.ParseDuration`` (a number is nanoseconds; any other JSON
kind is silently ignored): that is :class:`Duration`.

Errors are the first one in document order; Go keeps decoding after a type
error and reports the first one too, but a later error raised by a custom
``UnmarshalJSON`` would win there (a rare difference).
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any, Iterable, Optional, Sequence

from txconsul.testing._core import HTTPError, decode_json_like_go, go_quote
from txconsul.testing._gofmt import go_duration

__all__ = [
    "GoType",
    "String",
    "Bool",
    "Int",
    "Uint",
    "Float",
    "AnyValue",
    "Duration",
    "GoDuration",
    "List",
    "Map",
    "Ptr",
    "Struct",
    "Opaque",
    "Field",
    "GoJSONError",
    "decode",
    "decode_body",
    "parse_duration",
    "format_duration",
]


class GoJSONError(Exception):
    """A Go decode error; ``str()`` is Go's error text (without Consul's prefix)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return self.text


class _TypeError(GoJSONError):
    """Go's ``*json.UnmarshalTypeError``: re-labelled by outer decoders."""

    def __init__(self, value: str, type_str: str, struct: Optional[str], stack: Sequence[str]) -> None:
        self.value = value
        self.type_str = type_str
        self.struct = struct
        self.stack = tuple(stack)
        super().__init__(self._render())

    def relabel(self, struct: Optional[str], stack: Sequence[str]) -> None:
        """``decodeState.addErrorContext`` of the outer decoder."""
        self.struct = struct
        self.stack = tuple(stack)
        self.text = self._render()
        self.args = (self.text,)

    def _render(self) -> str:
        if self.struct is not None or self.stack:
            return (
                f"json: cannot unmarshal {self.value} into Go struct field "
                f"{self.struct or ''}.{'.'.join(self.stack)} of type {self.type_str}"
            )
        return f"json: cannot unmarshal {self.value} into Go value of type {self.type_str}"


class _Num(str):
    """A JSON number, kept as its literal text (Go parses the literal)."""


class _Obj(list):
    """A JSON object as its ``(key, value)`` pairs, in order, duplicates kept."""


class _Ctx:
    """Go's ``errorContext``: the innermost struct name and the field path."""

    __slots__ = ("struct", "stack", "strict")

    def __init__(self, struct: Optional[str], stack: tuple[str, ...], strict: bool) -> None:
        self.struct = struct
        self.stack = stack
        self.strict = strict

    def error(self, value: str, type_str: str) -> _TypeError:
        """An UnmarshalTypeError in this context."""
        return _TypeError(value, type_str, self.struct, self.stack)


def _kind(value: Any) -> str:
    """The JSON kind name Go's errors use."""
    if isinstance(value, _Obj):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, _Num):
        return "number"
    return "string"


def _plain(value: Any) -> Any:
    """A parsed value as ordinary Python (interface{} semantics)."""
    if isinstance(value, _Obj):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, _Num):
        text = str(value)
        if all(c in "-0123456789" for c in text):
            return int(text)
        return float(text)
    return value


class GoType:
    """A Go type a JSON value is decoded into."""

    #: Go's ``reflect.Type.String()`` of the type, as errors print it.
    type_str = "?"

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null parsed JSON value (or raise :class:`GoJSONError`)."""
        raise NotImplementedError

    def null(self) -> tuple[bool, Any]:
        """What ``null`` does: ``(assigns, value)``; primitives ignore it."""
        return False, None


class String(GoType):
    """A Go ``string`` (or a named string type such as ``types.CheckID``)."""

    def __init__(self, type_str: str = "string") -> None:
        self.type_str = type_str

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if isinstance(value, str) and not isinstance(value, _Num):
            return str(value)
        raise ctx.error(_kind(value), self.type_str)


class Bool(GoType):
    """A Go ``bool``."""

    type_str = "bool"

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if isinstance(value, bool):
            return value
        raise ctx.error(_kind(value), self.type_str)


class Int(GoType):
    """A Go signed integer (``int`` is 64 bits on Consul's platforms)."""

    #: Whether a leading ``-`` is allowed.
    signed = True

    def __init__(self, type_str: str = "int", bits: int = 64) -> None:
        self.type_str = type_str
        self.bits = bits

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if not isinstance(value, _Num):
            raise ctx.error(_kind(value), self.type_str)
        text = str(value)
        # strconv.ParseInt / ParseUint(s, 10, 64) then reflect's
        # OverflowInt / OverflowUint.
        digits = text[1:] if self.signed and text.startswith("-") else text
        if not digits.isdigit() or not digits.isascii():
            raise ctx.error("number " + text, self.type_str)
        number = int(text)
        low, high = (-(2 ** (self.bits - 1)), 2 ** (self.bits - 1)) if self.signed else (0, 2**self.bits)
        if not low <= number < high:
            raise ctx.error("number " + text, self.type_str)
        return number


class Uint(Int):
    """A Go unsigned integer."""

    signed = False

    def __init__(self, type_str: str = "uint64", bits: int = 64) -> None:
        super().__init__(type_str, bits)


class Float(GoType):
    """A Go ``float64``."""

    type_str = "float64"

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if not isinstance(value, _Num):
            raise ctx.error(_kind(value), self.type_str)
        number = float(str(value))
        if number in (float("inf"), float("-inf")):
            raise ctx.error("number " + str(value), self.type_str)
        return number


class AnyValue(GoType):
    """A Go ``interface{}``: any JSON value, as plain Python."""

    type_str = "interface {}"

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if isinstance(value, _Num):
            number = _plain(value)
            if isinstance(number, float) and number in (float("inf"), float("-inf")):
                raise ctx.error("number " + str(value), "float64")
            return number
        return _plain(value)

    def null(self) -> tuple[bool, Any]:
        """What ``null`` does to this type: ``(assigns, value)``."""
        return True, None


class Duration(AnyValue):
    """
    Consul's ``interface{}`` duration (``CheckType.UnmarshalJSON``,
    agent/structs/check_type.go): a string is parsed with Go's
    ``time.ParseDuration`` (its error is the decode error), a number is
    nanoseconds, anything else is ignored.  Decodes to seconds (a float),
    or ``None`` when ignored.
    """

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if isinstance(value, _Num):
            return float(str(value)) / 1e9
        if isinstance(value, str):
            return parse_duration(str(value))
        return None


class GoDuration(Int):
    """A plain ``time.Duration`` field: int64 nanoseconds; decodes to seconds."""

    def __init__(self) -> None:
        super().__init__("time.Duration", 64)

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        return super().decode(value, ctx) / 1e9


class List(GoType):
    """A Go slice ``[]T``."""

    def __init__(self, elem: GoType, type_str: Optional[str] = None) -> None:
        self.elem = elem
        self.type_str = type_str or "[]" + elem.type_str

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if isinstance(value, _Obj) or not isinstance(value, list) or isinstance(value, str):
            raise ctx.error(_kind(value), self.type_str)
        out = []
        for item in value:
            if item is None:
                assigns, nulled = self.elem.null()
                out.append(nulled)
            else:
                out.append(self.elem.decode(item, ctx))
        return out

    def null(self) -> tuple[bool, Any]:
        """What ``null`` does to this type: ``(assigns, value)``."""
        return True, None


class Map(GoType):
    """A Go ``map[string]T``."""

    def __init__(self, value: GoType, type_str: Optional[str] = None) -> None:
        self.value = value
        self.type_str = type_str or "map[string]" + value.type_str

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if not isinstance(value, _Obj):
            raise ctx.error(_kind(value), self.type_str)
        out: dict[str, Any] = {}
        for key, item in value:
            if item is None:
                assigns, nulled = self.value.null()
                out[key] = nulled
            else:
                out[key] = self.value.decode(item, ctx)
        return out

    def null(self) -> tuple[bool, Any]:
        """What ``null`` does to this type: ``(assigns, value)``."""
        return True, None


class Ptr(GoType):
    """A Go pointer ``*T``: ``null`` sets it to nil; errors name ``T``."""

    def __init__(self, elem: GoType) -> None:
        self.elem = elem
        self.type_str = elem.type_str

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        return self.elem.decode(value, ctx)

    def null(self) -> tuple[bool, Any]:
        """What ``null`` does to this type: ``(assigns, value)``."""
        return True, None


class Field:
    """
    A struct field: its Go ``name`` (what the decoded dict is keyed by), its
    JSON key (``json`` tag; the Go name when untagged) and its type.
    """

    __slots__ = ("name", "json", "type")

    def __init__(self, name: str, type: GoType, json: Optional[str] = None) -> None:
        self.name = name
        self.type = type
        self.json = json if json is not None else name


def _fold(name: str) -> str:
    """Go's ``foldName``: upper(lower(r)) per rune (so 'ſ' ~ 's', 'K' ~ 'k')."""
    return "".join(ch.lower().upper() for ch in name)


class Struct(GoType):
    """
    A Go struct.

    :param name: the struct's Go type name as errors print it
        (``reflect.Type.Name()``: ``"Weights"``; ``""`` for an anonymous
        ``aux`` struct).
    :param fields: its fields (promoted fields of embedded structs
        included; a shallower field hides a deeper one of the same name).
    :param type_str: ``reflect.Type.String()`` (``"structs.Weights"``), used
        when a JSON value of the wrong kind is given for the whole struct.
    :param custom: the type has its own ``UnmarshalJSON`` that decodes with
        a new decoder (Consul's ``aux`` pattern).
    """

    def __init__(
        self,
        name: str,
        fields: Iterable[Field],
        type_str: Optional[str] = None,
        custom: bool = False,
    ) -> None:
        self.name = name
        self.fields = list(fields)
        self.type_str = type_str or name
        self.custom = custom
        self._exact = {f.json: f for f in self.fields}
        self._folded: dict[str, Field] = {}
        for f in self.fields:
            self._folded.setdefault(_fold(f.json), f)

    def field(self, key: str) -> Optional[Field]:
        """The field a JSON key selects: exact name first, then case-folded."""
        found = self._exact.get(key)
        if found is None:
            found = self._folded.get(_fold(key))
        return found

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if self.custom:
            inner = _Ctx(None, (), ctx.strict)
            try:
                return self._decode(value, inner)
            except _TypeError as e:
                if ctx.struct is not None or ctx.stack:
                    e.relabel(ctx.struct, ctx.stack)
                raise
        return self._decode(value, ctx)

    def _decode(self, value: Any, ctx: _Ctx) -> Any:
        if not isinstance(value, _Obj):
            raise ctx.error(_kind(value), self.type_str)
        out: dict[str, Any] = {}
        for key, item in value:
            f = self.field(key)
            if f is None:
                if ctx.strict:
                    raise GoJSONError(f"json: unknown field {go_quote(key)}")
                continue
            sub = _Ctx(self.name, ctx.stack + (f.json,), ctx.strict)
            if item is None:
                assigns, nulled = f.type.null()
                if assigns:
                    out[f.name] = nulled
                continue
            out[f.name] = f.type.decode(item, sub)
        return out


class Opaque(GoType):
    """
    A struct whose insides the fake does not model (``Proxy``, ``Connect``):
    an object (kept as plain Python) or ``null``; another JSON kind is the
    type error Go gives for the struct.
    """

    def __init__(self, type_str: str) -> None:
        self.type_str = type_str

    def decode(self, value: Any, ctx: _Ctx) -> Any:
        """Decode a non-null JSON value into this type."""
        if not isinstance(value, _Obj):
            raise ctx.error(_kind(value), self.type_str)
        return _plain(value)

    def null(self) -> tuple[bool, Any]:
        """What ``null`` does to this type: ``(assigns, value)``."""
        return True, None


# -- time.ParseDuration -------------------------------------------------------

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_NS = 2**63 - 1


def parse_duration(text: str) -> float:
    """
    Go's ``time.ParseDuration``, in seconds; raises :class:`GoJSONError`
    with Go's texts: ``time: invalid duration "x"``, ``time: missing unit in
    duration "1"``, ``time: unknown unit "x" in duration "1x"``.
    """
    orig = text
    s = text
    neg = False
    if s[:1] in ("-", "+"):
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0.0
    if s == "":
        raise GoJSONError(f"time: invalid duration {go_quote(orig)}")
    acc = Fraction(0)  # nanoseconds, exact
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise GoJSONError(f"time: invalid duration {go_quote(orig)}")
        i = 0
        while i < len(s) and "0" <= s[i] <= "9":
            i += 1
        pre = s[:i]
        s = s[i:]
        post = ""
        if s[:1] == ".":
            s = s[1:]
            j = 0
            while j < len(s) and "0" <= s[j] <= "9":
                j += 1
            post = s[:j]
            s = s[j:]
        if not pre and not post:
            raise GoJSONError(f"time: invalid duration {go_quote(orig)}")
        k = 0
        while k < len(s) and s[k] != "." and not ("0" <= s[k] <= "9"):
            k += 1
        unit = s[:k]
        s = s[k:]
        if not unit:
            raise GoJSONError(f"time: missing unit in duration {go_quote(orig)}")
        if unit not in _UNITS:
            raise GoJSONError(f"time: unknown unit {go_quote(unit)} in duration {go_quote(orig)}")
        number = Fraction(int(pre or "0"))
        if post:
            number += Fraction(int(post), 10 ** len(post))
        acc += number * _UNITS[unit]
        if acc > _MAX_NS + (1 if neg else 0):
            raise GoJSONError(f"time: invalid duration {go_quote(orig)}")
    total = int(acc)  # Go truncates fractional nanoseconds
    return (-total if neg else total) / 1e9


#: Go's ``time.Duration.String`` for a duration in seconds (``"10s"``,
#: ``"1m30s"``, ``"500ms"``): one implementation, in ``_gofmt``.
format_duration = go_duration


# -- entry points -------------------------------------------------------------


def _parse(body: bytes) -> Any:
    """The first JSON value of ``body`` with literals and key order kept."""
    text = body.decode("utf-8", "replace")
    decoder = json.JSONDecoder(parse_int=_Num, parse_float=_Num, object_pairs_hook=_Obj)
    start = len(text) - len(text.lstrip(" \t\r\n"))
    value, _ = decoder.raw_decode(text, start)
    return value


def decode(shape: GoType, body: bytes, *, strict: bool = True) -> Any:
    """
    Decode the first JSON value of ``body`` into ``shape`` as Go's
    ``json.Decoder`` does (``strict``: ``DisallowUnknownFields``, as
    Consul's ``decodeBody``).  A struct decodes to a dict keyed by Go field
    names holding only the fields the body set; ``null`` at the top decodes
    to ``{}`` for a struct (Go leaves the zero value) and ``None`` otherwise.

    :raises HTTPError: 400 on malformed JSON (``Request decode failed:
        <Go's syntax error>``, from :func:`decode_json_like_go`).
    :raises GoJSONError: on a value that does not fit ``shape``.
    """
    decode_json_like_go(body)  # Go's syntax errors first: Decode reads the whole value
    try:
        value = _parse(body)
        if value is None:
            return {} if isinstance(shape, Struct) else None
        return shape.decode(value, _Ctx(None, (), strict))
    except RecursionError:
        # Nesting Python cannot walk (Go's own limit is 10000 levels).
        raise GoJSONError("exceeded max depth")


def decode_body(
    shape: GoType, body: bytes, *, strict: bool = True, prefix: str = "Request decode failed: "
) -> Any:
    """
    :func:`decode` for a handler: any error is a 400 with ``prefix`` + Go's
    text (Consul's handlers answer ``Request decode failed: <err>``).
    """
    try:
        return decode(shape, body, strict=strict)
    except GoJSONError as e:
        raise HTTPError(400, prefix + e.text)
