# -*- test-case-name: tests.test_fake_fidelity -*-
"""
FakeConsul's core, KV and sessions checked rule by rule against what a real
Consul agent does (agent/http.go, agent/kvs_endpoint.go,
agent/session_endpoint.go, agent/consul/state/*.go, blockingquery.go).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from treq.testing import StubTreq

from txconsul.testing import FakeConsul
from txconsul.testing._core import parse_go_duration, parse_uint


class RawCase(SynchronousTestCase):
    """Raw HTTP against FakeConsul through treq.testing."""

    fake_kwargs: dict[str, Any] = {}

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, node_name="node1", seed=7, **self.fake_kwargs)
        self.treq = StubTreq(self.fake.resource())

    def call(self, method: str, path: str, data: bytes = b"", **kw: Any) -> tuple[Any, bytes]:
        """(response, body) of one request that answers at once."""
        d = self.treq.request(
            method, "http://127.0.0.1:8500" + path, data=data or None, allow_redirects=False, **kw
        )
        self.treq.flush()
        response = self.successResultOf(d)
        return response, self.successResultOf(response.content())

    def start(self, method: str, path: str, data: bytes = b"") -> Any:
        """A request that may block; returns its Deferred."""
        d = self.treq.request(method, "http://127.0.0.1:8500" + path, data=data or None)
        self.treq.flush()
        return d

    def header(self, response: Any, name: str) -> Optional[str]:
        """One response header, or None."""
        values = response.headers.getRawHeaders(name)
        if not values:
            return None
        v = values[0]
        return v.decode() if isinstance(v, bytes) else v

    def index(self, response: Any) -> int:
        """X-Consul-Index as an int."""
        return int(self.header(response, "X-Consul-Index") or "-1")

    def advance(self, seconds: float) -> None:
        """Move the clock and pump the in-memory connections."""
        self.clock.advance(seconds)
        self.treq.flush()

    def put(self, key: str, value: bytes = b"v", query: str = "") -> Any:
        """PUT a key; the decoded JSON answer."""
        response, body = self.call("PUT", "/v1/kv/" + key + query, value)
        self.assertEqual(response.code, 200, body)
        return json.loads(body)

    def session(self, body: Optional[dict[str, Any]] = None) -> str:
        """Create a session; its ID."""
        response, data = self.call(
            "PUT", "/v1/session/create", json.dumps(body).encode() if body is not None else b""
        )
        self.assertEqual(response.code, 200, data)
        return json.loads(data)["ID"]

    def info(self, sid: str) -> dict[str, Any]:
        """The one session /v1/session/info answers with."""
        response, body = self.call("GET", "/v1/session/info/" + sid)
        items = json.loads(body)
        self.assertEqual(len(items), 1)
        return items[0]


class ParsingTests(SynchronousTestCase):
    """Go's strconv/time parsing as the fake mimics it."""

    def test_duration_rejects_whitespace(self) -> None:
        """time.ParseDuration does not trim: ' 5s' is invalid."""
        self.assertRaises(ValueError, parse_go_duration, " 5s")
        self.assertEqual(parse_go_duration("5s"), 5.0)

    def test_duration_greek_mu(self) -> None:
        """Both micro signs (U+00B5, U+03BC) are Go units."""
        self.assertAlmostEqual(parse_go_duration("3\u03bcs"), 3e-6)
        self.assertAlmostEqual(parse_go_duration("3\u00b5s"), 3e-6)

    def test_duration_overflow(self) -> None:
        """A duration beyond int64 nanoseconds is invalid."""
        self.assertRaises(ValueError, parse_go_duration, "3000000h")

    def test_uint_ascii_only(self) -> None:
        """strconv.ParseUint accepts ASCII digits only, no sign."""
        self.assertRaises(ValueError, parse_uint, "\u0663")
        self.assertRaises(ValueError, parse_uint, "+5")
        self.assertEqual(parse_uint("007"), 7)

    def test_uint_out_of_range_text(self) -> None:
        """A 2**64 value is 'value out of range', not 'invalid syntax'."""
        with self.assertRaises(ValueError) as cm:
            parse_uint(str(2**64))
        self.assertIn("value out of range", str(cm.exception))


