"""
FakeConsul's refusals against Consul's: the status, body text and headers
of requests Consul does not accept (txconsul.testing._core, _agent,
_catalog, _event, _coordinate, _cache).  Each class names the Consul source
its rules come from.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from treq.testing import StubTreq
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul.testing import FakeConsul

#: Headers agent/http.go ``wrap`` (and gziphandler around it) adds to every
#: answer of a registered endpoint.
WRAP_HEADERS = ("X-Consul-Default-ACL-Policy", "Vary")


class RawCase(SynchronousTestCase):
    """Raw HTTP to a FakeConsul through treq.testing (real HTTP parsing, no sockets)."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=7)
        self.treq = StubTreq(self.fake.resource())

    def call(
        self, method: str, path: str, data: bytes = b"", headers: Optional[dict[str, str]] = None
    ) -> tuple[Any, bytes]:
        """(response, body) of one request, redirects not followed."""
        response = self.successResultOf(
            self.treq.request(
                method,
                "http://127.0.0.1:8500" + path,
                data=data or None,
                headers=headers,
                allow_redirects=False,
            )
        )
        return response, self.successResultOf(response.content())

    def header(self, response: Any, name: str) -> Optional[str]:
        """One response header as text (None when absent)."""
        values = response.headers.getRawHeaders(name)
        if not values:
            return None
        value = values[0]
        return value.decode() if isinstance(value, bytes) else value

    def assertAnswer(self, response: Any, body: bytes, status: int, text: bytes) -> None:
        """``response`` has ``status`` and exactly the body ``text``."""
        self.assertEqual((response.code, body), (status, text))


class MethodTests(RawCase):
    """agent/http.go wrap: MethodNotAllowedError and addAllowHeader."""

    def test_wrong_methods(self) -> None:
        """A method the route does not declare is 405 'method X not allowed' with Allow: OPTIONS,<methods>."""
        for method, path, allow in (
            ("POST", "/v1/agent/self", "OPTIONS,GET"),
            ("DELETE", "/v1/status/leader", "OPTIONS,GET"),
            ("GET", "/v1/session/create", "OPTIONS,PUT"),
            ("PATCH", "/v1/kv/x", "OPTIONS,GET,PUT,DELETE"),
        ):
            response, body = self.call(method, path)
            self.assertAnswer(response, body, 405, f"method {method} not allowed".encode())
            self.assertEqual(self.header(response, "Allow"), allow)
            self.assertEqual(self.header(response, "Content-Type"), "text/plain; charset=utf-8")
            # The 405 is wrap's own answer, so wrap's headers are there.
            self.assertEqual(self.header(response, "X-Consul-Default-ACL-Policy"), "allow")
            self.assertEqual(self.header(response, "Vary"), "Accept-Encoding")

    def test_method_checked_before_parameters(self) -> None:
        """wrap refuses the method before the handler parses anything: 405 beats a bad ?index or ?dc."""
        response, body = self.call("POST", "/v1/status/leader?index=abc&dc=nowhere")
        self.assertAnswer(response, body, 405, b"method POST not allowed")


class MuxTests(RawCase):
    """agent/http.go handler: the mux's own answers (Index, redirects, go-cleanhttp) are outside wrap."""

    def test_unknown_api_path(self) -> None:
        """An unknown /v1/ path is Index's 404 text, without wrap's headers."""
        response, body = self.call("GET", "/v1/nope")
        self.assertAnswer(response, body, 404, b"Invalid URL path: not a recognized HTTP API endpoint\n")
        for name in WRAP_HEADERS:
            self.assertIsNone(self.header(response, name), name)

    def test_ui_path_without_ui(self) -> None:
        """/ui/ on an agent without the UI is Index's other 404 text, without wrap's headers."""
        response, body = self.call("GET", "/ui/")
        self.assertAnswer(
            response,
            body,
            404,
            b"Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n",
        )
        for name in WRAP_HEADERS:
            self.assertIsNone(self.header(response, name), name)

    def test_redirect_has_no_wrap_headers(self) -> None:
        """The mux's 301 (here /v1/kv to /v1/kv/) carries no X-Consul-Default-ACL-Policy or Vary."""
        response, _ = self.call("GET", "/v1/kv")
        self.assertEqual((response.code, self.header(response, "Location")), (301, "/v1/kv/"))
        for name in WRAP_HEADERS:
            self.assertIsNone(self.header(response, name), name)

    def test_unprintable_path(self) -> None:
        """A path with a control or format character or a non-ASCII space is 400 with no body, before routing."""
        for path in ("/v1/kv/a%01b", "/v1/kv/a%C2%A0b", "/v1/kv/a%E2%80%8Bb", "/v1/nope%7F"):
            response, body = self.call("PUT", path, b"v")
            self.assertAnswer(response, body, 400, b"")
            for name in WRAP_HEADERS:
                self.assertIsNone(self.header(response, name), name)
        self.assertEqual(self.fake.kv.entries, {})

    def test_printable_paths_pass(self) -> None:
        """Spaces, non-ASCII letters and undecodable bytes (U+FFFD to Go) are printable: the key is stored."""
        for path in ("/v1/kv/a%20b", "/v1/kv/%C3%A7a", "/v1/kv/x%FFy"):
            response, body = self.call("PUT", path, b"v")
            self.assertAnswer(response, body, 200, b"true\n")


