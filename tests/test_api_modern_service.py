"""
Tests for the service registration fields of Consul's newer versions (Kind,
Proxy, Connect and its SidecarService, Weights, TaggedAddresses, Locality,
SocketPath, ``?replace-existing-checks``, ``extra``) and for hash-based
blocking on ``agent.service.get`` -- the client against FakeConsul, in memory.
"""

from __future__ import annotations

from txconsul import ACLPermissionDenied, BadRequest, NotFound
from txconsul.api.agent import AgentService

from .modern_case import ACLModernCase, ModernCase


class RegisterFieldsTests(ModernCase):
    """The new keyword-only fields reach the body and come back from every view."""

    def test_body_has_every_field(self) -> None:
        """describe() shows each keyword as Consul's field, and the replace flag as a parameter."""
        req = AgentService.register.describe(
            None,
            "web",
            port=80,
            kind="",
            weights={"passing": 3, "warning": 2},
            tagged_addresses={"lan": {"Address": "10.0.0.1", "Port": 80}},
            locality={"Region": "r1", "Zone": "z1"},
            socket_path="/run/web.sock",
            replace_existing_checks=True,
            extra={"Ports": []},
        )
        body = req.json_body
        self.assertEqual(body["Weights"], {"Passing": 3, "Warning": 2})
        self.assertEqual(body["TaggedAddresses"]["lan"]["Address"], "10.0.0.1")
        self.assertEqual(body["Locality"], {"Region": "r1", "Zone": "z1"})
        self.assertEqual(body["SocketPath"], "/run/web.sock")
        self.assertEqual(body["Ports"], [])
        self.assertEqual(list(req.params), [("replace-existing-checks", "true")])

    def test_bad_arguments_refused_before_io(self) -> None:
        """Wrong types, bad weights and extra overriding a named field fail before any request."""
        register = self.consul.agent.service.register
        self.assertRaises(TypeError, register, "web", proxy=["x"])
        self.assertRaises(ValueError, register, "web", weights={"Passing": 0})
        self.assertRaises(ValueError, register, "web", weights={"Heavy": 1})
        self.assertRaises(TypeError, register, "web", weights={"Passing": "1"})
        self.assertRaises(ValueError, register, "web", port=80, extra={"Port": 81})
        self.assertRaises(TypeError, register, "web", tagged_addresses={"lan": "10.0.0.1"})
        self.assertEqual(self.ok(self.consul.agent.services()), {})

    def test_proxy_round_trips_everywhere(self) -> None:
        """A connect-proxy's Kind and Proxy come back from agent services, service, catalog and health."""
        proxy = {"DestinationServiceName": "web", "LocalServicePort": 8080, "Upstreams": []}
        self.ok(
            self.consul.agent.service.register(
                "web-proxy",
                port=21000,
                kind="connect-proxy",
                proxy=proxy,
                locality={"Region": "eu"},
            )
        )
        listed = self.ok(self.consul.agent.services())["web-proxy"]
        self.assertEqual(listed["Kind"], "connect-proxy")
        self.assertEqual(listed["Proxy"]["DestinationServiceName"], "web")
        self.assertEqual(listed["Proxy"]["LocalServicePort"], 8080)
        self.assertEqual(listed["Locality"], {"Region": "eu"})
        one = self.ok(self.consul.agent.service.get("web-proxy"))
        self.assertEqual(one["Kind"], "connect-proxy")
        self.assertEqual(one["Proxy"]["DestinationServiceName"], "web")
        _, nodes = self.ok(self.consul.catalog.service("web-proxy"))
        self.assertEqual(nodes[0]["ServiceKind"], "connect-proxy")
        self.assertEqual(nodes[0]["ServiceProxy"]["DestinationServiceName"], "web")
        self.assertEqual(nodes[0]["ServiceLocality"], {"Region": "eu"})
        _, health = self.ok(self.consul.health.service("web-proxy"))
        self.assertEqual(health[0]["Service"]["Kind"], "connect-proxy")
        self.assertEqual(health[0]["Service"]["Proxy"]["LocalServicePort"], 8080)
        # Registered so, the proxy is what catalog/connect finds for "web".
        _, connect = self.ok(self.consul.catalog.connect("web"))
        self.assertEqual([n["ServiceID"] for n in connect], ["web-proxy"])

    def test_typical_service_has_no_proxy(self) -> None:
        """A service without a kind shows no Kind/Proxy in the agent's view (buildAgentService)."""
        self.ok(self.consul.agent.service.register("web", port=80, socket_path="/run/web.sock"))
        listed = self.ok(self.consul.agent.services())["web"]
        self.assertNotIn("Kind", listed)
        self.assertNotIn("Proxy", listed)
        self.assertEqual(listed["SocketPath"], "/run/web.sock")
        _, nodes = self.ok(self.consul.catalog.service("web"))
        self.assertEqual(nodes[0]["ServiceSocketPath"], "/run/web.sock")

    def test_native_connect(self) -> None:
        """Connect.Native is kept: the agent shows it and catalog/connect lists the service."""
        self.ok(self.consul.agent.service.register("api", port=9000, connect={"Native": True}))
        self.assertEqual(self.ok(self.consul.agent.services())["api"]["Connect"], {"Native": True})
        _, connect = self.ok(self.consul.catalog.connect("api"))
        self.assertEqual([n["ServiceID"] for n in connect], ["api"])

    def test_weights_and_tagged_addresses(self) -> None:
        """Weights and TaggedAddresses come back as registered."""
        self.ok(
            self.consul.agent.service.register(
                "web",
                address="10.0.0.2",
                port=80,
                weights={"Passing": 5, "Warning": 0},
                tagged_addresses={"wan": {"Address": "1.2.3.4", "Port": 8080}},
            )
        )
        svc = self.ok(self.consul.agent.services())["web"]
        self.assertEqual(svc["Weights"], {"Passing": 5, "Warning": 0})
        self.assertEqual(svc["TaggedAddresses"]["wan"], {"Address": "1.2.3.4", "Port": 8080})

    def test_proxy_without_destination_refused(self) -> None:
        """A connect-proxy without Proxy.DestinationServiceName is a 400 naming the field."""
        err = self.fails(
            self.consul.agent.service.register("p", port=21000, kind="connect-proxy"), BadRequest
        )
        self.assertIn("Proxy.DestinationServiceName must be non-empty", str(err))

    def test_unknown_kind_refused(self) -> None:
        """A kind Consul does not know is refused, and nothing is registered."""
        self.fails(self.consul.agent.service.register("p", kind="teleporter"), BadRequest)
        self.assertEqual(self.ok(self.consul.agent.services()), {})

    def test_extra_reaches_the_fake(self) -> None:
        """extra fields are sent as given: the fake decodes them as Consul would (unknown -> 400)."""
        err = self.fails(self.consul.agent.service.register("web", extra={"Flavour": "x"}), BadRequest)
        self.assertIn("Flavour", str(err))
        self.ok(self.consul.agent.service.register("web", extra={"SocketPath": "/s"}))
        self.assertEqual(self.ok(self.consul.agent.services())["web"]["SocketPath"], "/s")

    def test_replace_existing_checks(self) -> None:
        """replace_existing_checks drops the checks the new definition does not name."""
        c = self.consul
        self.ok(c.agent.service.register("web", checks=[c.Check.ttl("10s"), c.Check.ttl("20s")]))
        self.assertEqual(len(self.ok(c.agent.checks())), 2)
        self.ok(c.agent.service.register("web", check=c.Check.ttl("10s")))
        self.assertEqual(len(self.ok(c.agent.checks())), 3)
        self.ok(c.agent.service.register("web", check=c.Check.ttl("10s"), replace_existing_checks=True))
        self.assertEqual(sorted(self.ok(c.agent.checks())), ["service:web"])


