# -*- test-case-name: tests.test_fake -*-
"""
FakeConsul's core: the shared Raft-like index, request parsing, routing,
blocking queries, and the twisted.web resource that serves it all.

Each Consul API area lives in its own module (``_kv.py``, ``_session.py``,
...) as a *part*: an object built with the :class:`FakeConsul` that lists its
:class:`Route` objects.  Handlers take a :class:`FakeRequest` and return a
:class:`Reply` (or a Deferred of one, for blocking queries), or raise
:class:`HTTPError`.
"""

from __future__ import annotations

import html
import json
import posixpath
import random
import weakref
import re
from typing import Any, Callable, MutableSequence, Optional, Protocol, Union
from urllib.parse import parse_qsl, quote, unquote_to_bytes

import attr
from twisted.internet.defer import CancelledError, Deferred
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ._gofmt import go_quote, parse_go_duration, parse_uint
from ._journal import RecordedRequest
from ._version import CURRENT, Profile

log = Logger()

DEFAULT_QUERY_TIME = 300.0
MAX_QUERY_TIME = 600.0


class HTTPError(Exception):
    """
    Raised by a handler to answer with ``status`` and a plain-text body.

    ``wrapped=False`` marks an answer Consul gives before its ``wrap``
    (agent/http.go) runs: the mux's redirects and 404s and the
    unprintable-path 400 carry neither ``X-Consul-Default-ACL-Policy``
    nor gziphandler's ``Vary``.
    """

    def __init__(
        self,
        status: int,
        text: str = "",
        headers: Optional[dict[str, str]] = None,
        *,
        wrapped: bool = True,
    ):
        super().__init__(status, text)
        self.status = status
        self.text = text
        self.headers = headers or {}
        self.wrapped = wrapped


def permission_denied() -> HTTPError:
    """The 403 Consul answers on an ACL denial."""
    return HTTPError(403, "Permission denied")


@attr.s(slots=True, auto_attribs=True)
class Reply:
    """
    A handler's answer.

    :ivar body: a JSON-able object (``json=True``) or raw bytes.
    :ivar index: when not ``None``, the X-Consul-Index/KnownLeader/LastContact
        headers are added (an index of 0 is sent as 1, as Consul does).
    :ivar wrapped: ``False`` for an answer given outside agent/http.go
        ``wrap`` (see :class:`HTTPError`).
    """

    body: Any = None
    status: int = 200
    index: Optional[int] = None
    json: bool = True
    headers: dict[str, str] = attr.Factory(dict)
    wrapped: bool = True


@attr.s(slots=True, auto_attribs=True)
class Route:
    """
    A route like Go's ``http.ServeMux`` pattern: ``prefix`` ending in ``/``
    matches every path under it, any other pattern matches exactly.
    """

    pattern: str
    methods: tuple[str, ...]
    handler: Callable[["FakeRequest"], Any]
    #: Answer 500 ``No path to datacenter`` for an unknown ``?dc`` before
    #: calling the handler (a handler that must validate its input first,
    #: as Consul's do before the RPC, sets this False and calls
    #: :meth:`FakeCore.check_dc` itself).
    check_dc: bool = True
    #: The Go handler calls ``s.parse`` (agent/http.go): consistency flags
    #: are validated (``?stale`` + ``?consistent`` -> 400).  Handlers that only
    #: call ``parseDC``/``parseToken`` (session create/destroy) ignore them.
    parse: bool = True


