"""
Consul's newer endpoints (Connect CA and leaf certificates, intentions,
config entries, discovery chains, agent version/metrics, autopilot, usage)
over real loopback TCP, against FakeConsul and (when CONSUL_HTTP_ADDR is
set) a real dev agent.
"""

from __future__ import annotations

import uuid
from typing import Any

from cryptography import x509
from twisted.internet.defer import inlineCallbacks

from txconsul import Consul, NotFound

from .base import FakeAgentCase, RealAgentCase


class ModernMixin:
    """The same tests for every agent."""

    consul: Consul

    def unique(self, what: str) -> str:
        """A name no other test uses."""
        return f"txconsul-it-{what}-{uuid.uuid4().hex[:8]}"

    @inlineCallbacks
    def test_roots_and_leaf(self) -> Any:
        """A dev agent serves an active CA root at once, and a leaf it signed."""
        roots = yield self.consul.agent.connect.ca.roots()
        active = [r for r in roots["Roots"] if r["ID"] == roots["ActiveRootID"]]
        self.assertEqual(len(active), 1)
        root = x509.load_pem_x509_certificate(active[0]["RootCert"].encode())
        service = self.unique("leaf")
        leaf = yield self.consul.agent.connect.ca.leaf(service)
        self.assertTrue(leaf["ServiceURI"].endswith("/svc/" + service))
        cert = x509.load_pem_x509_certificate(leaf["CertPEM"].encode())
        self.assertEqual(cert.issuer, root.subject)

    @inlineCallbacks
    def test_config_entry_cas(self) -> Any:
        """A service-defaults entry: set with cas 0, get, delete with its ModifyIndex."""
        name = self.unique("cfg")
        self.assertIs(
            (yield self.consul.config.set("service-defaults", name, {"Protocol": "http"}, cas=0)), True
        )
        entry = yield self.consul.config.get("service-defaults", name)
        self.assertEqual(entry["Protocol"], "http")
        self.assertIs(
            (yield self.consul.config.delete("service-defaults", name, cas=entry["ModifyIndex"])), True
        )
        yield self.assertFailure(self.consul.config.get("service-defaults", name), NotFound)

    @inlineCallbacks
    def test_intentions(self) -> Any:
        """An exact intention is read back, checked and deleted."""
        src, dst = self.unique("src"), self.unique("dst")
        yield self.consul.connect.intentions.upsert(src, dst, action="deny")
        ixn = yield self.consul.connect.intentions.read(src, dst)
        self.assertEqual((ixn["SourceName"], ixn["DestinationName"], ixn["Action"]), (src, dst, "deny"))
        self.assertIs((yield self.consul.connect.intentions.check(src, dst)), False)
        yield self.consul.connect.intentions.delete(src, dst)
        yield self.assertFailure(self.consul.connect.intentions.read(src, dst), NotFound)

    @inlineCallbacks
    def test_discovery_chain_default(self) -> Any:
        """A service without entries compiles to one tcp resolver."""
        name = self.unique("chain")
        chain = (yield self.consul.discovery_chain.get(name))["Chain"]
        dc = (yield self.consul.agent.self())["Config"]["Datacenter"]
        self.assertEqual(chain["Protocol"], "tcp")
        self.assertEqual(chain["StartNode"], f"resolver:{name}.default.default.{dc}")

    @inlineCallbacks
    def test_agent_and_operator_reads(self) -> Any:
        """version, metrics, autopilot configuration and usage answer in Consul's shapes."""
        version = yield self.consul.agent.version()
        self.assertTrue(version["HumanVersion"])
        metrics = yield self.consul.agent.metrics()
        self.assertIn("Gauges", metrics)
        config = yield self.consul.operator.autopilot_configuration()
        self.assertIn("CleanupDeadServers", config)
        usage = yield self.consul.operator.usage()
        self.assertTrue(usage["Usage"])


class ModernFakeTests(ModernMixin, FakeAgentCase):
    """Against FakeConsul on loopback."""

    def setUp(self) -> Any:
        result = super().setUp()
        assert self.fake is not None
        self.addCleanup(self.fake.connect.stop)
        return result


class ModernRealTests(ModernMixin, RealAgentCase):
    """Against a real agent (skipped without CONSUL_HTTP_ADDR)."""
