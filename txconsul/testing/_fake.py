# -*- test-case-name: tests.test_fake -*-
"""
:class:`FakeConsul`: an in-memory Consul agent for tests and development.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any, Optional, Protocol

from treq.testing import RequestTraversalAgent
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.python.failure import Failure

from ._acl import ACLSystem
from ._agent import AgentPart
from ._catalog import CatalogPart
from ._coordinate import CoordinatePart
from ._core import FakeCore, FakeResource, Route
from ._event import EventPart
from ._journal import RecordedRequest
from ._version import CURRENT, LEGACY_ACL
from ._kv import KVPart
from ._memory import MemoryEndpoint
from ._operator import OperatorPart
from ._query import QueryPart
from ._session import SessionPart
from ._status import StatusPart
from ._txn import TxnPart
from ._modern import install as install_modern_parts


class _Part(Protocol):
    """What FakeConsul needs of each part: its routes."""

    def routes(self) -> list[Route]:
        """The routes the part serves."""
        ...


class MemoryAgent(RequestTraversalAgent):
    """
    treq's in-memory agent, pumped until quiet after every request and
    whenever the fake answers a waiting (blocking) request, so a test never
    has to call ``flush()`` itself.
    """

    def __init__(self, resource: Any) -> None:
        super().__init__(resource)
        self._flushing = False
        self._again = False

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
        """Issue the request in memory and pump it through the fake."""
        inner = super().request(method, uri, headers, bodyProducer)
        self.flush()

        def cancel(outer: Deferred) -> None:
            inner.cancel()
            self.flush()

        outer: Deferred = Deferred(cancel)

        def relay(result: Any) -> None:
            if not outer.called:
                outer.callback(result) if not isinstance(result, Failure) else outer.errback(result)

        inner.addBoth(relay)
        return outer

    def flush(self) -> None:
        """Move bytes both ways until no pump has anything left to move."""
        if self._flushing:
            self._again = True
            return
        self._flushing = True
        try:
            self._again = True
            while self._again:
                self._again = False
                super().flush()
        finally:
            self._flushing = False


class FakeConsul:
    """
    An in-memory Consul agent that answers like a single-node
    ``consul agent -dev``.  It is a test double, not a Consul.

    :param clock: drives blocking-query timeouts, session TTLs and lock
        delays (a new :class:`~twisted.internet.task.Clock` when ``None``).
    :param node_name: the agent's node name.
    :param datacenter: the agent's datacenter.
    :param address: the node address.
    :param acl_master_token: enables ACLs with this management token (the
        ``acl.tokens.initial_management`` of Consul's configuration, once
        ``acl_master_token``); ``acl_initial_management_token`` is the same.
    :param acl_default_policy: ``'allow'`` or ``'deny'``.
    :param enable_script_checks: let script (``Args``) checks run.
    :param min_check_interval: the shortest interval HTTP, TCP and script
        checks run at; Consul raises shorter ones to one second, and tests may
        lower it to run faster.
    :param reactor: the reactor HTTP and TCP checks connect with (checks
        only run when it is given); ``clock`` still schedules them.
    :param seed: seeds the generator of IDs and blocking jitter.
    :param node_id: the agent's node ID (a UUID; random when ``None``).
    :param node_meta: the agent's node metadata (``node_meta`` in Consul's
        configuration), beside the ``consul-*`` keys the agent sets itself.
    :param session_ttl_min: the smallest session TTL, in seconds (Consul's
        ``session_ttl_min`` server setting, 10 s by default).
    :param journal_size: how many requests :attr:`requests` keeps (the
        most recent; ``0`` keeps none).
    :param legacy_acl: answer as Consul 1.10 (see docs/testing.md): the
        legacy ``/v1/acl/create``... endpoints and 1.10's ACL texts.
    :param acl_enabled: ``True`` with no management token: ACLs on but not
        bootstrapped, a fresh cluster's state (``acl.bootstrap()`` works
        once).  By default ACLs are on exactly when a token is given.

    :ivar requests: the request journal: a ``deque`` of
        :class:`~txconsul.testing.RecordedRequest`, oldest first, of every
        request the HTTP resource received.
    """

    def __init__(
        self,
        clock: Any = None,
        *,
        node_name: str = "fake-consul",
        datacenter: str = "dc1",
        address: str = "127.0.0.1",
        acl_master_token: Optional[str] = None,
        acl_default_policy: str = "allow",
        enable_script_checks: bool = False,
        min_check_interval: float = 1.0,
        reactor: Any = None,
        seed: Optional[int] = None,
        node_id: Optional[str] = None,
        node_meta: Optional[dict[str, str]] = None,
        session_ttl_min: float = 10.0,
        journal_size: int = 1000,
        legacy_acl: bool = False,
        acl_enabled: Optional[bool] = None,
        acl_initial_management_token: Optional[str] = None,
    ) -> None:
        self.clock = clock if clock is not None else Clock()
        self.requests: deque[RecordedRequest] = deque(maxlen=journal_size)
        self.core = core = FakeCore(
            self.clock,
            node_name,
            datacenter,
            address,
            random.Random(seed),
            reactor=reactor,
            enable_script_checks=enable_script_checks,
            min_check_interval=min_check_interval,
            profile=LEGACY_ACL if legacy_acl else CURRENT,
            node_id=node_id,
            node_meta=node_meta,
            session_ttl_min=session_ttl_min,
        )
        if acl_initial_management_token is not None:
            if acl_master_token is not None and acl_master_token != acl_initial_management_token:
                raise ValueError(
                    "acl_master_token and acl_initial_management_token are two names for one token; give one"
                )
            acl_master_token = acl_initial_management_token
        # Each part is given the peers it uses; a part that must hear of
        # changes in another (sessions of checks, KV and queries of sessions)
        # subscribes to it, so the dependencies only run one way.
        self.acl = ACLSystem(core, acl_master_token, acl_default_policy, enabled=acl_enabled)
        self.catalog = CatalogPart(core)
        self.status = StatusPart(core)
        self.agent_state = AgentPart(core, self.acl, self.catalog, self.status)
        self.sessions = SessionPart(core, self.acl, self.catalog)
        self.kv = KVPart(core, self.sessions)
        self.txn = TxnPart(core, self.catalog, self.kv)
        self.events = EventPart(core, self.catalog)
        self.queries = QueryPart(core, self.acl, self.catalog, self.sessions)
        self.coordinates = CoordinatePart(core, self.catalog)
        self.operator = OperatorPart(core, self.catalog)
        self._parts: list[_Part] = [
            self.acl,
            self.catalog,
            self.agent_state,
            self.sessions,
            self.kv,
            self.txn,
            self.status,
            self.events,
            self.queries,
            self.coordinates,
            self.operator,
        ]
        self._parts.extend(install_modern_parts(self, core))
        self.patterns: dict[str, Route] = {}
        for part in self._parts:
            for route in part.routes():
                self.patterns[route.pattern] = route
        self._prefixes = sorted((p for p in self.patterns if p.endswith("/")), key=len, reverse=True)

    @property
    def version(self) -> str:
        """The Consul version the fake answers as (``'2.1.0'``, ``'1.10.12'`` with ``legacy_acl``)."""
        return self.core.profile.version

    @property
    def index(self) -> int:
        """The current Raft-like index."""
        return self.core.index

    def match(self, path: str) -> Optional[Route]:
        """The route for ``path``, like Go's ``ServeMux``: exact, then longest prefix."""
        route = self.patterns.get(path)
        if route is not None:
            return route
        for prefix in self._prefixes:
            if path.startswith(prefix):
                return self.patterns[prefix]
        return None

    def resource(self) -> FakeResource:
        """A twisted.web resource serving this agent's HTTP API."""
        return FakeResource(self)

    def agent(self) -> MemoryAgent:
        """An in-memory ``IAgent`` (no sockets) talking to this agent."""
        agent = MemoryAgent(self.resource())
        self.core.add_async_listener(agent.flush)
        return agent

    def endpoint(self) -> MemoryEndpoint:
        """
        An in-memory ``IStreamClientEndpoint`` to this agent: real HTTP/1.1
        bytes, no sockets, pumped automatically.
        """
        return MemoryEndpoint(self.resource())

    def client(self, **kwargs: Any) -> Any:
        """
        A :class:`txconsul.Consul` wired to this agent in memory, on
        ``self.clock``.  Keyword arguments go to ``Consul``.

        Requests run through the client's own connection pool, request
        encoding and response parsing (the production path) over
        :meth:`endpoint`.  Pass ``http_agent=fake.agent()`` for the
        twisted.web ``IAgent`` adapter instead.
        """
        from txconsul import Consul

        kwargs.setdefault("reactor", self.clock)
        kwargs.setdefault("environ", {})
        if "http_agent" not in kwargs:
            kwargs.setdefault("endpoint", self.endpoint())
        return Consul(**kwargs)

    def changed(self) -> None:
        """
        Wake blocked queries after changing state directly (through a part's
        methods rather than the HTTP API), as a write through the API does.
        """
        self.core.changed()

    def pending_queries(self) -> int:
        """How many blocking queries are waiting for a change."""
        return self.core.pending_queries()
