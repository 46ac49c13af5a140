"""
Shared bases for the tests of Consul's newer endpoints (tests.test_api_modern_*).
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.task import Clock

from txconsul.testing import FakeConsul

from .fakecase import FakeConsulCase

ROOT = "root-secret-0000"


def put_service(
    fake: FakeConsul,
    sid: str,
    name: str,
    *,
    node: Optional[str] = None,
    kind: str = "",
    proxy: Optional[dict[str, Any]] = None,
    connect: Optional[dict[str, Any]] = None,
    tags: Optional[list[str]] = None,
) -> None:
    """
    Put a service into the fake's catalog with the mesh fields (``Kind``,
    ``Proxy``, ``Connect``) that registration keeps, and wake watchers.
    """
    node = node or fake.core.node_name
    idx = fake.core.next_index()
    fake.catalog.set_service(node, {"ID": sid, "Service": name, "Tags": tags or [], "Port": 21000}, idx)
    svc = fake.catalog.services[(node, sid)]
    if kind:
        svc["Kind"] = kind
    if proxy is not None:
        svc["Proxy"] = proxy
    if connect is not None:
        svc["Connect"] = connect
    fake.changed()


class ModernCase(FakeConsulCase):
    """A seeded FakeConsul on a Clock, with ``self.consul`` talking to it in memory."""

    seed = 11

    def fails(self, d: Any, exc: type) -> Any:
        """The exception an already-failed Deferred carries (checking its type)."""
        return self.failureResultOf(d, exc).value


class ACLModernCase(ModernCase):
    """A FakeConsul with ACLs (default deny) and a management client ``self.root``."""

    default_policy = "deny"

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(
            self.clock, seed=11, acl_master_token=ROOT, acl_default_policy=self.default_policy
        )
        self.root = self.fake.client(token=ROOT)
        self.consul = self.root

    def token_with(self, rules: str) -> str:
        """The secret of a new token holding one policy with these rules."""
        n = len(self.fake.acl.policies)
        self.ok(self.root.acl.policy.create(f"p{n}", rules=rules))
        return self.ok(self.root.acl.token.create(policies=[f"p{n}"]))["SecretID"]

    def client(self, rules: Optional[str] = None) -> Any:
        """A client whose token holds ``rules`` (anonymous when ``None``)."""
        return self.fake.client(token=self.token_with(rules) if rules is not None else None)