class CoreTests(RawCase):
    """agent/http.go wrap, parse and ServeMux rules."""

    def test_wait_checked_before_index(self) -> None:
        """parseWait reads ?wait before ?index: both bad -> 'Invalid wait time'."""
        response, body = self.call("GET", "/v1/kv/a?wait=zz&index=x")
        self.assertEqual((response.code, body), (400, b"Invalid wait time"))

    def test_unicode_digit_index_rejected(self) -> None:
        """?index must be ASCII digits (strconv.ParseUint)."""
        response, body = self.call("GET", "/v1/kv/a?index=%D9%A3")
        self.assertEqual((response.code, body), (400, b"Invalid index"))

    def test_bare_number_wait_rejected(self) -> None:
        """?wait=10 (no unit) is 400 Invalid wait time."""
        response, body = self.call("GET", "/v1/kv/a?index=1&wait=10")
        self.assertEqual((response.code, body), (400, b"Invalid wait time"))

    def test_kv_put_validates_wait(self) -> None:
        """KVSPut calls s.parse, so a bad ?wait fails a PUT too."""
        response, body = self.call("PUT", "/v1/kv/a?wait=bad", b"x")
        self.assertEqual((response.code, body), (400, b"Invalid wait time"))
        self.assertNotIn("a", self.fake.kv.entries)

    def test_max_stale_implies_stale(self) -> None:
        """A positive ?max_stale with ?consistent conflicts like ?stale does."""
        response, body = self.call("GET", "/v1/kv/a?max_stale=5s&consistent")
        self.assertEqual(response.code, 400)
        self.assertIn(b"?stale with ?consistent", body)

    def test_bad_max_stale_before_conflict(self) -> None:
        """A bad max_stale is reported before the stale/consistent conflict."""
        response, body = self.call("GET", "/v1/kv/a?max_stale=x&stale&consistent")
        self.assertEqual((response.code, body), (400, b'Invalid max_stale value "x"'))

    def test_session_create_ignores_consistency_flags(self) -> None:
        """SessionCreate does not call s.parse: ?stale&consistent is ignored."""
        response, _ = self.call("PUT", "/v1/session/create?stale&consistent")
        self.assertEqual(response.code, 200)

    def test_wait_error_before_unknown_dc(self) -> None:
        """s.parse fails before the RPC: bad ?wait beats an unknown ?dc."""
        response, body = self.call("GET", "/v1/kv/a?dc=nowhere&wait=x")
        self.assertEqual((response.code, body), (400, b"Invalid wait time"))

    def test_missing_key_before_unknown_dc(self) -> None:
        """'Missing key name' is checked before the RPC's datacenter error."""
        response, body = self.call("PUT", "/v1/kv/?dc=nowhere", b"x")
        self.assertEqual((response.code, body), (400, b"Missing key name"))

    def test_unknown_dc_on_kv(self) -> None:
        """A valid KV request to another datacenter is 500 No path to datacenter."""
        response, body = self.call("PUT", "/v1/kv/a?dc=nowhere", b"x")
        self.assertEqual((response.code, body), (500, b"No path to datacenter"))
        self.assertNotIn("a", self.fake.kv.entries)

    def test_semicolon_query_is_500(self) -> None:
        """url.ParseQuery rejects ';': wrap answers 500 with an empty body."""
        response, body = self.call("GET", "/v1/kv/a?recurse;keys")
        self.assertEqual((response.code, body), (500, b""))

    def test_bad_escape_query_is_500(self) -> None:
        """A bad %-escape in the query string is a 500 too."""
        response, body = self.call("GET", "/v1/kv/a?x=%zz")
        self.assertEqual((response.code, body), (500, b""))

    def test_redirect_keeps_query(self) -> None:
        """ServeMux's redirect to '/v1/kv/' keeps the query string."""
        response, body = self.call("GET", "/v1/kv?recurse")
        self.assertEqual(response.code, 301)
        self.assertEqual(self.header(response, "Location"), "/v1/kv/?recurse")
        self.assertEqual(body, b'<a href="/v1/kv/?recurse">Moved Permanently</a>.\n\n')
        self.assertEqual(self.header(response, "Content-Type"), "text/html; charset=utf-8")

    def test_redirect_put_has_no_body(self) -> None:
        """http.Redirect writes its HTML body for GET only."""
        response, body = self.call("PUT", "/v1/kv//x", b"v")
        self.assertEqual((response.code, body), (301, b""))
        self.assertEqual(self.header(response, "Location"), "/v1/kv/x")

    def test_options_content_type(self) -> None:
        """OPTIONS: 200, empty, Allow; Go sniffs text/plain for the empty body."""
        response, body = self.call("OPTIONS", "/v1/session/info/x")
        self.assertEqual((response.code, body), (200, b""))
        self.assertEqual(self.header(response, "Allow"), "OPTIONS,GET")
        self.assertEqual(self.header(response, "Content-Type"), "text/plain; charset=utf-8")

    def test_head_is_405(self) -> None:
        """HEAD is in no route's method list: 405 with Allow, no body."""
        response, body = self.call("HEAD", "/v1/kv/a")
        self.assertEqual((response.code, body), (405, b""))
        self.assertEqual(self.header(response, "Allow"), "OPTIONS,GET,PUT,DELETE")

    def test_index_page_content_type(self) -> None:
        """GET / (UI disabled) is sniffed text/plain, not text/html."""
        response, body = self.call("GET", "/")
        self.assertEqual(response.code, 200)
        self.assertEqual(self.header(response, "Content-Type"), "text/plain; charset=utf-8")

    def test_missing_kv_headers(self) -> None:
        """A KV 404 has meta headers, X-Consul-Index >= 1, text/plain type."""
        response, body = self.call("GET", "/v1/kv/nope")
        self.assertEqual((response.code, body), (404, b""))
        self.assertGreaterEqual(self.index(response), 1)
        self.assertEqual(self.header(response, "X-Consul-KnownLeader"), "true")
        self.assertEqual(self.header(response, "X-Consul-LastContact"), "0")
        self.assertEqual(self.header(response, "Content-Type"), "text/plain; charset=utf-8")

    def test_writes_have_no_index_header(self) -> None:
        """KV writes answer JSON true without X-Consul-Index."""
        response, body = self.call("PUT", "/v1/kv/a", b"x")
        self.assertEqual(json.loads(body), True)
        self.assertIsNone(self.header(response, "X-Consul-Index"))
        self.assertEqual(self.header(response, "Content-Type"), "application/json")

    def test_json_trailing_data_ignored(self) -> None:
        """json.Decoder.Decode reads one value: trailing bytes are ignored."""
        response, _ = self.call("PUT", "/v1/session/create", b'{"Name": "t"} trailing')
        self.assertEqual(response.code, 200)

    def test_json_error_text(self) -> None:
        """Malformed JSON is 400 with Go's decoder message."""
        response, body = self.call("PUT", "/v1/session/create", b"{x")
        self.assertEqual(response.code, 400)
        self.assertEqual(
            body, b"Request decode failed: invalid character 'x' looking for beginning of object key string"
        )
        response, body = self.call("PUT", "/v1/session/create", b'{"Name": ')
        self.assertEqual((response.code, body), (400, b"Request decode failed: unexpected EOF"))

    def test_json_nan_rejected(self) -> None:
        """NaN is not JSON to Go."""
        response, body = self.call("PUT", "/v1/session/create", b'{"LockDelay": NaN}')
        self.assertEqual(response.code, 400)
        self.assertIn(b"invalid character 'N'", body)


