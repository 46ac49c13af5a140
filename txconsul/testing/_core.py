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

import json
import posixpath
import random
from typing import Any, Callable, Optional, Union
from urllib.parse import parse_qsl, unquote_to_bytes

import attr
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

log = Logger()

#: Go's time.ParseDuration units, in seconds.
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}

DEFAULT_QUERY_TIME = 300.0
MAX_QUERY_TIME = 600.0


class HTTPError(Exception):
    """Raised by a handler to answer with ``status`` and a plain-text body."""

    def __init__(self, status: int, text: str = "", headers: Optional[dict[str, str]] = None):
        super().__init__(status, text)
        self.status = status
        self.text = text
        self.headers = headers or {}


def permission_denied() -> HTTPError:
    """The 403 Consul answers on an ACL denial."""
    return HTTPError(403, "Permission denied")


def parse_go_duration(text: str) -> float:
    """
    Parse a duration like Go's ``time.ParseDuration`` (``'10s'``, ``'1m30s'``,
    ``'300000ms'``); a bare number other than ``0`` is invalid.

    :raises ValueError: on a malformed duration.
    """
    s = text.strip()
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
        if unit not in _GO_UNITS:
            raise ValueError(text)
        total += number * _GO_UNITS[unit]
        i = k
    return sign * total


@attr.s(slots=True, auto_attribs=True)
class Reply:
    """
    A handler's answer.

    :ivar body: a JSON-able object (``json=True``) or raw bytes.
    :ivar index: when not ``None``, the X-Consul-Index/KnownLeader/LastContact
        headers are added (an index of 0 is sent as 1, as Consul does).
    """

    body: Any = None
    status: int = 200
    index: Optional[int] = None
    json: bool = True
    headers: dict[str, str] = attr.Factory(dict)


