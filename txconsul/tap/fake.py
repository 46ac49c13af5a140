# -*- test-case-name: tests.test_tap_fake -*-
"""
``twistd consul-fake``: serve a :class:`~txconsul.testing.FakeConsul` on any
Twisted server endpoint.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from twisted.application import strports
from twisted.application.service import MultiService
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import connectionDone
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from twisted.web.server import Site

from txconsul.tap._cli import CommandOptions, remove_own_pidfile, usage_exit
from txconsul.testing import FakeConsul
from txconsul.testing._gojson import GoJSONError, parse_duration

#: How long a client may take to send a request's headers (seconds).
#: Consul's plain-HTTP server sets no ReadHeaderTimeout (agent/agent.go
#: builds http.Server with MaxHeaderBytes only); its HTTPS listener drops a
#: connection whose TLS handshake takes longer than https_handshake_timeout
#: (5 s by default).  The fake applies that same 5 s to request headers, so
#: that a client dribbling header bytes cannot hold a connection forever.
READ_HEADER_TIMEOUT = 5.0

#: Consul's limits.http_max_conns_per_client default (agent/config/default.go):
#: connections from one client IP beyond this are refused with a bare 429
#: (hashicorp/go-connlimit's HTTPConnStateFuncWithDefault429Handler).
HTTP_MAX_CONNS_PER_CLIENT = 200
_TOO_MANY = b"HTTP/1.1 429 Too Many Requests\r\n\r\n"

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_META_KEY = re.compile(r"[a-zA-Z0-9_-]+\Z")


class Options(CommandOptions):
    """Command-line options of ``twistd consul-fake``."""

    tapname = "consul-fake"
    synopsis = "[options]"
    longdesc = (
        "Runs FakeConsul, an in-memory stand-in for a single-node "
        "'consul agent -dev', for tests and development. It is not Consul."
    )
    optParameters = [
        ["listen", "l", "tcp:8500:interface=127.0.0.1", "Twisted server endpoint description to listen on."],
        ["node-name", None, "fake-consul", "The agent's node name."],
        ["datacenter", None, "dc1", "The agent's datacenter."],
        ["address", None, "127.0.0.1", "The node address the catalog shows."],
        ["acl-master-token", None, None, "Enable ACLs with this management token (default: ACLs disabled)."],
        ["acl-default-policy", None, "allow", "ACL default policy: allow or deny."],
        ["node-id", None, None, "The agent's node ID, a UUID (default: random)."],
        [
            "session-ttl-min",
            None,
            "10s",
            "The smallest session TTL the server accepts, a Go duration (Consul's session_ttl_min).",
        ],
        [
            "read-header-timeout",
            None,
            str(READ_HEADER_TIMEOUT),
            "Seconds a client may take to send its request headers (0: no limit).",
        ],
        [
            "http-max-conns-per-client",
            None,
            str(HTTP_MAX_CONNS_PER_CLIENT),
            "Open connections allowed per client IP, as Consul's limits.http_max_conns_per_client (0: no limit).",
        ],
    ]
    optFlags = [
        ["enable-script-checks", None, "Allow script (Args) checks to run."],
        [
            "acl-enabled",
            None,
            "Enable ACLs without a management token: a fresh cluster, not yet bootstrapped "
            "(PUT /v1/acl/bootstrap makes the first token).",
        ],
        ["legacy-acl", None, "Answer as Consul 1.10, with the legacy ACL API (/v1/acl/create...)."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["node-meta"] = {}

    def opt_node_meta(self, value: str) -> None:
        """Node metadata as key:value (repeatable), as Consul's -node-meta."""
        key, sep, meta_value = value.partition(":")
        if not sep:
            raise usage.UsageError(f"--node-meta must be key:value, not {value!r}")
        # agent/structs validateMetaPair, as Consul checks its node_meta.
        if not _META_KEY.match(key) or len(key) > 128 or key.startswith("consul-"):
            raise usage.UsageError(f"invalid --node-meta key {key!r}")
        if len(meta_value) > 512:
            raise usage.UsageError(f"--node-meta value for {key!r} is too long (limit: 512 characters)")
        self["node-meta"][key] = meta_value

    def postOptions(self) -> None:
        """Validate option combinations."""
        if self["acl-default-policy"] not in ("allow", "deny"):
            raise usage.UsageError("--acl-default-policy must be 'allow' or 'deny'")
        if self["acl-enabled"]:
            if self["acl-master-token"] is not None:
                raise usage.UsageError(
                    "--acl-enabled and --acl-master-token exclude each other: "
                    "a master token means ACLs are already bootstrapped"
                )
            if not _fake_accepts("acl_enabled"):
                raise usage.UsageError("--acl-enabled needs a FakeConsul that supports acl_enabled")
        if self["node-id"] is not None and not _UUID.match(self["node-id"]):
            raise usage.UsageError(f"--node-id must be a UUID, not {self['node-id']!r}")
        try:
            ttl_min = parse_duration(self["session-ttl-min"])
        except GoJSONError as e:
            raise usage.UsageError(f"--session-ttl-min: {e}")
        if ttl_min <= 0:
            raise usage.UsageError("--session-ttl-min must be positive")
        self["session-ttl-min"] = ttl_min
        try:
            timeout = float(self["read-header-timeout"])
        except ValueError:
            raise usage.UsageError("--read-header-timeout must be a number of seconds")
        if not timeout >= 0:
            raise usage.UsageError("--read-header-timeout must be a number of seconds")
        self["read-header-timeout"] = timeout
        try:
            max_conns = int(self["http-max-conns-per-client"])
        except ValueError:
            raise usage.UsageError("--http-max-conns-per-client must be a whole number")
        if max_conns < 0:
            raise usage.UsageError("--http-max-conns-per-client must be a whole number")
        self["http-max-conns-per-client"] = max_conns

    def __repr__(self) -> str:
        return "<consul-fake Options>"