class ParseTests(RawCase):
    """agent/http.go parse: parseConsistency, then parseCacheControl, then parseWait, before the RPC."""

    def test_status_validates_wait_and_index(self) -> None:
        """status_endpoint.go calls s.parse: a bad ?index or ?wait is 400 even on a non-blocking endpoint."""
        response, body = self.call("GET", "/v1/status/leader?index=abc")
        self.assertAnswer(response, body, 400, b"Invalid index")
        response, body = self.call("GET", "/v1/status/peers?wait=10")
        self.assertAnswer(response, body, 400, b"Invalid wait time")
        # A valid ?index on an endpoint that does not block is ignored.
        response, body = self.call("GET", "/v1/status/leader?index=5&wait=1s")
        self.assertAnswer(response, body, 200, b'"127.0.0.1:8300"\n')

    def test_order(self) -> None:
        """Consistency conflicts come before Cache-Control, which comes before ?wait; all before the dc's 500."""
        bad_cache = {"Cache-Control": "max-age=soon"}
        response, body = self.call("GET", "/v1/kv/k?stale&consistent&wait=x&dc=nowhere", headers=bad_cache)
        self.assertAnswer(
            response, body, 400, b"Cannot specify ?stale with ?consistent, conflicting semantics."
        )
        response, body = self.call("GET", "/v1/kv/k?wait=x&dc=nowhere", headers=bad_cache)
        self.assertAnswer(response, body, 400, b"Invalid Cache-Control header.")
        response, body = self.call("GET", "/v1/kv/k?wait=x&dc=nowhere")
        self.assertAnswer(response, body, 400, b"Invalid wait time")
        response, body = self.call("PUT", "/v1/kv/k?index=-1&dc=nowhere", b"v")
        self.assertAnswer(response, body, 400, b"Invalid index")
        response, body = self.call("GET", "/v1/kv/k?dc=nowhere")
        self.assertAnswer(response, body, 500, b"No path to datacenter")

    def test_cache_control_everywhere(self) -> None:
        """Cache-Control is validated on every s.parse endpoint, with or without ?cached."""
        for path in ("/v1/kv/k", "/v1/catalog/nodes", "/v1/health/state/any", "/v1/status/leader"):
            for value in ("max-age=1.5", "max-age=", "stale-if-error=abc", "max-age=99999999999999999999"):
                response, body = self.call("GET", path, headers={"Cache-Control": value})
                self.assertAnswer(response, body, 400, b"Invalid Cache-Control header.")

    def test_cache_control_atoi(self) -> None:
        """Directive values are strconv.Atoi (a sign is allowed); directives are lower-cased and trimmed."""
        for value in (
            "max-age=+5",
            "MAX-AGE=5",
            " max-age=0 , must-revalidate",
            "no-cache, stale-if-error=-3",
        ):
            response, _ = self.call("GET", "/v1/catalog/nodes", headers={"Cache-Control": value})
            self.assertEqual(response.code, 200, value)


