"""
The JSON keys (and null / {} / [] / omitted) of FakeConsul's read answers
for a plain service (Name, ID, Port and one TTL check), as Consul's structs
write them: agent/structs/structs.go ``Node``, ``ServiceNode``,
``NodeService``, ``HealthCheck``, ``Session``; connect_proxy_config.go
``ConnectProxyConfig.MarshalJSON``; api/agent.go ``AgentService``; the
handlers in agent/*_endpoint.go (nil lists become ``[]``).
"""

from __future__ import annotations

from typing import Any

from tests.fakecase import FakeConsulCase
from txconsul import BadRequest

NODE_KEYS = {"ID", "Node", "Address", "Datacenter", "TaggedAddresses", "Meta", "CreateIndex", "ModifyIndex"}

#: structs.NodeService for a typical service with a port: Kind,
#: TaggedAddresses, SocketPath and Locality are omitempty and unset.
NODE_SERVICE_KEYS = {
    "ID",
    "Service",
    "Tags",
    "Address",
    "Meta",
    "Port",
    "Weights",
    "EnableTagOverride",
    "Proxy",
    "Connect",
    "PeerName",
    "CreateIndex",
    "ModifyIndex",
}

#: structs.ServiceNode: only ServiceTaggedAddresses and PeerName are omitempty.
SERVICE_NODE_KEYS = {
    "ID",
    "Node",
    "Address",
    "Datacenter",
    "TaggedAddresses",
    "NodeMeta",
    "ServiceKind",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "ServiceAddress",
    "ServiceWeights",
    "ServiceMeta",
    "ServicePort",
    "ServiceSocketPath",
    "ServiceEnableTagOverride",
    "ServiceProxy",
    "ServiceConnect",
    "ServiceLocality",
    "CreateIndex",
    "ModifyIndex",
}

#: structs.HealthCheck (PeerName is omitempty).
CHECK_KEYS = {
    "Node",
    "CheckID",
    "Name",
    "Status",
    "Notes",
    "Output",
    "ServiceID",
    "ServiceName",
    "ServiceTags",
    "Type",
    "Interval",
    "Timeout",
    "ExposedPort",
    "Definition",
    "CreateIndex",
    "ModifyIndex",
}

#: api.AgentService for a typical service: Kind, SocketPath,
#: TaggedAddresses, the indexes, ContentHash, Proxy, Connect, PeerName and
#: Locality are omitempty and unset.
AGENT_SERVICE_KEYS = {
    "ID",
    "Service",
    "Tags",
    "Meta",
    "Port",
    "Address",
    "Weights",
    "EnableTagOverride",
    "Datacenter",
}

#: ConnectProxyConfig of a typical service: Mode has no omitempty,
#: MeshGateway and Expose are value structs.
EMPTY_PROXY = {"Mode": "", "MeshGateway": {}, "Expose": {}}