class FakeRequest:
    """
    One parsed HTTP request.

    :ivar method: the HTTP method.
    :ivar path: the percent-decoded path (a ``str``; undecodable bytes are
        kept with ``surrogateescape``).
    :ivar tail: the part of ``path`` after the matched route prefix.
    :ivar query: ``[(name, value)]`` pairs read from the raw query string,
        with ``''`` as the value of a bare flag.
    :ivar body: the request body bytes.
    :ivar token: the ACL token the request carries (``?token``,
        ``X-Consul-Token``, ``Authorization: Bearer``), or ``None``.
    """

    def __init__(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: bytes,
        headers: dict[str, str],
    ) -> None:
        self.method = method
        self.path = path
        self.tail = ""
        self.query = query
        self.body = body
        self.headers = headers
        self.token = self._find_token()
        self.authz: Any = None

    def _find_token(self) -> Optional[str]:
        tok = self.get("token")
        if tok:
            return tok
        tok = self.headers.get("x-consul-token")
        if tok:
            return tok
        auth = self.headers.get("authorization", "")
        scheme, _, rest = auth.partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip().split(" ")[0]
        return None

    def has(self, name: str) -> bool:
        """Presence flag semantics: ``?recurse=false`` still counts."""
        return any(n == name for n, _ in self.query)

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:
        """The first value of a parameter, or ``default``."""
        for n, v in self.query:
            if n == name:
                return v
        return default

    def getall(self, name: str) -> list[str]:
        """Every value of a repeated parameter."""
        return [v for n, v in self.query if n == name]

    def json(self) -> Any:
        """
        Decode the body as JSON like Go's ``json.Decoder.Decode`` (the first
        value only: trailing data is ignored; ``NaN``/``Infinity`` are
        rejected); 400 ``Request decode failed: <Go's error>`` if it is not
        JSON.  An empty body is ``None``.
        """
        if not self.body.strip():
            return None
        return decode_json_like_go(self.body)


def _go_char(ch: str) -> str:
    """Go's encoding/json ``quoteChar``."""
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    return "'" + go_quote(ch)[1:-1] + "'"


def decode_json_like_go(body: bytes) -> Any:
    """
    Decode the first JSON value of ``body`` as Go's ``json.Decoder`` does
    (agent/http.go ``decodeBody`` -> lib.DecodeJSON), raising 400
    ``Request decode failed: <err>`` with Go-style error texts.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("utf-8", "replace")

    def no_constants(name: str) -> Any:
        raise _NotGoJSON(name)

    decoder = json.JSONDecoder(parse_constant=no_constants)
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise HTTPError(400, "Request decode failed: EOF")
    try:
        value, _ = decoder.raw_decode(text, start)
        return value
    except RecursionError:
        # Go's scanner allows 10000 nested levels (encoding/json
        # maxNestingDepth), then fails with "exceeded max depth"; Python's
        # parser gives up sooner, and the fake answers Go's text from there.
        raise HTTPError(400, "Request decode failed: exceeded max depth")
    except json.JSONDecodeError as e:
        pos = e.pos
        if pos >= len(text) or e.msg.startswith("Unterminated string"):
            reason = "unexpected EOF"
        else:
            ch = _go_char(text[pos])
            if e.msg.startswith("Expecting property name"):
                reason = f"invalid character {ch} looking for beginning of object key string"
            elif e.msg.startswith("Expecting ':'"):
                reason = f"invalid character {ch} after object key"
            elif e.msg.startswith("Expecting ','"):
                reason = f"invalid character {ch} after object key:value pair"
            elif e.msg.startswith("Invalid control character"):
                reason = f"invalid character {ch} in string literal"
            else:
                reason = f"invalid character {ch} looking for beginning of value"
        raise HTTPError(400, f"Request decode failed: {reason}")
    except _NotGoJSON as e:
        # NaN / Infinity / -Infinity: not JSON to Go.
        name = str(e)
        if name.startswith("-"):
            reason = "invalid character 'I' in numeric literal"
        else:
            reason = f"invalid character {_go_char(name[0])} looking for beginning of value"
        raise HTTPError(400, f"Request decode failed: {reason}")


class _NotGoJSON(ValueError):
    """A JSON extension Python accepts and Go does not (NaN, Infinity)."""


class QueryOptions:
    """``?wait`` and ``?index`` as agent/http.go ``parseWait`` reads them."""

    __slots__ = ("min_index", "wait")

    def __init__(self, min_index: int, wait: float) -> None:
        self.min_index = min_index
        self.wait = wait


def parse_query_options(req: "FakeRequest") -> QueryOptions:
    """
    Validate ``?wait`` then ``?index`` in that order, as agent/http.go
    ``parseWait`` does for every handler that calls ``s.parse`` (all reads,
    and KV writes too): 400 ``Invalid wait time`` / ``Invalid index``.
    """
    raw_wait = req.get("wait")
    wait = 0.0
    if raw_wait:
        try:
            wait = parse_go_duration(raw_wait)
        except ValueError:
            raise HTTPError(400, "Invalid wait time")
    raw_index = req.get("index")
    min_index = 0
    if raw_index:
        try:
            min_index = parse_uint(raw_index)
        except ValueError:
            raise HTTPError(400, "Invalid index")
    return QueryOptions(min_index, wait)


_ATOI = re.compile(r"[+-]?[0-9]+")


def go_atoi(text: str) -> Optional[int]:
    """Go's ``strconv.Atoi`` (a 64-bit int), or ``None`` where it fails."""
    if not _ATOI.fullmatch(text):
        return None
    value = int(text)
    if not -(2**63) <= value < 2**63:
        return None
    return value


