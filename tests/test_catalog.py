"""
Tests for :mod:`txconsul.api.catalog` and FakeConsul's catalog endpoints, in
memory on a Clock.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ConsulException
from txconsul.testing import FakeConsul

from .fakecase import make


class CatalogRequestTests(SynchronousTestCase):
    """The requests the catalog group sends."""

    def setUp(self):
        self.clock, self.fake, self.c, self.requests = make()

    def test_register_body(self):
        """register() sends Node, Address, Service, Check and NodeMeta in the body."""
        ok = self.successResultOf(
            self.c.catalog.register(
                "n1",
                "10.0.0.2",
                service={"Service": "db", "Port": 5432},
                check={"CheckID": "c", "Name": "c", "Status": "passing"},
                node_meta={"rack": "a"},
            )
        )
        self.assertIs(ok, True)
        self.assertEqual(self.requests[-1].raw_path, "/v1/catalog/register")
        self.assertEqual(
            self.requests[-1].json(),
            {
                "Node": "n1",
                "Address": "10.0.0.2",
                "Service": {"Service": "db", "Port": 5432},
                "Check": {"CheckID": "c", "Name": "c", "Status": "passing"},
                "NodeMeta": {"rack": "a"},
            },
        )

    def test_deregister_arguments(self):
        """deregister() refuses service_id with check_id before any request."""
        self.assertRaises(ValueError, self.c.catalog.deregister, "n", service_id="s", check_id="c")
        self.assertEqual(list(self.requests), [])

    def test_read_params(self):
        """Reads send repeated node-meta=k:v, tag, near and filter."""
        self.successResultOf(
            self.c.catalog.service(
                "web",
                tag=["a", "b"],
                near="_agent",
                node_meta={"x": "1", "y": "2"},
                filter="ServicePort != 0",
            )
        )
        self.assertEqual(self.requests[-1].raw_path, "/v1/catalog/service/web")
        self.assertEqual(
            self.requests[-1].query,
            [
                ("tag", "a"),
                ("tag", "b"),
                ("near", "_agent"),
                ("node-meta", "x:1"),
                ("node-meta", "y:2"),
                ("filter", "ServicePort != 0"),
            ],
        )

    def test_blocking_params(self):
        """index/wait/consistency are validated and sent."""
        self.successResultOf(self.c.catalog.nodes(index=0, consistency="stale"))
        self.assertIn(("stale", ""), self.requests[-1].query)
        self.assertRaises(ValueError, self.c.catalog.nodes, index=-1)
        self.assertRaises(ValueError, self.c.catalog.nodes, wait="forever")
        self.assertRaises(ValueError, self.c.catalog.nodes, consistency="weird")

    def test_escaped_names(self):
        """Service and node names with '#', ':' and '/' are one escaped segment."""
        self.successResultOf(self.c.catalog.service("a#b:c/d"))
        self.assertEqual(self.requests[-1].raw_path, "/v1/catalog/service/a%23b%3Ac%2Fd")
        self.successResultOf(self.c.catalog.node("n#1"))
        self.assertEqual(self.requests[-1].raw_path, "/v1/catalog/node/n%231")

    def test_datacenters(self):
        """datacenters() lists the fake's datacenter."""
        self.assertEqual(self.successResultOf(self.c.catalog.datacenters()), ["dc1"])


