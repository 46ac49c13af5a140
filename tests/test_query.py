"""
Tests for prepared queries: the client (txconsul.api.query) and FakeConsul's
``/v1/query`` (txconsul.testing._query), in memory.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from twisted.trial.unittest import SynchronousTestCase

from txconsul import ACLPermissionDenied, BadRequest, ConsulException
from txconsul.api.query import Query, query_definition
from txconsul.testing import FakeConsul

from .fakecase import Denier, FakeConsulCase
from .test_event import RecordingTransport


def add_instance(
    fake: FakeConsul,
    node: str,
    sid: str,
    name: str,
    tags: Optional[list[str]] = None,
    status: Optional[str] = "passing",
    meta: Optional[dict[str, str]] = None,
) -> None:
    """Register a node (if new), a service instance and its check straight in the catalog."""
    catalog = fake.catalog
    if node not in catalog.nodes:
        catalog.nodes[node] = {
            "ID": fake.core.new_uuid(),
            "Node": node,
            "Address": "10.0.0.1",
            "Datacenter": "dc1",
            "TaggedAddresses": {},
            "Meta": {"rack": node[-1]},
            "CreateIndex": 1,
            "ModifyIndex": 1,
        }
    catalog.services[(node, sid)] = {
        "ID": sid,
        "Service": name,
        "Tags": list(tags or []),
        "Address": "",
        "Meta": dict(meta or {}),
        "Port": 80,
        "CreateIndex": 1,
        "ModifyIndex": 1,
    }
    if status is not None:
        catalog.checks[(node, "service:" + sid)] = {
            "Node": node,
            "CheckID": "service:" + sid,
            "Name": "check",
            "Status": status,
            "Notes": "",
            "Output": "",
            "ServiceID": sid,
            "ServiceName": name,
            "ServiceTags": list(tags or []),
            "Type": "ttl",
            "CreateIndex": 1,
            "ModifyIndex": 1,
        }


class QueryCase(FakeConsulCase):
    """A FakeConsul on a Clock and a client wired to it."""

    seed = 5

    def fail(self, d: Any, exc: Any = ConsulException) -> Any:
        """The exception of an already-failed Deferred."""
        return self.failureResultOf(d, exc).value


class RequestShapeTests(SynchronousTestCase):
    """What each query method sends."""

    def test_create(self) -> None:
        """create POSTs a JSON definition with only the given fields."""
        t = RecordingTransport(b'{"ID":"abc"}')
        result = self.successResultOf(
            Query(t).create(
                "redis",
                name="q",
                dc="dc2",
                session="s",
                token="tok",
                nearestn=2,
                datacenters=["dc3"],
                onlypassing=True,
                tags=["a", "!b"],
                ttl="10s",
            )
        )
        self.assertEqual(result, {"ID": "abc"})
        ((args, kwargs),) = t.calls
        self.assertEqual(args[:2], ("POST", "/v1/query"))
        self.assertEqual(kwargs["token"], "tok")
        self.assertEqual(kwargs["dc"], "dc2")
        self.assertEqual(
            kwargs["json_body"],
            {
                "Name": "q",
                "Session": "s",
                "Service": {
                    "Service": "redis",
                    "OnlyPassing": True,
                    "Tags": ["a", "!b"],
                    "Failover": {"NearestN": 2, "Datacenters": ["dc3"]},
                },
                "DNS": {"TTL": "10s"},
            },
        )

    def test_create_minimal_and_template(self) -> None:
        """Only Service is sent by default; regexp makes a template; the token is not stored."""
        t = RecordingTransport(b'{"ID":"abc"}')
        Query(t).create("web", token="tok")
        self.assertEqual(t.calls[0][1]["json_body"], {"Service": {"Service": "web"}})
        Query(t).create("${match(1)}", name="geo-", regexp="^geo-(.*)$", ttl=30, query_token="qt")
        body = t.calls[1][1]["json_body"]
        self.assertEqual(body["Template"], {"Type": "name_prefix_match", "Regexp": "^geo-(.*)$"})
        self.assertEqual(body["DNS"], {"TTL": "30s"})
        self.assertEqual(body["Token"], "qt")

    def test_update(self) -> None:
        """update PUTs to the escaped ID and answers True for the empty 200."""
        t = RecordingTransport(b"")
        self.assertIs(self.successResultOf(Query(t).update("id/1", "web", name="n")), True)
        ((args, kwargs),) = t.calls
        self.assertEqual(args[:2], ("PUT", "/v1/query/id%2F1"))
        self.assertEqual(kwargs["json_body"], {"Name": "n", "Service": {"Service": "web"}})

    def test_get_delete_list(self) -> None:
        """get/delete/list use the right method, path, token and dc."""
        t = RecordingTransport(b"[]")
        q = Query(t)
        q.get("abc", token="t", dc="d")
        q.delete("abc", token="t", dc="d")
        q.list(dc="d", token="t")
        self.assertEqual(
            [c[0][:2] for c in t.calls],
            [
                ("GET", "/v1/query/abc"),
                ("DELETE", "/v1/query/abc"),
                ("GET", "/v1/query"),
            ],
        )
        for _, kwargs in t.calls:
            self.assertEqual((kwargs["token"], kwargs["dc"]), ("t", "d"))

    def test_execute_explain(self) -> None:
        """execute sends near and limit; explain hits /explain; names are escaped."""
        t = RecordingTransport(b"{}")
        q = Query(t)
        q.execute("my query", near="_agent", limit=3)
        q.explain("geo-db-x")
        self.assertEqual(
            t.calls[0][0], ("GET", "/v1/query/my%20query/execute", [("near", "_agent"), ("limit", "3")])
        )
        self.assertEqual(t.calls[1][0][:2], ("GET", "/v1/query/geo-db-x/explain"))

    def test_bad_arguments(self) -> None:
        """Bad arguments fail synchronously, before any request."""
        t = RecordingTransport()
        q = Query(t)
        self.assertRaises(ValueError, q.create, "")
        self.assertRaises(TypeError, q.create, None)
        self.assertRaises(TypeError, q.create, "s", tags="a")
        self.assertRaises(TypeError, q.create, "s", onlypassing="yes")
        self.assertRaises(ValueError, q.create, "s", nearestn=-1)
        self.assertRaises(ValueError, q.create, "s", ttl="soon")
        self.assertRaises(ValueError, q.update, "id")
        self.assertRaises(ValueError, q.get, "")
        self.assertRaises(ValueError, q.execute, "q", limit=-1)
        self.assertRaises(TypeError, q.execute, "q", limit="3")
        self.assertRaises(ValueError, q.execute, "q", consistency="sometimes")
        self.assertEqual(t.calls, [])

    def test_definition_helper(self) -> None:
        """query_definition accepts any iterable of tags."""
        self.assertEqual(query_definition("s", tags=("a",))["Service"]["Tags"], ["a"])


class CRUDTests(QueryCase):
    """create/get/list/update/delete against FakeConsul."""

    def test_create_get(self) -> None:
        """A created query reads back with Consul's full shape."""
        qid = self.ok(self.consul.query.create("redis", name="q1", tags=["a"], ttl="10s"))["ID"]
        (query,) = self.ok(self.consul.query.get(qid))
        self.assertEqual(query["ID"], qid)
        self.assertEqual(query["Name"], "q1")
        self.assertEqual(query["Service"]["Service"], "redis")
        self.assertEqual(query["Service"]["Tags"], ["a"])
        self.assertIs(query["Service"]["OnlyPassing"], False)
        self.assertEqual(query["DNS"], {"TTL": "10s"})
        self.assertEqual(query["Token"], "")
        self.assertEqual(query["Template"]["Type"], "")
        self.assertEqual(query["CreateIndex"], query["ModifyIndex"])

    def test_list(self) -> None:
        """list shows every query; empty is []."""
        self.assertEqual(self.ok(self.consul.query.list()), [])
        a = self.ok(self.consul.query.create("a", name="qa"))["ID"]
        b = self.ok(self.consul.query.create("b", name="qb"))["ID"]
        self.assertEqual(sorted(q["ID"] for q in self.ok(self.consul.query.list())), sorted([a, b]))

    def test_update(self) -> None:
        """update replaces the definition, keeps CreateIndex, bumps ModifyIndex."""
        qid = self.ok(self.consul.query.create("a", name="q", tags=["x"]))["ID"]
        (before,) = self.ok(self.consul.query.get(qid))
        self.assertIs(self.ok(self.consul.query.update(qid, "b", name="q2")), True)
        (after,) = self.ok(self.consul.query.get(qid))
        self.assertEqual(after["Service"]["Service"], "b")
        self.assertEqual(after["Name"], "q2")
        self.assertIsNone(after["Service"]["Tags"])
        self.assertEqual(after["CreateIndex"], before["CreateIndex"])
        self.assertGreater(after["ModifyIndex"], before["ModifyIndex"])

    def test_delete(self) -> None:
        """delete answers True and the query is gone (get gives None)."""
        qid = self.ok(self.consul.query.create("a", name="q"))["ID"]
        self.assertIs(self.ok(self.consul.query.delete(qid)), True)
        self.assertIsNone(self.ok(self.consul.query.get(qid)))
        self.assertEqual(self.ok(self.consul.query.list()), [])

    def test_get_unknown_404_text(self) -> None:
        """An unknown ID is a 404 'Query not found' on the wire."""
        f = self.fail(self.consul.http.request("GET", "/v1/query/8f246b77-f3e1-ff88-5b48-8ec93abf3e05"))
        self.assertEqual((f.status, f.body), (404, b"Query not found"))

    def test_modify_unknown(self) -> None:
        """Updating or deleting an unknown query is Consul's 500."""
        qid = "8f246b77-f3e1-ff88-5b48-8ec93abf3e05"
        e = self.fail(self.consul.query.delete(qid))
        self.assertEqual(e.status, 500)
        self.assertEqual(e.body, f"Cannot modify non-existent prepared query: '{qid}'".encode())
        e = self.fail(self.consul.query.update(qid, "web"))
        self.assertIn(b"Cannot modify non-existent prepared query", e.body)

    def test_names_unique(self) -> None:
        """A name (case-insensitively) may belong to one query only."""
        self.ok(self.consul.query.create("a", name="Same"))
        e = self.fail(self.consul.query.create("b", name="same"))
        self.assertEqual(e.body, b"name 'same' aliases an existing query name")

    def test_name_may_not_alias_id(self) -> None:
        """A name equal to another query's ID is refused."""
        qid = self.ok(self.consul.query.create("a", name="x"))["ID"]
        e = self.fail(self.consul.query.create("b", name=qid))
        self.assertEqual(e.body, f"name '{qid}' aliases an existing query ID".encode())

    def test_unnamed_needs_session(self) -> None:
        """A query with neither name, template nor session is refused."""
        e = self.fail(self.consul.query.create("a"))
        self.assertEqual(e.body, b"Invalid prepared query: Must be bound to a session")

    def test_validation(self) -> None:
        """Missing service and bad DNS TTL are Consul's 500s; bad JSON types 400."""
        e = self.fail(self.consul.http.request("POST", "/v1/query", json_body={"Name": "x"}))
        self.assertEqual(e.body, b"Invalid prepared query: Must provide a Service name to query")
        e = self.fail(
            self.consul.http.request(
                "POST",
                "/v1/query",
                json_body={"Name": "x", "Service": {"Service": "s"}, "DNS": {"TTL": "abc"}},
            )
        )
        self.assertTrue(e.body.startswith(b"Invalid prepared query: Bad DNS TTL 'abc'"))
        self.fail(
            self.consul.http.request("POST", "/v1/query", json_body={"Name": "x", "Service": {"Service": 3}}),
            BadRequest,
        )
        e = self.fail(
            self.consul.http.request(
                "POST", "/v1/query", json_body={"ID": "x", "Name": "x", "Service": {"Service": "s"}}
            )
        )
        self.assertEqual(e.body, b"ID must be empty when creating a new prepared query")

    def test_lowercase_keys(self) -> None:
        """Keys match case-insensitively, as Go decodes python-consul's lower-case body."""
        body = {"name": "lc", "service": {"service": "web", "onlypassing": True, "tags": ["a"]}}
        qid = self.ok(self.consul.http.request("POST", "/v1/query", json_body=body)).json()["ID"]
        (query,) = self.ok(self.consul.query.get(qid))
        self.assertEqual(query["Service"]["Service"], "web")
        self.assertIs(query["Service"]["OnlyPassing"], True)

    def test_session_binding(self) -> None:
        """A query bound to a session needs it to exist, and dies with it."""
        e = self.fail(self.consul.query.create("a", session="8f246b77-f3e1-ff88-5b48-8ec93abf3e05"))
        self.assertEqual(e.body, b'invalid session "8f246b77-f3e1-ff88-5b48-8ec93abf3e05"')
        sid = self.fake.sessions.create({})
        qid = self.ok(self.consul.query.create("a", session=sid))["ID"]
        self.assertEqual(len(self.ok(self.consul.query.list())), 1)
        self.fake.sessions.invalidate(sid)
        self.assertEqual(self.ok(self.consul.query.list()), [])
        self.assertIsNone(self.ok(self.consul.query.get(qid)))

    def test_session_invalidated_hook(self) -> None:
        """session_invalidated removes the bound queries and moves the table index."""
        sid = self.fake.sessions.create({})
        self.ok(self.consul.query.create("a", session=sid))
        self.fake.queries.session_invalidated(sid, 999)
        self.assertEqual(self.fake.queries.queries, {})
        self.assertEqual(self.fake.queries.table_index, 999)

    def test_list_index_and_blocking(self) -> None:
        """GET /v1/query blocks on the table index and wakes on a create."""
        first = self.ok(self.consul.http.request("GET", "/v1/query")).meta.index
        d = self.consul.http.request("GET", "/v1/query", index=first)
        self.assertNoResult(d)
        self.ok(self.consul.query.create("a", name="q"))
        response = self.ok(d)
        self.assertGreater(response.meta.index, first)
        self.assertEqual(len(response.json()), 1)

    def test_methods(self) -> None:
        """execute and explain are GET only; /v1/query allows GET and POST."""
        e = self.fail(self.consul.http.request("PUT", "/v1/query/x/execute", body=b""))
        self.assertEqual(e.status, 405)
        e = self.fail(self.consul.http.request("DELETE", "/v1/query"))
        self.assertEqual(e.status, 405)