def parse_cache_control(raw: Optional[str]) -> tuple[Optional[float], bool]:
    """
    ``(max_age, must_revalidate)`` of a ``Cache-Control`` header as
    agent/http.go ``parseCacheControl`` reads it: comma-separated directives,
    trimmed and lower-cased; ``max-age=`` and ``stale-if-error=`` take
    ``strconv.Atoi`` seconds; ``max-age=0`` also means must-revalidate.

    :raises HTTPError: 400 ``Invalid Cache-Control header.``
    """
    max_age: Optional[float] = None
    must = False
    for d in (raw or "").lower().split(","):
        d = d.strip()
        if d == "must-revalidate":
            must = True
        for prefix in ("max-age=", "stale-if-error="):
            if d.startswith(prefix):
                seconds = go_atoi(d[len(prefix) :])
                if seconds is None:
                    raise HTTPError(400, "Invalid Cache-Control header.")
                if prefix == "max-age=":
                    max_age = float(seconds)
                    if seconds == 0:
                        must = True
    return max_age, must


def consistency_refusal(req: "FakeRequest") -> Optional[str]:
    """
    The 400 text agent/http.go ``parseConsistency`` answers for the
    request's consistency flags, or ``None``: ``max_stale`` is parsed first
    (a positive one implies stale), then the conflicts are checked.
    """
    allow_stale = req.has("stale")
    max_stale = req.get("max_stale")
    if max_stale:
        try:
            if parse_go_duration(max_stale) > 0:
                allow_stale = True
        except ValueError:
            return f"Invalid max_stale value {go_quote(max_stale)}"
    if allow_stale and req.has("consistent"):
        return "Cannot specify ?stale with ?consistent, conflicting semantics."
    if req.has("cached") and req.has("consistent"):
        return "Cannot specify ?cached with ?consistent, conflicting semantics."
    return None


def parse_common(req: "FakeRequest") -> QueryOptions:
    """
    Validate what agent/http.go ``s.parse`` validates, in its order:
    ``parseConsistency``, ``parseCacheControl`` (the ``Cache-Control``
    header, on every endpoint that calls ``s.parse``, not only ``?cached``
    reads), then ``parseWait`` (``?wait``, ``?index``).

    :raises HTTPError: 400 with the first refusal's text.
    """
    refusal = consistency_refusal(req)
    if refusal is not None:
        raise HTTPError(400, refusal)
    parse_cache_control(req.headers.get("cache-control"))
    return parse_query_options(req)


class _Waiter:
    __slots__ = ("compute", "satisfied", "deferred", "timer")

    def __init__(self, compute: Any, satisfied: Any, deferred: Deferred, timer: Any) -> None:
        self.compute = compute
        self.satisfied = satisfied
        self.deferred = deferred
        self.timer = timer