class AgentLocalTests(RawCase):
    """agent/agent_endpoint.go: agent-local handlers call parseToken, not s.parse."""

    def test_agent_reads_ignore_dc_and_flags(self) -> None:
        """?dc, conflicting consistency flags, Cache-Control, ?wait and ?index are ignored on agent reads."""
        query = "?dc=nowhere&stale&consistent&index=abc&wait=x"
        headers = {"Cache-Control": "max-age=soon"}
        for path in ("/v1/agent/self", "/v1/agent/services", "/v1/agent/checks", "/v1/agent/members"):
            response, _ = self.call("GET", path + query, headers=headers)
            self.assertEqual(response.code, 200, path)

    def test_agent_writes_ignore_dc(self) -> None:
        """Registering with ?dc naming another datacenter registers on this agent."""
        response, body = self.call(
            "PUT", "/v1/agent/service/register?dc=nowhere&stale&consistent", b'{"Name": "web"}'
        )
        self.assertAnswer(response, body, 200, b"")
        self.assertIn("web", self.fake.agent_state.services)

    def test_agent_service_reads_wait_only(self) -> None:
        """GET /v1/agent/service/:id calls parseWait only: a bad ?index is 400, ?dc and flags are ignored."""
        response, body = self.call("GET", "/v1/agent/service/web?index=abc")
        self.assertAnswer(response, body, 400, b"Invalid index")
        response, body = self.call("GET", "/v1/agent/service/web?dc=nowhere&stale&consistent")
        self.assertAnswer(response, body, 404, b"unknown service ID: web")


