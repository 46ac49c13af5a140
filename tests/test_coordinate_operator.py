"""
Tests for network coordinates and the operator Raft configuration: the client
(txconsul.api.coordinate, txconsul.api.operator) and FakeConsul, in memory.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ACLPermissionDenied, ConsulException, QueryMeta
from txconsul.api.coordinate import Coordinate
from txconsul.api.operator import Operator
from txconsul.testing import FakeConsul

from .fakecase import Denier
from .test_event import RecordingTransport
from .test_query import add_instance

VEC = [0.1, 0.2, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3]


class Case(SynchronousTestCase):
    """A FakeConsul on a Clock and a client wired to it."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=7, node_name="agent-one")
        self.consul = self.fake.client()

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)

    def update(self, node: str, vec: Any = VEC, **extra: Any) -> Any:
        """PUT /v1/coordinate/update for node."""
        body = {"Node": node, "Coord": {"Vec": vec, "Error": 0.5, "Adjustment": 0.1, "Height": 0.01}}
        body.update(extra)
        return self.consul.http.request("PUT", "/v1/coordinate/update", json_body=body)


class RequestShapeTests(SynchronousTestCase):
    """What the coordinate and operator methods send."""

    def test_datacenters(self) -> None:
        """datacenters GETs /v1/coordinate/datacenters without a dc."""
        t = RecordingTransport(b"[]")
        self.assertEqual(self.successResultOf(Coordinate(t).datacenters()), [])
        ((args, kwargs),) = t.calls
        self.assertEqual(args[:2], ("GET", "/v1/coordinate/datacenters"))
        self.assertIs(kwargs["use_dc"], False)

    def test_nodes(self) -> None:
        """nodes is a blocking read with dc, index, wait and consistency."""
        t = RecordingTransport(b"[]", index=9)
        result = self.successResultOf(
            Coordinate(t).nodes(dc="dc2", index=5, wait="3s", consistency="stale", token="t")
        )
        self.assertEqual(result, (9, []))
        ((args, kwargs),) = t.calls
        self.assertEqual(args[:2], ("GET", "/v1/coordinate/nodes"))
        self.assertEqual(
            (kwargs["dc"], kwargs["index"], kwargs["wait"], kwargs["consistency"], kwargs["token"]),
            ("dc2", 5, 3.0, "stale", "t"),
        )
        self.assertIs(kwargs["require_index"], True)

    def test_node_escaped(self) -> None:
        """node escapes the node name."""
        t = RecordingTransport(b"[]", index=1)
        Coordinate(t).node("a b/c")
        self.assertEqual(t.calls[0][0][1], "/v1/coordinate/node/a%20b%2Fc")

    def test_bad_arguments(self) -> None:
        """Bad index, wait, consistency and node fail before any request."""
        t = RecordingTransport()
        c = Coordinate(t)
        self.assertRaises(ValueError, c.nodes, index=-1)
        self.assertRaises(ValueError, c.nodes, wait="later")
        self.assertRaises(ValueError, c.nodes, consistency="eventual")
        self.assertRaises(ValueError, c.node, "")
        self.assertRaises(ValueError, Operator(t).raft_config, consistency="bad")
        self.assertEqual(t.calls, [])

    def test_raft_config(self) -> None:
        """raft_config GETs /v1/operator/raft/configuration."""
        t = RecordingTransport(b'{"Servers":[],"Index":1}')
        self.assertEqual(
            self.successResultOf(Operator(t).raft_config(consistency="stale", dc="d", token="t")),
            {"Servers": [], "Index": 1},
        )
        ((args, kwargs),) = t.calls
        self.assertEqual(args[:2], ("GET", "/v1/operator/raft/configuration"))
        self.assertEqual((kwargs["consistency"], kwargs["dc"], kwargs["token"]), ("stale", "d", "t"))