class Scheduler(Protocol):
    """
    The part of ``IReactorTime`` the fake uses (a ``task.Clock`` or a
    reactor), as a structural type mypy can check without zope.
    """

    def seconds(self) -> float:
        """The current time, in seconds."""
        ...

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call ``callable`` after ``delay`` seconds; returns an ``IDelayedCall``."""
        ...


class FakeCore:
    """
    The state every part shares: clock, index, waiters, node identity and
    agent settings.  Parts do not reach each other through the core: each
    is given the peers it uses when it is built (see ``_fake.py``).

    :param reactor: the real reactor (or ``None``): only then may checks do
        network I/O.
    :param enable_script_checks: whether script (``Args``) checks may be
        registered.
    :param min_check_interval: the floor of HTTP/TCP/script check intervals
        (Consul's ``checks.MinInterval``, one second); tests may lower it.
    :param profile: the Consul release the fake answers as.
    :param node_id: the agent's node ID (a UUID; random when ``None``).
    :param node_meta: the agent's configured node metadata.
    :param session_ttl_min: the smallest session TTL the servers accept (s).
    """

    def __init__(
        self,
        clock: Scheduler,
        node_name: str,
        datacenter: str,
        address: str,
        rng: random.Random,
        *,
        reactor: Any = None,
        enable_script_checks: bool = False,
        min_check_interval: float = 1.0,
        profile: Profile = CURRENT,
        node_id: Optional[str] = None,
        node_meta: Optional[dict[str, str]] = None,
        session_ttl_min: float = 10.0,
    ) -> None:
        self.clock = clock
        #: The Consul release the fake answers as.
        self.profile = profile
        #: The agent's node ID (random when ``None``).
        self.node_id = node_id
        #: The agent's configured node metadata (``node_meta``).
        self.node_meta: dict[str, str] = dict(node_meta or {})
        #: The servers' ``session_ttl_min`` (seconds).
        self.session_ttl_min = session_ttl_min
        self.node_name = node_name
        self.datacenter = datacenter
        self.address = address
        self.rng = rng
        self.reactor = reactor
        self.enable_script_checks = enable_script_checks
        self.min_check_interval = min_check_interval
        #: agent/config ``check_deregister_interval_min`` (seconds): the
        #: floor of DeregisterCriticalServiceAfter; tests may lower it.
        self.check_deregister_interval_min = 60.0
        #: agent/config ``check_reap_interval`` (seconds): how often critical
        #: services are reaped; tests may lower it.
        self.check_reap_interval = 30.0
        #: The Raft-like index: a dev agent's first user write lands well
        #: above 1; it is shared by every table and only ever grows.
        self.index = 12
        self._waiters: list[_Waiter] = []
        self._dirty = False
        self._listeners: list[weakref.WeakMethod] = []

    def check_dc(self, req: "FakeRequest") -> None:
        """500 ``No path to datacenter`` when ``?dc`` names another datacenter."""
        dc = req.get("dc")
        if dc and dc != self.datacenter:
            raise HTTPError(500, "No path to datacenter")

    def next_index(self) -> int:
        """Allocate the index of a new write and mark watchers for waking."""
        self.index += 1
        self._dirty = True
        return self.index

    def new_uuid(self) -> str:
        """A random UUID string from the seeded generator."""
        h = "%032x" % self.rng.getrandbits(128)
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # -- blocking queries -------------------------------------------------

    def blocking(
        self,
        req: FakeRequest,
        compute: Callable[[], tuple[int, Reply]],
        *,
        equality: bool = False,
        default_wait: float = DEFAULT_QUERY_TIME,
        jitter: bool = True,
    ) -> Union[Reply, "Deferred[Reply]"]:
        """
        Answer a blocking-capable read.

        ``compute()`` returns ``(index, reply)``.  Without ``?index`` (or with
        0) the reply is immediate.  Otherwise the request waits until the
        index is strictly greater (or, with ``equality``, different), or
        until ``wait`` (default 5 minutes, at most 10) plus up to wait/16
        jitter has passed on the clock, then answers with the current state.
        """
        options = parse_query_options(req)
        min_index, wait = options.min_index, options.wait
        index, reply = compute()
        if min_index == 0:
            return reply
        if equality:
            satisfied = lambda i: i != min_index  # noqa: E731
        else:
            satisfied = lambda i: i > min_index  # noqa: E731
        if satisfied(index):
            return reply
        if wait <= 0:
            wait = default_wait
        wait = min(wait, MAX_QUERY_TIME)
        if jitter:
            wait += self.rng.uniform(0, wait / 16.0)
        return self.park(compute, satisfied, wait)

    def park(
        self,
        compute: Callable[[], tuple[Any, Reply]],
        satisfied: Callable[[Any], bool],
        wait: Optional[float],
    ) -> "Deferred[Reply]":
        """
        Hold a request: after each write, ``compute()`` returns ``(version,
        reply)`` and the reply is sent once ``satisfied(version)``; after
        ``wait`` seconds on the clock (never, when ``None``) the current
        reply is sent anyway.  Cancelling the Deferred (the client went
        away) forgets the request.
        """

        def cancel(d: Deferred) -> None:
            self._drop(waiter)

        d: Deferred = Deferred(cancel)
        waiter = _Waiter(compute, satisfied, d, None)

        def expire() -> None:
            waiter.timer = None
            if waiter in self._waiters:
                self._waiters.remove(waiter)
                d.callback(waiter.compute()[1])
                self._async_done()

        if wait is not None:
            waiter.timer = self.clock.callLater(wait, expire)
        self._waiters.append(waiter)
        return d

    def _drop(self, waiter: _Waiter) -> None:
        if waiter in self._waiters:
            self._waiters.remove(waiter)
        if waiter.timer is not None and waiter.timer.active():
            waiter.timer.cancel()
        waiter.timer = None

    def wake(self) -> None:
        """Re-run waiting queries after writes; answer those whose data moved."""
        if not self._dirty:
            return
        self._dirty = False
        fired = False
        for waiter in list(self._waiters):
            index, reply = waiter.compute()
            if waiter.satisfied(index):
                self._drop(waiter)
                waiter.deferred.callback(reply)
                fired = True
        if fired:
            self._async_done()

    def changed(self) -> None:
        """For timer-driven changes (TTL expiry...): wake waiters now."""
        self._dirty = True
        self.wake()

    def add_async_listener(self, listener: Callable[[], None]) -> None:
        """
        Call ``listener`` (a bound method, held weakly so that in-memory
        agents of finished tests do not pile up) whenever a response
        completes asynchronously.
        """
        self._listeners.append(weakref.WeakMethod(listener))  # type: ignore[arg-type]

    def _async_done(self) -> None:
        self._listeners = [ref for ref in self._listeners if ref() is not None]
        for ref in list(self._listeners):
            listener = ref()
            if listener is not None:
                listener()

    def pending_queries(self) -> int:
        """How many blocking queries are waiting."""
        return len(self._waiters)


def _redirect(req: FakeRequest, location: str, raw_query: bytes) -> HTTPError:
    """
    Go's ServeMux redirect: 301 to the cleaned path (re-escaped) keeping the
    query string; http.Redirect adds a small HTML body to a GET.
    """
    target = quote(location, safe="/~!$&'()*+,;=:@")
    if raw_query:
        target += "?" + raw_query.decode("utf-8", "surrogateescape")
    headers = {"Location": target}
    text = ""
    if req.method in ("GET", "HEAD"):
        headers["Content-Type"] = "text/html; charset=utf-8"
    if req.method == "GET":
        text = f'<a href="{html.escape(target)}">Moved Permanently</a>.\n\n'
    return HTTPError(301, text, headers, wrapped=False)


def _printable(path: str) -> bool:
    """
    Go's ``unicode.IsPrint`` over the decoded path, as go-cleanhttp's
    ``PrintablePathCheckHandler`` applies it: letters, marks, numbers,
    punctuation, symbols and the ASCII space.  Invalid UTF-8 decodes to
    U+FFFD in Go, which is printable (here it is a lone surrogate).
    """
    if path.isprintable():
        return True
    return all(ch.isprintable() or "\udc80" <= ch <= "\udcff" for ch in path)


_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def _query_parses(raw_query: bytes) -> bool:
    """Whether Go's ``url.ParseQuery`` accepts the raw query string."""
    return b";" not in raw_query and not _BAD_ESCAPE.search(raw_query)


def _sniff(data: bytes) -> str:
    """The subset of Go's ``http.DetectContentType`` a Consul body can hit."""
    head = data[:512]
    if any(b <= 0x08 or b == 0x0B or 0x0E <= b <= 0x1A or 0x1C <= b <= 0x1F for b in head):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def _clean_path(path: str) -> str:
    cleaned = posixpath.normpath(path)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


class ACLGate(Protocol):
    """What the resource needs of the ACL part: each request's authorizer and the default policy."""

    @property
    def default_policy(self) -> str:
        """``'allow'`` or ``'deny'``."""
        ...

    def authorizer(self, req: FakeRequest) -> Any:
        """The authorizer of the token ``req`` carries."""
        ...


class Served(Protocol):
    """What :class:`FakeResource` needs of the FakeConsul it serves."""

    @property
    def core(self) -> FakeCore:
        """The shared state."""
        ...

    @property
    def acl(self) -> ACLGate:
        """The ACL part."""
        ...

    @property
    def patterns(self) -> dict[str, Route]:
        """Route patterns to routes."""
        ...

    @property
    def requests(self) -> "MutableSequence[RecordedRequest]":
        """The request journal."""
        ...

    def match(self, path: str) -> Optional[Route]:
        """The route for ``path``."""
        ...


class FakeResource(Resource):
    """
    The twisted.web resource that answers Consul HTTP API requests from a
    :class:`~txconsul.testing.FakeConsul`.
    """

    isLeaf = True

    def __init__(self, fake: Served) -> None:
        super().__init__()
        self._fake = fake

    def render(self, request: Any) -> Any:
        """Parse, route and answer one request (asynchronously when blocking)."""
        fake = self._fake
        core: FakeCore = fake.core
        method = request.method.decode("ascii", "replace")
        raw_path = request.path
        path = unquote_to_bytes(raw_path).decode("utf-8", "surrogateescape")
        uri = request.uri
        raw_query = uri.split(b"?", 1)[1] if b"?" in uri else b""
        query = parse_qsl(
            raw_query.decode("utf-8", "surrogateescape"),
            keep_blank_values=True,
            errors="surrogateescape",
        )
        body = request.content.read() if request.content is not None else b""
        headers = {
            k.decode("latin-1").lower(): v[0].decode("utf-8", "replace")
            for k, v in request.requestHeaders.getAllRawHeaders()
        }
        req = FakeRequest(method, path, query, body, headers)
        fake.requests.append(
            RecordedRequest(
                method, path, list(query), dict(headers), body, raw_path.decode("utf-8", "surrogateescape")
            )
        )
        monitor = getattr(fake, "agent_monitor", None)
        if monitor is not None and monitor.watchers:
            client = request.getClientAddress()
            monitor.request_finished(
                method,
                uri.decode("utf-8", "replace"),
                f"{getattr(client, 'host', '')}:{getattr(client, 'port', '')}",
            )
        cache: Any = getattr(fake, "agent_cache", None)
        cached = cache is not None and method == "GET" and req.has("cached") and cache.applies(req.path)
        try:
            result = self._dispatch(req, raw_path, raw_query)
            if cached:
                result = cache.mark(req, result)
        except HTTPError as e:
            result = Reply(e.text, status=e.status, json=False, headers=e.headers, wrapped=e.wrapped)
        if hasattr(result, "start") and not isinstance(result, (Reply, Deferred)):
            core.wake()
            return self._stream(request, req, result)
        if isinstance(result, Deferred):

            def finish(reply: Reply) -> None:
                if not request.finished and not getattr(request, "_disconnected", False):
                    data = self._write(request, req, reply)
                    if data:
                        request.write(data)
                    request.finish()

            def failed(f: Any) -> None:
                if f.check(CancelledError):
                    return  # the client went away
                if isinstance(f.value, HTTPError):
                    e = f.value
                    finish(Reply(e.text, status=e.status, json=False, headers=e.headers, wrapped=e.wrapped))
                else:
                    log.failure("FakeConsul handler failed", f)
                    finish(Reply(str(f.value), status=500, json=False))

            result.addCallbacks(finish, failed)
            request.notifyFinish().addErrback(lambda _: result.cancel())
            core.wake()
            return NOT_DONE_YET
        core.wake()
        return self._write(request, req, result)

    def _dispatch(self, req: FakeRequest, raw_path: bytes, raw_query: bytes = b"") -> Any:
        fake = self._fake
        core: FakeCore = fake.core
        path = req.path
        if not _printable(path):
            # agent/http.go wraps the whole mux in go-cleanhttp's
            # PrintablePathCheckHandler: 400, no body, before any routing.
            raise HTTPError(400, wrapped=False)
        # agent/http.go Index (the mux's "/" handler, outside wrap): the
        # index text, or a 404 naming what the path lacks.
        if "/v1/" not in path and path != "/v1":
            if path == "/":
                return Reply(
                    b"Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.",
                    json=False,
                    wrapped=False,
                )
            raise HTTPError(
                404,
                "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n",
                wrapped=False,
            )
        cleaned = _clean_path(path)
        if cleaned != path:
            raise _redirect(req, cleaned, raw_query)
        route = fake.match(path)
        if route is None:
            if path + "/" in fake.patterns:
                raise _redirect(req, path + "/", raw_query)
            raise HTTPError(404, "Invalid URL path: not a recognized HTTP API endpoint\n", wrapped=False)
        if not _query_parses(raw_query):
            # agent/http.go wrap: url.ParseQuery fails (a ';' separator or a
            # bad %-escape) -> 500 with an empty body, before anything else.
            return Reply(b"", status=500, json=False)
        allow = "OPTIONS," + ",".join(route.methods)
        if req.method == "OPTIONS":
            return Reply(b"", json=False, headers={"Allow": allow})
        if req.method not in route.methods:
            raise HTTPError(405, f"method {req.method} not allowed", {"Allow": allow})
        # Undecodable bytes are kept as lone surrogates, which log files
        # cannot encode: log them as U+FFFD, as Go's decoding would show them.
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        log.debug("{method} {path}", method=req.method, path=shown)
        if route.parse:
            # The handler calls s.parse (agent/http.go): its 400s come before
            # the RPC, so before "No path to datacenter".
            parse_common(req)
        if route.check_dc:
            dc = req.get("dc")
            if dc and dc != core.datacenter:
                raise HTTPError(500, "No path to datacenter")
        req.tail = path[len(route.pattern) :] if route.pattern.endswith("/") else ""
        req.authz = fake.acl.authorizer(req)
        return route.handler(req)

    def _stream(self, request: Any, req: FakeRequest, reply: Any) -> Any:
        """
        Send a streamed answer's headers now, then hand its ``start`` a
        writer; the stream stops when the client goes away (or the stream
        finishes itself by writing ``None``).
        """
        self._write(request, req, Reply(b"", status=reply.status, json=False, headers=reply.headers))
        request.write(b"")

        def write(data: Any) -> None:
            if request.finished or getattr(request, "_disconnected", False):
                return
            if data is None:
                stop()
                request.finish()
            elif data:
                request.write(data)

        stop = reply.start(write)
        request.notifyFinish().addBoth(lambda _: stop())
        return NOT_DONE_YET

    def _write(self, request: Any, req: FakeRequest, reply: Reply) -> bytes:
        fake = self._fake
        request.setResponseCode(reply.status)
        if reply.wrapped:
            # agent/http.go wrap sets the policy header; gziphandler, around
            # every registered endpoint, adds Vary.
            request.setHeader(b"X-Consul-Default-ACL-Policy", fake.acl.default_policy.encode())
            request.setHeader(b"Vary", b"Accept-Encoding")
        if reply.index is not None:
            request.setHeader(b"X-Consul-Index", str(max(1, reply.index)).encode())
            request.setHeader(b"X-Consul-KnownLeader", b"true")
            request.setHeader(b"X-Consul-LastContact", b"0")
            # agent/http.go setMeta -> setQueryBackend: a server agent answers
            # from blocking queries (streaming is a client agent's backend).
            request.setHeader(b"X-Consul-Query-Backend", b"blocking-query")
        for name, value in reply.headers.items():
            request.setHeader(name.encode(), value.encode("utf-8"))
        if reply.json and reply.status < 300 or (reply.json and reply.status == 409):
            request.setHeader(b"Content-Type", b"application/json")
            data = (json.dumps(reply.body, indent=4) + "\n").encode("utf-8")
        else:
            if isinstance(reply.body, bytes):
                data = reply.body
            elif reply.json and not isinstance(reply.body, str):
                data = (json.dumps(reply.body, indent=4) + "\n").encode("utf-8")
            else:
                data = str(reply.body or "").encode("utf-8")
            if not any(k.lower() == "content-type" for k in reply.headers):
                # Go's net/http sniffs a body written without a Content-Type
                # (http.DetectContentType): text (or nothing at all: empty
                # 200s, 404s, OPTIONS) is "text/plain; charset=utf-8".
                request.setHeader(b"Content-Type", _sniff(data).encode())
        if req.method == "HEAD":
            return b""
        return data