class ACLTests(QueryCase):
    """The 'query' ACL resource and token redaction."""

    def test_create_denied(self) -> None:
        """Creating a named query needs query:write on its name."""
        self.fake.acl.authorizer = lambda req: Denier(("query", "q", "write"))
        self.fail(self.consul.query.create("a", name="q"), ACLPermissionDenied)

    def test_list_filters_and_redacts(self) -> None:
        """Without acl:write, lists hide unreadable queries and redact stored tokens."""
        self.ok(self.consul.query.create("a", name="open", query_token="secret"))
        self.ok(self.consul.query.create("b", name="closed"))
        self.fake.acl.authorizer = lambda req: Denier(("acl", "", "write"), ("query", "closed", "read"))
        queries = self.ok(self.consul.query.list())
        self.assertEqual([q["Name"] for q in queries], ["open"])
        self.assertEqual(queries[0]["Token"], "<hidden>")

    def test_management_sees_token(self) -> None:
        """With acl:write (ACLs off) the stored token is shown."""
        qid = self.ok(self.consul.query.create("a", name="open", query_token="secret"))["ID"]
        self.assertEqual(self.ok(self.consul.query.get(qid))[0]["Token"], "secret")

    def test_get_denied(self) -> None:
        """Reading a named query without query:read is 403."""
        qid = self.ok(self.consul.query.create("a", name="closed"))["ID"]
        self.fake.acl.authorizer = lambda req: Denier(("acl", "", "write"), ("query", "closed", "read"))
        self.fail(self.consul.query.get(qid), ACLPermissionDenied)
        self.fail(self.consul.query.explain("closed"), ACLPermissionDenied)

    def test_redacted_token_refused(self) -> None:
        """Submitting the '<hidden>' placeholder back as a token is refused."""
        e = self.fail(self.consul.query.create("a", name="q", query_token="<hidden>"))
        self.assertIn(b"looks like a query definition with a redacted token", e.body)


