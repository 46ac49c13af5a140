# -*- test-case-name: tests.test_wire,tests.test_http_hostile_again -*-
"""
HTTP/1.1 on the wire, without I/O: request bytes out, response bytes in.

Like h11, this module does no I/O at all: :func:`encode_request` builds the
bytes of a request, :class:`ResponseParser` is fed the bytes of an answer and
hands back a :class:`RawResponse` once the answer is whole.  Parsing is done
by llhttp (the HTTP parser of Node.js) through ``httptools``, which is strict
about framing by default; this module adds what a client of infrastructure
needs on top of it:

- size limits (:class:`Limits`): the response body (checked against
  ``Content-Length`` as soon as the headers are in, and counted while a
  chunked or read-until-close body streams in), the header block, the chunked
  framing and trailers, and the number of ``1xx`` interim answers;
- stricter framing than RFC 9112 asks of a general client: a
  ``Transfer-Encoding`` other than exactly ``chunked`` is refused (Consul never
  sends one, and a proxy that reads it differently is a smuggling risk),
  ``101 Switching Protocols`` is refused, and only ``HTTP/1.0`` and
  ``HTTP/1.1`` status lines are accepted;
- validation of every header value this client writes (the ACL token above
  all), so no value can end the header block early.

Errors are :class:`WireError` subclasses without a method or path; the
transport turns them into :mod:`txconsul._errors` exceptions that name both.
"""

from __future__ import annotations

import re
from typing import Any, Optional, Union

import attr
import httptools

__all__ = [
    "BodyTooLarge",
    "FramingError",
    "HeadTooLarge",
    "Limits",
    "NotHTTP",
    "RawHeaders",
    "RawResponse",
    "ResponseParser",
    "StreamParser",
    "TooManyInterim",
    "TrailersTooLarge",
    "WireError",
    "check_header_value",
    "check_target",
    "check_token",
    "encode_request",
    "request_prefix",
]

#: Default largest response body, in bytes (see docs/errors-and-timeouts.md).
DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: Default largest header block (status line, headers and the blank line).
DEFAULT_MAX_HEAD = 64 * 1024
#: Default largest chunked framing overhead: chunk-size lines and trailers.
DEFAULT_MAX_TRAILER = 16 * 1024
#: Default most ``1xx`` interim answers before the final one.  Go's
#: net/http client gives up after 5 (``max1xxResponses`` in
#: ``src/net/http/transport.go``).
DEFAULT_MAX_INTERIM = 5

#: Below this many bytes in 1,024 pieces of body, the pieces are joined.
_SMALL_PIECES = 256 * 1024

#: Bytes of framing a chunk may carry beyond its data (a 16-digit size line,
#: its CRLF and the CRLF after the data), before it counts against the
#: trailer limit.
_CHUNK_SLACK = 22

# RFC 9110 5.5: field-value characters are VCHAR, SP, HTAB and obs-text; no
# CR, LF, NUL or other control byte.  This client writes ASCII only.
_BAD_VALUE = re.compile(rb"[^\x20-\x7e\t]")
# An ACL token is a secret ID (a UUID in practice): printable ASCII, no spaces.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
# A request target is escaped: visible ASCII only.
_BAD_TARGET = re.compile(rb"[^\x21-\x7e]")


class WireError(Exception):
    """The peer sent something this client does not accept as an answer."""


class FramingError(WireError):
    """Malformed HTTP/1.1: a bad status line, header line, length or chunk."""


class NotHTTP(FramingError):
    """
    The answer does not start like HTTP at all.

    :ivar tls: whether it starts like a TLS record: the peer speaks HTTPS.
    """

    def __init__(self, message: str, tls: bool = False) -> None:
        super().__init__(message)
        self.tls = tls


class BodyTooLarge(WireError):
    """The response body is larger than :attr:`Limits.max_body`."""


class HeadTooLarge(WireError):
    """The status line and headers are larger than :attr:`Limits.max_head`."""


class TrailersTooLarge(WireError):
    """Chunk framing and trailers exceed :attr:`Limits.max_trailer`."""


