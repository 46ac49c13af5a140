# -*- test-case-name: tests.test_api_modern_agent -*-
"""
The agent's newer endpoints, named after py-consul's: ``reload``,
``metrics``, ``host``, ``version`` (mixed into :class:`~txconsul.api.agent.Agent`
by :class:`AgentExtras`), ``consul.agent.token`` (``/v1/agent/token/``) and
``consul.agent.connect`` (``/v1/agent/connect/``).

Agent endpoints answer from the agent itself: they take no ``dc``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.defer import CancelledError, Deferred

from .._duration import DurationLike
from .._errors import ConsulProtocolError
from .._http import ConsulResponse
from ._base import Endpoint, Request, check_str, decode_json, decode_true, endpoint, path_segment

__all__ = [
    "TOKEN_TYPES",
    "AgentConnect",
    "AgentConnectCA",
    "AgentExtras",
    "AgentToken",
    "LogMonitor",
    "data_or_meta",
    "decode_text",
]

#: The token kinds ``PUT /v1/agent/token/<type>`` accepts (agent/agent_endpoint.go
#: ``AgentToken``; ``acl_token``, ``acl_agent_token``, ``agent_master``... are
#: older spellings Consul still accepts).
TOKEN_TYPES = frozenset(
    {
        "default",
        "agent",
        "agent_recovery",
        "replication",
        "config_file_service_registration",
        "acl_token",
        "acl_agent_token",
        "acl_agent_master_token",
        "agent_master",
        "acl_replication_token",
    }
)


def decode_text(response: ConsulResponse) -> str:
    """The body as UTF-8 text."""
    return response.body.decode("utf-8", "replace")


def data_or_meta(decode: Callable[[ConsulResponse], Any], meta: bool) -> Callable[[ConsulResponse], Any]:
    """
    The decoder of a blocking-capable read that py-consul returns as data
    only: the data, or ``(QueryMeta, data)`` with ``meta=True`` (whose
    ``.index`` is the next call's ``index``).
    """
    if not meta:
        return decode
    return lambda response: (response.meta, decode(response))


class AgentExtras(Endpoint):
    """
    The newer agent methods, mixed into :class:`~txconsul.api.agent.Agent`.
    """

    @endpoint
    def reload(self, token: Optional[str] = None) -> Request:
        """Make the agent reload its configuration files; fires ``True``.  Needs ``agent:write``."""
        return Request("PUT", "/v1/agent/reload", decode=decode_true, use_dc=False)

    @endpoint
    def metrics(self, format_prometheus: bool = False, token: Optional[str] = None) -> Request:
        """
        The agent's metrics for the last finished interval: a dict
        (``{'Timestamp', 'Gauges', 'Counters', 'Samples', 'Points'}``), or
        with ``format_prometheus=True`` the Prometheus exposition text as a
        ``str``.  Needs ``agent:read``.

        Prometheus output needs ``telemetry.prometheus_retention_time`` on
        the agent; without it Consul answers 415, raised as
        :class:`~txconsul.ClientError`.
        """
        if format_prometheus:
            return Request(
                "GET", "/v1/agent/metrics", [("format", "prometheus")], decode=decode_text, use_dc=False
            )
        return Request("GET", "/v1/agent/metrics", use_dc=False)

    @endpoint
    def host(self, token: Optional[str] = None) -> Request:
        """
        The agent host's resources: ``{'Memory', 'CPU', 'Host', 'Disk',
        'CollectionTime', 'Errors'}``.  Needs ``operator:read``.
        """
        return Request("GET", "/v1/agent/host", use_dc=False)

    @endpoint
    def version(self, token: Optional[str] = None) -> Request:
        """The agent's build: ``{'SHA', 'BuildDate', 'HumanVersion', 'FIPS'}``.  Needs no ACL."""
        return Request("GET", "/v1/agent/version", use_dc=False)

    def monitor(
        self,
        on_line: Callable[[str], Any],
        loglevel: Optional[str] = None,
        logjson: bool = False,
        token: Optional[str] = None,
    ) -> "LogMonitor":
        """
        Stream the agent's log (``GET /v1/agent/monitor``): ``on_line`` is
        called with each line (a ``str`` without its newline; with
        ``logjson=True`` each line is one JSON object) as the agent logs it,
        until :meth:`LogMonitor.stop` or the agent ends the stream.
        Needs ``agent:read``.

        :param loglevel: the lowest level shown: ``'trace'``, ``'debug'``,
            ``'info'`` (Consul's default), ``'warn'`` or ``'err'``/``'error'``.
        :returns: a :class:`LogMonitor`; its ``done`` Deferred fires when
            the stream ends and fails with the agent's error (a 403 as
            :class:`~txconsul.ACLPermissionDenied`, an unknown level as
            :class:`~txconsul.BadRequest`).
        :raises ValueError: for a level Consul does not know, before any
            request.
        """
        if not callable(on_line):
            raise TypeError(f"on_line must be callable, not {type(on_line).__name__}")
        params: list[tuple[str, Optional[str]]] = []
        if loglevel is not None:
            check_str(loglevel, "loglevel")
            if loglevel.upper() not in LOG_LEVELS:
                raise ValueError(f"invalid loglevel {loglevel!r}: use trace, debug, info, warn or err")
            params.append(("loglevel", loglevel))
        if logjson:
            params.append(("logjson", None))
        mon = LogMonitor(on_line)
        d = self._transport.stream("GET", "/v1/agent/monitor", params, mon._chunk, token=token, use_dc=False)
        mon._attach(d)
        return mon

    @property
    def token(self) -> "AgentToken":
        """Set the agent's ACL tokens (:class:`AgentToken`)."""
        group = self.__dict__.get("_token_group")
        if group is None:
            group = self.__dict__["_token_group"] = AgentToken(self._transport)
        return group

    @property
    def connect(self) -> "AgentConnect":
        """Agent Connect: ``authorize`` and ``ca`` (:class:`AgentConnect`)."""
        group = self.__dict__.get("_connect_group")
        if group is None:
            group = self.__dict__["_connect_group"] = AgentConnect(self._transport)
        return group


