"""
Tests for config entries and discovery chains: the client
(txconsul.api.config) against FakeConsul, in memory.
"""

from __future__ import annotations

from txconsul import ACLPermissionDenied, BadRequest, ConsulException, NotFound, QueryMeta

from .modern_case import ACLModernCase, ModernCase


class ConfigEntryTests(ModernCase):
    """set, get, list and delete, with cas."""

    def test_set_get(self) -> None:
        """A stored entry comes back with its kind, name, fields, Consul's empty structs and indexes."""
        self.assertIs(self.ok(self.consul.config.set("service-defaults", "web", {"Protocol": "http"})), True)
        entry = self.ok(self.consul.config.get("service-defaults", "web"))
        self.assertEqual(
            (entry["Kind"], entry["Name"], entry["Protocol"]), ("service-defaults", "web", "http")
        )
        self.assertEqual((entry["MeshGateway"], entry["Expose"], entry["TransparentProxy"]), ({}, {}, {}))
        self.assertEqual(entry["CreateIndex"], entry["ModifyIndex"])

    def test_get_missing(self) -> None:
        """A missing entry is NotFound with Consul's text."""
        err = self.fails(self.consul.config.get("service-defaults", "nope"), NotFound)
        self.assertIn('Config entry not found for "service-defaults" / "nope"', str(err))

    def test_replace_keeps_create_index(self) -> None:
        """Replacing an entry moves ModifyIndex only."""
        self.ok(self.consul.config.set("service-defaults", "web", {"Protocol": "http"}))
        first = self.ok(self.consul.config.get("service-defaults", "web"))
        self.ok(self.consul.config.set("service-defaults", "web", {"Protocol": "grpc"}))
        second = self.ok(self.consul.config.get("service-defaults", "web"))
        self.assertEqual(second["CreateIndex"], first["CreateIndex"])
        self.assertGreater(second["ModifyIndex"], first["ModifyIndex"])
        self.assertEqual(second["Protocol"], "grpc")

    def test_cas(self) -> None:
        """set with cas writes only at the current ModifyIndex (0: only a new entry)."""
        c = self.consul.config
        self.assertIs(self.ok(c.set("service-defaults", "web", {}, cas=0)), True)
        self.assertIs(self.ok(c.set("service-defaults", "web", {}, cas=0)), False)
        index = self.ok(c.get("service-defaults", "web"))["ModifyIndex"]
        self.assertIs(self.ok(c.set("service-defaults", "web", {"Protocol": "http"}, cas=index + 1)), False)
        self.assertIs(self.ok(c.set("service-defaults", "web", {"Protocol": "http"}, cas=index)), True)
        self.assertRaises(ValueError, c.set, "service-defaults", "web", {}, cas=-1)

    def test_delete(self) -> None:
        """delete fires True, present or not; with cas it fires whether it deleted."""
        c = self.consul.config
        self.assertIs(self.ok(c.delete("service-defaults", "nope")), True)
        self.ok(c.set("service-defaults", "web", {}))
        index = self.ok(c.get("service-defaults", "web"))["ModifyIndex"]
        self.assertIs(self.ok(c.delete("service-defaults", "web", cas=index + 5)), False)
        self.assertIs(self.ok(c.delete("service-defaults", "web", cas=index)), True)
        self.fails(c.get("service-defaults", "web"), NotFound)

    def test_list(self) -> None:
        """list gives a kind's entries by name, and [] for none."""
        self.assertEqual(self.ok(self.consul.config.list("service-resolver")), [])
        for name in ("b", "a"):
            self.ok(self.consul.config.set("service-defaults", name, {}))
        self.ok(self.consul.config.set("proxy-defaults", "global", {"Config": {"protocol": "http"}}))
        self.assertEqual(
            [e["Name"] for e in self.ok(self.consul.config.list("service-defaults"))], ["a", "b"]
        )

    def test_list_blocks(self) -> None:
        """A blocking list answers when an entry of the kind changes, and times out otherwise."""
        qm, entries = self.ok(self.consul.config.list("service-defaults", meta=True))
        self.assertIsInstance(qm, QueryMeta)
        d = self.consul.config.list("service-defaults", index=qm, wait="30s", meta=True)
        self.assertNoResult(d)
        self.ok(self.consul.config.set("service-defaults", "web", {}))
        qm2, entries = self.ok(d)
        self.assertGreater(qm2.index, qm.index)
        self.assertEqual([e["Name"] for e in entries], ["web"])
        d = self.consul.config.get("service-defaults", "web", index=qm2.index, wait="30s")
        self.assertNoResult(d)
        self.clock.advance(40)
        self.assertEqual(self.ok(d)["Name"], "web")

    def test_fixed_names(self) -> None:
        """proxy-defaults must be named global and mesh mesh (Consul's 500 text)."""
        err = self.fails(self.consul.config.set("proxy-defaults", "other", {}), ConsulException)
        self.assertIn('invalid name ("other"), only "global" is supported', str(err))
        self.ok(self.consul.config.set("mesh", "mesh", {"TransparentProxy": {"MeshDestinationsOnly": True}}))

    def test_bad_kind(self) -> None:
        """An unknown kind is a 400 on write and a 500 on read, as in Consul."""
        err = self.fails(self.consul.config.set("gizmo", "x", {}), BadRequest)
        self.assertIn("invalid config entry kind: gizmo", str(err))
        self.fails(self.consul.config.get("gizmo", "x"), ConsulException)
        d = self.consul.request("PUT", "/v1/config", json={"Name": "x"})
        self.assertIn("does not contain a kind/Kind key", str(self.fails(d, BadRequest)))

    def test_field_shapes(self) -> None:
        """Fields of the wrong JSON type are Consul's 400 decoding error, before anything is stored."""
        err = self.fails(
            self.consul.config.set("ingress-gateway", "i", {"Listeners": [{"Port": "x"}]}), BadRequest
        )
        self.assertIn("'Listeners[0].Port' expected type 'int'", str(err))
        err = self.fails(
            self.consul.config.set("service-resolver", "r", {"ConnectTimeout": "soon"}), BadRequest
        )
        self.assertIn('time: invalid duration "soon"', str(err))
        self.assertEqual(self.fake.config_entries.entries, {})

    def test_settings_still_answer(self) -> None:
        """consul.config still answers the resolved connection settings."""
        self.assertEqual(self.consul.config.base_url, self.consul.config.settings.base_url)
        self.assertEqual(self.consul.config.scheme, "http")
        self.assertRaises(AttributeError, getattr, self.consul.config, "no_such_setting")