class PlainServiceShapesTests(FakeConsulCase):
    """Each read answer's keys and empty values for a plain service."""

    def setUp(self) -> None:
        super().setUp()
        self.get(
            "/v1/agent/service/register",
            method="PUT",
            json={"Name": "web", "ID": "web1", "Port": 80, "Check": {"TTL": "10s"}},
        )
        self.node = self.get("/v1/agent/self")["Config"]["NodeName"]

    def get(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """The decoded JSON answer of one raw request."""
        response = self.ok(self.consul.request(method, path, **kwargs))
        return response.json() if response.body else None

    def assert_node_service(self, svc: dict[str, Any]) -> None:
        """``svc`` is the plain service as structs.NodeService writes it."""
        self.assertEqual(set(svc), NODE_SERVICE_KEYS)
        self.assertEqual(svc["Tags"], [])
        self.assertIsNone(svc["Meta"])
        self.assertEqual(svc["Port"], 80)
        self.assertEqual(svc["Weights"], {"Passing": 1, "Warning": 1})
        self.assertEqual(svc["Proxy"], EMPTY_PROXY)
        self.assertEqual(svc["Connect"], {})
        self.assertEqual(svc["PeerName"], "")

    def assert_service_check(self, check: dict[str, Any]) -> None:
        """``check`` is the service's TTL check as structs.HealthCheck writes it."""
        self.assertEqual(set(check), CHECK_KEYS)
        self.assertEqual(check["Type"], "ttl")
        self.assertEqual((check["Interval"], check["Timeout"]), ("", ""))
        self.assertEqual(check["ServiceTags"], [])
        self.assertEqual(check["Definition"], {})

    def test_health_service(self) -> None:
        """/v1/health/service: Node, a NodeService with empty Proxy/Connect and PeerName, HealthChecks."""
        [entry] = self.get("/v1/health/service/web")
        self.assertEqual(set(entry), {"Node", "Service", "Checks"})
        self.assertEqual(set(entry["Node"]), NODE_KEYS)
        self.assert_node_service(entry["Service"])
        checks = {c["CheckID"]: c for c in entry["Checks"]}
        self.assertEqual(set(checks), {"serfHealth", "service:web1"})
        self.assert_service_check(checks["service:web1"])
        self.assertEqual(set(checks["serfHealth"]), CHECK_KEYS)
        self.assertEqual(checks["serfHealth"]["Definition"], {})

    def test_health_node_checks_state(self) -> None:
        """/v1/health/node, /checks and /state list HealthChecks with Definition {} and ServiceTags []."""
        for path in (f"/v1/health/node/{self.node}", "/v1/health/checks/web", "/v1/health/state/critical"):
            checks = {c["CheckID"]: c for c in self.get(path)}
            self.assert_service_check(checks["service:web1"])

    def test_catalog_service(self) -> None:
        """/v1/catalog/service: ServiceSocketPath "", ServiceLocality null, ServiceMeta {}, empty proxy."""
        [entry] = self.get("/v1/catalog/service/web")
        self.assertEqual(set(entry), SERVICE_NODE_KEYS)
        self.assertEqual(entry["ServiceKind"], "")
        self.assertEqual(entry["ServiceTags"], [])
        self.assertEqual(entry["ServiceMeta"], {})
        self.assertEqual(entry["ServiceSocketPath"], "")
        self.assertIsNone(entry["ServiceLocality"])
        self.assertEqual(entry["ServiceProxy"], EMPTY_PROXY)
        self.assertEqual(entry["ServiceConnect"], {})

    def test_catalog_node(self) -> None:
        """/v1/catalog/node: a map of NodeServices, the same shape as health's."""
        body = self.get(f"/v1/catalog/node/{self.node}")
        self.assertEqual(set(body), {"Node", "Services"})
        self.assertEqual(set(body["Node"]), NODE_KEYS)
        self.assertEqual(set(body["Services"]), {"consul", "web1"})
        self.assert_node_service(body["Services"]["web1"])

    def test_catalog_node_services(self) -> None:
        """/v1/catalog/node-services: a list of NodeServices."""
        body = self.get(f"/v1/catalog/node-services/{self.node}")
        self.assertEqual(set(body), {"Node", "Services"})
        [web] = [s for s in body["Services"] if s["ID"] == "web1"]
        self.assert_node_service(web)

    def test_consul_service_meta(self) -> None:
        """The server's own consul service carries the meta the leader registers it with."""
        consul = self.get(f"/v1/catalog/node/{self.node}")["Services"]["consul"]
        self.assertEqual(set(consul), NODE_SERVICE_KEYS)
        self.assertEqual(
            set(consul["Meta"]),
            {
                "non_voter",
                "read_replica",
                "raft_version",
                "serf_protocol_current",
                "serf_protocol_min",
                "serf_protocol_max",
                "version",
                "grpc_port",
                "grpc_tls_port",
            },
        )
        self.assertEqual(consul["Meta"]["version"], self.get("/v1/agent/self")["Config"]["Version"])
        self.assertEqual(consul["Port"], 8300)

    def test_catalog_nodes_and_services(self) -> None:
        """/v1/catalog/nodes lists Nodes; /v1/catalog/services maps names to [] tags."""
        [node] = self.get("/v1/catalog/nodes")
        self.assertEqual(set(node), NODE_KEYS)
        self.assertEqual(self.get("/v1/catalog/services"), {"consul": [], "web": []})

    def test_agent_services(self) -> None:
        """/v1/agent/services: api.AgentService, Meta {} and no Proxy/Connect for a plain service."""
        svc = self.get("/v1/agent/services")["web1"]
        self.assertEqual(set(svc), AGENT_SERVICE_KEYS)
        self.assertEqual((svc["Tags"], svc["Meta"]), ([], {}))

    def test_agent_service(self) -> None:
        """/v1/agent/service/<id>: the same plus ContentHash."""
        svc = self.get("/v1/agent/service/web1")
        self.assertEqual(set(svc), AGENT_SERVICE_KEYS | {"ContentHash"})

    def test_agent_checks(self) -> None:
        """/v1/agent/checks: local HealthChecks, indexes 0, Definition {}."""
        check = self.get("/v1/agent/checks")["service:web1"]
        self.assert_service_check(check)
        self.assertEqual((check["CreateIndex"], check["ModifyIndex"]), (0, 0))

    def test_sessions(self) -> None:
        """/v1/session/info and /list: structs.Session, ServiceChecks null, no deprecated Checks."""
        sid = self.get("/v1/session/create", method="PUT", json={})["ID"]
        keys = {
            "ID",
            "Name",
            "Node",
            "LockDelay",
            "Behavior",
            "TTL",
            "NodeChecks",
            "ServiceChecks",
            "CreateIndex",
            "ModifyIndex",
        }
        for path in (f"/v1/session/info/{sid}", "/v1/session/list"):
            [session] = self.get(path)
            self.assertEqual(set(session), keys)
            self.assertEqual(session["NodeChecks"], ["serfHealth"])
            self.assertIsNone(session["ServiceChecks"])

    def test_kv(self) -> None:
        """/v1/kv/<k>: DirEntry without Session when unlocked."""
        self.get("/v1/kv/k", method="PUT", body=b"v")
        [entry] = self.get("/v1/kv/k")
        self.assertEqual(set(entry), {"LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"})


class NodeServiceVariantsTests(FakeConsulCase):
    """What changes in the NodeService shape with the registration."""

    def register(self, body: dict[str, Any], path: str = "/v1/agent/service/register") -> None:
        """Register ``body`` through ``path``."""
        self.ok(self.consul.request("PUT", path, json=body))

    def health_service(self, name: str) -> dict[str, Any]:
        """The one health entry's Service."""
        [entry] = self.ok(self.consul.request("GET", f"/v1/health/service/{name}")).json()
        return entry["Service"]

    def test_meta_given(self) -> None:
        """A registered Meta (even {}) reads back as given, not null."""
        self.register({"Name": "a", "Meta": {"k": "v"}})
        self.register({"Name": "b", "Meta": {}})
        self.assertEqual(self.health_service("a")["Meta"], {"k": "v"})
        self.assertEqual(self.health_service("b")["Meta"], {})

    def test_port_zero_omitted(self) -> None:
        """NodeService.Port is omitempty: a service without a port has no Port key."""
        self.register({"Name": "a"})
        self.assertNotIn("Port", self.health_service("a"))
        [entry] = self.ok(self.consul.request("GET", "/v1/catalog/service/a")).json()
        self.assertEqual(entry["ServicePort"], 0)

    def test_catalog_register(self) -> None:
        """A service written by /v1/catalog/register reads back in the same shape."""
        self.register(
            {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "db", "Port": 5432}},
            path="/v1/catalog/register",
        )
        svc = self.health_service("db")
        self.assertEqual(set(svc), NODE_SERVICE_KEYS)
        self.assertIsNone(svc["Meta"])
        self.assertEqual(svc["Proxy"], EMPTY_PROXY)

    def test_prepared_query_and_txn(self) -> None:
        """Prepared-query results and txn service results are NodeServices too."""
        self.register({"Name": "web", "Port": 80})
        qid = self.ok(
            self.consul.request("POST", "/v1/query", json={"Name": "q", "Service": {"Service": "web"}})
        ).json()["ID"]
        [node] = self.ok(self.consul.request("GET", f"/v1/query/{qid}/execute")).json()["Nodes"]
        self.assertEqual(set(node["Service"]), NODE_SERVICE_KEYS)
        self.assertEqual(node["Service"]["Proxy"], EMPTY_PROXY)
        node_name = node["Node"]["Node"]
        ops = [{"Service": {"Verb": "get", "Node": node_name, "Service": {"ID": "web"}}}]
        result = self.ok(self.consul.request("PUT", "/v1/txn", json=ops)).json()
        svc = result["Results"][0]["Service"]
        self.assertEqual(set(svc), NODE_SERVICE_KEYS)
        self.assertIsNone(svc["Meta"])