class FakeCatalogTests(SynchronousTestCase):
    """FakeConsul's catalog rules."""

    def setUp(self):
        self.clock = Clock()
        self.fake = FakeConsul(self.clock)
        self.c = self.fake.client()

    def test_fresh_catalog(self):
        """A fresh catalog has the agent's node and the consul service."""
        _, nodes = self.successResultOf(self.c.catalog.nodes())
        self.assertEqual([n["Node"] for n in nodes], ["fake-consul"])
        _, services = self.successResultOf(self.c.catalog.services())
        self.assertEqual(services, {"consul": []})

    def test_peer_reads(self):
        """peer= reaches every catalog and health read; a peer with nothing imported answers empty."""
        self.successResultOf(self.c.agent.service.register("web", service_id="web1", check={"TTL": "10s"}))
        reads = [
            (self.c.catalog.nodes, (), []),
            (self.c.catalog.services, (), {}),
            (self.c.catalog.service, ("web",), []),
            (self.c.health.service, ("web",), []),
            (self.c.health.checks, ("web",), []),
            (self.c.health.state, ("any",), []),
        ]
        for method, args, empty in reads:
            _, local = self.successResultOf(method(*args))
            self.assertTrue(local, method.__name__)
            _, remote = self.successResultOf(method(*args, peer="cluster-b"))
            self.assertEqual(remote, empty, method.__name__)
        self.assertIn(("peer", "cluster-b"), self.fake.requests[-1].query)
        self.assertRaises(TypeError, self.c.catalog.nodes, peer=5)
        self.assertRaises(TypeError, self.c.kv.get, "k", peer="cluster-b")

    def test_register_and_deregister_node(self):
        """catalog register adds node, service and check; deregister removes all of them."""
        self.successResultOf(
            self.c.catalog.register(
                "n1",
                "10.0.0.2",
                service={"Service": "db", "ID": "db1", "Tags": ["primary"]},
                check={"Name": "db alive", "ServiceID": "db1", "Status": "passing"},
            )
        )
        _, node = self.successResultOf(self.c.catalog.node("n1"))
        self.assertEqual(node["Node"]["Address"], "10.0.0.2")
        self.assertEqual(list(node["Services"]), ["db1"])
        _, services = self.successResultOf(self.c.catalog.services())
        self.assertEqual(services["db"], ["primary"])
        _, checks = self.successResultOf(self.c.health.node("n1"))
        self.assertEqual(
            [(c["CheckID"], c["ServiceName"], c["Status"]) for c in checks], [("db alive", "db", "passing")]
        )
        self.assertIs(self.successResultOf(self.c.catalog.deregister("n1")), True)
        self.assertEqual(self.successResultOf(self.c.catalog.node("n1"))[1], None)
        self.assertEqual(self.successResultOf(self.c.catalog.service("db"))[1], [])
        self.assertEqual(self.successResultOf(self.c.health.node("n1"))[1], [])

    def test_deregister_service_only(self):
        """deregister with service_id removes that service and its checks, keeps the node."""
        self.successResultOf(
            self.c.catalog.register(
                "n1", "10.0.0.2", service={"Service": "db"}, check={"Name": "c", "ServiceID": "db"}
            )
        )
        self.successResultOf(self.c.catalog.deregister("n1", service_id="db"))
        _, node = self.successResultOf(self.c.catalog.node("n1"))
        self.assertEqual(node["Services"], {})
        self.assertEqual(self.successResultOf(self.c.health.node("n1"))[1], [])

    def test_deregister_check_only(self):
        """deregister with check_id removes only that check."""
        self.successResultOf(self.c.catalog.register("n1", "10.0.0.2", check={"Name": "c"}))
        self.successResultOf(self.c.catalog.deregister("n1", check_id="c"))
        self.assertEqual(self.successResultOf(self.c.health.node("n1"))[1], [])
        self.assertIsNotNone(self.successResultOf(self.c.catalog.node("n1"))[1])

    def test_catalog_check_default_critical(self):
        """A catalog check without Status is critical."""
        self.successResultOf(self.c.catalog.register("n1", "10.0.0.2", check={"Name": "c"}))
        self.assertEqual(self.successResultOf(self.c.health.node("n1"))[1][0]["Status"], "critical")

    def test_register_errors(self):
        """Missing address and a check on a missing service are Consul's 500s."""
        f = self.failureResultOf(
            self.c.http.request("PUT", "/v1/catalog/register", json_body={"Node": "n"}), ConsulException
        )
        self.assertIn("Must provide address", str(f.value))
        f = self.failureResultOf(
            self.c.catalog.register("n", "1.2.3.4", check={"Name": "c", "ServiceID": "ghost"}),
            ConsulException,
        )
        self.assertIn("Missing service registration", str(f.value))

    def test_unknown_dc(self):
        """A register for another datacenter is 500 No path to datacenter."""
        f = self.failureResultOf(self.c.catalog.register("n", "1.2.3.4", dc="dc9"), ConsulException)
        self.assertIn("No path to datacenter", str(f.value))

    def test_node_unknown_is_none(self):
        """An unknown node reads as (index, None)."""
        index, data = self.successResultOf(self.c.catalog.node("ghost"))
        self.assertIsNone(data)
        self.assertGreaterEqual(index, 1)

    def test_service_unknown_is_empty(self):
        """An unknown service reads as []."""
        self.assertEqual(self.successResultOf(self.c.catalog.service("ghost"))[1], [])

    def test_tag_filtering_is_and(self):
        """Repeated tags must all match."""
        self.successResultOf(
            self.c.catalog.register("n1", "10.0.0.1", service={"Service": "web", "Tags": ["a", "b"]})
        )
        self.successResultOf(
            self.c.catalog.register("n2", "10.0.0.2", service={"Service": "web", "Tags": ["a"]})
        )

        def nodes(**kw):
            return [e["Node"] for e in self.successResultOf(self.c.catalog.service("web", **kw))[1]]

        self.assertEqual(nodes(), ["n1", "n2"])
        self.assertEqual(nodes(tag="a"), ["n1", "n2"])
        self.assertEqual(nodes(tag=["a", "b"]), ["n1"])
        self.assertEqual(nodes(tag="c"), [])

    def test_node_meta(self):
        """node-meta filters nodes by all pairs."""
        self.successResultOf(
            self.c.catalog.register("n1", "10.0.0.1", node_meta={"rack": "a", "os": "linux"})
        )
        self.successResultOf(self.c.catalog.register("n2", "10.0.0.2", node_meta={"rack": "b"}))
        _, nodes = self.successResultOf(self.c.catalog.nodes(node_meta={"rack": "a"}))
        self.assertEqual([n["Node"] for n in nodes], ["n1"])
        _, nodes = self.successResultOf(self.c.catalog.nodes(node_meta={"rack": "a", "os": "bsd"}))
        self.assertEqual(nodes, [])

    def test_filter(self):
        """filter= applies go-bexpr style expressions."""
        self.successResultOf(self.c.catalog.register("n1", "10.0.0.1", node_meta={"env": "prod"}))
        _, nodes = self.successResultOf(
            self.c.catalog.nodes(filter='Meta.env == "prod" and Node matches "^n"')
        )
        self.assertEqual([n["Node"] for n in nodes], ["n1"])
        _, nodes = self.successResultOf(self.c.catalog.nodes(filter='not (Meta["env"] == prod)'))
        self.assertEqual([n["Node"] for n in nodes], ["fake-consul"])

    def test_services_tags_union(self):
        """catalog.services() lists every tag seen on a service's instances."""
        self.successResultOf(
            self.c.catalog.register("n1", "10.0.0.1", service={"Service": "pg", "Tags": ["primary"]})
        )
        self.successResultOf(
            self.c.catalog.register("n2", "10.0.0.2", service={"Service": "pg", "Tags": ["secondary"]})
        )
        self.assertEqual(self.successResultOf(self.c.catalog.services())[1]["pg"], ["primary", "secondary"])

    def test_effective_consistency_header(self):
        """Catalog reads carry X-Consul-Effective-Consistency."""
        r = self.successResultOf(self.c.http.request("GET", "/v1/catalog/nodes", [("stale", None)]))
        self.assertEqual(r.headers.getRawHeaders(b"x-consul-effective-consistency"), [b"stale"])
        r = self.successResultOf(self.c.http.request("GET", "/v1/catalog/nodes"))
        self.assertEqual(r.headers.getRawHeaders(b"x-consul-effective-consistency"), [b"leader"])

    def test_blocking_nodes(self):
        """A blocking nodes read returns when a node registers."""
        index, _ = self.successResultOf(self.c.catalog.nodes())
        d = self.c.catalog.nodes(index=index, wait="30s")
        self.assertNoResult(d)
        self.successResultOf(self.c.catalog.register("n1", "10.0.0.1"))
        new_index, nodes = self.successResultOf(d)
        self.assertGreater(new_index, index)
        self.assertEqual(len(nodes), 2)

    def test_blocking_timeout(self):
        """A blocking read with no change answers after wait with the same index."""
        index, _ = self.successResultOf(self.c.catalog.services())
        d = self.c.catalog.services(index=index, wait="10s")
        self.clock.advance(11)
        self.assertEqual(self.successResultOf(d)[0], index)

    def test_node_deregister_removes_sessions(self):
        """Deregistering a node invalidates its sessions."""
        self.successResultOf(self.c.catalog.register("n1", "10.0.0.1"))
        sid = self.successResultOf(self.c.session.create(node="n1", checks=[]))
        self.successResultOf(self.c.catalog.deregister("n1"))
        self.assertIsNone(self.fake.sessions.get(sid))

    def test_special_service_names(self):
        """Catalog service names with '#' and ':' round-trip."""
        self.successResultOf(self.c.catalog.register("n:1", "10.0.0.1", service={"Service": "a#b:c"}))
        _, entries = self.successResultOf(self.c.catalog.service("a#b:c"))
        self.assertEqual([(e["Node"], e["ServiceID"]) for e in entries], [("n:1", "a#b:c")])
        _, node = self.successResultOf(self.c.catalog.node("n:1"))
        self.assertEqual(list(node["Services"]), ["a#b:c"])


