"""
Tests for Consul's newer agent and catalog endpoints: agent reload, metrics,
token, host and version; catalog/health connect, gateway services and ingress;
coordinate update; the raw ``Consul.request``; ``txconsul.Check`` -- the client
against FakeConsul, in memory.
"""

from __future__ import annotations

import txconsul
from txconsul import ACLDisabled, ACLPermissionDenied, BadRequest, ClientError, Consul, NotFound

from .modern_case import ACLModernCase, ModernCase, put_service


class AgentTests(ModernCase):
    """reload, metrics, host and version without ACLs."""

    def test_reload(self) -> None:
        """reload fires True and the fake counts it."""
        self.assertIs(self.ok(self.consul.agent.reload()), True)
        self.assertEqual(self.fake.agent_modern.reloads, 1)

    def test_metrics_json_follows_state(self) -> None:
        """metrics reports the fake's KV and catalog sizes as gauges, in DisplayMetrics' shape."""
        self.ok(self.consul.kv.put("a", b"1"))
        self.ok(self.consul.kv.put("b", b"2"))
        metrics = self.ok(self.consul.agent.metrics())
        self.assertEqual(set(metrics), {"Timestamp", "Gauges", "Points", "Counters", "Samples"})
        gauges = {g["Name"]: g["Value"] for g in metrics["Gauges"]}
        self.assertEqual(gauges["consul.state.kv_entries"], 2)
        self.assertEqual(gauges["consul.state.nodes"], 1)
        self.assertTrue(metrics["Timestamp"].endswith("+0000 UTC"))

    def test_metrics_prometheus_needs_retention(self) -> None:
        """Without prometheus_retention_time (a dev agent), ?format=prometheus is a 415."""
        err = self.fails(self.consul.agent.metrics(format_prometheus=True), ClientError)
        self.assertEqual(err.status, 415)
        self.assertIn("Prometheus is not enabled", str(err))

    def test_metrics_prometheus_text(self) -> None:
        """With retention configured, metrics(format_prometheus=True) is exposition text."""
        self.fake.agent_modern.prometheus_retention_time = 60
        self.ok(self.consul.kv.put("a", b"1"))
        text = self.ok(self.consul.agent.metrics(format_prometheus=True))
        self.assertIsInstance(text, str)
        self.assertIn("# TYPE consul_state_kv_entries gauge\n", text)
        self.assertIn("\nconsul_state_kv_entries 1\n", text)

    def test_host(self) -> None:
        """host answers the four gopsutil sections and the collection time."""
        host = self.ok(self.consul.agent.host())
        self.assertEqual({"Memory", "CPU", "Host", "Disk", "CollectionTime", "Errors"}, set(host))
        self.assertGreaterEqual(len(host["CPU"]), 1)

    def test_version(self) -> None:
        """version reports the advertised Consul version, as agent/self does."""
        version = self.ok(self.consul.agent.version())
        self.assertEqual(version["HumanVersion"], self.ok(self.consul.agent.self())["Config"]["Version"])
        self.assertEqual(set(version), {"SHA", "BuildDate", "HumanVersion", "FIPS"})

    def test_token_acl_disabled(self) -> None:
        """Setting an agent token with ACLs off is ACLDisabled (401)."""
        self.fails(self.consul.agent.token.set_default("x"), ACLDisabled)

    def test_token_type_checked_before_request(self) -> None:
        """An unknown token type is a ValueError at the call."""
        self.assertRaises(ValueError, self.consul.agent.token.set, "bogus", "x")
        self.assertRaises(TypeError, self.consul.agent.token.set, "default", 5)

    def test_groups_are_cached(self) -> None:
        """agent.token and agent.connect are one object each per client."""
        self.assertIs(self.consul.agent.token, self.consul.agent.token)
        self.assertIs(self.consul.agent.connect, self.consul.agent.connect)
        self.assertIs(self.consul.agent.connect.ca, self.consul.agent.connect.ca)


