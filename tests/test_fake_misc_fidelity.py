"""
FakeConsul against real Consul, rule by rule, for the event, coordinate,
prepared query and transaction endpoints (txconsul.testing._event,
_coordinate, _query, _txn, _acl).  Each test names the Consul source the
rule comes from.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ACLPermissionDenied, ConsulException
from txconsul.api.txn import Txn
from txconsul.testing import FakeConsul

from .fakecase import Denier, add_service

ROOT = "11111111-2222-3333-4444-555555555555"
UNKNOWN = "99999999-8888-7777-6666-555555555555"
META_FIELDS = ["Index", "LastContact", "KnownLeader", "ConsistencyLevel", "NotModified", "Backend"]


class Case(SynchronousTestCase):
    """A FakeConsul with ACLs off and a client."""

    acl = False

    def setUp(self) -> None:
        self.clock = Clock()
        if self.acl:
            self.fake = FakeConsul(self.clock, seed=5, acl_master_token=ROOT, acl_default_policy="deny")
            self.consul = self.fake.client(token=ROOT)
        else:
            self.fake = FakeConsul(self.clock, seed=5)
            self.consul = self.fake.client()

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)

    def raw(self, method: str, path: str, params: Any = None, expect: Any = (200,), **kw: Any) -> Any:
        """A raw response from the fake."""
        return self.ok(self.consul.http.request(method, path, params, expect=expect, **kw))

    def header(self, response: Any, name: str) -> Any:
        """One response header's values (None when absent)."""
        return response.headers.getRawHeaders(name.encode())


class EventTests(Case):
    """agent/event_endpoint.go and agent/user_event.go."""

    acl = True

    def test_bad_filter_beats_denial(self) -> None:
        """validateUserEventParams runs before the event:write check, so its 500 wins over 403."""
        anon = self.fake.client()
        f = self.failureResultOf(
            anon.http.request("PUT", "/v1/event/fire/e", [("tag", "t")]), ConsulException
        )
        self.assertEqual(
            (f.value.status, f.value.body), (500, b"Cannot provide tag filter without service filter")
        )
        f = self.failureResultOf(
            anon.http.request("PUT", "/v1/event/fire/e", [("node", "(")]), ConsulException
        )
        self.assertEqual(f.value.status, 500)
        self.assertTrue(f.value.body.startswith(b"Invalid node filter: "))
        # A valid request from the same token is still denied.
        self.failureResultOf(anon.event.fire("e"), ACLPermissionDenied)

    def test_service_filter_matches_service_id(self) -> None:
        """The service filter is matched against the agent's service IDs (the map keys), not names."""
        add_service(self.fake, "web-1", "web")
        self.ok(self.consul.event.fire("by-id", service="^web-1$"))
        self.ok(self.consul.event.fire("by-name", service="^web$"))
        _, events = self.ok(self.consul.event.list())
        self.assertEqual([e["Name"] for e in events], ["by-id"])

    def test_list_unknown_token_without_events(self) -> None:
        """EventList resolves the token first: an unknown secret is 403 'ACL not found' on an empty buffer."""
        f = self.failureResultOf(self.fake.client(token=UNKNOWN).event.list(), ACLPermissionDenied)
        self.assertEqual(f.value.body, b"ACL not found")

    def test_list_bad_wait_before_token(self) -> None:
        """parseWait runs before the token is resolved: a bad wait is 400 even with an unknown secret."""
        client = self.fake.client(token=UNKNOWN)
        d = client.http.request("GET", "/v1/event/list", [("wait", "10"), ("index", "5")], use_dc=False)
        f = self.failureResultOf(d, ConsulException)
        self.assertEqual((f.value.status, f.value.body), (400, b"Invalid wait time"))