class ConfigEntryACLTests(ACLModernCase):
    """ACLs by kind."""

    def test_service_kinds(self) -> None:
        """service-defaults need service:write to write and service:read to read."""
        reader = self.client('service "web" { policy = "read" }')
        self.fails(reader.config.set("service-defaults", "web", {}), ACLPermissionDenied)
        self.ok(self.root.config.set("service-defaults", "web", {}))
        self.ok(self.root.config.set("service-defaults", "api", {}))
        self.ok(reader.config.get("service-defaults", "web"))
        self.fails(reader.config.get("service-defaults", "api"), ACLPermissionDenied)
        self.assertEqual([e["Name"] for e in self.ok(reader.config.list("service-defaults"))], ["web"])

    def test_global_kinds(self) -> None:
        """proxy-defaults are readable by anyone and written with operator (mesh) write."""
        self.ok(self.root.config.set("proxy-defaults", "global", {}))
        self.ok(self.client().config.get("proxy-defaults", "global"))
        self.fails(
            self.client('operator = "read"').config.set("proxy-defaults", "global", {}), ACLPermissionDenied
        )
        self.ok(self.client('operator = "write"').config.set("proxy-defaults", "global", {}))


class DiscoveryChainTests(ModernCase):
    """discovery_chain.get."""

    def test_default_chain(self) -> None:
        """Without entries the chain is one default resolver to one tcp target."""
        chain = self.ok(self.consul.discovery_chain.get("web"))["Chain"]
        target = "web.default.default.dc1"
        self.assertEqual((chain["ServiceName"], chain["Protocol"], chain["Default"]), ("web", "tcp", True))
        self.assertEqual(chain["StartNode"], "resolver:" + target)
        node = chain["Nodes"]["resolver:" + target]
        self.assertEqual(node["Resolver"], {"ConnectTimeout": "5s", "Default": True, "Target": target})
        td = self.ok(self.consul.connect.ca.roots())["TrustDomain"]
        self.assertEqual(chain["Targets"][target]["SNI"], f"web.default.dc1.internal.{td}")

    def test_entries_shape_chain(self) -> None:
        """service-defaults set the protocol, a service-resolver the connect timeout."""
        self.ok(self.consul.config.set("service-defaults", "web", {"Protocol": "http"}))
        self.ok(self.consul.config.set("service-resolver", "web", {"ConnectTimeout": "15s"}))
        chain = self.ok(self.consul.discovery_chain.get("web"))["Chain"]
        self.assertEqual((chain["Protocol"], chain["Default"]), ("http", False))
        node = chain["Nodes"][chain["StartNode"]]
        self.assertEqual((node["Resolver"]["ConnectTimeout"], node["Resolver"]["Default"]), ("15s", False))
        self.ok(self.consul.config.delete("service-resolver", "web"))
        chain = self.ok(self.consul.discovery_chain.get("web"))["Chain"]
        self.assertEqual((chain["Protocol"], chain["Default"]), ("http", True))

    def test_overrides_post(self) -> None:
        """Overrides are sent as a POST and change the compiled chain."""
        chain = self.ok(
            self.consul.discovery_chain.get(
                "web", override_protocol="grpc", override_connect_timeout="2000ms"
            )
        )["Chain"]
        self.assertEqual(chain["Protocol"], "grpc")
        self.assertEqual(chain["Targets"]["web.default.default.dc1"]["ConnectTimeout"], "2s")
        d = self.consul.discovery_chain.get("web", override_mesh_gateway_mode="sideways")
        self.assertIn("Invalid OverrideMeshGateway.Mode parameter", str(self.fails(d, BadRequest)))
        self.assertRaises(
            ValueError, self.consul.discovery_chain.get, "web", override_protocol="grpc", index=3
        )

    def test_blocks_on_entries(self) -> None:
        """A blocking chain read answers when a config entry changes."""
        qm, _ = self.ok(self.consul.discovery_chain.get("web", meta=True))
        d = self.consul.discovery_chain.get("web", index=qm, meta=True)
        self.assertNoResult(d)
        self.ok(self.consul.config.set("service-defaults", "web", {"Protocol": "http2"}))
        self.assertEqual(self.ok(d)[1]["Chain"]["Protocol"], "http2")

    def test_compile_dc(self) -> None:
        """compile-dc names the targets' datacenter."""
        chain = self.ok(self.consul.discovery_chain.get("web", compile_dc="dc2"))["Chain"]
        self.assertIn("web.default.default.dc2", chain["Targets"])


class DiscoveryChainACLTests(ACLModernCase):
    """The chain needs service:read."""

    def test_needs_service_read(self) -> None:
        """Without service:read on the service, the chain is 403."""
        self.fails(self.client().discovery_chain.get("web"), ACLPermissionDenied)
        self.ok(self.client('service "web" { policy = "read" }').discovery_chain.get("web"))
