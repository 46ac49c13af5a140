"""
The bases of every integration test: a client talking HTTP over TCP.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Optional

from twisted.internet import reactor
from twisted.trial.unittest import SkipTest, TestCase
from twisted.web.server import Site

from txconsul import Consul
from txconsul.testing import FakeConsul


class QuietSite(Site):
    """A Site without access logs."""

    def log(self, request: Any) -> None:
        """Log nothing."""


class _AgentCase(TestCase):
    """
    Gives each test ``self.consul`` (a client on the real reactor) and
    ``self.prefix``, a unique KV prefix that keeps tests apart.
    """

    fake: Optional[FakeConsul] = None
    #: FakeConsul keyword arguments (e.g. ``{"acl_master_token": "root"}``).
    fake_kwargs: dict[str, Any] = {}

    def setUp(self) -> Any:
        self.prefix = f"txconsul-it/{uuid.uuid4().hex[:12]}/"
        self.consul = self.make_client()

    def make_client(self, **kwargs: Any) -> Consul:
        """A client for the agent under test (closed at cleanup)."""
        raise NotImplementedError

    def need_fake(self) -> FakeConsul:
        """Skip unless running against FakeConsul; return it."""
        if self.fake is None:
            raise SkipTest("needs FakeConsul's controls")
        return self.fake


class FakeAgentCase(_AgentCase):
    """Runs against a FakeConsul served on 127.0.0.1 in this process."""

    def setUp(self) -> Any:
        self.fake = FakeConsul(reactor, reactor=reactor, **self.fake_kwargs)
        self.addCleanup(self.fake.agent_state.stop)
        self.port = reactor.listenTCP(0, QuietSite(self.fake.resource()), interface="127.0.0.1")
        self.addCleanup(self.port.stopListening)
        self.address = ("127.0.0.1", self.port.getHost().port)
        return super().setUp()

    def make_client(self, **kwargs: Any) -> Consul:
        """A client for this FakeConsul (closed at cleanup)."""
        host, port = self.address
        kwargs.setdefault("environ", {})
        c = Consul(host, port, reactor=reactor, **kwargs)
        self.addCleanup(c.close)
        return c


class RealAgentCase(_AgentCase):
    """Runs against the real agent at ``CONSUL_HTTP_ADDR`` (else skipped)."""

    def setUp(self) -> Any:
        if not os.environ.get("CONSUL_HTTP_ADDR"):
            raise SkipTest("CONSUL_HTTP_ADDR is not set: no real Consul agent to test against")
        result = super().setUp()
        self.addCleanup(self.consul.kv.delete, self.prefix, recurse=True)
        return result

    def make_client(self, **kwargs: Any) -> Consul:
        """A client configured from the environment (closed at cleanup)."""
        c = Consul(reactor=reactor, **kwargs)
        self.addCleanup(c.close)
        return c
