"""
Tests for the Consul client object (txconsul.client): wiring, defaults and
construction-time validation.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import Consul
from txconsul.api.check import Check

from .fakecase import FakeConsulCase

GROUPS = (
    "kv",
    "txn",
    "status",
    "session",
    "agent",
    "catalog",
    "health",
    "acl",
    "event",
    "query",
    "coordinate",
    "operator",
)


class WiringTests(FakeConsulCase):
    """One transport under every endpoint group; defaults reach the requests."""

    def test_groups_share_one_transport(self) -> None:
        """Every endpoint group (and sub-group) sends through the client's transport."""
        groups = [getattr(self.consul, name) for name in GROUPS]
        groups += [
            self.consul.agent.service,
            self.consul.agent.check,
            self.consul.acl.token,
            self.consul.acl.policy,
            self.consul.acl.role,
        ]
        for group in groups:
            self.assertIs(group._transport, self.consul.http, group)

    def test_defaults_exposed(self) -> None:
        """token, dc, consistency and reactor read back what the client was built with."""
        c = self.fake.client(token="t", dc="dc1", consistency="stale")
        self.assertEqual((c.token, c.dc, c.consistency, c.reactor), ("t", "dc1", "stale", self.clock))

    def test_default_dc_applies(self) -> None:
        """A client built for another datacenter sends dc= with every call."""
        other = self.fake.client(dc="elsewhere")
        f = self.failureResultOf(other.kv.get("k"))
        self.assertIn("No path to datacenter", str(f.value))
        self.assertIsNone(self.ok(self.consul.kv.get("k"))[1])

    def test_close_fires(self) -> None:
        """close() returns a Deferred that fires once pooled connections are closed."""
        self.assertIsNone(self.successResultOf(self.consul.close()))

    def test_check_builders_on_class(self) -> None:
        """Consul.Check is the check-definition builder class, as in python-consul."""
        self.assertIs(Consul.Check, Check)


class ConstructionTests(SynchronousTestCase):
    """Bad arguments are refused when the client is built."""

    def test_bad_consistency(self) -> None:
        """An unknown consistency mode is a ValueError naming it."""
        e = self.assertRaises(ValueError, Consul, consistency="sometimes", reactor=Clock(), environ={})
        self.assertIn("sometimes", str(e))

    def test_bad_timeout(self) -> None:
        """A timeout that is not positive is a ValueError."""
        self.assertRaises(ValueError, Consul, timeout=0, reactor=Clock(), environ={})