class BlockingTests(RawCase):
    """blockingquery.Query semantics."""

    def test_index_zero_does_not_block(self) -> None:
        """?index=0 answers at once."""
        d = self.start("GET", "/v1/kv/a?index=0")
        self.assertEqual(self.successResultOf(d).code, 404)

    def test_strictly_greater(self) -> None:
        """A query at the current index blocks; one below answers at once."""
        self.put("a")
        response, _ = self.call("GET", "/v1/kv/a")
        idx = self.index(response)
        self.assertNoResult(self.start("GET", f"/v1/kv/a?index={idx}"))
        self.assertEqual(self.successResultOf(self.start("GET", f"/v1/kv/a?index={idx - 1}")).code, 200)

    def test_noop_write_does_not_wake(self) -> None:
        """Re-PUTting identical data bumps the Raft index but wakes no watcher."""
        self.put("a", b"same")
        response, _ = self.call("GET", "/v1/kv/a")
        idx = self.index(response)
        before = self.fake.index
        d = self.start("GET", f"/v1/kv/a?index={idx}")
        self.put("a", b"same")
        self.assertGreater(self.fake.index, before)
        self.assertNoResult(d)
        self.put("a", b"changed")
        self.assertEqual(self.successResultOf(d).code, 200)

    def test_wait_clamped_with_jitter(self) -> None:
        """wait is clamped to 10 min plus at most 1/16 jitter."""
        self.put("a")
        idx = self.fake.kv.entries["a"].modify_index
        d = self.start("GET", f"/v1/kv/a?index={idx}&wait=1h")
        self.advance(599)
        self.assertNoResult(d)
        self.advance(600 / 16 + 2)
        self.assertEqual(self.successResultOf(d).code, 200)

    def test_default_wait(self) -> None:
        """No ?wait (or 0) means 5 minutes (plus jitter)."""
        self.put("a")
        idx = self.fake.kv.entries["a"].modify_index
        d = self.start("GET", f"/v1/kv/a?index={idx}&wait=0s")
        self.advance(299)
        self.assertNoResult(d)
        self.advance(300 / 16 + 2)
        self.successResultOf(d)