#: The levels ``/v1/agent/monitor`` accepts (logging/logfile.go ``ValidateLogLevel``).
LOG_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "WARN", "ERR", "ERROR"})


#: Longest log line a monitor puts together, in bytes: what the official
#: client's monitor reads lines with (``bufio.Scanner``'s default
#: ``MaxScanTokenSize``, api/agent.go); a longer one ends the stream.
MAX_LINE = 64 * 1024


class LogMonitor:
    """
    An open ``/v1/agent/monitor`` stream (from :meth:`AgentExtras.monitor`).

    :ivar done: fires with ``None`` when the stream ends (the agent closed
        it, or :meth:`stop` was called), or fails with the error that
        ended it; ``on_line`` is not called after it fired.
    :ivar lines: how many lines were handed to ``on_line``.
    """

    def __init__(self, on_line: Callable[[str], Any]) -> None:
        self._on_line = on_line
        # The pieces of the line not yet ended, and their length.
        self._partial: list[bytes] = []
        self._partial_size = 0
        self._stream: Optional[Deferred[Any]] = None
        self._stopped = False
        self.lines = 0
        self.done: Deferred[None] = Deferred(lambda _: self.stop())

    def _chunk(self, data: bytes) -> None:
        if b"\n" not in data:
            # Part of a line: kept as a piece (joining every time would cost
            # time quadratic in the line's length).
            self._partial.append(data)
            self._partial_size += len(data)
            self._check_size(self._partial_size)
            return
        if self._partial:
            self._partial.append(data)
            data = b"".join(self._partial)
        *complete, rest = data.split(b"\n")
        self._partial = [rest] if rest else []
        self._partial_size = len(rest)
        for raw in complete:
            if self._stopped:
                return
            self._check_size(len(raw))
            self.lines += 1
            self._on_line(raw.rstrip(b"\r").decode("utf-8", "replace"))
        self._check_size(self._partial_size)

    @staticmethod
    def _check_size(size: int) -> None:
        # Raised from the stream's write, this ends the stream and drops
        # its connection.
        if size > MAX_LINE:
            raise ConsulProtocolError(
                f"GET /v1/agent/monitor: a log line over {MAX_LINE} bytes",
                method="GET",
                path="/v1/agent/monitor",
            )

    def _attach(self, d: "Deferred[Any]") -> None:
        self._stream = d
        d.addCallbacks(self._ended, self._broken)

    def _ended(self, _: Any) -> None:
        if self._partial and not self._stopped:
            rest, self._partial, self._partial_size = b"".join(self._partial), [], 0
            self.lines += 1
            self._on_line(rest.decode("utf-8", "replace"))
        if not self.done.called:
            self.done.callback(None)

    def _broken(self, failure: Any) -> None:
        if self.done.called:
            return
        if failure.check(CancelledError) and self._stopped:
            self.done.callback(None)
        else:
            self.done.errback(failure)

    def stop(self) -> None:
        """Close the stream (idempotent); ``done`` fires with ``None``."""
        if self._stopped:
            return
        self._stopped = True
        if self._stream is not None and not self._stream.called:
            self._stream.cancel()
        elif not self.done.called:
            self.done.callback(None)

    def __repr__(self) -> str:
        state = "done" if self.done.called else "open"
        return f"<LogMonitor {state} lines={self.lines}>"