class AgentACLTests(ACLModernCase):
    """The ACLs the agent endpoints enforce."""

    def test_token_set_each_type(self) -> None:
        """Each setter stores its token under Consul's name for it."""
        t = self.root.agent.token
        for setter, kind in (
            (t.set_default, "default"),
            (t.set_agent, "agent"),
            (t.set_agent_recovery, "agent_recovery"),
            (t.set_replication, "replication"),
            (t.set_config_file_service_registration, "config_file_service_registration"),
        ):
            self.assertIs(self.ok(setter("s-" + kind)), True)
            self.assertEqual(self.fake.agent_modern.tokens[kind], "s-" + kind)

    def test_token_legacy_name(self) -> None:
        """The pre-1.11 name agent_master sets the recovery token."""
        self.ok(self.root.agent.token.set("agent_master", "old"))
        self.assertEqual(self.fake.agent_modern.tokens["agent_recovery"], "old")

    def test_token_unknown_type_404(self) -> None:
        """The fake answers an unknown type with Consul's 404 text."""
        d = self.root.request("PUT", "/v1/agent/token/bogus", json={"Token": "x"})
        self.assertIn('Token "bogus" is unknown', str(self.fails(d, NotFound)))

    def test_token_needs_agent_write(self) -> None:
        """agent:read is not enough to set a token; agent:write is."""
        name = self.fake.core.node_name
        reader = self.client(f'agent "{name}" {{ policy = "read" }}')
        self.fails(reader.agent.token.set_default("x"), ACLPermissionDenied)
        writer = self.client(f'agent "{name}" {{ policy = "write" }}')
        self.assertIs(self.ok(writer.agent.token.set_default("x")), True)

    def test_reload_and_metrics_acl(self) -> None:
        """reload needs agent:write, metrics agent:read."""
        name = self.fake.core.node_name
        reader = self.client(f'agent "{name}" {{ policy = "read" }}')
        self.ok(reader.agent.metrics())
        self.fails(reader.agent.reload(), ACLPermissionDenied)
        self.fails(self.client().agent.metrics(), ACLPermissionDenied)

    def test_host_needs_operator_read(self) -> None:
        """host needs operator:read; version needs nothing."""
        anonymous = self.client()
        self.fails(anonymous.agent.host(), ACLPermissionDenied)
        self.ok(self.client('operator = "read"').agent.host())
        self.ok(anonymous.agent.version())


class CatalogConnectTests(ModernCase):
    """catalog.connect and health.connect."""

    def setUp(self) -> None:
        super().setUp()
        put_service(self.fake, "web", "web")
        put_service(
            self.fake,
            "web-sidecar-proxy",
            "web-sidecar-proxy",
            kind="connect-proxy",
            proxy={"DestinationServiceName": "web", "DestinationServiceID": "web", "LocalServicePort": 8080},
        )
        put_service(self.fake, "api", "api", connect={"Native": True})

    def test_catalog_connect_lists_proxies(self) -> None:
        """A service's sidecar proxy is its Connect instance; the plain instance is not."""
        index, nodes = self.ok(self.consul.catalog.connect("web"))
        self.assertEqual([n["ServiceID"] for n in nodes], ["web-sidecar-proxy"])
        self.assertEqual(nodes[0]["ServiceKind"], "connect-proxy")
        self.assertEqual(nodes[0]["ServiceProxy"]["DestinationServiceName"], "web")
        self.assertGreater(index, 0)

    def test_catalog_connect_native(self) -> None:
        """A Connect-native instance is its own Connect instance."""
        _, nodes = self.ok(self.consul.catalog.connect("api"))
        self.assertEqual([(n["ServiceID"], n["ServiceConnect"]) for n in nodes], [("api", {"Native": True})])

    def test_catalog_connect_unknown(self) -> None:
        """A service with no Connect instance gives an empty list."""
        self.assertEqual(self.ok(self.consul.catalog.connect("nope"))[1], [])

    def test_catalog_connect_blocks(self) -> None:
        """A blocking catalog.connect answers when a new proxy registers."""
        index, _ = self.ok(self.consul.catalog.connect("api"))
        d = self.consul.catalog.connect("api", index=index)
        self.assertNoResult(d)
        put_service(
            self.fake, "api-proxy", "api-proxy", kind="connect-proxy", proxy={"DestinationServiceName": "api"}
        )
        new_index, nodes = self.ok(d)
        self.assertGreater(new_index, index)
        self.assertEqual(sorted(n["ServiceID"] for n in nodes), ["api", "api-proxy"])

    def test_health_connect(self) -> None:
        """health.connect gives proxies with node and checks, and honours passing."""
        _, entries = self.ok(self.consul.health.connect("web"))
        self.assertEqual([e["Service"]["ID"] for e in entries], ["web-sidecar-proxy"])
        self.assertEqual([c["CheckID"] for c in entries[0]["Checks"]], ["serfHealth"])
        self.ok(self.consul.agent.maintenance(True))
        self.assertEqual(self.ok(self.consul.health.connect("web", passing=True))[1], [])