class KVIndexTests(RawCase):
    """The X-Consul-Index of every KV read form."""

    def test_single_key_index_is_modify_index(self) -> None:
        """An existing key's index is its ModifyIndex, not the table's."""
        self.put("a")
        self.put("b")
        response, body = self.call("GET", "/v1/kv/a")
        self.assertEqual(self.index(response), json.loads(body)[0]["ModifyIndex"])
        self.assertLess(self.index(response), self.fake.kv.table_index())

    def test_missing_key_index_counts_tombstones(self) -> None:
        """A missing key's index is the table max, tombstones included."""
        self.put("a")
        self.call("DELETE", "/v1/kv/a")
        response, _ = self.call("GET", "/v1/kv/other")
        self.assertEqual(self.index(response), self.fake.kv.tomb_index)

    def test_prefix_index_keeps_deleted_max(self) -> None:
        """A prefix index does not go back when its newest key is deleted."""
        self.put("p/a")
        self.put("p/b")
        self.put("zzz")
        self.call("DELETE", "/v1/kv/p/b")
        delete_idx = self.fake.kv.tomb_index
        response, _ = self.call("GET", "/v1/kv/p/?recurse")
        self.assertEqual(self.index(response), delete_idx)
        response, _ = self.call("GET", "/v1/kv/p/?keys")
        self.assertEqual(self.index(response), delete_idx)

    def test_empty_prefix_is_table_index(self) -> None:
        """Empty-prefix reads use the full table index."""
        self.put("a")
        self.put("b")
        self.call("DELETE", "/v1/kv/b")
        response, _ = self.call("GET", "/v1/kv/?recurse")
        self.assertEqual(self.index(response), self.fake.kv.table_index())

    def test_delete_tree_single_tombstone(self) -> None:
        """Delete-tree writes one tombstone at the prefix (state/kvs.go)."""
        self.put("t/a")
        self.put("t/b")
        self.call("DELETE", "/v1/kv/t/?recurse")
        self.assertEqual(set(self.fake.kv.tombstones), {"t/"})
        # A deeper prefix has no tombstone of its own: the table index answers.
        self.put("unrelated")
        response, _ = self.call("GET", "/v1/kv/t/a?recurse")
        self.assertEqual(self.index(response), self.fake.kv.table_index())

    def test_delete_tree_empty_prefix_no_tombstone(self) -> None:
        """Deleting everything writes no tombstone, but moves the kvs index."""
        self.put("a")
        self.call("DELETE", "/v1/kv/?recurse")
        self.assertEqual(self.fake.kv.tombstones, {})
        self.assertEqual(self.fake.kv.kvs_index, self.fake.index)

    def test_delete_tree_nothing_keeps_index(self) -> None:
        """A delete-tree that matches nothing leaves the kvs index alone."""
        self.put("a")
        before = self.fake.kv.table_index()
        self.call("DELETE", "/v1/kv/none/?recurse")
        self.assertEqual(self.fake.kv.table_index(), before)