class CatalogRegisterFieldsTests(ModernCase):
    """/v1/catalog/register keeps the same fields for an external service."""

    def test_external_gateway(self) -> None:
        """A gateway registered in the catalog keeps its Kind, Proxy and Locality."""
        self.ok(
            self.consul.catalog.register(
                "ext",
                "10.0.0.9",
                service={
                    "Service": "mesh-gw",
                    "Kind": "mesh-gateway",
                    "Port": 8443,
                    "Proxy": {"Config": {"envoy_dns_discovery_type": "STRICT_DNS"}},
                    "Locality": {"Region": "eu"},
                },
            )
        )
        _, nodes = self.ok(self.consul.catalog.service("mesh-gw"))
        self.assertEqual(nodes[0]["ServiceKind"], "mesh-gateway")
        self.assertEqual(nodes[0]["ServiceProxy"]["Config"], {"envoy_dns_discovery_type": "STRICT_DNS"})
        self.assertEqual(nodes[0]["ServiceLocality"], {"Region": "eu"})


class SidecarTests(ModernCase):
    """Connect.SidecarService registers <id>-sidecar-proxy with Consul's defaults."""

    def test_defaults(self) -> None:
        """An empty SidecarService: kind, name, port 21000, destination, local address and two checks."""
        self.ok(
            self.consul.agent.service.register(
                "web",
                service_id="web-1",
                port=8080,
                tags=["v1"],
                meta={"team": "a"},
                connect={"SidecarService": {}},
            )
        )
        services = self.ok(self.consul.agent.services())
        self.assertEqual(sorted(services), ["web-1", "web-1-sidecar-proxy"])
        self.assertNotIn("Connect", services["web-1"])
        side = services["web-1-sidecar-proxy"]
        self.assertEqual(side["Kind"], "connect-proxy")
        self.assertEqual(side["Service"], "web-sidecar-proxy")
        self.assertEqual(side["Port"], 21000)
        self.assertEqual(side["Tags"], ["v1"])
        self.assertEqual(side["Meta"], {"team": "a"})
        proxy = side["Proxy"]
        self.assertEqual(proxy["DestinationServiceName"], "web")
        self.assertEqual(proxy["DestinationServiceID"], "web-1")
        self.assertEqual(proxy["LocalServiceAddress"], "127.0.0.1")
        self.assertEqual(proxy["LocalServicePort"], 8080)
        checks = self.ok(self.consul.agent.checks())
        side_checks = {k: v for k, v in checks.items() if v["ServiceID"] == "web-1-sidecar-proxy"}
        self.assertEqual(
            sorted(c["Name"] for c in side_checks.values()),
            ["Connect Sidecar Aliasing web-1", "Connect Sidecar Listening"],
        )
        self.assertEqual(
            sorted(side_checks), ["service:web-1-sidecar-proxy:1", "service:web-1-sidecar-proxy:2"]
        )
        self.assertEqual(checks["service:web-1-sidecar-proxy:1"]["Type"], "tcp")
        self.assertEqual(checks["service:web-1-sidecar-proxy:2"]["Type"], "alias")
        # The sidecar is what catalog/connect finds for the service.
        _, connect = self.ok(self.consul.catalog.connect("web"))
        self.assertEqual([n["ServiceID"] for n in connect], ["web-1-sidecar-proxy"])

    def test_ports_allocated_in_order_and_kept(self) -> None:
        """Each sidecar takes the lowest free port of the range; re-registering keeps its port."""
        for sid in ("a", "b"):
            self.ok(self.consul.agent.service.register(sid, port=80, connect={"SidecarService": {}}))
        services = self.ok(self.consul.agent.services())
        self.assertEqual(services["a-sidecar-proxy"]["Port"], 21000)
        self.assertEqual(services["b-sidecar-proxy"]["Port"], 21001)
        self.ok(self.consul.agent.service.register("b", port=81, connect={"SidecarService": {}}))
        self.assertEqual(self.ok(self.consul.agent.services())["b-sidecar-proxy"]["Port"], 21001)

    def test_given_fields_win(self) -> None:
        """A SidecarService's own port, checks and proxy settings override the defaults."""
        self.ok(
            self.consul.agent.service.register(
                "web",
                port=80,
                connect={
                    "SidecarService": {
                        "Port": 19000,
                        "Proxy": {"Upstreams": [{"DestinationName": "db", "LocalBindPort": 5432}]},
                        "Check": {"TTL": "30s"},
                    }
                },
            )
        )
        side = self.ok(self.consul.agent.services())["web-sidecar-proxy"]
        self.assertEqual(side["Port"], 19000)
        self.assertEqual(side["Proxy"]["Upstreams"][0]["DestinationName"], "db")
        self.assertEqual(side["Proxy"]["DestinationServiceName"], "web")
        checks = [
            c for c in self.ok(self.consul.agent.checks()).values() if c["ServiceID"] == "web-sidecar-proxy"
        ]
        self.assertEqual([c["Type"] for c in checks], ["ttl"])

    def test_deregister_takes_the_sidecar(self) -> None:
        """Deregistering the service removes its sidecar and the sidecar's checks."""
        self.ok(self.consul.agent.service.register("web", port=80, connect={"SidecarService": {}}))
        self.ok(self.consul.agent.service.deregister("web"))
        self.assertEqual(self.ok(self.consul.agent.services()), {})
        self.assertEqual(self.ok(self.consul.agent.checks()), {})

    def test_socket_path_is_the_local_service(self) -> None:
        """A service on a socket gives its sidecar LocalServiceSocketPath instead of an address."""
        self.ok(
            self.consul.agent.service.register(
                "web", socket_path="/run/web.sock", connect={"SidecarService": {}}
            )
        )
        proxy = self.ok(self.consul.agent.services())["web-sidecar-proxy"]["Proxy"]
        self.assertEqual(proxy["LocalServiceSocketPath"], "/run/web.sock")
        self.assertNotIn("LocalServiceAddress", proxy)

    def test_nested_sidecar_refused(self) -> None:
        """A SidecarService inside a SidecarService is a 400 and nothing is registered."""
        d = self.consul.agent.service.register(
            "web",
            port=80,
            connect={"SidecarService": {"Connect": {"SidecarService": {}}}},
        )
        self.assertIn("nested SidecarService", str(self.fails(d, BadRequest)))
        self.assertEqual(self.ok(self.consul.agent.services()), {})


