"""
Tests for txconsul._wire: request bytes, and response parsing by feeding
bytes (whole, split at every position, and split at random), including
differential property tests against h11.
"""

from __future__ import annotations

from typing import Optional

import h11
from hypothesis import HealthCheck, given, settings, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from txconsul._wire import (
    BodyTooLarge,
    FramingError,
    HeadTooLarge,
    Limits,
    NotHTTP,
    RawResponse,
    ResponseParser,
    TooManyInterim,
    TrailersTooLarge,
    WireError,
    check_header_value,
    check_target,
    check_token,
    encode_request,
    request_prefix,
)

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Consul-Index: 7\r\n\r\nhi"


def feed_all(parser: ResponseParser, pieces: list[bytes], eof: bool = False) -> Optional[RawResponse]:
    """Feed ``pieces`` in order; the response, if one completed."""
    result = None
    for piece in pieces:
        r = parser.feed(piece)
        if r is not None:
            result = r
    if eof and result is None:
        result = parser.eof()
    return result


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given positions."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


def fresh(limits: Limits = Limits()) -> ResponseParser:
    p = ResponseParser(limits)
    p.reset()
    return p


class ParseTests(SynchronousTestCase):
    """Feeding well-formed answers."""

    def test_every_split(self) -> None:
        """An answer split in two at any position parses the same."""
        for i in range(len(OK) + 1):
            r = feed_all(fresh(), [OK[:i], OK[i:]])
            assert r is not None
            self.assertEqual((r.code, r.body), (200, b"hi"))
            self.assertEqual(r.headers.getRawHeaders(b"X-Consul-Index"), [b"7"])

    def test_byte_at_a_time_chunked(self) -> None:
        """A chunked answer with trailers fed one byte at a time is reassembled."""
        raw = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
        )
        p = fresh()
        r = feed_all(p, [raw[i : i + 1] for i in range(len(raw))])
        assert r is not None
        self.assertEqual(r.body, b"abcde")
        self.assertTrue(p.keep_alive)
        self.assertFalse(r.headers.hasHeader(b"x-t"), "trailers are not headers")

    def test_header_values_trimmed_and_repeated(self) -> None:
        """Values lose surrounding whitespace; repeated names keep every value in order."""
        r = fresh().feed(b"HTTP/1.1 204 No Content\r\nX-A:  1 \r\nx-a:\t2\t\r\n\r\n")
        assert r is not None
        self.assertEqual(r.headers.getRawHeaders("X-A"), ["1", "2"])

    def test_read_until_close(self) -> None:
        """Without framing headers the body ends with the connection, which is not reused."""
        p = fresh()
        self.assertIsNone(feed_all(p, [b"HTTP/1.1 200 OK\r\n\r\nall ", b"of it"]))
        self.assertTrue(p.until_close)
        r = p.eof()
        assert r is not None
        self.assertEqual(r.body, b"all of it")
        self.assertFalse(p.keep_alive)

    def test_cut_short(self) -> None:
        """The connection ending inside a framed body is an error."""
        p = fresh()
        p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab")
        self.assertRaises(FramingError, p.eof)

    def test_http10_and_close(self) -> None:
        """HTTP/1.0 and 'Connection: close' answers are not kept alive."""
        p = fresh()
        p.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
        self.assertFalse(p.keep_alive)
        p = fresh()
        p.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        self.assertFalse(p.keep_alive)

    def test_trailing_bytes(self) -> None:
        """Bytes after a whole answer make the connection unfit for reuse."""
        p = fresh()
        r = p.feed(OK + b"HTTP/1.1 200")
        assert r is not None
        self.assertFalse(p.keep_alive)

    def test_upgrade_after_answer(self) -> None:
        """A 101 after a whole answer does not lose the answer; the connection is not reused."""
        p = fresh()
        r = p.feed(OK + b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n")
        assert r is not None
        self.assertEqual(r.body, b"hi")
        self.assertFalse(p.keep_alive)

    def test_reset_between_answers(self) -> None:
        """One parser reads successive answers on a kept-alive connection."""
        p = fresh()
        self.assertIsNotNone(p.feed(OK))
        p.reset()
        r = p.feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
        assert r is not None
        self.assertEqual(r.code, 404)


class LimitTests(SynchronousTestCase):
    """Each limit at and just over its value."""

    def test_body_length_checked_at_headers(self) -> None:
        """A Content-Length over max_body fails before any body byte."""
        p = fresh(Limits(max_body=10))
        self.assertRaises(BodyTooLarge, p.feed, b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n")
        self.assertIsNotNone(
            fresh(Limits(max_body=10)).feed(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789")
        )

    def test_chunked_body_counted(self) -> None:
        """A chunked body over max_body fails while streaming."""
        p = fresh(Limits(max_body=10))
        p.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n")
        self.assertRaises(BodyTooLarge, p.feed, b"5\r\nghijk\r\n")

    def test_head_limit_exact_in_any_split(self) -> None:
        """A head of exactly max_head bytes parses however it is split; one more byte fails."""
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX: "
        size = 200
        ok = head + b"v" * (size - len(head) - 4) + b"\r\n\r\n"
        self.assertEqual(len(ok), size)
        bad = head + b"v" * (size - len(head) - 3) + b"\r\n\r\n"
        for i in range(0, size + 1, 7):
            self.assertIsNotNone(feed_all(fresh(Limits(max_head=size)), [ok[:i], ok[i:]]))
            self.assertRaises(HeadTooLarge, feed_all, fresh(Limits(max_head=size)), [bad[:i], bad[i:]])

    def test_interim_heads_count_toward_head_limit(self) -> None:
        """Interim answers count toward the head limit too."""
        interim = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
        p = fresh(Limits(max_head=len(interim) * 2, max_interim=10))
        self.assertRaises(HeadTooLarge, p.feed, interim * 3)

    def test_interim_count(self) -> None:
        """max_interim 1xx answers are skipped; one more fails."""
        interim = b"HTTP/1.1 100 Continue\r\n\r\n"
        r = fresh(Limits(max_interim=2)).feed(interim * 2 + OK)
        assert r is not None
        self.assertEqual(r.code, 200)
        self.assertRaises(TooManyInterim, fresh(Limits(max_interim=2)).feed, interim * 3 + OK)

    def test_chunk_extensions_count_as_framing(self) -> None:
        """Endless chunk extensions are bounded by max_trailer."""
        p = fresh(Limits(max_trailer=100))
        p.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;")
        with self.assertRaises(TrailersTooLarge):
            for _ in range(20):
                p.feed(b"e" * 50)

    def test_bad_limit_values(self) -> None:
        """Limits must be positive ints (counts may be zero)."""
        self.assertRaises(ValueError, Limits, max_body=0)
        self.assertRaises(TypeError, Limits, max_head=1.5)
        self.assertEqual(Limits(max_interim=0).max_interim, 0)


class RefusalTests(SynchronousTestCase):
    """Framing llhttp or this module refuses."""

    def test_not_http(self) -> None:
        """An SSH banner is NotHTTP; a TLS record says it is TLS."""
        e = self.assertRaises(NotHTTP, fresh().feed, b"SSH-2.0-OpenSSH\r\n")
        self.assertFalse(e.tls)
        e = self.assertRaises(NotHTTP, fresh().feed, b"\x16\x03\x03\x00\x31")
        self.assertTrue(e.tls)

    def test_not_http_split(self) -> None:
        """The start of an answer is checked across reads."""
        p = fresh()
        p.feed(b"HT")
        self.assertRaises(NotHTTP, p.feed, b"XP/1.1 200 OK\r\n")


class RequestTests(SynchronousTestCase):
    """The request bytes."""

    def test_encode(self) -> None:
        """Request line, fixed lines, token, type and length, in that order."""
        prefix = request_prefix("agent:8500")
        data = encode_request("PUT", b"/v1/kv/a?dc=x", prefix, "tok", b"application/json", b"{}")
        self.assertEqual(
            data,
            b"PUT /v1/kv/a?dc=x HTTP/1.1\r\nHost: agent:8500\r\nUser-Agent: txconsul\r\n"
            b"X-Consul-Token: tok\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
        )

    def test_get_has_no_length(self) -> None:
        """A GET without a body sends no Content-Length and no token when none is set."""
        data = encode_request("GET", b"/v1/kv/a", request_prefix("h"))
        self.assertTrue(data.endswith(b"User-Agent: txconsul\r\n\r\n"))
        self.assertNotIn(b"Content-Length", data)
        self.assertNotIn(b"X-Consul-Token", data)

    def test_basic_auth(self) -> None:
        """Basic auth becomes an Authorization line."""
        self.assertIn(b"Authorization: Basic dTpw\r\n", request_prefix("h", ("u", "p")))

    def test_check_token(self) -> None:
        """Tokens are printable ASCII without spaces; '' means none; errors never echo."""
        self.assertEqual(check_token("0f3c-ab"), "0f3c-ab")
        self.assertIsNone(check_token(""))
        self.assertIsNone(check_token(None))
        for bad in ("tok\n", "a\r\nX-Evil: 1", "tok\x00", " tok", "t ok", "tök"):
            e = self.assertRaises(ValueError, check_token, bad)
            self.assertNotIn("tok", str(e).replace("token", ""))
        self.assertRaises(TypeError, check_token, b"tok")

    def test_check_header_value_and_target(self) -> None:
        """Header values and targets with control bytes or spaces are refused."""
        self.assertRaises(ValueError, check_header_value, "Host", b"a\r\nb")
        self.assertRaises(ValueError, request_prefix, "a\nb")
        self.assertRaises(ValueError, check_target, b"/v1/kv/a b")
        self.assertEqual(check_target(b"/v1/kv/a%20b"), b"/v1/kv/a%20b")


# -- differential properties against h11 -------------------------------------

_tchar = st.sampled_from("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_name = st.text(_tchar, min_size=1, max_size=12).filter(
    lambda n: n.lower() not in ("content-length", "transfer-encoding", "connection", "upgrade")
)
_vchar = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
_value = st.text(st.one_of(_vchar, st.just(" ")), max_size=20).map(str.strip)
_reason = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ABC"), max_size=12)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, int, list[tuple[bytes, bytes]], bytes, str]:
    """A valid HTTP/1.1 answer: (bytes, status, headers, body, framing)."""
    interim = draw(st.lists(st.sampled_from([100, 102, 103]), max_size=2))
    status = draw(st.integers(200, 599).filter(lambda s: s not in (204, 304)))
    headers = draw(st.lists(st.tuples(_name, _value), max_size=6))
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    out = b""
    for code in interim:
        out += b"HTTP/1.1 %d Info\r\n\r\n" % code
    out += b"HTTP/1.1 %d %s\r\n" % (status, draw(_reason).encode())
    for n, v in headers:
        out += f"{n}: {v}\r\n".encode()
    if framing == "length":
        out += b"Content-Length: %d\r\n\r\n" % len(body) + body
    elif framing == "chunked":
        out += b"Transfer-Encoding: chunked\r\n\r\n"
        cuts = split_at(body, draw(st.lists(st.integers(0, 300), max_size=4)))
        for piece in cuts:
            if piece:
                out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        out += b"0\r\n"
        if draw(st.booleans()):
            out += b"X-Trailer: t\r\n"
        out += b"\r\n"
    else:
        out += b"Connection: close\r\n\r\n" + body
    hdrs = [(n.lower().encode(), v.encode()) for n, v in headers]
    return out, status, hdrs, body, framing


def h11_parse(data: bytes, pieces: list[bytes], close: bool) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """What h11, as a client, makes of the answer."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    conn.send(h11.EndOfMessage())
    status, headers, body = 0, [], b""
    for piece in [p for p in pieces if p] + ([b""] if close else []):
        conn.receive_data(piece)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                break
            if isinstance(event, h11.Response):
                status = event.status_code
                headers = [
                    (n, v)
                    for n, v in event.headers
                    if n not in (b"content-length", b"transfer-encoding", b"connection")
                ]
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                return status, headers, body
    raise AssertionError("h11 did not finish")


class DifferentialTests(SynchronousTestCase):
    """The wire module and h11 agree on every generated valid answer."""

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(responses(), st.lists(st.integers(0, 2000), max_size=6))
    def test_agrees_with_h11(self, response: tuple, cuts: list[int]) -> None:
        """Same status, headers and body as h11, under random read splits."""
        raw, status, headers, body, framing = response
        pieces = split_at(raw, cuts)
        theirs = h11_parse(raw, pieces, close=framing == "close")
        p = fresh()
        ours = feed_all(p, pieces, eof=framing == "close")
        assert ours is not None
        got = [
            (n, v)
            for n, vs in ours.headers.getAllRawHeaders()
            for v in vs
            if n not in (b"content-length", b"transfer-encoding", b"connection")
        ]
        self.assertEqual(ours.code, theirs[0])
        self.assertEqual(ours.body, theirs[2])
        self.assertEqual(sorted(got), sorted(theirs[1]))
        # and both match what was generated
        self.assertEqual((ours.code, ours.body), (status, body))
        self.assertEqual(sorted(got), sorted(headers))


def _mutations() -> st.SearchStrategy:
    return st.sampled_from(
        [
            ("space before colon", lambda r: r.replace(b"Content-Length:", b"Content-Length :", 1)),
            ("bare LF", lambda r: r.replace(b"\r\n", b"\n", 1)),
            (
                "length and chunked",
                lambda r: r.replace(b"Content-Length:", b"Transfer-Encoding: chunked\r\nContent-Length:", 1),
            ),
            (
                "two lengths",
                lambda r: r.replace(b"Content-Length: ", b"Content-Length: 9\r\nContent-Length: ", 1),
            ),
            (
                "odd coding",
                lambda r: r.replace(b"Content-Length: ", b"Transfer-Encoding: xchunkedx\r\nX-L: ", 1),
            ),
            (
                "gzip coding",
                lambda r: r.replace(b"Content-Length: ", b"Transfer-Encoding: gzip, chunked\r\nX-L: ", 1),
            ),
            ("control byte", lambda r: r.replace(b"Content-Length: ", b"X-C: a\x01b\r\nContent-Length: ", 1)),
            ("signed length", lambda r: r.replace(b"Content-Length: ", b"Content-Length: +", 1)),
            ("bad version", lambda r: r.replace(b"HTTP/1.1 ", b"HTTP/1.1X", 1)),
            ("folded line", lambda r: r.replace(b"Content-Length: ", b"X-F: a\r\n b\r\nContent-Length: ", 1)),
        ]
    )


class MalformedTests(SynchronousTestCase):
    """Generated malformed framing is refused, never mis-framed."""

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.binary(max_size=100),
        st.lists(st.text(_tchar, min_size=1, max_size=8), max_size=3),
        _mutations(),
        st.lists(st.integers(0, 500), max_size=5),
    )
    def test_refused(self, body: bytes, names: list[str], mutation: tuple, cuts: list[int]) -> None:
        """Every mutated answer raises WireError under any read split."""
        raw = b"HTTP/1.1 200 OK\r\n"
        for n in names:
            raw += f"X-{n}: v\r\n".encode()
        raw += b"Content-Length: %d\r\n\r\n" % len(body) + body
        _, mutate = mutation
        bad = mutate(raw)
        self.assertNotEqual(bad, raw)
        with self.assertRaises(WireError):
            feed_all(fresh(), split_at(bad, cuts), eof=True)

    @settings(max_examples=200, deadline=None)
    @given(st.binary(min_size=1, max_size=60))
    def test_garbage_never_a_response(self, junk: bytes) -> None:
        """Random bytes after a status line never yield a response with a body they did not frame."""
        p = fresh()
        try:
            r = feed_all(p, [b"HTTP/1.1 200 OK\r\n", junk])
        except WireError:
            return
        if r is not None:
            # only possible if the junk was a complete, valid head
            self.assertIn(b"\r\n\r\n", junk)