class CoordinateTests(Case):
    """agent/coordinate_endpoint.go and agent/consul/coordinate_endpoint.go."""

    def setUp(self) -> None:
        super().setUp()
        self.fake.catalog.nodes["node2"] = dict(
            self.fake.catalog.nodes[self.fake.core.node_name], Node="node2", ID=""
        )

    def test_datacenters_strip_dc_suffix(self) -> None:
        """Coordinate.ListDatacenters strips '.<dc>' from the WAN member names."""
        (dc,) = self.ok(self.consul.coordinate.datacenters())
        self.assertEqual([c["Node"] for c in dc["Coordinates"]], [self.fake.core.node_name])

    def update(self) -> None:
        """Give node2 a coordinate."""
        body = {"Node": "node2", "Coord": {"Vec": [0.1] * 8, "Error": 0.5, "Adjustment": 0.0, "Height": 0.01}}
        self.raw("PUT", "/v1/coordinate/update", json_body=body)

    def test_filtered_header_with_token(self) -> None:
        """A token whose node:read removes coordinates gets X-Consul-Results-Filtered-By-ACLs: true."""
        self.update()
        self.fake.acl.authorizer = lambda req: Denier(("node", "node2", "read"))  # type: ignore[method-assign]
        client = self.fake.client(token="some-token")
        r = self.ok(client.http.request("GET", "/v1/coordinate/nodes"))
        self.assertEqual([c["Node"] for c in r.json()], [self.fake.core.node_name])
        self.assertEqual(self.header(r, "X-Consul-Results-Filtered-By-ACLs"), [b"true"])

    def test_filtered_header_masked_without_token(self) -> None:
        """Without a token the header is masked (maskResultsFilteredByACLs)."""
        self.update()
        self.fake.acl.authorizer = lambda req: Denier(("node", "node2", "read"))  # type: ignore[method-assign]
        r = self.raw("GET", "/v1/coordinate/nodes")
        self.assertEqual(len(r.json()), 1)
        self.assertIsNone(self.header(r, "X-Consul-Results-Filtered-By-ACLs"))

    def test_filtered_header_absent_when_nothing_removed(self) -> None:
        """The header is never 'false': absent when ACLs removed nothing."""
        self.update()
        r = self.ok(self.fake.client(token="some-token").http.request("GET", "/v1/coordinate/nodes"))
        self.assertEqual(len(r.json()), 2)
        self.assertIsNone(self.header(r, "X-Consul-Results-Filtered-By-ACLs"))

    def test_filtered_flag_ignores_segment(self) -> None:
        """ACLs filter in the RPC, ?segment in the HTTP handler: a denied node in another segment still counts."""
        self.update()
        self.fake.acl.authorizer = lambda req: Denier(("node", "node2", "read"))  # type: ignore[method-assign]
        client = self.fake.client(token="some-token")
        r = self.ok(client.http.request("GET", "/v1/coordinate/nodes", [("segment", "")]))
        self.assertEqual(self.header(r, "X-Consul-Results-Filtered-By-ACLs"), [b"true"])


class QueryTests(Case):
    """agent/prepared_query_endpoint.go and agent/consul/prepared_query_endpoint.go."""

    def setUp(self) -> None:
        super().setUp()
        add_service(self.fake, "web-1", "web")
        self.qid = self.ok(self.consul.query.create("web", name="web-q"))["ID"]

    def test_execute_body_embeds_query_meta(self) -> None:
        """PreparedQueryExecuteResponse embeds QueryMeta untagged: its fields follow Failovers."""
        body = self.raw("GET", f"/v1/query/{self.qid}/execute").json()
        self.assertEqual(list(body), ["Service", "Nodes", "DNS", "Datacenter", "Failovers"] + META_FIELDS)
        self.assertEqual([body[k] for k in META_FIELDS], [0, 0, True, "leader", False, 0])

    def test_explain_body_embeds_query_meta(self) -> None:
        """PreparedQueryExplainResponse embeds QueryMeta too."""
        body = self.raw("GET", f"/v1/query/{self.qid}/explain").json()
        self.assertEqual(list(body), ["Query"] + META_FIELDS)
        self.assertIs(body["KnownLeader"], True)

    def test_execute_consistency(self) -> None:
        """?stale makes ConsistencyLevel 'stale' in the body and the Effective-Consistency header."""
        r = self.raw("GET", f"/v1/query/{self.qid}/execute", [("stale", None)])
        self.assertEqual(r.json()["ConsistencyLevel"], "stale")
        self.assertEqual(self.header(r, "X-Consul-Effective-Consistency"), [b"stale"])
        self.assertEqual(self.header(r, "X-Consul-Index"), [b"1"])

    def test_reads_set_effective_consistency(self) -> None:
        """List, get, execute and explain all set X-Consul-Effective-Consistency (setMeta)."""
        for path in (
            "/v1/query",
            f"/v1/query/{self.qid}",
            f"/v1/query/{self.qid}/execute",
            f"/v1/query/{self.qid}/explain",
        ):
            r = self.raw("GET", path)
            self.assertEqual(self.header(r, "X-Consul-Effective-Consistency"), [b"leader"], path)

    def test_explain_bad_limit(self) -> None:
        """Explain parses ?limit like execute: 500 'Bad limit: ...'."""
        f = self.failureResultOf(
            self.consul.http.request("GET", f"/v1/query/{self.qid}/explain", [("limit", "x")]),
            ConsulException,
        )
        self.assertEqual(
            (f.value.status, f.value.body), (500, b'Bad limit: strconv.Atoi: parsing "x": invalid syntax')
        )

    def test_explain_bad_wait(self) -> None:
        """Execute and explain go through s.parse: a bad wait is 400."""
        for suffix in ("execute", "explain"):
            f = self.failureResultOf(
                self.consul.http.request("GET", f"/v1/query/{self.qid}/{suffix}", [("wait", "5")]),
                ConsulException,
            )
            self.assertEqual(f.value.status, 400)