class ExecuteTests(QueryCase):
    """query.execute against the fake's health view."""

    def setUp(self) -> None:
        super().setUp()
        add_instance(self.fake, "node1", "web1", "web", ["primary", "v1"])
        add_instance(self.fake, "node2", "web2", "web", ["secondary", "v1"], status="warning")
        add_instance(self.fake, "node3", "web3", "web", ["primary", "v2"], status="critical")
        add_instance(self.fake, "node4", "web4", "web", ["primary", "experimental"], meta={"env": "prod"})
        add_instance(self.fake, "node4", "db4", "db", [])

    def run_query(self, **kw: Any) -> list[str]:
        """Create a query with kw, execute it, and return the service IDs found."""
        qid = self.ok(self.consul.query.create("web", session=self.fake.sessions.create({}), **kw))["ID"]
        result = self.ok(self.consul.query.execute(qid))
        return sorted(n["Service"]["ID"] for n in result["Nodes"])

    def test_default_excludes_critical_only(self) -> None:
        """By default warning instances are kept and critical ones dropped."""
        self.assertEqual(self.run_query(), ["web1", "web2", "web4"])

    def test_onlypassing_excludes_warning(self) -> None:
        """OnlyPassing drops warning instances too."""
        self.assertEqual(self.run_query(onlypassing=True), ["web1", "web4"])

    def test_tags(self) -> None:
        """Tags must all be present; '!tag' must be absent (case-insensitive)."""
        self.assertEqual(self.run_query(tags=["PRIMARY"]), ["web1", "web4"])
        self.assertEqual(self.run_query(tags=["primary", "!experimental"]), ["web1"])
        self.assertEqual(self.run_query(tags=["v1", "!secondary"]), ["web1"])

    def test_node_critical_check_excludes(self) -> None:
        """A critical node-level check (serfHealth-like) drops every instance on the node."""
        self.fake.catalog.checks[("node1", "serfHealth")] = {
            "Node": "node1",
            "CheckID": "serfHealth",
            "Status": "critical",
            "ServiceID": "",
        }
        self.assertEqual(self.run_query(), ["web2", "web4"])

    def test_result_shape(self) -> None:
        """The result has Service, Nodes with Node/Service/Checks, DNS, Datacenter, Failovers."""
        self.ok(self.consul.query.create("web", name="webq", ttl="10s", onlypassing=True, tags=["v1"]))
        result = self.ok(self.consul.query.execute("webq"))
        self.assertEqual(result["Service"], "web")
        self.assertEqual(result["DNS"], {"TTL": "10s"})
        self.assertEqual(result["Datacenter"], "dc1")
        self.assertEqual(result["Failovers"], 0)
        (entry,) = result["Nodes"]
        self.assertEqual(entry["Node"]["Node"], "node1")
        self.assertEqual(entry["Service"]["ID"], "web1")
        self.assertEqual([c["CheckID"] for c in entry["Checks"]], ["service:web1"])

    def test_limit_and_near(self) -> None:
        """limit trims the list; near puts that node first."""
        self.ok(self.consul.query.create("web", name="webq"))
        result = self.ok(self.consul.query.execute("webq", near="node4", limit=2))
        self.assertEqual(len(result["Nodes"]), 2)
        self.assertEqual(result["Nodes"][0]["Node"]["Node"], "node4")

    def test_bad_limit(self) -> None:
        """A non-numeric ?limit is a 500 'Bad limit: ...'."""
        self.ok(self.consul.query.create("web", name="webq"))
        e = self.fail(self.consul.http.request("GET", "/v1/query/webq/execute", [("limit", "x")]))
        self.assertTrue(e.body.startswith(b"Bad limit: "))

    def test_unknown(self) -> None:
        """Executing or explaining an unknown query gives None (404 'Query not found')."""
        self.assertIsNone(self.ok(self.consul.query.execute("nope")))
        self.assertIsNone(self.ok(self.consul.query.explain("nope")))

    def test_execute_by_name_case_insensitive(self) -> None:
        """Names resolve case-insensitively."""
        self.ok(self.consul.query.create("db", name="DBQ"))
        result = self.ok(self.consul.query.execute("dbq"))
        self.assertEqual([n["Service"]["ID"] for n in result["Nodes"]], ["db4"])

    def test_no_instances(self) -> None:
        """A service with no healthy instance gives an empty Nodes list."""
        self.ok(self.consul.query.create("ghost", name="g"))
        self.assertEqual(self.ok(self.consul.query.execute("g"))["Nodes"], [])