def _fake_accepts(name: str) -> bool:
    """Whether :class:`FakeConsul` takes the keyword argument ``name``."""
    import inspect

    return name in inspect.signature(FakeConsul).parameters


class HeaderTimeoutChannel(HTTPChannel):
    """
    An HTTP channel that drops a connection whose request headers are not
    all in within ``header_timeout`` seconds of the request's first byte
    (Go's ``ReadHeaderTimeout`` semantics: an idle keep-alive connection
    is not timed by it).
    """

    #: Seconds; 0 or ``None`` disables the timer.
    header_timeout: Optional[float] = READ_HEADER_TIMEOUT

    #: Go's http.Server reads up to MaxHeaderBytes (Consul's
    #: http_max_header_bytes, 0 meaning Go's 1 MB default) plus 4096 bytes
    #: of slack for the request line and headers; twisted.web's default is
    #: 16 KB, which long ``?filter=`` expressions exceed.
    MAX_LENGTH = (1 << 20) + 4096
    totalHeadersSize = (1 << 20) + 4096

    _header_timer: Any = None
    _awaiting_headers = True
    #: The site's per-client-IP connection counter (``None``: no limit).
    _conns: Optional[dict[str, int]] = None
    _client: Optional[str] = None
    max_conns_per_client = 0

    _refused = False

    def connectionMade(self) -> None:
        """Refuse a client over its connection limit; else time the first request's headers."""
        super().connectionMade()
        transport: Any = self.transport
        if self._conns is not None and self.max_conns_per_client and transport is not None:
            client = getattr(transport.getPeer(), "host", None)
            if client is not None:
                if self._conns.get(client, 0) >= self.max_conns_per_client:
                    self._refused = True
                    transport.write(_TOO_MANY)
                    transport.loseConnection()
                    return
                self._conns[client] = self._conns.get(client, 0) + 1
                self._client = client
        self._awaiting_headers = True
        self._arm()

    def dataReceived(self, data: bytes) -> None:
        """Start the timer when a new request's first bytes arrive."""
        if self._refused:
            return
        if data and self._awaiting_headers and self._header_timer is None:
            self._arm()
        super().dataReceived(data)

    def allHeadersReceived(self) -> None:
        """The headers are complete: stop timing."""
        self._awaiting_headers = False
        self._disarm()
        super().allHeadersReceived()

    def requestDone(self, request: Any) -> None:
        """The next request's headers will be timed from its first byte."""
        self._awaiting_headers = True
        super().requestDone(request)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """Stop the timer; the connection no longer counts against its client."""
        self._disarm()
        if self._client is not None and self._conns is not None:
            left = self._conns.get(self._client, 1) - 1
            if left > 0:
                self._conns[self._client] = left
            else:
                self._conns.pop(self._client, None)
            self._client = None
        super().connectionLost(reason)

    def _arm(self) -> None:
        if not self.header_timeout or self._header_timer is not None:
            return
        call_later = self.callLater
        if call_later is None:  # pragma: no cover - Site always sets it
            from twisted.internet import reactor

            call_later = reactor.callLater  # type: ignore[attr-defined]
        self._header_timer = call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        timer, self._header_timer = self._header_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _too_slow(self) -> None:
        self._header_timer = None
        transport: Any = self.transport
        if transport is not None:
            transport.abortConnection()


