"""
Tests for FakeConsul's core: routing, status codes, headers and presence
flags, as a real agent answers them.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from treq.testing import StubTreq

from txconsul.testing import FakeConsul


class RawTestCase(SynchronousTestCase):
    """Talks raw HTTP to FakeConsul through treq.testing."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, node_name="node1", seed=3)
        self.treq = StubTreq(self.fake.resource())

    def call(self, method: str, path: str, data: bytes = b"", **kw):
        """(response, body) of one request."""
        url = "http://127.0.0.1:8500" + path
        response = self.successResultOf(
            self.treq.request(method, url, data=data or None, allow_redirects=False, **kw)
        )
        body = self.successResultOf(response.content())
        return response, body

    def header(self, response, name: str):
        """One response header as str, or None."""
        values = response.headers.getRawHeaders(name)
        return values[0].decode() if isinstance(values[0], bytes) else values[0] if values else None


class RoutingTests(RawTestCase):
    """Go ServeMux behaviour."""

    def test_unknown_path(self) -> None:
        """An unknown /v1/ path is 404 with Consul's text."""
        response, body = self.call("GET", "/v1/nope")
        self.assertEqual(response.code, 404)
        self.assertIn(b"not a recognized HTTP API endpoint", body)

    def test_method_not_allowed(self) -> None:
        """A wrong method is 405 with an Allow header."""
        response, body = self.call("POST", "/v1/kv/foo")
        self.assertEqual(response.code, 405)
        self.assertEqual(body, b"method POST not allowed")
        self.assertEqual(self.header(response, "Allow"), "OPTIONS,GET,PUT,DELETE")

    def test_options(self) -> None:
        """OPTIONS answers 200 with the allowed methods."""
        response, body = self.call("OPTIONS", "/v1/status/leader")
        self.assertEqual(response.code, 200)
        self.assertEqual(self.header(response, "Allow"), "OPTIONS,GET")

    def test_redirects(self) -> None:
        """/v1/kv and paths with '//' are 301 redirects, as Go's mux does."""
        response, _ = self.call("GET", "/v1/kv")
        self.assertEqual((response.code, self.header(response, "Location")), (301, "/v1/kv/"))
        response, _ = self.call("PUT", "/v1/kv//foo", b"x")
        self.assertEqual((response.code, self.header(response, "Location")), (301, "/v1/kv/foo"))
        self.assertEqual(self.fake.kv.entries, {})

    def test_unknown_dc(self) -> None:
        """?dc= naming another datacenter is 500 'No path to datacenter'."""
        response, body = self.call("GET", "/v1/kv/foo?dc=dc7")
        self.assertEqual((response.code, body), (500, b"No path to datacenter"))

    def test_stale_with_consistent(self) -> None:
        """?stale with ?consistent is 400."""
        response, body = self.call("GET", "/v1/kv/foo?stale&consistent")
        self.assertEqual(response.code, 400)
        self.assertIn(b"conflicting semantics", body)


class HeaderTests(RawTestCase):
    """Metadata headers."""

    def test_missing_key_has_index(self) -> None:
        """A KV 404 still carries X-Consul-Index (never 0) and leader headers."""
        response, body = self.call("GET", "/v1/kv/missing")
        self.assertEqual((response.code, body), (404, b""))
        self.assertGreaterEqual(int(self.header(response, "X-Consul-Index")), 1)
        self.assertEqual(self.header(response, "X-Consul-KnownLeader"), "true")
        self.assertEqual(self.header(response, "X-Consul-LastContact"), "0")

    def test_default_acl_policy(self) -> None:
        """Every response says X-Consul-Default-ACL-Policy."""
        response, _ = self.call("GET", "/v1/status/leader")
        self.assertEqual(self.header(response, "X-Consul-Default-ACL-Policy"), "allow")

    def test_errors_are_plain_text(self) -> None:
        """Error bodies are text/plain."""
        response, _ = self.call("GET", "/v1/kv/x?index=abc")
        self.assertEqual(response.code, 400)
        self.assertTrue(self.header(response, "Content-Type").startswith("text/plain"))

    def test_pretty_json(self) -> None:
        """Bodies are pretty-printed JSON, as a dev agent answers."""
        response, body = self.call("GET", "/v1/status/peers")
        self.assertEqual(body, b'[\n    "127.0.0.1:8300"\n]\n')
        self.assertEqual(self.header(response, "Content-Type"), "application/json")