class KVReadTests(RawCase):
    """Read forms of /v1/kv."""

    def test_keys_separator_truncates_after_prefix(self) -> None:
        """?keys&separator=/ cuts at the first separator after the prefix."""
        for k in ("web/a", "web/sub/x", "web/sub/y", "webby"):
            self.put(k)
        _, body = self.call("GET", "/v1/kv/web?keys&separator=/")
        self.assertEqual(json.loads(body), ["web/", "webby"])
        _, body = self.call("GET", "/v1/kv/web/?keys&separator=/")
        self.assertEqual(json.loads(body), ["web/a", "web/sub/"])

    def test_keys_empty_separator(self) -> None:
        """?separator= (empty) does not truncate."""
        self.put("a/b")
        _, body = self.call("GET", "/v1/kv/?keys&separator=")
        self.assertEqual(json.loads(body), ["a/b"])

    def test_separator_beats_misspelling(self) -> None:
        """separator wins over the historic 'seperator'."""
        self.put("a/b/c")
        _, body = self.call("GET", "/v1/kv/?keys&seperator=/&separator=b")
        self.assertEqual(json.loads(body), ["a/b"])

    def test_keys_empty_store(self) -> None:
        """?keys on the empty prefix is [] (200); a non-empty prefix 404s."""
        response, body = self.call("GET", "/v1/kv/?keys")
        self.assertEqual((response.code, json.loads(body)), (200, []))
        response, _ = self.call("GET", "/v1/kv/x?keys")
        self.assertEqual(response.code, 404)

    def test_raw_ignored_with_recurse(self) -> None:
        """?raw only applies to a single-key read."""
        self.put("r", b"bytes")
        response, body = self.call("GET", "/v1/kv/r?recurse&raw")
        self.assertEqual(self.header(response, "Content-Type"), "application/json")
        self.assertEqual(json.loads(body)[0]["Key"], "r")

    def test_empty_value_is_null(self) -> None:
        """An empty PUT stores a nil value: JSON null."""
        self.put("e", b"")
        _, body = self.call("GET", "/v1/kv/e")
        self.assertIsNone(json.loads(body)[0]["Value"])

    def test_entry_field_order(self) -> None:
        """DirEntry fields come in struct order, Session only when locked."""
        self.put("o")
        _, body = self.call("GET", "/v1/kv/o")
        self.assertEqual(
            list(json.loads(body)[0]), ["LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"]
        )


class KVWriteTests(RawCase):
    """PUT and DELETE /v1/kv."""

    def test_bad_cas_before_size_check(self) -> None:
        """cas is parsed before the body size limit is checked."""
        response, body = self.call("PUT", "/v1/kv/a?cas=x", b"x" * (512 * 1024 + 1))
        self.assertEqual((response.code, body), (500, b'strconv.ParseUint: parsing "x": invalid syntax'))

    def test_flags_out_of_range(self) -> None:
        """flags beyond uint64 is strconv's 'value out of range' 500."""
        response, body = self.call("PUT", f"/v1/kv/a?flags={2**64}", b"x")
        self.assertEqual(response.code, 500)
        self.assertIn(b"value out of range", body)

    def test_bad_delete_cas_moves_no_index(self) -> None:
        """A malformed DELETE ?cas fails before any Raft write."""
        self.put("a")
        before = self.fake.index
        response, _ = self.call("DELETE", "/v1/kv/a?cas=zz")
        self.assertEqual(response.code, 500)
        self.assertEqual(self.fake.index, before)
        self.assertIn("a", self.fake.kv.entries)

    def test_delete_cas_missing_key_true(self) -> None:
        """kvsDeleteCASTxn answers true for a missing key."""
        response, body = self.call("DELETE", "/v1/kv/gone?cas=5")
        self.assertEqual(json.loads(body), True)

    def test_plain_put_resets_flags_keeps_session(self) -> None:
        """A plain PUT writes Flags 0 and keeps the lock holder."""
        sid = self.session()
        self.put("l", b"v", f"?acquire={sid}&flags=9")
        self.put("l", b"w")
        _, body = self.call("GET", "/v1/kv/l")
        entry = json.loads(body)[0]
        self.assertEqual((entry["Flags"], entry["Session"]), (0, sid))

    def test_acquire_invalid_session_500(self) -> None:
        """Acquiring with an unknown session is 500 'invalid session'."""
        response, body = self.call("PUT", "/v1/kv/l?acquire=nope", b"v")
        self.assertEqual((response.code, body), (500, b'invalid session "nope"'))

    def test_acquire_empty_session_500(self) -> None:
        """?acquire= with no session is 500 'missing session'."""
        response, body = self.call("PUT", "/v1/kv/l?acquire=", b"v")
        self.assertEqual((response.code, body), (500, b"missing session"))

    def test_lock_delay_checked_before_session(self) -> None:
        """Under lock-delay even an unknown session gets false, not a 500."""
        sid = self.session()
        self.put("l", b"v", f"?acquire={sid}")
        self.call("PUT", "/v1/session/destroy/" + sid)
        response, body = self.call("PUT", "/v1/kv/l?acquire=nope", b"v")
        self.assertEqual((response.code, json.loads(body)), (200, False))

    def test_release_keeps_lock_index_no_delay(self) -> None:
        """?release clears Session, keeps LockIndex, and sets no lock-delay."""
        sid = self.session()
        self.put("l", b"v", f"?acquire={sid}")
        self.assertEqual(self.put("l", b"r", f"?release={sid}"), True)
        _, body = self.call("GET", "/v1/kv/l")
        entry = json.loads(body)[0]
        self.assertNotIn("Session", entry)
        self.assertEqual(entry["LockIndex"], 1)
        self.assertEqual(self.put("l", b"v", f"?acquire={sid}"), True)