class QuietSite(Site):
    """
    A Site without the access log: request lines can carry ``?token=``;
    FakeConsul logs each request itself, at debug level, without the query.
    Its channels drop clients that are too slow to send request headers.
    """

    protocol = HeaderTimeoutChannel  # type: ignore[assignment]
    #: Seconds a client may take to send its request headers (0: no limit).
    header_timeout: float = READ_HEADER_TIMEOUT
    #: Open connections allowed per client IP (0: no limit).
    max_conns_per_client: int = HTTP_MAX_CONNS_PER_CLIENT

    def buildProtocol(self, addr: Any) -> Any:
        """A :class:`HeaderTimeoutChannel` with this site's limits."""
        channel = super().buildProtocol(addr)
        channel.header_timeout = self.header_timeout
        channel.max_conns_per_client = self.max_conns_per_client
        if not hasattr(self, "_conns_per_client"):
            self._conns_per_client: dict[str, int] = {}
        channel._conns = self._conns_per_client
        return channel

    def log(self, request: Any) -> None:
        """Log nothing."""


def build_fake(options: Options, reactor: Any) -> FakeConsul:
    """The FakeConsul the options describe, on ``reactor``."""
    kwargs: dict[str, Any] = dict(
        node_name=options["node-name"],
        datacenter=options["datacenter"],
        address=options["address"],
        acl_master_token=options["acl-master-token"],
        acl_default_policy=options["acl-default-policy"],
        enable_script_checks=bool(options["enable-script-checks"]),
        reactor=reactor,
        node_id=options["node-id"],
        node_meta=dict(options["node-meta"]),
        session_ttl_min=options["session-ttl-min"],
        legacy_acl=bool(options["legacy-acl"]),
        # the request journal is for tests in memory; a process keeps none
        journal_size=0,
    )
    if options["acl-enabled"]:
        kwargs["acl_enabled"] = True
    return FakeConsul(reactor, **kwargs)


class FakeConsulService(MultiService):
    """
    The ``consul-fake`` service: its listening port as a child, and on stop
    the fake's check timers and script processes are stopped as well.

    :ivar fake: the :class:`~txconsul.testing.FakeConsul` it serves.
    :ivar pidfile: twistd's pid file, removed when listening fails.
    :ivar listen: the ``--listen`` description, for error messages.
    :ivar cli: whether twistd runs it (then a listening failure exits).
    """

    def __init__(self, fake: FakeConsul, *, pidfile: Optional[str] = None) -> None:
        super().__init__()
        self.fake = fake
        self.pidfile = pidfile
        self.listen = ""
        self.cli = False

    def privilegedStartService(self) -> None:
        """
        Start listening.  A port that cannot be had (in use, not allowed) is
        one line on stderr and exit status 2, not a traceback.
        """
        try:
            super().privilegedStartService()
        except CannotListenError as e:
            if not self.cli:
                raise
            reason = e.socketError
            why = getattr(reason, "strerror", None) or str(reason)
            remove_own_pidfile(self.pidfile)
            usage_exit(Options.tapname, f"--listen {self.listen}: cannot listen: {why}")

    def leave(self) -> None:
        """The agent left: stop the reactor (which stops this service)."""
        from twisted.internet import reactor as global_reactor

        reactor: Any = global_reactor
        if reactor.running:
            reactor.stop()

    def stopService(self) -> Any:
        """Stop listening, then stop the fake's checks and reap their processes."""
        d = super().stopService()
        d.addCallback(lambda _: self.fake.agent_state.stop())
        return d


def makeService(options: Options) -> MultiService:
    """
    Build the service that serves FakeConsul on ``--listen``.  Run by twistd,
    an endpoint description it cannot use exits with one line on stderr.
    """
    from twisted.internet import reactor

    fake = build_fake(options, reactor)
    site = QuietSite(fake.resource())
    site.displayTracebacks = False
    site.header_timeout = options["read-header-timeout"]
    site.max_conns_per_client = options["http-max-conns-per-client"]
    top = FakeConsulService(fake, pidfile=options.twistd_option("pidfile"))
    top.listen = options["listen"]
    top.cli = options.parent is not None
    # PUT /v1/agent/leave: the agent leaves and the process exits, as a
    # Consul agent does (agent_endpoint.go AgentLeave -> ShutdownAgent).
    fake.agent_state.add_leave_listener(top.leave)
    try:
        listener = strports.service(options["listen"], site)
    except (ValueError, TypeError, KeyError, ImportError) as e:
        if options.parent is None:
            raise
        usage_exit(Options.tapname, f"--listen {options['listen']}: {e}")
    listener.setServiceParent(top)
    return top
