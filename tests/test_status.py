"""
Tests for the Status endpoint (txconsul.api.status) against FakeConsul in memory.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ConsulException
from txconsul.testing import FakeConsul


class StatusTests(SynchronousTestCase):
    """status.leader() and status.peers()."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=1, address="10.1.2.3")
        self.consul = self.fake.client()

    def test_leader(self) -> None:
        """leader() fires with the server RPC address string."""
        self.assertEqual(self.successResultOf(self.consul.status.leader()), "10.1.2.3:8300")

    def test_peers(self) -> None:
        """peers() fires with a list of server addresses."""
        self.assertEqual(self.successResultOf(self.consul.status.peers()), ["10.1.2.3:8300"])

    def test_dc(self) -> None:
        """dc= reaches the agent: the local datacenter works, an unknown one fails."""
        self.assertEqual(self.successResultOf(self.consul.status.leader(dc="dc1")), "10.1.2.3:8300")
        f = self.failureResultOf(self.consul.status.peers(dc="nowhere"), ConsulException)
        self.assertIn("No path to datacenter", str(f.value))
        self.assertEqual(f.value.status, 500)

    def test_client_default_dc(self) -> None:
        """The client's default dc= applies to status calls too."""
        other = self.fake.client(dc="elsewhere")
        self.failureResultOf(other.status.leader(), ConsulException)