@attr.s(slots=True, auto_attribs=True)
class Route:
    """
    A route like Go's ``http.ServeMux`` pattern: ``prefix`` ending in ``/``
    matches every path under it, any other pattern matches exactly.
    """

    pattern: str
    methods: tuple[str, ...]
    handler: Callable[["FakeRequest"], Any]
    check_dc: bool = True


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
        """Decode the body as JSON; 400 ``Request decode failed`` if it is not."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise HTTPError(400, f"Request decode failed: {e}")


class _Waiter:
    __slots__ = ("compute", "satisfied", "deferred", "timer")

    def __init__(self, compute: Any, satisfied: Any, deferred: Deferred, timer: Any) -> None:
        self.compute = compute
        self.satisfied = satisfied
        self.deferred = deferred
        self.timer = timer


class FakeCore:
    """
    The state every part shares: clock, index, waiters, node identity.

    Parts reach each other through this object (``core.kv``,
    ``core.sessions``, ``core.catalog``, ``core.acl``...).
    """

    def __init__(
        self,
        clock: IReactorTime,
        node_name: str,
        datacenter: str,
        address: str,
        rng: random.Random,
    ) -> None:
        self.clock = clock
        self.node_name = node_name
        self.datacenter = datacenter
        self.address = address
        self.rng = rng
        #: The Raft-like index: a dev agent's first user write lands well
        #: above 1; it is shared by every table and only ever grows.
        self.index = 12
        self._waiters: list[_Waiter] = []
        self._dirty = False
        self._listeners: list[Callable[[], None]] = []

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
        raw_index = req.get("index")
        raw_wait = req.get("wait")
        min_index = 0
        if raw_index is not None and raw_index != "":
            if not raw_index.isdigit() or int(raw_index) >= 2**64:
                raise HTTPError(400, "Invalid index")
            min_index = int(raw_index)
        wait = 0.0
        if raw_wait is not None and raw_wait != "":
            try:
                wait = parse_go_duration(raw_wait)
            except ValueError:
                raise HTTPError(400, "Invalid wait time")
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
        """Call ``listener`` whenever a response completes asynchronously."""
        self._listeners.append(listener)

    def _async_done(self) -> None:
        for listener in list(self._listeners):
            listener()

    def pending_queries(self) -> int:
        """How many blocking queries are waiting."""
        return len(self._waiters)


def _clean_path(path: str) -> str:
    cleaned = posixpath.normpath(path)
    if path.endswith("/") and cleaned != "/":
        cleaned += "/"
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


class FakeResource(Resource):
    """
    The twisted.web resource that answers Consul HTTP API requests from a
    :class:`~txconsul.testing.FakeConsul`.
    """

    isLeaf = True

    def __init__(self, fake: Any) -> None:
        super().__init__()
        self._fake = fake

    def render(self, request: Any) -> Any:
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
        try:
            result = self._dispatch(req, raw_path)
        except HTTPError as e:
            result = Reply(e.text, status=e.status, json=False, headers=e.headers)
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
                    finish(Reply(f.value.text, status=f.value.status, json=False))
                else:
                    log.failure("FakeConsul handler failed", f)
                    finish(Reply(str(f.value), status=500, json=False))

            result.addCallbacks(finish, failed)
            request.notifyFinish().addErrback(lambda _: result.cancel())
            core.wake()
            return NOT_DONE_YET
        core.wake()
        return self._write(request, req, result)

    def _dispatch(self, req: FakeRequest, raw_path: bytes) -> Any:
        fake = self._fake
        path = req.path
        if "/v1/" not in path and path != "/v1":
            if path == "/":
                return Reply(b"Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.", json=False)
            raise HTTPError(404, "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n")
        cleaned = _clean_path(path)
        if cleaned != path:
            raise HTTPError(301, "", {"Location": cleaned})
        route = fake.match(path)
        if route is None:
            if path + "/" in fake.patterns:
                raise HTTPError(301, "", {"Location": path + "/"})
            raise HTTPError(404, "Invalid URL path: not a recognized HTTP API endpoint\n")
        allow = "OPTIONS," + ",".join(route.methods)
        if req.method == "OPTIONS":
            return Reply(b"", json=False, headers={"Allow": allow})
        if req.method not in route.methods:
            raise HTTPError(405, f"method {req.method} not allowed", {"Allow": allow})
        log.debug("{method} {path}", method=req.method, path=path)
        if route.check_dc:
            dc = req.get("dc")
            if dc and dc != fake.core.datacenter:
                raise HTTPError(500, "No path to datacenter")
        if req.has("stale") and req.has("consistent"):
            raise HTTPError(400, "Cannot specify ?stale with ?consistent, conflicting semantics.")
        if req.has("cached") and req.has("consistent"):
            raise HTTPError(400, "Cannot specify ?cached with ?consistent, conflicting semantics.")
        max_stale = req.get("max_stale")
        if max_stale:
            try:
                parse_go_duration(max_stale)
            except ValueError:
                raise HTTPError(400, f'Invalid max_stale value "{max_stale}"')
        req.tail = path[len(route.pattern):] if route.pattern.endswith("/") else ""
        req.authz = fake.acl.authorizer(req)
        return route.handler(req)

    def _write(self, request: Any, req: FakeRequest, reply: Reply) -> bytes:
        fake = self._fake
        request.setResponseCode(reply.status)
        request.setHeader(b"X-Consul-Default-ACL-Policy", fake.acl.default_policy.encode())
        request.setHeader(b"Vary", b"Accept-Encoding")
        if reply.index is not None:
            request.setHeader(b"X-Consul-Index", str(max(1, reply.index)).encode())
            request.setHeader(b"X-Consul-KnownLeader", b"true")
            request.setHeader(b"X-Consul-LastContact", b"0")
        for name, value in reply.headers.items():
            request.setHeader(name.encode(), value.encode("utf-8"))
        if reply.json and reply.status < 300 or (reply.json and reply.status == 409):
            request.setHeader(b"Content-Type", b"application/json")
            data = (json.dumps(reply.body, indent=4) + "\n").encode("utf-8")
        else:
            if reply.status >= 300 and not reply.headers.get("Content-Type"):
                request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            data = reply.body if isinstance(reply.body, bytes) else str(reply.body or "").encode("utf-8")
        if req.method == "HEAD":
            return b""
        return data