class GatewayTests(ModernCase):
    """catalog.gateway_services and health.ingress, from config entries."""

    def setUp(self) -> None:
        super().setUp()
        put_service(self.fake, "web", "web")
        put_service(self.fake, "db", "db")
        put_service(self.fake, "ingress", "ingress", kind="ingress-gateway")
        self.ok(
            self.consul.config.set(
                "ingress-gateway",
                "ingress",
                {
                    "Listeners": [
                        {
                            "Port": 8080,
                            "Protocol": "http",
                            "Services": [{"Name": "web", "Hosts": ["web.example"]}],
                        }
                    ],
                },
            )
        )
        self.ok(
            self.consul.config.set(
                "terminating-gateway",
                "egress",
                {
                    "Services": [{"Name": "db", "CAFile": "/ca.pem", "SNI": "db.example"}],
                },
            )
        )

    def test_ingress_gateway_services(self) -> None:
        """An ingress gateway lists its listeners' services with port, protocol and hosts."""
        links = self.ok(self.consul.catalog.gateway_services("ingress"))
        self.assertEqual(len(links), 1)
        link = links[0]
        self.assertEqual(
            (
                link["Gateway"],
                link["Service"],
                link["GatewayKind"],
                link["Port"],
                link["Protocol"],
                link["Hosts"],
            ),
            ({"Name": "ingress"}, {"Name": "web"}, "ingress-gateway", 8080, "http", ["web.example"]),
        )

    def test_terminating_gateway_services(self) -> None:
        """A terminating gateway lists its services with their TLS settings."""
        links = self.ok(self.consul.catalog.gateway_services("egress"))
        self.assertEqual(
            [(x["Service"]["Name"], x["CAFile"], x["SNI"]) for x in links], [("db", "/ca.pem", "db.example")]
        )
        self.assertEqual(self.ok(self.consul.catalog.gateway_services("none")), [])

    def test_health_ingress(self) -> None:
        """health.ingress gives the ingress gateway instances exposing a service."""
        _, entries = self.ok(self.consul.health.ingress("web"))
        self.assertEqual([e["Service"]["ID"] for e in entries], ["ingress"])
        self.assertEqual(self.ok(self.consul.health.ingress("db"))[1], [])

    def test_terminating_gateway_is_connect_instance(self) -> None:
        """A terminating gateway linked to a service is one of its Connect instances."""
        put_service(self.fake, "egress", "egress", kind="terminating-gateway")
        _, nodes = self.ok(self.consul.catalog.connect("db"))
        self.assertEqual([n["ServiceID"] for n in nodes], ["egress"])

    def test_gateway_services_blocks_on_entry_change(self) -> None:
        """A blocking gateway_services answers when the gateway's config entry changes."""
        qm, _ = self.ok(self.consul.catalog.gateway_services("ingress", meta=True))
        d = self.consul.catalog.gateway_services("ingress", index=qm)
        self.assertNoResult(d)
        self.ok(
            self.consul.config.set(
                "ingress-gateway",
                "ingress",
                {
                    "Listeners": [{"Port": 9090, "Services": [{"Name": "db"}]}],
                },
            )
        )
        links = self.ok(d)
        self.assertEqual(
            [(x["Service"]["Name"], x["Port"], x["Protocol"]) for x in links], [("db", 9090, "tcp")]
        )


class MeshACLTests(ACLModernCase):
    """ACLs of the mesh reads."""

    def test_connect_needs_service_read(self) -> None:
        """catalog.connect and gateway_services are 403 without service:read on the name."""
        anonymous = self.client()
        self.fails(anonymous.catalog.connect("web"), ACLPermissionDenied)
        self.fails(anonymous.catalog.gateway_services("gw"), ACLPermissionDenied)
        reader = self.client('service "web" { policy = "read" }')
        self.assertEqual(self.ok(reader.catalog.connect("web"))[1], [])
        self.assertEqual(self.ok(self.root.catalog.gateway_services("gw")), [])