class CoordinateTests(Case):
    """Coordinates from FakeConsul."""

    def test_datacenters(self) -> None:
        """The WAN view has this server by node name (the .<dc> suffix stripped) in area WAN."""
        (dc,) = self.ok(self.consul.coordinate.datacenters())
        self.assertEqual(dc["Datacenter"], "dc1")
        self.assertEqual(dc["AreaID"], "WAN")
        (coord,) = dc["Coordinates"]
        self.assertEqual(coord["Node"], "agent-one")
        self.assertEqual(len(coord["Coord"]["Vec"]), 8)

    def test_nodes_origin(self) -> None:
        """A fresh agent lists its own node at the origin."""
        index, nodes = self.ok(self.consul.coordinate.nodes())
        self.assertGreaterEqual(index, 1)
        self.assertEqual(
            nodes,
            [
                {
                    "Node": "agent-one",
                    "Segment": "",
                    "Coord": {"Vec": [0] * 8, "Error": 1.5, "Adjustment": 0, "Height": 1e-05},
                }
            ],
        )

    def test_meta(self) -> None:
        """meta=True gives the QueryMeta with leader headers."""
        meta, _ = self.ok(self.consul.coordinate.nodes(meta=True))
        self.assertIsInstance(meta, QueryMeta)
        self.assertIs(meta.known_leader, True)

    def test_update_and_node(self) -> None:
        """An update is listed, readable per node, and moves the index."""
        add_instance(self.fake, "node2", "s", "s")
        before, _ = self.ok(self.consul.coordinate.nodes())
        self.ok(self.update("node2"))
        index, nodes = self.ok(self.consul.coordinate.nodes())
        self.assertGreater(index, before)
        self.assertEqual([n["Node"] for n in nodes], ["agent-one", "node2"])
        _, one = self.ok(self.consul.coordinate.node("node2"))
        self.assertEqual(one[0]["Coord"]["Vec"], VEC)

    def test_update_unregistered_node_ignored(self) -> None:
        """Coordinates for unknown nodes are dropped, as Consul's batch apply does."""
        self.ok(self.update("ghost"))
        self.assertEqual([n["Node"] for n in self.ok(self.consul.coordinate.nodes())[1]], ["agent-one"])

    def test_update_invalid(self) -> None:
        """A coordinate of the wrong dimension or with bad numbers is refused."""
        f = self.failureResultOf(self.update("agent-one", vec=[0.0] * 3), ConsulException)
        self.assertEqual(f.value.body, b"incompatible coordinate")
        f = self.failureResultOf(self.update("agent-one", vec=["x"] * 8), ConsulException)
        # decodeBody refuses a string where serf's Vec holds float64s.
        self.assertEqual(
            f.value.body,
            b"Request decode failed: json: cannot unmarshal string into "
            b"Go struct field Coordinate.Coord.Vec of type float64",
        )

    def test_node_unknown(self) -> None:
        """A node without coordinates is (index, None)."""
        index, data = self.ok(self.consul.coordinate.node("nobody"))
        self.assertIsNone(data)
        self.assertGreaterEqual(index, 1)

    def test_blocking_wakes_on_update(self) -> None:
        """A blocked nodes() answers when a coordinate changes."""
        add_instance(self.fake, "node2", "s", "s")
        index, _ = self.ok(self.consul.coordinate.nodes())
        d = self.consul.coordinate.nodes(index=index)
        self.assertNoResult(d)
        self.ok(self.update("node2"))
        new_index, nodes = self.ok(d)
        self.assertGreater(new_index, index)
        self.assertEqual(len(nodes), 2)

    def test_blocking_times_out(self) -> None:
        """Without changes, nodes() answers after wait with the same index."""
        index, _ = self.ok(self.consul.coordinate.nodes())
        d = self.consul.coordinate.nodes(index=index, wait="2s")
        self.clock.advance(2.2)
        self.assertEqual(self.ok(d)[0], index)

    def test_removed_node_forgotten(self) -> None:
        """A node removed from the catalog loses its coordinates."""
        add_instance(self.fake, "node2", "s", "s")
        self.ok(self.update("node2"))
        del self.fake.catalog.nodes["node2"]
        self.assertEqual([n["Node"] for n in self.ok(self.consul.coordinate.nodes())[1]], ["agent-one"])

    def test_acl(self) -> None:
        """nodes() filters by node:read; node() of a denied node is 403."""
        add_instance(self.fake, "node2", "s", "s")
        self.ok(self.update("node2"))
        self.fake.acl.authorizer = lambda req: Denier(("node", "node2", "read"))
        self.assertEqual([n["Node"] for n in self.ok(self.consul.coordinate.nodes())[1]], ["agent-one"])
        self.failureResultOf(self.consul.coordinate.node("node2"), ACLPermissionDenied)

    def test_unknown_dc(self) -> None:
        """nodes() in an unknown datacenter fails."""
        f = self.failureResultOf(self.consul.coordinate.nodes(dc="dc9"), ConsulException)
        self.assertIn(b"No path to datacenter", f.value.body)


class OperatorTests(Case):
    """The Raft configuration of FakeConsul."""

    def test_raft_config(self) -> None:
        """The agent is the only server: leader, voter, protocol 3, node ID as ID."""
        config = self.ok(self.consul.operator.raft_config())
        (server,) = config["Servers"]
        self.assertEqual(server["ID"], self.fake.catalog.nodes["agent-one"]["ID"])
        self.assertEqual(server["Node"], "agent-one")
        self.assertEqual(server["Address"], "127.0.0.1:8300")
        self.assertIs(server["Leader"], True)
        self.assertIs(server["Voter"], True)
        self.assertEqual(server["ProtocolVersion"], "3")
        self.assertIsInstance(config["Index"], int)

    def test_raft_config_denied(self) -> None:
        """operator:read is required."""
        self.fake.acl.authorizer = lambda req: Denier(("operator", "", "read"))
        self.failureResultOf(self.consul.operator.raft_config(), ACLPermissionDenied)