class QueryTokenTests(Case):
    """PreparedQuery.Apply/List/Get/Execute resolve the token before deciding anything."""

    acl = True

    def setUp(self) -> None:
        super().setUp()
        self.unknown = self.fake.client(token=UNKNOWN)

    def acl_not_found(self, d: Any) -> None:
        """Assert d failed with 403 'ACL not found'."""
        f = self.failureResultOf(d, ACLPermissionDenied)
        self.assertEqual(f.value.body, b"ACL not found")

    def test_delete_missing_query(self) -> None:
        """Apply resolves the token before the existence check: 403, not 'Cannot modify non-existent'."""
        self.acl_not_found(self.unknown.http.request("DELETE", f"/v1/query/{UNKNOWN}"))

    def test_list_empty(self) -> None:
        """List's filterACL resolves the token even with no queries."""
        self.acl_not_found(self.unknown.query.list())

    def test_execute_without_instances(self) -> None:
        """Execute's filterACL resolves the token even when nothing matched."""
        qid = self.ok(self.consul.query.create("nothing-here", name="empty"))["ID"]
        self.acl_not_found(self.unknown.query.execute(qid))

    def test_unknown_query_is_404_first(self) -> None:
        """A missing query is 404 'Query not found' before the token matters."""
        f = self.failureResultOf(self.unknown.http.request("GET", "/v1/query/nope/execute"), ConsulException)
        self.assertEqual((f.value.status, f.value.body), (404, b"Query not found"))


class TxnTests(Case):
    """agent/txn_endpoint.go: TxnReadResponse embeds QueryMeta, TxnResponse does not."""

    def put(self, ops: Any) -> Any:
        """PUT /v1/txn; the raw response."""
        return self.raw("PUT", "/v1/txn", json_body=ops, expect=(200, 409))

    def test_read_only_body_embeds_query_meta(self) -> None:
        """A read-only transaction answers Results, Errors, then the QueryMeta fields."""
        self.ok(self.consul.kv.put("k", "v"))
        body = self.put([Txn.kv_get("k")]).json()
        self.assertEqual(list(body), ["Results", "Errors"] + META_FIELDS)
        self.assertEqual([body[k] for k in META_FIELDS], [0, 0, True, "", False, 0])

    def test_read_only_conflict_embeds_query_meta(self) -> None:
        """A failed read-only transaction's 409 body is a TxnReadResponse too."""
        r = self.put([Txn.kv_get("absent")])
        self.assertEqual(r.code, 409)
        self.assertEqual(list(r.json()), ["Results", "Errors"] + META_FIELDS)

    def test_write_body_has_no_query_meta(self) -> None:
        """A write transaction answers a TxnResponse: Results and Errors only."""
        r = self.put([Txn.kv_set("k", "v")])
        self.assertEqual(list(r.json()), ["Results", "Errors"])
        r = self.put([Txn.kv_cas("k", "w", 1)])
        self.assertEqual((r.code, list(r.json())), (409, ["Results", "Errors"]))