class SessionCreateTests(RawCase):
    """PUT /v1/session/create body handling."""

    def test_defaults_and_field_order(self) -> None:
        """Defaults and structs.Session field order; no Checks field."""
        s = self.info(self.session())
        self.assertEqual(
            list(s),
            [
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
            ],
        )
        self.assertEqual(
            (s["Node"], s["LockDelay"], s["Behavior"], s["NodeChecks"], s["ServiceChecks"]),
            ("node1", 15_000_000_000, "release", ["serfHealth"], None),
        )

    def test_case_insensitive_fields(self) -> None:
        """encoding/json matches field names case-insensitively."""
        s = self.info(self.session({"name": "n", "behavior": "delete", "ttl": "10s", "lockdelay": "3s"}))
        self.assertEqual(
            (s["Name"], s["Behavior"], s["TTL"], s["LockDelay"]), ("n", "delete", "10s", 3_000_000_000)
        )

    def test_unknown_fields_ignored(self) -> None:
        """Session.UnmarshalJSON uses json.Unmarshal: unknown fields are fine."""
        self.info(self.session({"Bogus": 1}))

    def test_lock_delay_string_small_is_seconds(self) -> None:
        """A string LockDelay under 1000ns is also taken as seconds."""
        self.assertEqual(self.info(self.session({"LockDelay": "20ns"}))["LockDelay"], 20_000_000_000)

    def test_lock_delay_number_forms(self) -> None:
        """Numbers: <1000 are seconds, else nanoseconds (truncated)."""
        self.assertEqual(self.info(self.session({"LockDelay": 7}))["LockDelay"], 7_000_000_000)
        self.assertEqual(self.info(self.session({"LockDelay": 2500000000.9}))["LockDelay"], 2_500_000_000)
        self.assertEqual(self.info(self.session({"LockDelay": 0}))["LockDelay"], 0)

    def test_lock_delay_empty_string_400(self) -> None:
        """LockDelay "" fails time.ParseDuration: 400."""
        response, body = self.call("PUT", "/v1/session/create", b'{"LockDelay": ""}')
        self.assertEqual((response.code, body), (400, b'Request decode failed: time: invalid duration ""'))

    def test_lock_delay_null_keeps_default(self) -> None:
        """LockDelay null leaves the 15s default."""
        self.assertEqual(self.info(self.session({"LockDelay": None}))["LockDelay"], 15_000_000_000)

    def test_empty_node_is_500(self) -> None:
        """Node "" is Session.Apply's 'Must provide Node'."""
        response, body = self.call("PUT", "/v1/session/create", b'{"Node": ""}')
        self.assertEqual((response.code, body), (500, b"Must provide Node"))

    def test_wrong_type_is_400(self) -> None:
        """A non-string Name is a JSON type error: 400."""
        response, body = self.call("PUT", "/v1/session/create", b'{"Name": 5}')
        self.assertEqual(response.code, 400)
        self.assertTrue(body.startswith(b"Request decode failed: json: cannot unmarshal number"))

    def test_whitespace_body_is_eof(self) -> None:
        """A whitespace-only body is io.EOF: 400."""
        response, body = self.call("PUT", "/v1/session/create", b"  ")
        self.assertEqual((response.code, body), (400, b"Request decode failed: EOF"))

    def test_checks_empty_clears_node_checks(self) -> None:
        """Checks: [] empties NodeChecks, even when NodeChecks is given."""
        self.assertEqual(self.info(self.session({"Checks": []}))["NodeChecks"], [])
        self.assertEqual(
            self.info(self.session({"Checks": [], "NodeChecks": ["serfHealth"]}))["NodeChecks"], []
        )

    def test_custom_checks_keep_default_node_checks(self) -> None:
        """Custom Checks are kept beside the default NodeChecks and shown."""
        self.call("PUT", "/v1/agent/check/register", json.dumps({"Name": "c1", "TTL": "30s"}).encode())
        self.call("PUT", "/v1/agent/check/pass/c1")
        s = self.info(self.session({"Checks": ["c1"]}))
        self.assertEqual((s["NodeChecks"], s["Checks"]), (["serfHealth"], ["c1"]))
        self.assertEqual(list(s)[-3:], ["Checks", "CreateIndex", "ModifyIndex"])

    def test_node_checks_empty_drops_checks(self) -> None:
        """NodeChecks: [] with custom Checks discards Checks."""
        self.call("PUT", "/v1/agent/check/register", json.dumps({"Name": "c1", "TTL": "30s"}).encode())
        s = self.info(self.session({"Checks": ["c1"], "NodeChecks": []}))
        self.assertEqual(s["NodeChecks"], [])
        self.assertNotIn("Checks", s)

    def test_service_checks_normalised(self) -> None:
        """ServiceChecks come back as {ID, Namespace} objects."""
        self.call("PUT", "/v1/agent/check/register", json.dumps({"Name": "c1", "TTL": "30s"}).encode())
        self.call("PUT", "/v1/agent/check/pass/c1")
        s = self.info(self.session({"ServiceChecks": [{"id": "c1"}]}))
        self.assertEqual(s["ServiceChecks"], [{"ID": "c1", "Namespace": ""}])

    def test_service_check_string_is_400(self) -> None:
        """A ServiceChecks element must be an object."""
        response, body = self.call("PUT", "/v1/session/create", b'{"ServiceChecks": ["c1"]}')
        self.assertEqual(response.code, 400)

    def test_state_store_error_consumes_index(self) -> None:
        """A create failing in the state store still used a Raft index."""
        before = self.fake.index
        response, body = self.call("PUT", "/v1/session/create", b'{"NodeChecks": ["nope"]}')
        self.assertEqual((response.code, body), (500, b"Missing check 'nope' registration"))
        self.assertEqual(self.fake.index, before + 1)

    def test_validation_error_does_not_consume_index(self) -> None:
        """Behavior/TTL errors happen before Raft: no index is used."""
        before = self.fake.index
        response, body = self.call("PUT", "/v1/session/create", b'{"TTL": "5s"}')
        self.assertEqual(
            (response.code, body), (500, b"Invalid Session TTL '5000000000', must be between [10s=24h0m0s]")
        )
        response, body = self.call("PUT", "/v1/session/create", b'{"Behavior": "x"}')
        self.assertEqual((response.code, body), (500, b"Invalid Behavior setting 'x'"))
        self.assertEqual(self.fake.index, before)

    def test_bad_ttl_text(self) -> None:
        """An unparsable TTL reports Go's ParseDuration error."""
        response, body = self.call("PUT", "/v1/session/create", b'{"TTL": "abc"}')
        self.assertEqual(
            (response.code, body), (500, b"Session TTL 'abc' invalid: time: invalid duration \"abc\"")
        )


