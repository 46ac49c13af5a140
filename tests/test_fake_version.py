"""
The Consul release FakeConsul answers as: the current line by default, 1.10
with ``legacy_acl=True`` (txconsul.testing._version).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import NotFound
from txconsul.testing import FakeConsul
from txconsul.testing._version import CURRENT, LEGACY_ACL


class VersionTests(SynchronousTestCase):
    """Where the version shows, in each profile."""

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)

    def test_current_release(self) -> None:
        """agent/self Config.Version, the member's build tag and the node's consul-version meta agree."""
        fake = FakeConsul(Clock(), seed=1)
        consul = fake.client()
        me = self.ok(consul.agent.self())
        self.assertEqual(me["Config"]["Version"], CURRENT.version)
        self.assertEqual(fake.version, CURRENT.version)
        self.assertEqual(me["Member"]["Tags"]["build"], f"{CURRENT.version}:fake")
        self.assertEqual(me["Meta"]["consul-version"], CURRENT.version)
        _, node = self.ok(consul.catalog.node(fake.core.node_name))
        self.assertEqual(node["Node"]["Meta"]["consul-version"], CURRENT.version)
        self.assertEqual(CURRENT.version.split(".")[:2], ["2", "1"])

    def test_raft_configuration_index(self) -> None:
        """The raft configuration's Index is 0 on the current release, 1 on 1.10."""
        for legacy, index in ((False, 0), (True, 1)):
            fake = FakeConsul(Clock(), legacy_acl=legacy)
            response = self.ok(fake.client().http.request("GET", "/v1/operator/raft/configuration"))
            self.assertEqual(response.json()["Index"], index)

    def test_legacy_profile(self) -> None:
        """legacy_acl=True is Consul 1.10: its version, no consul-version node meta, the legacy API routed."""
        fake = FakeConsul(Clock(), legacy_acl=True, acl_master_token="root")
        consul = fake.client(token="root")
        me = self.ok(consul.agent.self())
        self.assertEqual(me["Config"]["Version"], LEGACY_ACL.version)
        self.assertTrue(LEGACY_ACL.version.startswith("1.10."))
        self.assertNotIn("consul-version", me["Meta"])
        self.assertIsInstance(self.ok(consul.acl.list()), list)
        _, me_token = self.ok(consul.acl.token.read_self())
        self.assertEqual(me_token["Description"], "Master Token")
        current = FakeConsul(Clock(), acl_master_token="root").client(token="root")
        self.failureResultOf(current.acl.list(), NotFound)


class ConstructorTests(SynchronousTestCase):
    """The ACL arguments of FakeConsul."""

    def test_initial_management_token_alias(self) -> None:
        """acl_initial_management_token is acl_master_token's current name; two different tokens are refused."""
        fake = FakeConsul(Clock(), acl_initial_management_token="root")
        self.assertTrue(fake.acl.enabled)
        self.assertIsNotNone(fake.acl.token_by_secret("root"))
        self.assertRaises(
            ValueError, FakeConsul, Clock(), acl_master_token="a", acl_initial_management_token="b"
        )
