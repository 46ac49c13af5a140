"""
Events, prepared queries, coordinates and the operator Raft configuration over
real loopback TCP, against FakeConsul and (when CONSUL_HTTP_ADDR is set) a
real agent.
"""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet.defer import inlineCallbacks

from txconsul import Consul, ConsulException

from .base import FakeAgentCase, RealAgentCase


class EventQueryMixin:
    """The same tests for every agent."""

    consul: Consul

    def unique(self, what: str) -> str:
        """A name no other test run uses."""
        return f"txconsul-it-{what}-{uuid.uuid4().hex[:12]}"

    @inlineCallbacks
    def test_event_fire_and_list(self) -> Any:
        """A fired event's payload comes back as bytes from a list filtered by name."""
        name = self.unique("ev")
        fired = yield self.consul.event.fire(name, b"\x00payload\xff")
        self.assertEqual(fired["Name"], name)
        self.assertEqual(fired["Payload"], b"\x00payload\xff")
        self.assertEqual(fired["LTime"], 0)
        # Index 1 blocks until the first event with this name is delivered
        # (gossip is asynchronous on a real agent).
        index, events = yield self.consul.event.list(name, index=1, wait="10s")
        self.assertEqual([e["ID"] for e in events], [fired["ID"]])
        self.assertEqual(events[0]["Payload"], b"\x00payload\xff")
        self.assertGreater(events[0]["LTime"], 0)
        self.assertNotEqual(index, 1)

    @inlineCallbacks
    def test_event_blocking_wakes(self) -> Any:
        """A list blocked on the current hash returns the next event."""
        name = self.unique("block")
        first = yield self.consul.event.fire(name, "one")
        index, events = yield self.consul.event.list(name, index=1, wait="10s")
        self.assertEqual(events[-1]["ID"], first["ID"])
        d = self.consul.event.list(name, index=index, wait="10s")
        other = self.make_client()  # type: ignore[attr-defined]
        second = yield other.event.fire(name, "two")
        new_index, events = yield d
        if events[-1]["ID"] != second["ID"]:
            # A real agent may still be receiving it over gossip.
            new_index, events = yield self.consul.event.list(name, index=new_index, wait="10s")
        self.assertEqual(events[-1]["ID"], second["ID"])
        self.assertEqual(events[-1]["Payload"], b"two")
        self.assertNotEqual(new_index, index)

    @inlineCallbacks
    def test_event_node_filter(self) -> Any:
        """An event whose node filter misses this agent is never listed."""
        name = self.unique("filt")
        yield self.consul.event.fire(name, "miss", node="^no-such-node-at-all$")
        hit = yield self.consul.event.fire(name, "hit", node=".")
        _, events = yield self.consul.event.list(name, index=1, wait="10s")
        self.assertEqual([e["ID"] for e in events], [hit["ID"]])

    @inlineCallbacks
    def test_event_tag_without_service(self) -> Any:
        """The agent refuses a tag filter without a service filter."""
        d = self.consul.http.request("PUT", "/v1/event/fire/" + self.unique("t"), [("tag", "x")], body=b"")
        with self.assertRaises(ConsulException) as cm:
            yield d
        self.assertEqual(cm.exception.status, 500)
        self.assertIn(b"Cannot provide tag filter without service filter", cm.exception.body)

    @inlineCallbacks
    def test_query_lifecycle(self) -> Any:
        """create, get, list, update, execute, explain and delete a prepared query."""
        name = self.unique("q")
        created = yield self.consul.query.create("consul", name=name, ttl="10s")
        qid = created["ID"]
        self.addCleanup(self._delete_query, qid)  # type: ignore[attr-defined]
        (query,) = yield self.consul.query.get(qid)
        self.assertEqual((query["Name"], query["Service"]["Service"]), (name, "consul"))
        self.assertEqual(query["DNS"]["TTL"], "10s")
        listed = yield self.consul.query.list()
        self.assertIn(qid, [q["ID"] for q in listed])
        result = yield self.consul.query.execute(name)
        self.assertEqual(result["Service"], "consul")
        self.assertGreaterEqual(len(result["Nodes"]), 1)
        self.assertEqual(result["Failovers"], 0)
        entry = result["Nodes"][0]
        self.assertEqual(entry["Service"]["Service"], "consul")
        self.assertIn("Node", entry["Node"])
        self.assertIsInstance(entry["Checks"], list)
        result = yield self.consul.query.execute(qid, limit=1)
        self.assertEqual(len(result["Nodes"]), 1)
        self.assertIs((yield self.consul.query.update(qid, "consul", name=name, tags=["no-such-tag"])), True)
        result = yield self.consul.query.execute(name)
        self.assertEqual(result["Nodes"], [])
        explained = yield self.consul.query.explain(name)
        self.assertEqual(explained["Query"]["Service"]["Tags"], ["no-such-tag"])
        self.assertIs((yield self.consul.query.delete(qid)), True)
        self.assertIsNone((yield self.consul.query.get(qid)))
        self.assertIsNone((yield self.consul.query.execute(name)))

    @inlineCallbacks
    def test_query_name_conflict(self) -> Any:
        """A second query with the same name is refused with Consul's message."""
        name = self.unique("dup")
        created = yield self.consul.query.create("consul", name=name)
        self.addCleanup(self._delete_query, created["ID"])  # type: ignore[attr-defined]
        with self.assertRaises(ConsulException) as cm:
            yield self.consul.query.create("consul", name=name)
        self.assertIn(b"aliases an existing query name", cm.exception.body)

    @inlineCallbacks
    def test_query_template(self) -> Any:
        """A name_prefix_match template renders the matched part into the service."""
        prefix = self.unique("tpl") + "-"
        created = yield self.consul.query.create("${name.suffix}", name=prefix, regexp="")
        self.addCleanup(self._delete_query, created["ID"])  # type: ignore[attr-defined]
        explained = yield self.consul.query.explain(prefix + "consul")
        self.assertEqual(explained["Query"]["Service"]["Service"], "consul")
        result = yield self.consul.query.execute(prefix + "consul")
        self.assertGreaterEqual(len(result["Nodes"]), 1)

    def _delete_query(self, qid: str) -> Any:
        d = self.consul.query.delete(qid)
        d.addErrback(lambda f: None)  # already deleted by the test
        return d

    @inlineCallbacks
    def test_coordinates(self) -> Any:
        """Coordinate endpoints answer Consul's shapes."""
        dcs = yield self.consul.coordinate.datacenters()
        self.assertGreaterEqual(len(dcs), 1)
        self.assertIn("Coordinates", dcs[0])
        index, nodes = yield self.consul.coordinate.nodes()
        self.assertGreaterEqual(index, 1)
        for node in nodes:
            self.assertEqual(len(node["Coord"]["Vec"]), 8)
        _, none = yield self.consul.coordinate.node(self.unique("nobody"))
        self.assertIsNone(none)

    @inlineCallbacks
    def test_coordinate_nodes_blocking_times_out(self) -> Any:
        """A blocking nodes() with nothing changing answers after wait (1s on the real clock)."""
        index, _ = yield self.consul.coordinate.nodes()
        new_index, _ = yield self.consul.coordinate.nodes(index=index, wait="1s")
        self.assertGreaterEqual(new_index, index)

    @inlineCallbacks
    def test_raft_config(self) -> Any:
        """The Raft configuration has exactly one leader among voting servers."""
        config = yield self.consul.operator.raft_config()
        self.assertGreaterEqual(len(config["Servers"]), 1)
        self.assertEqual(sum(1 for s in config["Servers"] if s["Leader"]), 1)
        self.assertTrue(all(":" in s["Address"] for s in config["Servers"]))

    @inlineCallbacks
    def test_fake_exact_shapes(self) -> Any:
        """FakeConsul's coordinate and Raft answers match a fresh dev agent."""
        fake = self.need_fake()  # type: ignore[attr-defined]
        _, nodes = yield self.consul.coordinate.nodes()
        self.assertEqual([n["Node"] for n in nodes], [fake.core.node_name])
        config = yield self.consul.operator.raft_config()
        self.assertEqual(config["Servers"][0]["ID"], fake.catalog.nodes[fake.core.node_name]["ID"])


class EventQueryFakeTests(EventQueryMixin, FakeAgentCase):
    """Against FakeConsul on loopback."""


class EventQueryRealTests(EventQueryMixin, RealAgentCase):
    """Against the real agent at CONSUL_HTTP_ADDR."""