class SessionLifecycleTests(RawCase):
    """TTLs, renew, destroy, invalidation and reads."""

    def test_ttl_expires_at_twice_ttl(self) -> None:
        """session_ttl.go invalidates after TTL * 2, not TTL."""
        sid = self.session({"TTL": "10s"})
        self.advance(19)
        self.assertIsNotNone(self.fake.sessions.get(sid))
        self.advance(1.5)
        self.assertIsNone(self.fake.sessions.get(sid))

    def test_renew_resets_timer_and_returns_list(self) -> None:
        """Renew answers a list of one and restarts the 2*TTL timer."""
        sid = self.session({"TTL": "10s"})
        self.advance(15)
        response, body = self.call("PUT", "/v1/session/renew/" + sid)
        self.assertEqual([s["ID"] for s in json.loads(body)], [sid])
        self.assertIsNone(self.header(response, "X-Consul-Index"))
        self.advance(15)
        self.assertIsNotNone(self.fake.sessions.get(sid))

    def test_renew_unknown_404(self) -> None:
        """Renewing an unknown session is 404 with Consul's text."""
        response, body = self.call("PUT", "/v1/session/renew/abc")
        self.assertEqual((response.code, body), (404, b"Session id 'abc' not found"))

    def test_destroy_idempotent(self) -> None:
        """Destroying an unknown session is true."""
        response, body = self.call("PUT", "/v1/session/destroy/abc")
        self.assertEqual((response.code, json.loads(body)), (200, True))

    def test_invalidation_release_keeps_value_bumps_index(self) -> None:
        """Release behaviour: value and LockIndex kept, ModifyIndex bumped."""
        sid = self.session()
        self.put("k", b"held", f"?acquire={sid}")
        before = self.fake.kv.entries["k"].modify_index
        self.call("PUT", "/v1/session/destroy/" + sid)
        entry = self.fake.kv.entries["k"]
        self.assertEqual((entry.value, entry.session, entry.lock_index), (b"held", "", 1))
        self.assertGreater(entry.modify_index, before)

    def test_invalidation_delete(self) -> None:
        """Delete behaviour removes held keys (with a tombstone)."""
        sid = self.session({"Behavior": "delete"})
        self.put("k", b"held", f"?acquire={sid}")
        self.call("PUT", "/v1/session/destroy/" + sid)
        self.assertNotIn("k", self.fake.kv.entries)
        self.assertIn("k", self.fake.kv.tombstones)

    def test_lock_delay_capped_at_60s(self) -> None:
        """A LockDelay above 60s is capped when applied."""
        sid = self.session({"LockDelay": "5m"})
        self.put("k", b"v", f"?acquire={sid}")
        self.call("PUT", "/v1/session/destroy/" + sid)
        other = self.session()
        self.assertEqual(self.put("k", b"v", f"?acquire={other}"), False)
        self.advance(60.5)
        self.assertEqual(self.put("k", b"v", f"?acquire={other}"), True)

    def test_lock_delay_zero_disables(self) -> None:
        """LockDelay 0 means no lock-delay after invalidation."""
        sid = self.session({"LockDelay": 0})
        self.put("k", b"v", f"?acquire={sid}")
        self.call("PUT", "/v1/session/destroy/" + sid)
        self.assertEqual(self.put("k", b"v", f"?acquire={self.session()}"), True)

    def test_list_sorted_by_id(self) -> None:
        """Session lists iterate the id index: sorted by ID."""
        ids = [self.session() for _ in range(5)]
        _, body = self.call("GET", "/v1/session/list")
        self.assertEqual([s["ID"] for s in json.loads(body)], sorted(ids))

    def test_list_index_is_session_table(self) -> None:
        """List/info/node report the sessions table index."""
        sid = self.session()
        self.put("unrelated")
        for path in ("/v1/session/list", "/v1/session/info/" + sid, "/v1/session/node/node1"):
            response, _ = self.call("GET", path)
            self.assertEqual(self.index(response), self.fake.sessions.table_index)

    def test_empty_table_index_is_one(self) -> None:
        """With no sessions ever, the index is 1 and the list []."""
        response, body = self.call("GET", "/v1/session/list")
        self.assertEqual((self.index(response), json.loads(body)), (1, []))

    def test_node_lookup_case_insensitive(self) -> None:
        """The sessions node index lowercases."""
        sid = self.session()
        _, body = self.call("GET", "/v1/session/node/NODE1")
        self.assertEqual([s["ID"] for s in json.loads(body)], [sid])

    def test_info_id_case_insensitive(self) -> None:
        """The sessions id index lowercases."""
        sid = self.session()
        _, body = self.call("GET", "/v1/session/info/" + sid.upper())
        self.assertEqual([s["ID"] for s in json.loads(body)], [sid])

    def test_info_unknown_empty_list(self) -> None:
        """info of an unknown session is [] with 200."""
        response, body = self.call("GET", "/v1/session/info/nope")
        self.assertEqual((response.code, json.loads(body)), (200, []))

    def test_critical_legacy_check_invalidates(self) -> None:
        """A critical check linked through legacy Checks invalidates the session."""
        self.call("PUT", "/v1/agent/check/register", json.dumps({"Name": "c1", "TTL": "30s"}).encode())
        self.call("PUT", "/v1/agent/check/pass/c1")
        sid = self.session({"Checks": ["c1"]})
        self.call("PUT", "/v1/agent/check/fail/c1")
        self.assertIsNone(self.fake.sessions.get(sid))

    def test_session_blocking_wakes_on_create(self) -> None:
        """A blocking list wakes when a session is created."""
        response, _ = self.call("GET", "/v1/session/list")
        d = self.start("GET", f"/v1/session/list?index={self.index(response)}")
        self.assertNoResult(d)
        self.session()
        self.assertEqual(self.successResultOf(d).code, 200)


class SessionACLTests(RawCase):
    """Session behaviour with ACLs enforced."""

    fake_kwargs = {"acl_master_token": "root"}

    def test_destroy_unknown_with_acls(self) -> None:
        """With ACLs enforced, destroying an unknown session is a 500."""
        response, body = self.call("PUT", "/v1/session/destroy/abc", headers={"X-Consul-Token": "root"})
        self.assertEqual((response.code, body), (500, b'Unknown session "abc"'))