class SidecarACLTests(ACLModernCase):
    """Registering a sidecar needs service:write on the sidecar's name too."""

    def test_sidecar_name_needs_write(self) -> None:
        """service "web" write alone is refused for a sidecar; with the sidecar's name it works."""
        only_web = self.client('service "web" { policy = "write" }')
        d = only_web.agent.service.register("web", port=80, connect={"SidecarService": {}})
        self.fails(d, ACLPermissionDenied)
        self.assertEqual(self.ok(self.root.agent.services()), {})
        both = self.client('service_prefix "web" { policy = "write" }')
        self.ok(both.agent.service.register("web", port=80, connect={"SidecarService": {}}))
        self.assertIn("web-sidecar-proxy", self.ok(self.root.agent.services()))


class HashBlockingTests(ModernCase):
    """agent.service.get(hash=...) blocks until the definition changes."""

    def test_hash_returned(self) -> None:
        """The definition carries ContentHash, stable while nothing changes."""
        self.ok(self.consul.agent.service.register("web", port=80))
        first = self.ok(self.consul.agent.service.get("web"))["ContentHash"]
        self.assertTrue(first)
        self.assertEqual(self.ok(self.consul.agent.service.get("web"))["ContentHash"], first)

    def test_blocks_until_change(self) -> None:
        """With the current hash the call waits; a change to the service wakes it with a new hash."""
        self.ok(self.consul.agent.service.register("web", port=80))
        h = self.ok(self.consul.agent.service.get("web"))["ContentHash"]
        d = self.consul.agent.service.get("web", hash=h, wait="1m")
        self.assertNoResult(d)
        self.ok(self.consul.agent.service.register("web", port=81))
        self.clock.advance(0)
        svc = self.successResultOf(d)
        self.assertEqual(svc["Port"], 81)
        self.assertNotEqual(svc["ContentHash"], h)

    def test_wait_expires_with_same_answer(self) -> None:
        """Without a change the call fires after wait (plus jitter) with the same hash."""
        self.ok(self.consul.agent.service.register("web", port=80))
        h = self.ok(self.consul.agent.service.get("web"))["ContentHash"]
        d = self.consul.agent.service.get("web", hash=h, wait="10s")
        self.clock.advance(9)
        self.assertNoResult(d)
        self.clock.advance(2)
        self.assertEqual(self.successResultOf(d)["ContentHash"], h)

    def test_default_wait_outlives_client_timeout(self) -> None:
        """With no wait, the call is still waiting after the client's 30 s timeout (Consul blocks 5 min)."""
        self.ok(self.consul.agent.service.register("web", port=80))
        h = self.ok(self.consul.agent.service.get("web"))["ContentHash"]
        d = self.consul.agent.service.get("web", hash=h)
        self.clock.advance(60)
        self.assertNoResult(d)
        self.clock.advance(300)
        self.assertEqual(self.successResultOf(d)["ContentHash"], h)

    def test_deregister_wakes_with_not_found(self) -> None:
        """Deregistering the service wakes a hash wait with NotFound."""
        self.ok(self.consul.agent.service.register("web", port=80))
        h = self.ok(self.consul.agent.service.get("web"))["ContentHash"]
        d = self.consul.agent.service.get("web", hash=h, wait="1m")
        self.ok(self.consul.agent.service.deregister("web"))
        self.clock.advance(0)
        self.failureResultOf(d, NotFound)

    def test_wait_needs_hash(self) -> None:
        """wait without hash is refused before any request: the read would not block."""
        self.assertRaises(ValueError, self.consul.agent.service.get, "web", wait="5s")
        self.assertRaises(TypeError, self.consul.agent.service.get, "web", hash=5)