class FakeCatalogACLTests(SynchronousTestCase):
    """ACL enforcement on agent, catalog and health (default policy deny)."""

    def setUp(self):
        self.fake = FakeConsul(Clock(), acl_master_token="root", acl_default_policy="deny")
        self.root = self.fake.client(token="root")
        self.anon = self.fake.client()

    def test_writes_denied(self):
        """Anonymous writes are 403."""
        from txconsul import ACLPermissionDenied

        self.failureResultOf(self.anon.agent.service.register("web"), ACLPermissionDenied)
        self.failureResultOf(self.anon.catalog.register("n", "1.2.3.4"), ACLPermissionDenied)

    def test_reads_filtered(self):
        """Anonymous reads see nothing; the management token sees everything."""
        self.successResultOf(self.root.agent.service.register("web"))
        self.assertEqual(self.successResultOf(self.anon.catalog.services())[1], {})
        self.assertEqual(self.successResultOf(self.anon.health.service("web"))[1], [])
        self.assertEqual(self.successResultOf(self.anon.agent.services()), {})
        self.assertIn("web", self.successResultOf(self.root.catalog.services())[1])


class NodeServicesTests(SynchronousTestCase):
    """catalog.node_services() against FakeConsul."""

    def setUp(self) -> None:
        self.clock, self.fake, self.c, self.requests = make()

    def test_node_services(self) -> None:
        """(index, {'Node', 'Services': [...]}) with the services as a list."""
        self.successResultOf(
            self.c.catalog.register("n1", "10.0.0.1", service={"Service": "web", "Tags": ["v1"]})
        )
        index, data = self.successResultOf(self.c.catalog.node_services("n1"))
        self.assertEqual([(s["ID"], s["Tags"]) for s in data["Services"]], [("web", ["v1"])])
        self.assertEqual(data["Node"]["Address"], "10.0.0.1")
        self.assertEqual(index, self.fake.catalog.services_index)
        self.assertEqual(self.requests[-1].raw_path, "/v1/catalog/node-services/n1")

    def test_unknown_node(self) -> None:
        """An unknown node is {'Node': None, 'Services': None}, not an error."""
        _, data = self.successResultOf(self.c.catalog.node_services("nope"))
        self.assertEqual(data, {"Node": None, "Services": None})

    def test_blocking_and_filter(self) -> None:
        """index/wait block until a change; filter is sent as a parameter."""
        self.successResultOf(self.c.catalog.register("n1", "10.0.0.1", service={"Service": "web"}))
        index, _ = self.successResultOf(self.c.catalog.node_services("n1", filter='Service == "web"'))
        self.assertIn(("filter", 'Service == "web"'), self.requests[-1].query)
        d = self.c.catalog.node_services("n1", index=index, wait="30s")
        self.assertNoResult(d)
        self.successResultOf(self.c.catalog.register("n1", "10.0.0.1", service={"Service": "db"}))
        _, data = self.successResultOf(d)
        self.assertEqual(sorted(s["ID"] for s in data["Services"]), ["db", "web"])