class CoordinateUpdateTests(ModernCase):
    """coordinate.update."""

    def test_update_then_node(self) -> None:
        """An update shows in coordinate.node."""
        coord = {"Vec": [0.5] + [0.0] * 7, "Error": 0.2, "Adjustment": 0.0, "Height": 0.001}
        name = self.fake.core.node_name
        self.assertIs(self.ok(self.consul.coordinate.update(name, coord)), True)
        _, coords = self.ok(self.consul.coordinate.node(name))
        self.assertEqual(coords[0]["Coord"]["Vec"][0], 0.5)

    def test_update_bad_arguments(self) -> None:
        """A coord without a numeric Vec fails at the call."""
        self.assertRaises(ValueError, self.consul.coordinate.update, "n", {"Vec": "x"})
        self.assertRaises(TypeError, self.consul.coordinate.update, "n", [1, 2])

    def test_update_wrong_dimension(self) -> None:
        """The fake refuses a coordinate of the wrong dimension, as Consul does (500)."""
        d = self.consul.coordinate.update(self.fake.core.node_name, {"Vec": [0.0, 1.0]})
        self.assertIn("incompatible coordinate", str(self.fails(d, txconsul.ConsulException)))


class RawRequestTests(ModernCase):
    """Consul.request, for endpoints not wrapped."""

    def test_get_and_put(self) -> None:
        """request sends JSON or bytes and fires with the whole response."""
        self.ok(self.consul.request("PUT", "/v1/kv/raw", body=b"value"))
        response = self.ok(self.consul.request("GET", "/v1/kv/raw", {"raw": None}))
        self.assertEqual((response.code, response.body), (200, b"value"))
        self.assertGreater(response.meta.index, 0)
        response = self.ok(self.consul.request("PUT", "/v1/config", json={"Kind": "mesh", "Name": "mesh"}))
        self.assertIs(response.json(), True)

    def test_errors_and_expect(self) -> None:
        """A 404 raises NotFound unless expected."""
        self.fails(self.consul.request("GET", "/v1/kv/missing"), NotFound)
        response = self.ok(self.consul.request("GET", "/v1/kv/missing", expect=(200, 404)))
        self.assertEqual(response.code, 404)
        self.fails(self.consul.request("GET", "/v1/kv/x", [("index", "-1")]), BadRequest)

    def test_blocking(self) -> None:
        """index and wait make it a blocking read."""
        first = self.ok(self.consul.request("GET", "/v1/catalog/services"))
        d = self.consul.request("GET", "/v1/catalog/services", index=first.meta.index, wait="5s")
        self.assertNoResult(d)
        self.clock.advance(6)
        self.assertEqual(self.ok(d).meta.index, first.meta.index)

    def test_validation(self) -> None:
        """Bad method, path, body or json are refused before any request."""
        r = self.consul.request
        self.assertRaises(ValueError, r, "FETCH", "/v1/kv/x")
        self.assertRaises(ValueError, r, "GET", "v1/kv/x")
        self.assertRaises(ValueError, r, "GET", "/v1/kv/x?recurse")
        self.assertRaises(ValueError, r, "GET", "/v1/kv/a b")
        self.assertRaises(ValueError, r, "PUT", "/v1/kv/x", body=b"1", json=1)
        self.assertRaises(TypeError, r, "PUT", "/v1/kv/x", body="text")
        self.assertRaises(ValueError, r, "GET", "/v1/kv/x", index=-1)


class CheckExportTests(ModernCase):
    """txconsul.Check."""

    def test_module_level_check(self) -> None:
        """txconsul.Check is Consul.Check, as python-consul's consul.Check."""
        self.assertIs(txconsul.Check, Consul.Check)
        self.assertEqual(txconsul.Check.ttl("10s"), {"TTL": "10s"})


class RequestValueTests(ModernCase):
    """The new methods describe their requests as values (txconsul._request)."""

    def test_describe(self) -> None:
        """describe gives the request a new method would send, without sending it."""
        from txconsul._request import describe

        request = describe(self.consul.catalog.connect, "we b", tag=["a", "b"])
        self.assertEqual(
            (request.method, request.path, list(request.params), request.blocking),
            ("GET", "/v1/catalog/connect/we%20b", [("tag", "a"), ("tag", "b")], True),
        )
        request = describe(self.consul.config.set, "service-defaults", "web", {"Protocol": "http"}, cas=4)
        self.assertEqual(
            (request.method, request.path, list(request.params)), ("PUT", "/v1/config", [("cas", "4")])
        )
        self.assertEqual(request.json_body, {"Protocol": "http", "Kind": "service-defaults", "Name": "web"})
        self.assertEqual(self.fake.pending_queries(), 0)