class KVWireTests(RawTestCase):
    """KV details visible only on the wire."""

    def test_recurse_false_still_recurses(self) -> None:
        """?recurse=false is a presence flag: it still recurses."""
        self.call("PUT", "/v1/kv/a/1", b"x")
        self.call("PUT", "/v1/kv/a/2", b"y")
        response, body = self.call("GET", "/v1/kv/a/?recurse=false")
        self.assertEqual(response.code, 200)
        self.assertIn(b'"a/2"', body)

    def test_conflicting_flags(self) -> None:
        """cas with acquire is 400 'Conflicting flags'."""
        response, body = self.call("PUT", "/v1/kv/k?cas=0&acquire=x", b"v")
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Conflicting flags: "))

    def test_bad_flags_is_500(self) -> None:
        """Unparseable flags are the raw strconv error with 500."""
        response, body = self.call("PUT", "/v1/kv/k?flags=abc", b"v")
        self.assertEqual((response.code, body), (500, b'strconv.ParseUint: parsing "abc": invalid syntax'))

    def test_raw(self) -> None:
        """?raw returns the bytes as text/plain with nosniff."""
        self.call("PUT", "/v1/kv/r", b"\x00\xffraw")
        response, body = self.call("GET", "/v1/kv/r?raw")
        self.assertEqual(body, b"\x00\xffraw")
        self.assertEqual(self.header(response, "X-Content-Type-Options"), "nosniff")

    def test_encoded_slash_is_decoded(self) -> None:
        """%2F in a key is decoded to '/', as Consul does."""
        self.call("PUT", "/v1/kv/a%2Fb", b"v")
        self.assertIn("a/b", self.fake.kv.entries)

    def test_missing_key_name(self) -> None:
        """GET /v1/kv/ without recurse is 400 'Missing key name'."""
        response, body = self.call("GET", "/v1/kv/")
        self.assertEqual((response.code, body), (400, b"Missing key name"))

    def test_keys_non_empty_prefix_no_match(self) -> None:
        """?keys on a prefix with nothing under it is 404; on '' it is []."""
        response, _ = self.call("GET", "/v1/kv/none/?keys")
        self.assertEqual(response.code, 404)
        response, body = self.call("GET", "/v1/kv/?keys")
        self.assertEqual((response.code, body), (200, b"[]\n"))

    def test_index_is_shared_and_monotonic(self) -> None:
        """Every write bumps one shared index that starts well above 1."""
        start = self.fake.index
        self.assertGreater(start, 1)
        self.call("PUT", "/v1/kv/a", b"1")
        self.call("PUT", "/v1/session/create")
        self.assertEqual(self.fake.index, start + 2)


class StatusTests(RawTestCase):
    """/v1/status/*."""

    def test_leader_and_peers(self) -> None:
        """The fake is its own leader and only peer."""
        _, body = self.call("GET", "/v1/status/leader")
        self.assertEqual(body, b'"127.0.0.1:8300"\n')


class ListenerTests(SynchronousTestCase):
    """In-memory agents are not kept alive by the fake."""

    def test_agents_are_collected(self) -> None:
        """A client's in-memory endpoint is released when the client is gone."""
        import gc
        import weakref

        fake = FakeConsul(Clock())
        client = fake.client()
        ref = weakref.ref(client.http.pool._endpoint)
        del client
        gc.collect()
        self.assertIsNone(ref())
        self.successResultOf(fake.client().kv.put("k", "v"))


class ModuleGraphTests(SynchronousTestCase):
    """How the fake's modules depend on each other."""

    def test_no_import_cycle(self) -> None:
        """No module of txconsul.testing imports, even lazily or for typing, one that imports it back."""
        import ast
        import os

        import txconsul.testing

        package = os.path.dirname(txconsul.testing.__file__)
        graph: dict[str, set[str]] = {}
        for name in sorted(os.listdir(package)):
            if not name.endswith(".py"):
                continue
            module = name[:-3]
            with open(os.path.join(package, name), encoding="utf-8") as f:
                tree = ast.parse(f.read())
            deps: set[str] = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.level == 1:
                    if node.module:
                        deps.add(node.module)
                    else:
                        deps.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("txconsul.testing."):
                    deps.add(node.module.rsplit(".", 1)[1])  # type: ignore[union-attr]
            graph[module] = deps - {module}
        self.assertIn("_acl", graph["_session"])  # the walk sees the imports

        def cycle_from(start: str) -> list[str]:
            stack = [(start, [start])]
            while stack:
                current, path = stack.pop()
                for dep in graph.get(current, ()):
                    if dep == start:
                        return path + [dep]
                    if dep not in path:
                        stack.append((dep, path + [dep]))
            return []

        cycles = [cycle_from(m) for m in graph if cycle_from(m)]
        self.assertEqual(cycles, [])