class CatalogCheckDefinitionTests(FakeConsulCase):
    """A catalog check's Definition as HealthCheckDefinition stores and writes it."""

    def register(self, definition: Any) -> Any:
        """Register a node check with ``definition``; the request's Deferred."""
        body = {
            "Node": "n1",
            "Address": "10.0.0.1",
            "Check": {"CheckID": "c", "Name": "c", "Definition": definition},
        }
        return self.consul.request("PUT", "/v1/catalog/register", json=body)

    def definition(self) -> Any:
        """The stored check's Definition, read through /v1/health/node."""
        [check] = self.ok(self.consul.request("GET", "/v1/health/node/n1")).json()
        return check["Definition"]

    def test_durations_and_omitempty(self) -> None:
        """Durations come back as Go writes them (TTL in nanoseconds); empty fields are left out."""
        self.ok(
            self.register(
                {
                    "http": "http://10.0.0.1/health",
                    "Interval": "60s",
                    "Timeout": 2_000_000_000,
                    "TTL": "10s",
                    "Method": "",
                    "TLSSkipVerify": False,
                }
            )
        )
        self.assertEqual(
            self.definition(),
            {"HTTP": "http://10.0.0.1/health", "Interval": "1m0s", "Timeout": "2s", "TTL": 10_000_000_000},
        )

    def test_bad_duration_refused(self) -> None:
        """A malformed duration is a decode error, and nothing is registered."""
        failure = self.failureResultOf(self.register({"Interval": "ten"}), BadRequest)
        self.assertIn('Request decode failed: time: invalid duration "ten"', str(failure.value))
        nodes = self.ok(self.consul.request("GET", "/v1/catalog/nodes")).json()
        self.assertNotIn("n1", [n["Node"] for n in nodes])


