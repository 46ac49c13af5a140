# -*- test-case-name: tests.test_client -*-
"""
The :class:`Consul` client: configuration, transport and endpoint groups.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime, IStreamClientEndpoint
from twisted.web.iweb import IAgent

from ._config import CertLike, VerifyLike, resolve_config
from ._http import DEFAULT_TLS_HANDSHAKE_TIMEOUT, HTTPTransport, check_consistency
from ._http11 import DEFAULT_MAX_CONNECTIONS, DEFAULT_RESERVED_CONNECTIONS
from ._wire import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_HEAD,
    DEFAULT_MAX_INTERIM,
    DEFAULT_MAX_TRAILER,
    Limits,
)
from .api.acl import ACL
from .api.agent import Agent
from .api.catalog import Catalog
from .api.check import Check
from .api.config import ConfigEntries, DiscoveryChain
from .api.connect import Connect
from .api.coordinate import Coordinate
from .api.event import Event
from .api.health import Health
from .api.kv import KV
from .api.operator import Operator
from .api.query import Query
from .api.session import Session
from .api.snapshot import Snapshot
from .api.status import Status
from .api.txn import Txn


class Consul:
    """
    A Twisted client for one Consul agent.  Every method returns a Deferred.

    The first eight arguments are python-consul's.  ``None`` means "not given":
    then the ``CONSUL_*`` environment variables apply (parsed like the official
    Go client: ``CONSUL_HTTP_ADDR``, ``CONSUL_HTTP_TOKEN``,
    ``CONSUL_HTTP_TOKEN_FILE``, ``CONSUL_HTTP_SSL``, ``CONSUL_HTTP_SSL_VERIFY``,
    ``CONSUL_CACERT``, ``CONSUL_CAPATH``, ``CONSUL_CLIENT_CERT``,
    ``CONSUL_CLIENT_KEY``, ``CONSUL_TLS_SERVER_NAME``, ``CONSUL_HTTP_AUTH``), and
    after them python-consul's defaults.  An explicit argument always wins.

    :param host: the agent's host (default ``'127.0.0.1'``).
    :param port: the agent's HTTP(S) port (default 8500).
    :param token: the default ACL token, sent only as ``X-Consul-Token``.
    :param scheme: ``'http'`` (default) or ``'https'``.
    :param consistency: default read mode: ``'default'``, ``'consistent'`` or
        ``'stale'``.
    :param dc: the default datacenter (the agent's own when ``None``).
    :param verify: ``True`` (system trust store), ``False`` (no
        verification) or the path of a CA bundle.
    :param cert: a client certificate: one PEM path holding certificate and
        key, or a ``(certfile, keyfile)`` tuple.
    :param reactor: the reactor (or a ``Clock`` in tests) used for timeouts
        and connections; the global reactor when ``None``.
    :param http_agent: an ``IAgent`` to send requests through instead of the
        client's own pool: a small adapter for a twisted.web agent you
        already have.  The response limits below then do not apply.
    :param endpoint: an ``IStreamClientEndpoint`` the client's pool connects
        with instead of one built from host, port and scheme (``host``
        still names the agent in the ``Host`` header and in errors).
    :param timeout: seconds before a non-blocking call fails with
        :class:`~txconsul.Timeout` (``None``: never).  Blocking calls time out
        after ``wait + wait/16 + 5s``.
    :param pool_size: most idle persistent connections kept.
    :param tls_server_name: the host name to verify the server certificate
        against, when it differs from ``host``.
    :param environ: the environment to read instead of ``os.environ``.
    :param max_response_body: largest answer body in bytes (64 MiB);
        bigger ones fail with :class:`~txconsul.ResponseTooLarge`, refused
        from ``Content-Length`` before any body byte is read.
    :param max_header_bytes: largest status line plus headers (64 KiB).
    :param max_trailer_bytes: largest chunked framing overhead plus
        trailers (16 KiB).
    :param max_interim_responses: most ``1xx`` answers before the real one (5).
    :param max_connections: most connections open to the agent at once
        (100; Consul refuses more than 200 per client address by default).
        Calls beyond it wait in a queue.
    :param reserved_connections: of those, how many only non-blocking calls
        may use (20), so that long polls cannot starve short calls.
    :param tls_handshake_timeout: seconds a TLS handshake may go unanswered
        before the call fails with :class:`~txconsul.TLSMismatch` (10).

    See docs/errors-and-timeouts.md for why each default is what it is.
    """

    #: Builders of check definitions, as python-consul's ``Consul.Check``.
    Check = Check

    def __init__(
        self,
        host: Optional[str] = None,
        port: Optional[int] = None,
        token: Optional[str] = None,
        scheme: Optional[str] = None,
        consistency: str = "default",
        dc: Optional[str] = None,
        verify: Optional[VerifyLike] = None,
        cert: CertLike = None,
        *,
        reactor: Optional[IReactorTime] = None,
        http_agent: Optional[IAgent] = None,
        timeout: Optional[float] = 30.0,
        pool_size: int = 64,
        tls_server_name: Optional[str] = None,
        environ: Optional[Mapping[str, str]] = None,
        endpoint: Optional[IStreamClientEndpoint] = None,
        max_response_body: int = DEFAULT_MAX_BODY,
        max_header_bytes: int = DEFAULT_MAX_HEAD,
        max_trailer_bytes: int = DEFAULT_MAX_TRAILER,
        max_interim_responses: int = DEFAULT_MAX_INTERIM,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        reserved_connections: int = DEFAULT_RESERVED_CONNECTIONS,
        tls_handshake_timeout: Optional[float] = DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    ) -> None:
        check_consistency(consistency)
        if consistency is None:
            consistency = "default"
        if timeout is not None and timeout <= 0:
            raise ValueError(f"invalid timeout {timeout!r}: must be > 0 or None")
        limits = Limits(max_response_body, max_header_bytes, max_trailer_bytes, max_interim_responses)
        config = resolve_config(
            host=host,
            port=port,
            token=token,
            scheme=scheme,
            verify=verify,
            cert=cert,
            tls_server_name=tls_server_name,
            environ=environ,
        )
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.config = config
        if http_agent is not None and endpoint is not None:
            raise TypeError("give http_agent or endpoint, not both")
        own_endpoint = http_agent is None and endpoint is None
        if own_endpoint:
            from ._tls import client_endpoint

            endpoint = client_endpoint(reactor, config)
        self.http = HTTPTransport(
            config.base_url,
            reactor=reactor,
            agent=http_agent,
            address=config.address,
            token=config.token,
            dc=dc,
            consistency=consistency,
            timeout=timeout,
            pool_size=pool_size,
            endpoint=endpoint,
            host_header="localhost" if config.unix_path is not None else None,
            basic_auth=config.basic_auth,
            limits=limits,
            max_connections=max_connections,
            reserved_connections=reserved_connections,
            tls=own_endpoint and config.scheme == "https" and config.unix_path is None,
            tls_handshake_timeout=tls_handshake_timeout,
        )
        #: The KV store (:class:`txconsul.api.kv.KV`).
        self.kv = KV(self.http)
        #: Transactions (:class:`txconsul.api.txn.Txn`).
        self.txn = Txn(self.http)
        #: Raft status (:class:`txconsul.api.status.Status`).
        self.status = Status(self.http)
        #: Sessions (:class:`txconsul.api.session.Session`).
        self.session = Session(self.http)
        #: The local agent (:class:`txconsul.api.agent.Agent`).
        self.agent = Agent(self.http)
        #: The catalog (:class:`txconsul.api.catalog.Catalog`).
        self.catalog = Catalog(self.http)
        #: Health checks (:class:`txconsul.api.health.Health`).
        self.health = Health(self.http)
        #: ACLs, legacy and current (:class:`txconsul.api.acl.ACL`).
        self.acl = ACL(self.http)
        #: User events (:class:`txconsul.api.event.Event`).
        self.event = Event(self.http)
        #: Prepared queries (:class:`txconsul.api.query.Query`).
        self.query = Query(self.http)
        #: Network coordinates (:class:`txconsul.api.coordinate.Coordinate`).
        self.coordinate = Coordinate(self.http)
        #: Operator endpoints (:class:`txconsul.api.operator.Operator`).
        self.operator = Operator(self.http)
        #: Config entries, also answering the resolved settings (:class:`txconsul.api.config.ConfigEntries`).
        self.config = ConfigEntries(self.http, config)  # type: ignore[assignment]
        #: Compiled discovery chains (:class:`txconsul.api.config.DiscoveryChain`).
        self.discovery_chain = DiscoveryChain(self.http)
        #: Connect CA and intentions (:class:`txconsul.api.connect.Connect`).
        self.connect = Connect(self.http)
        #: Snapshot save and restore (:class:`txconsul.api.snapshot.Snapshot`).
        self.snapshot = Snapshot(self.http)

    @property
    def reactor(self) -> IReactorTime:
        """The reactor (or clock) this client schedules timeouts on."""
        return self.http.clock

    @property
    def token(self) -> Optional[str]:
        """
        The default ACL token (never shown in ``repr``).  It may be assigned
        (a rotated token, say); every assignment is validated like the
        constructor's ``token``, and ``''`` or ``None`` means no token.
        """
        return self.http.token

    @token.setter
    def token(self, value: Optional[str]) -> None:
        self.http.token = value

    @property
    def dc(self) -> Optional[str]:
        """The default datacenter, or ``None`` for the agent's own."""
        return self.http.dc

    @property
    def consistency(self) -> str:
        """The default read consistency mode."""
        return self.http.consistency

    def close(self) -> "Deferred[None]":
        """Close pooled connections and cancel open streams; fires when they are closed."""
        return self.http.close()

    def __repr__(self) -> str:
        token = "set" if self.http.token else "none"
        return f"<txconsul.Consul {self.config.base_url} token={token}>"

    def request(
        self,
        method: str,
        path: str,
        params: Any = None,
        *,
        body: Optional[bytes] = None,
        json: Any = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        consistency: Optional[str] = None,
        index: Any = None,
        wait: Any = None,
        expect: Any = (200,),
    ) -> "Deferred[Any]":
        """
        Send any request to the agent, for endpoints no group wraps yet;
        fires with a :class:`~txconsul._http.ConsulResponse` (``.code``,
        ``.body``, ``.json()``, ``.meta``).

        The client's token (``X-Consul-Token``), ``dc``, consistency,
        timeouts and errors apply as for every other call: a status outside
        ``expect`` raises the matching :class:`~txconsul.ConsulException`.

        :param method: ``'GET'``, ``'PUT'``, ``'POST'`` or ``'DELETE'``.
        :param path: the already-escaped path, starting with ``/v1/``.
        :param params: query parameters: ``[(name, value)]`` or a dict; a
            ``None`` value sends a bare flag.
        :param body: raw body bytes; or ``json``: an object sent as JSON
            (``None``: no body; send ``body=b'null'`` for a JSON null).
        :param index: a blocking index (with ``wait``).
        :param expect: the statuses that are answers rather than errors.
        """
        from .api.raw import raw_request

        kwargs: dict[str, Any] = {}
        if json is not None:
            kwargs["json"] = json
        return raw_request(
            self.http,
            method,
            path,
            params,
            body=body,
            token=token,
            dc=dc,
            consistency=consistency,
            index=index,
            wait=wait,
            expect=expect,
            **kwargs,
        )