class JournalTests(SynchronousTestCase):
    """fake.requests: every request the fake received, as values."""

    def test_records_a_client_request(self) -> None:
        """A client call appears with its method, decoded path, query pairs, headers and body."""
        fake = FakeConsul(Clock(), seed=1)
        consul = fake.client(token="secret-token")
        self.successResultOf(consul.kv.put("a b", b"value", flags=7, dc="dc1"))
        recorded = fake.requests[-1]
        self.assertEqual((recorded.method, recorded.path), ("PUT", "/v1/kv/a b"))
        self.assertEqual(recorded.param("flags"), "7")
        self.assertEqual(recorded.params()["dc"], "dc1")
        self.assertEqual(recorded.headers["x-consul-token"], "secret-token")
        self.assertEqual(recorded.body, b"value")

    def test_json_body_and_bare_flags(self) -> None:
        """json() decodes a JSON body; a bare flag is recorded with an empty value."""
        fake = FakeConsul(Clock(), seed=1)
        consul = fake.client()
        self.successResultOf(consul.agent.service.register("web", port=80))
        self.assertEqual(fake.requests[-1].json()["Name"], "web")
        self.successResultOf(consul.kv.get("k", recurse=True))
        self.assertIn(("recurse", ""), fake.requests[-1].query)
        self.assertIsNone(fake.requests[-1].json())

    def test_refused_requests_are_recorded(self) -> None:
        """A request the fake refuses (unknown path, 405) is in the journal too, in order."""
        fake = FakeConsul(Clock(), seed=1)
        treq = StubTreq(fake.resource())
        self.successResultOf(treq.request("GET", "http://127.0.0.1:8500/v1/nope"))
        self.successResultOf(treq.request("DELETE", "http://127.0.0.1:8500/v1/status/leader"))
        self.assertEqual(
            [(r.method, r.path) for r in fake.requests],
            [("GET", "/v1/nope"), ("DELETE", "/v1/status/leader")],
        )

    def test_repr_hides_tokens_and_body(self) -> None:
        """repr() of a recorded request shows neither the token (header or ?token) nor the body."""
        fake = FakeConsul(Clock(), seed=1)
        treq = StubTreq(fake.resource())
        self.successResultOf(
            treq.request(
                "PUT",
                "http://127.0.0.1:8500/v1/kv/k?token=query-secret",
                headers={"X-Consul-Token": "header-secret", "Authorization": "Bearer bearer-secret"},
                data=b"body-secret",
            )
        )
        text = repr(fake.requests[-1])
        for secret in ("query-secret", "header-secret", "bearer-secret", "body-secret"):
            self.assertNotIn(secret, text)
        self.assertIn("/v1/kv/k", text)
        self.assertEqual(fake.requests[-1].param("token"), "query-secret")

    def test_journal_size(self) -> None:
        """journal_size keeps only the most recent requests; 0 keeps none."""
        fake = FakeConsul(Clock(), seed=1, journal_size=2)
        consul = fake.client()
        for key in ("a", "b", "c"):
            self.successResultOf(consul.kv.get(key))
        self.assertEqual([r.path for r in fake.requests], ["/v1/kv/b", "/v1/kv/c"])
        silent = FakeConsul(Clock(), seed=1, journal_size=0)
        self.successResultOf(silent.client().kv.get("a"))
        self.assertEqual(list(silent.requests), [])

    def test_raw_path(self) -> None:
        """raw_path keeps the percent-encoding the client sent; path is decoded."""
        fake = FakeConsul(Clock(), seed=1)
        self.successResultOf(fake.client().kv.get("a/b c%d"))
        self.assertEqual(fake.requests[-1].raw_path, "/v1/kv/a/b%20c%25d")
        self.assertEqual(fake.requests[-1].path, "/v1/kv/a/b c%d")