class NodeShapesTests(FakeConsulCase):
    """A node written without tagged addresses or meta keeps the nil maps."""

    def test_catalog_register_without_maps(self) -> None:
        """/v1/catalog/register without TaggedAddresses/NodeMeta: both null in node and service views."""
        body = {"Node": "n1", "Address": "10.0.0.1", "Service": {"Service": "db"}}
        self.ok(self.consul.request("PUT", "/v1/catalog/register", json=body))
        nodes = {n["Node"]: n for n in self.ok(self.consul.request("GET", "/v1/catalog/nodes")).json()}
        self.assertIsNone(nodes["n1"]["TaggedAddresses"])
        self.assertIsNone(nodes["n1"]["Meta"])
        [entry] = self.ok(self.consul.request("GET", "/v1/catalog/service/db")).json()
        self.assertIsNone(entry["TaggedAddresses"])
        self.assertIsNone(entry["NodeMeta"])

    def test_txn_node_without_maps(self) -> None:
        """A txn node set without TaggedAddresses/Meta stores them nil."""
        ops = [{"Node": {"Verb": "set", "Node": {"Node": "n2", "Address": "10.0.0.2"}}}]
        result = self.ok(self.consul.request("PUT", "/v1/txn", json=ops)).json()
        node = result["Results"][0]["Node"]
        self.assertIsNone(node["TaggedAddresses"])
        self.assertIsNone(node["Meta"])