class TooManyInterim(WireError):
    """More ``1xx`` interim answers than :attr:`Limits.max_interim`."""


def _positive(name: str, zero_ok: bool = False) -> Any:
    def check(_: Any, attribute: Any, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, not {type(value).__name__}")
        if value < 0 or (value == 0 and not zero_ok):
            raise ValueError(f"invalid {name} {value!r}: must be {'>= 0' if zero_ok else '> 0'}")

    return check


@attr.s(slots=True, frozen=True, auto_attribs=True)
class Limits:
    """
    What a response may be, at most.

    :ivar max_body: bytes of body (after chunked decoding).
    :ivar max_head: bytes of status line plus header block, all interim
        answers included.
    :ivar max_trailer: bytes of chunked framing beyond the data (chunk-size
        lines, extensions) plus trailers.
    :ivar max_interim: ``1xx`` interim answers before the final one.
    """

    max_body: int = attr.ib(default=DEFAULT_MAX_BODY, validator=_positive("max_response_body"))
    max_head: int = attr.ib(default=DEFAULT_MAX_HEAD, validator=_positive("max_header_bytes"))
    max_trailer: int = attr.ib(default=DEFAULT_MAX_TRAILER, validator=_positive("max_trailer_bytes", True))
    max_interim: int = attr.ib(
        default=DEFAULT_MAX_INTERIM, validator=_positive("max_interim_responses", True)
    )


class RawHeaders:
    """
    Response headers: lower-cased bytes names to lists of bytes values, with
    the ``getRawHeaders`` and ``hasHeader`` methods of
    :class:`twisted.web.http_headers.Headers`.
    """

    __slots__ = ("_h",)

    def __init__(self, headers: dict[bytes, list[bytes]]) -> None:
        self._h = headers

    def getRawHeaders(self, name: Any, default: Any = None) -> Any:
        """Every value of header ``name`` (str or bytes), or ``default``."""
        key = name.lower() if isinstance(name, bytes) else name.lower().encode("latin-1")
        values = self._h.get(key)
        if values is None:
            return default
        if isinstance(name, str):
            return [v.decode("latin-1") for v in values]
        return values

    def hasHeader(self, name: Any) -> bool:
        """Whether header ``name`` is present."""
        key = name.lower() if isinstance(name, bytes) else name.lower().encode("latin-1")
        return key in self._h

    @property
    def raw(self) -> dict[bytes, list[bytes]]:
        """The lower-cased name to values mapping itself."""
        return self._h

    def getAllRawHeaders(self) -> Any:
        """``(name, values)`` pairs, names lower-cased, as ``Headers`` has them."""
        return iter(self._h.items())

    def __repr__(self) -> str:
        return f"<RawHeaders {sorted(k.decode('latin-1') for k in self._h)}>"


class RawResponse:
    """A whole response: ``code``, ``headers`` (:class:`RawHeaders`), ``body``."""

    __slots__ = ("code", "headers", "body")

    def __init__(self, code: int, headers: RawHeaders, body: bytes) -> None:
        self.code = code
        self.headers = headers
        self.body = body


_HEAD, _BODY, _DONE = range(3)


class ResponseParser:
    """
    Parses one response at a time, fed bytes as they arrive.

    :meth:`feed` returns the :class:`RawResponse` once it is whole (and
    ``None`` until then); :meth:`eof` ends a read-until-close body.  Both
    raise a :class:`WireError` for anything malformed or over a limit; the
    parser is useless afterwards (the connection must be closed).  Call
    :meth:`reset` before each response.

    :ivar keep_alive: after a response, whether the connection may carry
        another request (HTTP/1.1 without ``Connection: close``, and nothing
        sent after the response).
    :ivar got_bytes: whether any byte of the current response arrived.
    """

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self.keep_alive = True
        self.got_bytes = False
        self._parser: Any = None
        self._phase = _DONE

    def reset(self) -> None:
        """Prepare for the next response on the same connection."""
        if self._parser is None or self._phase != _DONE or not self.keep_alive:
            # llhttp is ready for the next message only after a whole one.
            self._parser = httptools.HttpResponseParser(self)
        self.keep_alive = True
        self._phase = _HEAD
        self._head_bytes = 0
        self._start = b""
        self._interim = 0
        self._code = 0
        self._headers: dict[bytes, list[bytes]] = {}
        self._chunked = False
        self._until_close = False
        self._chunks: list[bytes] = []
        self._body_bytes = 0
        self._framing_bytes = 0
        self._chunk_count = 0
        self._result: Optional[RawResponse] = None
        self.got_bytes = False

    @property
    def until_close(self) -> bool:
        """Whether the body in progress ends when the connection closes."""
        return self._phase == _BODY and self._until_close

    # -- feeding -------------------------------------------------------------

    def feed(self, data: bytes) -> Optional[RawResponse]:
        """
        Take the next bytes of the answer.

        :return: the whole response once its last byte arrived, else ``None``.
        :raises WireError: for a malformed or oversized answer.
        """
        if self._phase == _DONE:
            # Bytes after the response (or with none asked for).
            if data:
                self.keep_alive = False
            return None
        if not data:
            return None
        self.got_bytes = True
        if self._phase == _HEAD:
            if self._head_bytes < 5 and not (self._head_bytes == 0 and data[:5] == b"HTTP/"):
                self._check_start(data)  # (the common case needs no call)
            room = self.limits.max_head - self._head_bytes
            if len(data) > room:
                # Feed no more than may still be head: if the head is not
                # complete by then, it is too large.
                view = memoryview(data)
                self._execute(view[:room])
                if self._phase == _HEAD:
                    raise HeadTooLarge(f"a header block over {self.limits.max_head} bytes")
                if self._phase == _BODY:
                    self._execute(view[room:])
                else:
                    self.keep_alive = False  # bytes after a whole answer
            else:
                phase_before = self._phase
                self._execute(data)
                if phase_before == _HEAD and self._phase == _HEAD:
                    self._head_bytes += len(data)
        else:
            before = self._body_bytes
            self._execute(data)
            if self._phase == _BODY and self._chunked:
                self._framing_bytes += len(data) - (self._body_bytes - before)
                if self._framing_bytes > self.limits.max_trailer + _CHUNK_SLACK * self._chunk_count:
                    raise TrailersTooLarge(f"chunk framing and trailers over {self.limits.max_trailer} bytes")
        result, self._result = self._result, None
        return result

    def eof(self) -> Optional[RawResponse]:
        """
        The connection closed: finish a read-until-close body.

        :return: the response if its body ended with the connection, ``None``
            if no response was in progress.
        :raises FramingError: if the answer was cut short.
        """
        self.keep_alive = False
        if self._phase == _BODY and self._until_close:
            self._phase = _DONE
            return RawResponse(self._code, RawHeaders(self._headers), b"".join(self._chunks))
        if self._phase == _DONE:
            return None
        raise FramingError("the connection closed before the whole answer arrived")

    def _check_start(self, data: bytes) -> None:
        start = (self._start + data[:5])[:5]
        self._start = start
        if start[:1] in (b"\x15", b"\x16") and start[1:2] in (b"", b"\x03"):
            # A TLS alert or handshake record (RFC 8446 5.1): the peer speaks TLS.
            raise NotHTTP("a TLS record instead of an HTTP answer", tls=True)
        if not b"HTTP/".startswith(start[: len(b"HTTP/")]):
            raise NotHTTP(f"something that is not HTTP ({start!r}...)")

    def _execute(self, data: Union[bytes, memoryview]) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._phase == _DONE:
                self.keep_alive = False  # garbage after a whole response
                return
            raise FramingError("an unexpected 101 Switching Protocols") from None
        except httptools.HttpParserCallbackError as e:
            inner = e.__context__
            if isinstance(inner, WireError):
                raise inner from None
            raise  # pragma: no cover - a bug in this module
        except httptools.HttpParserError as e:
            if self._phase == _DONE:
                # Garbage after a whole response: do not reuse the connection.
                self.keep_alive = False
                return
            reason = e.args[0] if e.args else type(e).__name__
            raise FramingError(f"malformed HTTP ({reason})") from None

    # -- httptools callbacks ---------------------------------------------------

    def on_message_begin(self) -> None:
        """A (possibly interim) response starts."""
        if self._phase == _DONE:
            self.keep_alive = False

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header (or trailer) line."""
        if self._phase != _HEAD:
            return  # trailers are bounded and dropped; Consul sends none
        # llhttp drops the leading whitespace of a value, not the trailing.
        # (One line of C calls: this runs a dozen times per answer.)
        self._headers.setdefault(name.lower(), []).append(value.rstrip(b" \t"))

    def on_headers_complete(self) -> None:
        """The header block is complete: decide how the body is framed."""
        if self._phase != _HEAD:
            return
        parser = self._parser
        code = parser.get_status_code()
        if parser.get_http_version() not in ("1.1", "1.0"):
            raise FramingError(f"HTTP version {parser.get_http_version()!r} in the status line")
        if not 100 <= code <= 599:
            raise FramingError(f"status code {code}")
        headers = self._headers
        if code < 200:
            if code == 101:
                raise FramingError("an unexpected 101 Switching Protocols")
            self._interim += 1
            if self._interim > self.limits.max_interim:
                raise TooManyInterim(f"more than {self.limits.max_interim} interim (1xx) answers")
            self._headers = {}
            return
        self._code = code
        te = headers.get(b"transfer-encoding")
        if te is not None:
            if len(te) != 1 or te[0].lower() != b"chunked":
                raise FramingError("a Transfer-Encoding other than 'chunked'")
        self._phase = _BODY
        if code in (204, 304):
            return
        if te is not None:
            self._chunked = True
            return
        length = headers.get(b"content-length")
        if length is not None:
            # llhttp has already refused anything but one run of digits
            # whose value fits 64 bits; leading zeros beyond what int()
            # converts (sys.get_int_max_str_digits(), 4300) are dropped.
            try:
                n = int(length[0])
            except ValueError:
                n = int(length[0].lstrip(b"0") or b"0")
            if n > self.limits.max_body:
                raise BodyTooLarge(
                    f"a body of {n} bytes (Content-Length), over the limit of {self.limits.max_body}"
                )
            return
        self._until_close = True

    def on_chunk_header(self) -> None:
        """A chunk-size line was read."""
        self._chunk_count += 1
        if not self._chunk_count & 1023:
            # Each piece of body kept is an object of its own (about 35
            # bytes beyond its data): a body sent in tiny chunks would cost
            # thirty times its size.  Every 1,024 chunks, the last 1,024
            # pieces are joined if they are small.
            chunks = self._chunks
            if len(chunks) >= 1024:
                tail = chunks[-1024:]
                if sum(map(len, tail)) < _SMALL_PIECES:
                    chunks[-1024:] = [b"".join(tail)]

    def on_body(self, data: bytes) -> None:
        """Body bytes (chunked framing already removed)."""
        if self._phase != _BODY:
            return
        n = self._body_bytes + len(data)
        if n > self.limits.max_body:
            raise BodyTooLarge(f"a body over the limit of {self.limits.max_body} bytes")
        self._body_bytes = n
        self._chunks.append(data)

    def on_message_complete(self) -> None:
        """A message ended (an interim one, or the answer)."""
        if self._phase == _HEAD:
            return  # an interim answer; the next one follows
        if self._phase == _DONE:
            return
        self._phase = _DONE
        if not self._parser.should_keep_alive():
            self.keep_alive = False
        chunks = self._chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._result = RawResponse(self._code, RawHeaders(self._headers), body)


#: A stream's body has no size limit: more than any Content-Length llhttp
#: accepts (64 bits).
_UNLIMITED = 1 << 64


class StreamParser(ResponseParser):
    """
    Parses a streamed answer: framed, checked and bounded as any answer is
    (the header block, chunk framing and trailers, ``1xx`` answers), but its
    body is handed to ``on_data`` as it arrives instead of being kept, and
    has no size limit (``Limits.max_body`` does not apply).

    :meth:`feed` and :meth:`eof` return a :class:`RawResponse` with an empty
    body once the answer has ended.

    :param on_head: called with the status code and :class:`RawHeaders` of
        the final answer once its header block is in.
    :param on_data: called with each piece of the body.
    """

    def __init__(self, limits: Limits, on_head: Any, on_data: Any) -> None:
        super().__init__(attr.evolve(limits, max_body=_UNLIMITED))
        self._on_head = on_head
        self._on_data = on_data
        self.reset()

    def on_headers_complete(self) -> None:
        """The header block is complete: announce the final answer."""
        head = self._phase == _HEAD
        super().on_headers_complete()
        if head and self._phase == _BODY:
            self._on_head(self._code, RawHeaders(self._headers))

    def on_body(self, data: bytes) -> None:
        """Body bytes: counted (for the framing limit) and handed on."""
        if self._phase == _BODY:
            self._body_bytes += len(data)
            self._on_data(data)


# -- requests -------------------------------------------------------------------


def check_token(token: Any, what: str = "token") -> Optional[str]:
    """
    Validate an ACL token before it goes into the ``X-Consul-Token`` header.

    ``None`` and ``''`` mean "no token" (``''`` is returned as ``None``).  The
    token itself never appears in the error message.

    :raises TypeError: if it is not a ``str``.
    :raises ValueError: if it is not printable ASCII without spaces (a
        trailing newline from a token file, say).
    """
    if token is None:
        return None
    if not isinstance(token, str):
        raise TypeError(f"{what} must be a str, not {type(token).__name__}")
    if token == "":
        return None
    if _TOKEN_CHARS.fullmatch(token) is None:
        if token.strip() != token:
            why = "it has leading or trailing whitespace (a line break?)"
        else:
            why = "it contains a space, control or non-ASCII character"
        raise ValueError(f"invalid {what}: {why}")
    return token


def check_header_value(name: str, value: bytes) -> bytes:
    """
    Refuse a header value that could break the header block.

    :raises ValueError: naming the header (never echoing the value).
    """
    if _BAD_VALUE.search(value) or value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t"):
        raise ValueError(f"invalid {name} header value: control, non-ASCII or edge whitespace")
    return value


def request_prefix(
    host: str, basic_auth: Optional[tuple[str, str]] = None, user_agent: str = "txconsul"
) -> bytes:
    """
    The header lines every request of one client carries: ``Host``,
    ``User-Agent`` and, when given, basic authentication.

    :raises ValueError: for a value that would break the header block.
    """
    from base64 import b64encode

    lines = [
        b"Host: " + check_header_value("Host", host.encode("idna")),
        b"User-Agent: " + check_header_value("User-Agent", user_agent.encode("ascii")),
    ]
    if basic_auth is not None:
        user, password = basic_auth
        creds = b64encode(f"{user}:{password}".encode("utf-8"))
        lines.append(b"Authorization: Basic " + creds)
    return b"\r\n".join(lines) + b"\r\n"


def encode_request(
    method: str,
    target: bytes,
    prefix: bytes,
    token: Optional[str] = None,
    content_type: Optional[bytes] = None,
    body: Optional[bytes] = None,
) -> bytes:
    """
    The bytes of one request.

    :param method: ``GET``, ``PUT``, ``POST`` or ``DELETE``.
    :param target: the already-escaped origin-form target (path and query).
    :param prefix: the lines from :func:`request_prefix`.
    :param token: a token already passed through :func:`check_token`.
    :param content_type: the body's media type, if any.
    :param body: the body; ``None`` sends no ``Content-Length``.
    """
    head = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n", prefix]
    if token:
        head += [b"X-Consul-Token: ", token.encode("ascii"), b"\r\n"]
    if content_type is not None:
        head += [b"Content-Type: ", content_type, b"\r\n"]
    if body is not None:
        head += [b"Content-Length: ", str(len(body)).encode("ascii"), b"\r\n\r\n", body]
    else:
        head.append(b"\r\n")
    return b"".join(head)


def check_target(target: bytes) -> bytes:
    """
    Refuse a request target that would break the request line (a space,
    control byte or non-ASCII byte: paths and queries arrive escaped).
    """
    if _BAD_TARGET.search(target):
        raise ValueError("invalid request target: it contains a space, control or non-ASCII byte")
    return target