class OtherEndpointTests(RawCase):
    """agent/event_endpoint.go, agent/coordinate_endpoint.go, agent/catalog_endpoint.go."""

    def test_event_list_parses_wait_only(self) -> None:
        """EventList calls parseWait only: consistency flags and ?dc are ignored, a bad ?index is not."""
        response, body = self.call("GET", "/v1/event/list?stale&consistent&dc=nowhere")
        self.assertAnswer(response, body, 200, b"[]\n")
        response, body = self.call("GET", "/v1/event/list?index=abc")
        self.assertAnswer(response, body, 400, b"Invalid index")

    def test_event_fire_reads_dc_only(self) -> None:
        """EventFire calls parseDC, not s.parse: consistency flags are ignored, another dc is a 500."""
        response, _ = self.call("PUT", "/v1/event/fire/deploy?stale&consistent")
        self.assertEqual(response.code, 200)
        response, body = self.call("PUT", "/v1/event/fire/deploy?dc=nowhere")
        self.assertAnswer(response, body, 500, b"No path to datacenter")

    def test_catalog_writes_take_dc_from_body(self) -> None:
        """CatalogRegister/Deregister ignore ?dc and the query flags; the body's Datacenter decides."""
        node = {"Node": "n1", "Address": "10.0.0.1"}
        response, body = self.call(
            "PUT", "/v1/catalog/register?dc=nowhere&stale&consistent", json.dumps(node).encode()
        )
        self.assertAnswer(response, body, 200, b"true\n")
        self.assertIn("n1", self.fake.catalog.nodes)
        response, body = self.call(
            "PUT", "/v1/catalog/deregister", json.dumps({"Node": "n1", "Datacenter": "nowhere"}).encode()
        )
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        self.assertIn("n1", self.fake.catalog.nodes)

    def test_coordinate_update_order(self) -> None:
        """CoordinateUpdate decodes the body before parseDC: a bad body is 400 even for another dc."""
        response, body = self.call("PUT", "/v1/coordinate/update?dc=nowhere&stale&consistent", b"{")
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Request decode failed: "), body)
        update = {"Node": "x", "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-5}}
        response, body = self.call("PUT", "/v1/coordinate/update?dc=nowhere", json.dumps(update).encode())
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        update["Datacenter"] = "nowhere"
        response, body = self.call("PUT", "/v1/coordinate/update", json.dumps(update).encode())
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        response, body = self.call(
            "PUT", "/v1/coordinate/update?dc=dc1&stale&consistent", json.dumps(update).encode()
        )
        self.assertAnswer(response, body, 200, b"")

    def test_coordinate_datacenters_parses_nothing(self) -> None:
        """CoordinateDatacenters reads no query options at all."""
        response, _ = self.call("GET", "/v1/coordinate/datacenters?stale&consistent&index=abc&dc=nowhere")
        self.assertEqual(response.code, 200)

    def test_catalog_datacenters_refusal_then_answer(self) -> None:
        """CatalogDatacenters ignores parseConsistency's result: 400, its text, then the JSON list."""
        response, body = self.call("GET", "/v1/catalog/datacenters?stale&consistent")
        listing = (json.dumps(["dc1"], indent=4) + "\n").encode()
        self.assertAnswer(
            response, body, 400, b"Cannot specify ?stale with ?consistent, conflicting semantics." + listing
        )
        self.assertEqual(self.header(response, "Content-Type"), "text/plain; charset=utf-8")
        response, body = self.call(
            "GET", "/v1/catalog/datacenters?max_stale=x", headers={"Cache-Control": "max-age=x"}
        )
        self.assertAnswer(
            response, body, 400, b'Invalid max_stale value "x"Invalid Cache-Control header.' + listing
        )
        # ?wait and ?index are not read there.
        response, body = self.call("GET", "/v1/catalog/datacenters?index=abc&wait=x")
        self.assertAnswer(response, body, 200, listing)


class FilterTests(RawCase):
    """go-bexpr filter.go CreateFilter; the handlers return its error, which wrap answers with a 500."""

    def test_syntax_error_is_500(self) -> None:
        """A ?filter= that does not parse is 500 'Failed to create boolean expression evaluator: ...'."""
        for path in (
            "/v1/catalog/nodes",
            "/v1/catalog/services",
            "/v1/health/service/consul",
            "/v1/health/state/any",
            "/v1/agent/services",
            "/v1/agent/checks",
            "/v1/agent/members",
        ):
            response, body = self.call("GET", path + "?filter=Node%20%3D%3D")
            self.assertEqual(response.code, 500, path)
            self.assertTrue(body.startswith(b"Failed to create boolean expression evaluator: "), body)
            self.assertEqual(self.header(response, "Content-Type"), "text/plain; charset=utf-8")


class BlockingTests(RawCase):
    """agent/blockingquery/blockingquery.go: wait bounds are clamped, not refused."""

    def test_negative_wait_takes_default(self) -> None:
        """?wait=-1s parses (time.ParseDuration) and a blocking read then waits the default 5 minutes."""
        response, _ = self.call("GET", "/v1/kv/k")
        index = self.header(response, "X-Consul-Index")
        d = self.treq.request("GET", f"http://127.0.0.1:8500/v1/kv/k?index={index}&wait=-1s")
        self.clock.advance(299)
        self.treq.flush()
        self.assertNoResult(d)
        self.clock.advance(300 / 16 + 1)
        self.treq.flush()
        self.assertEqual(self.successResultOf(d).code, 404)

    def test_event_list_negative_wait_never_times_out(self) -> None:
        """EventList sets no timeout for a negative ?wait: the read waits for the next event, however long."""
        response, _ = self.call("GET", "/v1/event/list")
        index = self.header(response, "X-Consul-Index")
        d = self.treq.request("GET", f"http://127.0.0.1:8500/v1/event/list?index={index}&wait=-1s")
        self.clock.advance(3600)
        self.treq.flush()
        self.assertNoResult(d)
        self.call("PUT", "/v1/event/fire/deploy")
        self.treq.flush()
        self.assertEqual(self.successResultOf(d).code, 200)
        self.assertEqual(self.fake.pending_queries(), 0)

    def test_long_wait_is_clamped(self) -> None:
        """?wait=1h is cut to 10 minutes (plus at most 1/16 jitter), not refused."""
        response, _ = self.call("GET", "/v1/kv/k")
        index = self.header(response, "X-Consul-Index")
        d = self.treq.request("GET", f"http://127.0.0.1:8500/v1/kv/k?index={index}&wait=1h")
        self.clock.advance(599)
        self.treq.flush()
        self.assertNoResult(d)
        self.clock.advance(600 / 16 + 1)
        self.treq.flush()
        self.assertEqual(self.successResultOf(d).code, 404)


class KVTests(RawCase):
    """agent/kvs_endpoint.go."""

    def test_conflicting_flags_sorted(self) -> None:
        """conflictingFlags prints url.Values.Encode(): keys sorted, a bare flag as 'name=', values escaped."""
        response, body = self.call("PUT", "/v1/kv/x?release=s&cas=1&flags=2&acquire", b"v")
        self.assertAnswer(response, body, 400, b"Conflicting flags: acquire=&cas=1&flags=2&release=s\n")
        response, body = self.call("DELETE", "/v1/kv/x?recurse&cas=a+b&cas=%2F")
        self.assertAnswer(response, body, 400, b"Conflicting flags: cas=a+b&cas=%2F&recurse=\n")
        self.assertEqual(self.fake.kv.entries, {})

    def test_bad_numbers(self) -> None:
        """?flags and ?cas go through strconv.ParseUint; its error is returned as is, so a 500."""
        for query, text in (
            ("flags=-1", b'strconv.ParseUint: parsing "-1": invalid syntax'),
            ("cas=abc", b'strconv.ParseUint: parsing "abc": invalid syntax'),
        ):
            response, body = self.call("PUT", "/v1/kv/x?" + query, b"v")
            self.assertAnswer(response, body, 500, text)

    def test_value_too_large(self) -> None:
        """A body over kv_max_value_size (512 KiB) is 413 with Consul's text naming both sizes."""
        response, body = self.call("PUT", "/v1/kv/big", b"x" * (512 * 1024 + 1))
        self.assertAnswer(
            response,
            body,
            413,
            b"Request body(524289 bytes) too large, max size: 524288 bytes. See "
            b"https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.",
        )


class TxnTests(RawCase):
    """agent/txn_endpoint.go Txn: convertOps first, then s.parse (reads) or parseDC (writes)."""

    def test_body_refusals_come_first(self) -> None:
        """A body that does not parse is 400 before ?dc, ?index or the consistency flags are looked at."""
        response, body = self.call("PUT", "/v1/txn?dc=nowhere&index=abc&stale&consistent", b"[")
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Failed to parse body: "), body)

    def test_reads_parse_writes_do_not(self) -> None:
        """A read-only transaction is checked by s.parse; a write ignores the query flags but not ?dc."""
        read = json.dumps([{"KV": {"Verb": "get", "Key": "k"}}]).encode()
        write = json.dumps([{"KV": {"Verb": "set", "Key": "k", "Value": "dg=="}}]).encode()
        response, body = self.call("PUT", "/v1/txn?index=abc", read)
        self.assertAnswer(response, body, 400, b"Invalid index")
        response, body = self.call("PUT", "/v1/txn?stale&consistent", read)
        self.assertAnswer(
            response, body, 400, b"Cannot specify ?stale with ?consistent, conflicting semantics."
        )
        response, _ = self.call("PUT", "/v1/txn?index=abc&stale&consistent", write)
        self.assertEqual(response.code, 200)
        self.assertEqual(self.fake.kv.entries["k"].value, b"v")
        response, body = self.call("PUT", "/v1/txn?dc=nowhere", write)
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        response, body = self.call("PUT", "/v1/txn?dc=nowhere", read)
        self.assertAnswer(response, body, 500, b"No path to datacenter")

    def test_too_many_operations(self) -> None:
        """More than 128 operations is 413 'Transaction contains too many operations (n > 128)'."""
        ops = json.dumps([{"KV": {"Verb": "get", "Key": "k"}}] * 129).encode()
        response, body = self.call("PUT", "/v1/txn?dc=nowhere", ops)
        self.assertAnswer(response, body, 413, b"Transaction contains too many operations (129 > 128)")


class ACLTests(SynchronousTestCase):
    """agent/acl_endpoint.go: checkACLDisabled first; reads call s.parse, writes use the agent's datacenter."""

    def raw(
        self, fake: FakeConsul, method: str, path: str, data: bytes = b"", token: str = ""
    ) -> tuple[int, bytes]:
        """(status, body) of one request."""
        treq = StubTreq(fake.resource())
        headers = {"X-Consul-Token": token} if token else None
        response = self.successResultOf(
            treq.request(method, "http://127.0.0.1:8500" + path, data=data or None, headers=headers)
        )
        return response.code, self.successResultOf(response.content())

    def test_disabled_comes_first(self) -> None:
        """With ACLs off, every ACL endpoint is 401 before ?dc, ?index or the consistency flags."""
        fake = FakeConsul(Clock())
        for method, path in (
            ("GET", "/v1/acl/tokens?stale&consistent"),
            ("GET", "/v1/acl/policies?index=abc"),
            ("GET", "/v1/acl/token/self?dc=nowhere"),
            ("PUT", "/v1/acl/token?dc=nowhere"),
        ):
            self.assertEqual(self.raw(fake, method, path), (401, b"ACL support disabled"), path)

    def test_auth_endpoints(self) -> None:
        """Auth methods, binding rules and logout: 401 first with ACLs off; reads parse; logout needs a token."""
        off = FakeConsul(Clock())
        for method, path in (
            ("GET", "/v1/acl/auth-methods?stale&consistent"),
            ("GET", "/v1/acl/binding-rules?index=abc&dc=nowhere"),
            ("POST", "/v1/acl/logout"),
        ):
            self.assertEqual(self.raw(off, method, path), (401, b"ACL support disabled"), path)
        root = "11111111-2222-3333-4444-555555555555"
        on = FakeConsul(Clock(), acl_master_token=root)
        self.assertEqual(
            self.raw(on, "GET", "/v1/acl/auth-methods?index=abc", token=root), (400, b"Invalid index")
        )
        self.assertEqual(
            self.raw(on, "DELETE", "/v1/acl/binding-rule/x?dc=nowhere", token=root),
            (500, b"No path to datacenter"),
        )
        self.assertEqual(self.raw(on, "POST", "/v1/acl/logout"), (401, b"Supplied token does not exist"))

    def test_reads_parse_writes_use_local_dc(self) -> None:
        """Reads refuse a bad ?index and another ?dc; a write with ?dc=nowhere creates the policy here."""
        root = "11111111-2222-3333-4444-555555555555"
        fake = FakeConsul(Clock(), acl_master_token=root)
        self.assertEqual(
            self.raw(fake, "GET", "/v1/acl/policies?index=abc", token=root), (400, b"Invalid index")
        )
        self.assertEqual(
            self.raw(fake, "GET", "/v1/acl/tokens?dc=nowhere", token=root), (500, b"No path to datacenter")
        )
        body = json.dumps({"Name": "p1", "Rules": ""}).encode()
        status, created = self.raw(
            fake, "PUT", "/v1/acl/policy?dc=nowhere&stale&consistent", body, token=root
        )
        self.assertEqual(status, 200)
        policy_id = json.loads(created)["ID"]
        status, _ = self.raw(fake, "GET", f"/v1/acl/policy/{policy_id}?dc=nowhere", token=root)
        self.assertEqual(status, 500)
        status, _ = self.raw(fake, "DELETE", f"/v1/acl/policy/{policy_id}?dc=nowhere&index=abc", token=root)
        self.assertEqual(status, 200)


class PreparedQueryTests(RawCase):
    """agent/prepared_query_endpoint.go: reads call s.parse; writes parseDC, decoding the body first."""

    def test_writes(self) -> None:
        """Create decodes the body before the dc is refused and ignores the query flags; delete reads ?dc."""
        response, body = self.call("POST", "/v1/query?dc=nowhere&stale&consistent", b"[")
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Request decode failed: "), body)
        query = json.dumps({"Name": "q", "Service": {"Service": "web"}}).encode()
        response, body = self.call("POST", "/v1/query?dc=nowhere", query)
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        response, body = self.call("POST", "/v1/query?stale&consistent&index=abc", query)
        self.assertEqual(response.code, 200)
        qid = json.loads(body)["ID"]
        response, body = self.call("DELETE", f"/v1/query/{qid}?dc=nowhere")
        self.assertAnswer(response, body, 500, b"No path to datacenter")

    def test_reads(self) -> None:
        """List refuses a bad ?index, execute conflicting flags; a wrong method on execute is 405 before both."""
        response, body = self.call("GET", "/v1/query?index=abc")
        self.assertAnswer(response, body, 400, b"Invalid index")
        response, body = self.call("GET", "/v1/query/q/execute?stale&consistent")
        self.assertAnswer(
            response, body, 400, b"Cannot specify ?stale with ?consistent, conflicting semantics."
        )
        response, body = self.call("PUT", "/v1/query/q/execute?stale&consistent")
        self.assertAnswer(response, body, 405, b"method PUT not allowed")


class ConfigEntryTests(RawCase):
    """agent/config_endpoint.go: reads call s.parse; configDelete checks path and ?cas before the dc."""

    def test_delete_order(self) -> None:
        """A delete without a name is 404 and a bad ?cas a 500 before ?dc is refused; flags are ignored."""
        response, body = self.call("DELETE", "/v1/config/service-defaults?dc=nowhere&stale&consistent")
        self.assertAnswer(response, body, 404, b"Must provide both a kind and name to delete")
        response, body = self.call("DELETE", "/v1/config/service-defaults/web?dc=nowhere&cas=x")
        self.assertAnswer(response, body, 500, b'strconv.ParseUint: parsing "x": invalid syntax')
        response, body = self.call("DELETE", "/v1/config/service-defaults/web?dc=nowhere")
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        response, _ = self.call("DELETE", "/v1/config/service-defaults/web?stale&consistent&index=abc")
        self.assertEqual(response.code, 200)

    def test_reads_parse(self) -> None:
        """A read refuses a bad ?index and another dc."""
        response, body = self.call("GET", "/v1/config/service-defaults?index=abc")
        self.assertAnswer(response, body, 400, b"Invalid index")
        response, body = self.call("GET", "/v1/config/service-defaults/web?dc=nowhere")
        self.assertAnswer(response, body, 500, b"No path to datacenter")


class IntentionTests(RawCase):
    """agent/intentions_endpoint.go: missing parameters are plain errors (500s); writes read ?dc only."""

    def test_missing_parameters(self) -> None:
        """A missing, repeated (or, for the writes, empty) source or destination is a 500 naming it."""
        for method, query, name in (
            ("GET", "destination=db", "source"),
            ("GET", "source=a&source=b&destination=db", "source"),
            ("GET", "source=web", "destination"),
            ("PUT", "source=&destination=db", "source"),
            ("DELETE", "source=web&destination=", "destination"),
        ):
            response, body = self.call(method, "/v1/connect/intentions/exact?" + query)
            self.assertAnswer(response, body, 500, f"required query parameter '{name}' not set".encode())
        response, body = self.call("GET", "/v1/connect/intentions/check?destination=db")
        self.assertAnswer(response, body, 500, b"required query parameter 'source' not set")
        response, body = self.call("GET", "/v1/connect/intentions/match?name=db")
        self.assertAnswer(response, body, 500, b"required query parameter 'by' not set")
        response, body = self.call("GET", "/v1/connect/intentions/match?by=source")
        self.assertAnswer(response, body, 500, b"required query parameter 'name' not set")

    def test_order(self) -> None:
        """GET runs s.parse before the parameter checks; PUT decodes its body before ?dc is refused."""
        response, body = self.call("GET", "/v1/connect/intentions/exact?stale&consistent")
        self.assertAnswer(
            response, body, 400, b"Cannot specify ?stale with ?consistent, conflicting semantics."
        )
        query = "?source=web&destination=db&dc=nowhere&stale&consistent"
        response, body = self.call("PUT", "/v1/connect/intentions/exact" + query, b"{")
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Request decode failed: "), body)
        response, body = self.call("PUT", "/v1/connect/intentions/exact" + query, b'{"Action": "allow"}')
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        response, _ = self.call(
            "PUT",
            "/v1/connect/intentions/exact?source=web&destination=db&stale&consistent",
            b'{"Action": "allow"}',
        )
        self.assertEqual(response.code, 200)


class OperatorTests(RawCase):
    """agent/operator_endpoint.go OperatorAutopilotConfiguration."""

    def test_autopilot_put_order(self) -> None:
        """PUT decodes the body, then ?cas, then reads ?dc (not s.parse); GET calls s.parse."""
        query = "/v1/operator/autopilot/configuration?cas=x&dc=nowhere&stale&consistent"
        response, body = self.call("PUT", query, b"[]")
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Error parsing autopilot config: "), body)
        response, body = self.call("PUT", query, b"{}")
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Error parsing cas value: "), body)
        response, body = self.call("PUT", "/v1/operator/autopilot/configuration?dc=nowhere", b"{}")
        self.assertAnswer(response, body, 500, b"No path to datacenter")
        response, body = self.call("PUT", "/v1/operator/autopilot/configuration?stale&consistent", b"{}")
        self.assertAnswer(response, body, 200, b"true\n")
        response, body = self.call("GET", "/v1/operator/autopilot/configuration?index=abc")
        self.assertAnswer(response, body, 400, b"Invalid index")