class AgentToken(Endpoint):
    """
    Set the ACL tokens the local agent uses (``PUT /v1/agent/token/<type>``),
    as py-consul's ``consul.agent.token``.  Every call needs ``agent:write``
    and fails with :class:`~txconsul.ACLDisabled` when ACLs are off.
    """

    #: The accepted ``token_type`` values.
    VALID_TOKEN_TYPES = TOKEN_TYPES

    @endpoint
    def set(self, token_type: str, secret: str, token: Optional[str] = None) -> Request:
        """
        Set the agent's ``token_type`` token to ``secret`` (``''`` clears
        it); fires ``True``.

        :param token_type: ``'default'``, ``'agent'``, ``'agent_recovery'``,
            ``'replication'`` or ``'config_file_service_registration'``.
        :raises ValueError: for another type, before any request.
        """
        token_type = check_str(token_type, "token_type")
        if token_type not in TOKEN_TYPES:
            raise ValueError(
                f"invalid token_type {token_type!r}: use one of "
                "'default', 'agent', 'agent_recovery', 'replication', "
                "'config_file_service_registration'"
            )
        body = {"Token": check_str(secret, "secret", allow_empty=True)}
        return Request(
            "PUT",
            "/v1/agent/token/" + token_type,
            json_body=body,
            decode=decode_true,
            use_dc=False,
            shown_path="/v1/agent/token/" + token_type,
        )

    def set_default(self, secret: str, token: Optional[str] = None) -> Any:
        """Set the default token (used for requests that carry none)."""
        return self.set("default", secret, token)

    def set_agent(self, secret: str, token: Optional[str] = None) -> Any:
        """Set the token of the agent's own operations (anti-entropy...)."""
        return self.set("agent", secret, token)

    def set_agent_recovery(self, secret: str, token: Optional[str] = None) -> Any:
        """Set the agent recovery token (``agent_master`` before Consul 1.11)."""
        return self.set("agent_recovery", secret, token)

    def set_replication(self, secret: str, token: Optional[str] = None) -> Any:
        """Set the ACL replication token."""
        return self.set("replication", secret, token)

    def set_config_file_service_registration(self, secret: str, token: Optional[str] = None) -> Any:
        """Set the token of services registered from configuration files."""
        return self.set("config_file_service_registration", secret, token)


class AgentConnectCA(Endpoint):
    """The agent's Connect CA view: ``consul.agent.connect.ca``."""

    @endpoint
    def roots(
        self,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The trusted CA roots, from the agent's cache: ``{'ActiveRootID',
        'TrustDomain', 'Roots': [{'ID', 'Name', 'RootCert', 'Active', ...}]}``.

        Blocking: pass ``index`` (with ``meta=True`` the call fires with
        ``(QueryMeta, data)``, whose ``.index`` is the next ``index``).
        """
        return Request("GET", "/v1/agent/connect/ca/roots", decode=data_or_meta(decode_json, meta))

    @endpoint
    def leaf(
        self,
        service: str,
        token: Optional[str] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        meta: bool = False,
    ) -> Request:
        """
        A leaf certificate for ``service`` (a service *name*), signed by the
        active root: ``{'SerialNumber', 'CertPEM', 'PrivateKeyPEM',
        'Service', 'ServiceURI', 'ValidAfter', 'ValidBefore', ...}``.
        Needs ``service:write`` on the service.

        Blocking: pass ``index`` (and ``meta=True`` to get the
        ``(QueryMeta, data)`` pair); it answers when the certificate is
        renewed or the root rotates.
        """
        path = "/v1/agent/connect/ca/leaf/" + path_segment(service, "service")
        return Request("GET", path, decode=data_or_meta(decode_json, meta))


class AgentConnect(Endpoint):
    """Agent Connect endpoints: ``consul.agent.connect``."""

    def __init__(self, transport: Any) -> None:
        super().__init__(transport)
        #: CA roots and leaf certificates (:class:`AgentConnectCA`).
        self.ca = AgentConnectCA(transport)

    @endpoint
    def authorize(
        self,
        target: str,
        client_cert_uri: str,
        client_cert_serial: str,
        token: Optional[str] = None,
    ) -> Request:
        """
        Whether a client presenting ``client_cert_uri`` (a SPIFFE service
        URI such as ``spiffe://<trust-domain>/ns/default/dc/dc1/svc/web``)
        may connect to ``target``, by the intentions: ``{'Authorized':
        bool, 'Reason': str}``.  Needs ``service:write`` on ``target``.
        """
        body = {
            "Target": check_str(target, "target"),
            "ClientCertURI": check_str(client_cert_uri, "client_cert_uri"),
            "ClientCertSerial": check_str(client_cert_serial, "client_cert_serial", allow_empty=True),
        }
        # agent/http_register.go registers the endpoint for POST only.
        return Request("POST", "/v1/agent/connect/authorize", json_body=body, use_dc=False)