class TemplateTests(QueryCase):
    """name_prefix_match templates."""

    def setUp(self) -> None:
        super().setUp()
        add_instance(self.fake, "node1", "mysql-customer-1", "mysql-customer", ["primary"])
        add_instance(self.fake, "node2", "mysql-customer-2", "mysql-customer", ["replica"])

    def test_render_and_execute(self) -> None:
        """match(N) interpolates into Service and Tags; explain shows the rendering."""
        self.ok(
            self.consul.query.create(
                "mysql-${match(1)}",
                name="geo-db",
                regexp=r"^geo-db-(.*?)-([^\-]+?)$",
                tags=["${match(2)}"],
            )
        )
        explained = self.ok(self.consul.query.explain("geo-db-customer-primary"))["Query"]
        self.assertEqual(explained["Service"]["Service"], "mysql-customer")
        self.assertEqual(explained["Service"]["Tags"], ["primary"])
        result = self.ok(self.consul.query.execute("geo-db-customer-replica"))
        self.assertEqual(result["Service"], "mysql-customer")
        self.assertEqual([n["Service"]["ID"] for n in result["Nodes"]], ["mysql-customer-2"])

    def test_name_variables(self) -> None:
        """name.full, name.prefix and name.suffix interpolate."""
        self.ok(self.consul.query.create("${name.suffix}", name="x-", regexp=""))
        explained = self.ok(self.consul.query.explain("x-mysql-customer"))["Query"]
        self.assertEqual(explained["Service"]["Service"], "mysql-customer")

    def test_longest_prefix_and_static_first(self) -> None:
        """The longest template prefix wins; a static name beats templates."""
        self.ok(self.consul.query.create("short", name="a", regexp=""))
        self.ok(self.consul.query.create("long", name="ab", regexp=""))
        self.ok(self.consul.query.create("static", name="abc"))
        self.assertEqual(self.ok(self.consul.query.explain("abz"))["Query"]["Service"]["Service"], "long")
        self.assertEqual(self.ok(self.consul.query.explain("az"))["Query"]["Service"]["Service"], "short")
        self.assertEqual(self.ok(self.consul.query.explain("abc"))["Query"]["Service"]["Service"], "static")

    def test_template_not_by_id(self) -> None:
        """A template cannot be executed by its ID."""
        qid = self.ok(self.consul.query.create("${name.full}", name="t", regexp=""))["ID"]
        e = self.fail(self.consul.query.execute(qid))
        self.assertIn(b"can only be resolved up by name", e.body)

    def test_one_catch_all(self) -> None:
        """Only one template with an empty name may exist."""
        self.ok(self.consul.query.create("${name.full}", name="", regexp=""))
        e = self.fail(self.consul.query.create("${name.full}", name="", regexp=""))
        self.assertEqual(e.body, b"a query template with an empty name already exists")

    def test_bad_template(self) -> None:
        """A bad regexp or an unknown variable fails to compile."""
        e = self.fail(self.consul.query.create("s", name="t", regexp="("))
        self.assertTrue(e.body.startswith(b"failed compiling template: Bad Regexp"))
        e = self.fail(self.consul.query.create("${nope}", name="t", regexp=""))
        self.assertTrue(e.body.startswith(b"failed compiling template: Bad evaluation"))
        body = {"Name": "t", "Template": {"Type": "other"}, "Service": {"Service": "s"}}
        e = self.fail(self.consul.http.request("POST", "/v1/query", json_body=body))
        self.assertEqual(e.body, b"failed compiling template: Bad Template.Type 'other'")

    def test_remove_empty_tags(self) -> None:
        """RemoveEmptyTags drops tags that rendered empty."""
        body = {
            "Name": "r",
            "Template": {"Type": "name_prefix_match", "Regexp": "^r-(x)?$", "RemoveEmptyTags": True},
            "Service": {"Service": "s", "Tags": ["${match(1)}", "k"]},
        }
        self.ok(self.consul.http.request("POST", "/v1/query", json_body=body))
        self.assertEqual(self.ok(self.consul.query.explain("r-"))["Query"]["Service"]["Tags"], ["k"])


class WireTests(QueryCase):
    """Raw HTTP details of the fake."""

    def test_execute_headers(self) -> None:
        """execute answers JSON with an X-Consul-Index of at least 1."""
        self.ok(self.consul.query.create("consul", name="c"))
        response = self.ok(self.consul.http.request("GET", "/v1/query/c/execute"))
        self.assertGreaterEqual(response.meta.index, 1)
        self.assertEqual(json.loads(response.body)["Service"], "consul")
