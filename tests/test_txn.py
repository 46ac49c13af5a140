"""
Tests for transactions: the client (txconsul.api.txn) and FakeConsul's
``/v1/txn`` (txconsul.testing._txn), in memory.
"""

from __future__ import annotations

import json
from base64 import b64encode
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import BadRequest, ClientError, ConsulException
from txconsul.api import txn as txn_module
from txconsul.api.txn import MAX_OPS, Txn, TxnFailed
from txconsul.testing import FakeConsul
from .fakecase import FakeConsulCase


class TxnTestCase(FakeConsulCase):
    """A FakeConsul on a Clock and a client wired to it."""

    def failed(self, ops: list[dict[str, Any]]) -> TxnFailed:
        """Run a transaction that must roll back; return the TxnFailed."""
        return self.failureResultOf(self.consul.txn.put(ops), TxnFailed).value

    def whats(self, ops: list[dict[str, Any]]) -> list[tuple[int, str]]:
        """The (OpIndex, What) pairs of a rolled-back transaction."""
        return [(e["OpIndex"], e["What"]) for e in self.failed(ops).errors]

    def raw(self, body: Any, expect: tuple[int, ...] = (200, 409), **kw: Any) -> Any:
        """PUT a raw body (bytes, or an object sent as JSON) at /v1/txn."""
        if isinstance(body, bytes):
            d = self.consul.http.request("PUT", "/v1/txn", body=body, expect=expect, **kw)
        else:
            d = self.consul.http.request("PUT", "/v1/txn", json_body=body, expect=expect, **kw)
        return self.ok(d)


class BuilderTests(SynchronousTestCase):
    """The kv_* helpers build Consul's op dicts."""

    def test_set_encodes_value(self) -> None:
        """kv_set base64-encodes str and bytes values."""
        self.assertEqual(
            Txn.kv_set("k", "v\u00e9"),
            {"KV": {"Verb": "set", "Key": "k", "Value": b64encode("v\u00e9".encode()).decode()}},
        )
        self.assertEqual(Txn.kv_set(b"k", b"\x00\xff")["KV"]["Value"], "AP8=")

    def test_set_none_and_flags(self) -> None:
        """A None value sends no Value; flags are sent as Flags."""
        self.assertEqual(Txn.kv_set("k", None, flags=7), {"KV": {"Verb": "set", "Key": "k", "Flags": 7}})

    def test_index_and_session_fields(self) -> None:
        """cas/check-index/delete-cas carry Index, lock/unlock/check-session carry Session."""
        self.assertEqual(Txn.kv_cas("k", "v", 0)["KV"]["Index"], 0)
        self.assertEqual(Txn.kv_check_index("k", 5)["KV"], {"Verb": "check-index", "Key": "k", "Index": 5})
        self.assertEqual(Txn.kv_delete_cas("k", 9)["KV"]["Index"], 9)
        self.assertEqual(Txn.kv_lock("k", "v", "s1")["KV"]["Session"], "s1")
        self.assertEqual(
            Txn.kv_unlock("k", None, "s1")["KV"], {"Verb": "unlock", "Key": "k", "Session": "s1"}
        )
        self.assertEqual(Txn.kv_check_session("k", None)["KV"]["Session"], "")

    def test_verbs(self) -> None:
        """Each helper uses Consul's verb name."""
        verbs = {
            "get": Txn.kv_get("k"),
            "get-or-empty": Txn.kv_get_or_empty("k"),
            "get-tree": Txn.kv_get_tree("p/"),
            "check-not-exists": Txn.kv_check_not_exists("k"),
            "delete": Txn.kv_delete("k"),
            "delete-tree": Txn.kv_delete_tree("p/"),
        }
        for verb, op in verbs.items():
            self.assertEqual(op["KV"]["Verb"], verb)

    def test_keys_validated_like_kv(self) -> None:
        """Keys follow kv's rules: no leading '/', no '//' segments, not empty."""
        for bad in ("/a", "a//b", "a/../b", ""):
            self.assertRaises(ValueError, Txn.kv_set, bad, "v")
        self.assertRaises(TypeError, Txn.kv_get, 5)
        self.assertRaises(ValueError, Txn.kv_get_tree, "")
        self.assertEqual(Txn.kv_delete_tree("")["KV"]["Key"], "")

    def test_bad_numbers_and_values(self) -> None:
        """Indexes and flags must be unsigned ints; values str/bytes/None."""
        self.assertRaises(TypeError, Txn.kv_cas, "k", "v", "3")
        self.assertRaises(ValueError, Txn.kv_check_index, "k", -1)
        self.assertRaises(ValueError, Txn.kv_set, "k", "v", flags=2**64)
        self.assertRaises(TypeError, Txn.kv_set, "k", 12)
        self.assertRaises(ValueError, Txn.kv_lock, "k", "v", "")

    def test_module_level_and_instance(self) -> None:
        """The helpers are module functions, Txn static methods and client attributes."""
        c = FakeConsul(Clock()).client()
        self.assertEqual(c.txn.kv_get("k"), txn_module.kv_get("k"))
        self.assertEqual(Txn.kv_delete("k"), txn_module.kv_delete("k"))


class PutValidationTests(TxnTestCase):
    """txn.put validates before sending."""

    def test_too_many_ops(self) -> None:
        """More than 128 operations raise ValueError at the call; nothing is applied."""
        before = self.fake.index
        ops = [Txn.kv_set(f"k{i}", "v") for i in range(MAX_OPS + 1)]
        self.assertRaises(ValueError, self.consul.txn.put, ops)
        self.assertEqual(self.fake.index, before)

    def test_exactly_128_ops(self) -> None:
        """128 operations are allowed."""
        ops = [Txn.kv_set(f"k{i}", "v") for i in range(MAX_OPS)]
        result = self.ok(self.consul.txn.put(ops))
        self.assertEqual(len(result["Results"]), MAX_OPS)

    def test_payload_types(self) -> None:
        """The payload must be a list of dicts."""
        self.assertRaises(TypeError, self.consul.txn.put, Txn.kv_get("k"))
        self.assertRaises(TypeError, self.consul.txn.put, "[]")
        self.assertRaises(TypeError, self.consul.txn.put, [["KV"]])

    def test_bad_consistency(self) -> None:
        """An unknown consistency mode is refused before sending."""
        self.assertRaises(ValueError, self.consul.txn.put, [], consistency="eventual")


class KVTxnTests(TxnTestCase):
    """KV operations through txn.put against FakeConsul."""

    def test_results_and_decoded_values(self) -> None:
        """Writes answer entries with Value None; get answers Value as bytes."""
        result = self.ok(
            self.consul.txn.put(
                [
                    Txn.kv_set("a", b"\x00bin"),
                    Txn.kv_get("a"),
                ]
            )
        )
        self.assertIsNone(result["Errors"])
        first, second = result["Results"]
        self.assertEqual(first["KV"]["Key"], "a")
        self.assertIsNone(first["KV"]["Value"])
        self.assertEqual(second["KV"]["Value"], b"\x00bin")
        self.assertEqual(self.ok(self.consul.kv.get("a"))[1]["Value"], b"\x00bin")

    def test_one_index_for_all_ops(self) -> None:
        """Every write of a transaction lands at the same new index."""
        before = self.fake.index
        result = self.ok(self.consul.txn.put([Txn.kv_set("a", "1"), Txn.kv_set("b", "2", flags=3)]))
        indexes = {r["KV"]["ModifyIndex"] for r in result["Results"]}
        self.assertEqual(indexes, {before + 1})
        self.assertEqual(self.fake.index, before + 1)
        self.assertEqual(self.ok(self.consul.kv.get("b"))[1]["Flags"], 3)

    def test_rollback_lists_every_error(self) -> None:
        """A failing op rolls back the whole txn; every failing op is reported."""
        self.ok(self.consul.kv.put("a", "old"))
        err = self.failed(
            [
                Txn.kv_set("new", "x"),
                Txn.kv_cas("a", "y", 1),
                Txn.kv_delete("a"),
                Txn.kv_get("missing"),
            ]
        )
        self.assertEqual(
            [(e["OpIndex"], e["What"]) for e in err.errors],
            [(1, 'failed to set key "a", index is stale'), (3, 'key "missing" doesn\'t exist')],
        )
        self.assertIsNone(err.results)
        self.assertEqual(err.status, 409)
        self.assertIsInstance(err, ClientError)
        self.assertIsInstance(err, ConsulException)
        self.assertIn('key "missing"', str(err))
        self.assertIsNone(self.ok(self.consul.kv.get("new"))[1])
        self.assertEqual(self.ok(self.consul.kv.get("a"))[1]["Value"], b"old")

    def test_rollback_does_not_wake_watchers(self) -> None:
        """A rolled-back txn leaves a blocked KV read waiting."""
        self.ok(self.consul.kv.put("w", "v"))
        index, _ = self.ok(self.consul.kv.get("w"))
        d = self.consul.kv.get("w", index=index)
        self.assertNoResult(d)
        self.failed([Txn.kv_set("w", "changed"), Txn.kv_get("nope")])
        self.assertNoResult(d)
        self.ok(self.consul.txn.put([Txn.kv_set("w", "changed")]))
        self.assertEqual(self.ok(d)[1]["Value"], b"changed")

    def test_cas(self) -> None:
        """cas with the current index or 0-for-absent succeeds."""
        r = self.ok(self.consul.txn.put([Txn.kv_cas("c", "1", 0)]))
        idx = r["Results"][0]["KV"]["ModifyIndex"]
        self.ok(self.consul.txn.put([Txn.kv_cas("c", "2", idx)]))
        self.assertEqual(self.ok(self.consul.kv.get("c"))[1]["Value"], b"2")
        self.assertEqual(
            self.whats([Txn.kv_cas("c", "3", 0)]), [(0, 'failed to set key "c", index is stale')]
        )

    def test_get_tree(self) -> None:
        """get-tree yields one result per key under the prefix, values decoded."""
        self.ok(self.consul.txn.put([Txn.kv_set("t/a", "1"), Txn.kv_set("t/b", "2"), Txn.kv_set("u", "3")]))
        result = self.ok(self.consul.txn.put([Txn.kv_get_tree("t/")]))
        self.assertEqual(
            [(r["KV"]["Key"], r["KV"]["Value"]) for r in result["Results"]],
            [("t/a", b"1"), ("t/b", b"2")],
        )

    def test_get_or_empty(self) -> None:
        """get-or-empty of a missing key yields an empty entry instead of failing."""
        result = self.ok(self.consul.txn.put([Txn.kv_get_or_empty("none")]))
        self.assertEqual(result["Results"][0]["KV"]["Key"], "none")
        self.assertIsNone(result["Results"][0]["KV"]["Value"])

    def test_check_index(self) -> None:
        """check-index passes on the current index and names both indexes otherwise."""
        r = self.ok(self.consul.txn.put([Txn.kv_set("ci", "v")]))
        idx = r["Results"][0]["KV"]["ModifyIndex"]
        ok = self.ok(self.consul.txn.put([Txn.kv_check_index("ci", idx)]))
        self.assertIsNone(ok["Results"][0]["KV"]["Value"])
        self.assertEqual(
            self.whats([Txn.kv_check_index("ci", idx + 7), Txn.kv_check_index("no", 1)]),
            [
                (0, f'failed index check for key "ci", current modify index {idx} != {idx + 7}'),
                (1, 'failed to check index, key "no" doesn\'t exist'),
            ],
        )

    def test_check_not_exists(self) -> None:
        """check-not-exists fails for an existing key and yields nothing otherwise."""
        self.ok(self.consul.kv.put("e", "v"))
        self.assertEqual(self.ok(self.consul.txn.put([Txn.kv_check_not_exists("f")]))["Results"], [])
        self.assertEqual(self.whats([Txn.kv_check_not_exists("e")]), [(0, 'key "e" exists')])

    def test_deletes(self) -> None:
        """delete, delete-tree and delete-cas remove keys and yield no results."""
        self.ok(self.consul.txn.put([Txn.kv_set(k, "v") for k in ("d1", "tree/a", "tree/b", "d2")]))
        idx = self.ok(self.consul.kv.get("d2"))[0]
        self.assertEqual(
            self.whats([Txn.kv_delete_cas("d2", idx + 1)]), [(0, 'failed to delete key "d2", index is stale')]
        )
        result = self.ok(
            self.consul.txn.put(
                [
                    Txn.kv_delete("d1"),
                    Txn.kv_delete_tree("tree/"),
                    Txn.kv_delete_cas("d2", idx),
                    Txn.kv_delete("never-existed"),
                ]
            )
        )
        self.assertEqual(result["Results"], [])
        self.assertIsNone(self.ok(self.consul.kv.get("", recurse=True))[1])

    def test_sees_earlier_ops(self) -> None:
        """Later operations see the effects of earlier ones in the same txn."""
        result = self.ok(
            self.consul.txn.put(
                [
                    Txn.kv_check_not_exists("s"),
                    Txn.kv_set("s", "1"),
                    Txn.kv_get("s"),
                    Txn.kv_delete("s"),
                    Txn.kv_check_not_exists("s"),
                ]
            )
        )
        self.assertEqual(result["Results"][1]["KV"]["Value"], b"1")
        self.assertIsNone(self.ok(self.consul.kv.get("s"))[1])

    def test_wakes_blocking_query(self) -> None:
        """A committed txn wakes a blocked KV read."""
        index, _ = self.ok(self.consul.kv.get("bq"))
        d = self.consul.kv.get("bq", index=index)
        self.assertNoResult(d)
        self.ok(self.consul.txn.put([Txn.kv_set("bq", "now")]))
        self.assertEqual(self.ok(d)[1]["Value"], b"now")


class LockTxnTests(TxnTestCase):
    """lock, unlock and check-session through transactions."""

    def session(self, **kw: Any) -> str:
        """A new session ID."""
        return self.ok(self.consul.session.create(**kw))

    def test_lock_unlock(self) -> None:
        """lock takes the key for a session, unlock frees it; LockIndex counts acquisitions."""
        s = self.session()
        r = self.ok(self.consul.txn.put([Txn.kv_lock("l", "mine", s), Txn.kv_check_session("l", s)]))
        self.assertEqual(r["Results"][0]["KV"]["Session"], s)
        self.assertEqual(r["Results"][0]["KV"]["LockIndex"], 1)
        entry = self.ok(self.consul.kv.get("l"))[1]
        self.assertEqual((entry["Session"], entry["Value"]), (s, b"mine"))
        self.ok(self.consul.txn.put([Txn.kv_unlock("l", "free", s), Txn.kv_check_session("l", None)]))
        entry = self.ok(self.consul.kv.get("l"))[1]
        self.assertNotIn("Session", entry)
        self.assertEqual((entry["Value"], entry["LockIndex"]), (b"free", 1))

    def test_lock_held_by_other(self) -> None:
        """Locking a key another session holds, or unlocking it, fails with Consul's texts."""
        s1, s2 = self.session(), self.session()
        self.ok(self.consul.kv.put("h", "v", acquire=s1))
        self.assertEqual(
            self.whats(
                [Txn.kv_lock("h", "v", s2), Txn.kv_unlock("h", "v", s2), Txn.kv_check_session("h", s2)]
            ),
            [
                (0, 'failed to lock key "h", lock is already held'),
                (1, 'failed to unlock key "h", lock isn\'t held, or is held by another session'),
                (2, f'failed session check for key "h", current session "{s1}" != "{s2}"'),
            ],
        )

    def test_invalid_session(self) -> None:
        """Locking with an unknown session is an error, not a silent failure."""
        self.assertEqual(self.whats([Txn.kv_lock("x", "v", "nope")]), [(0, 'invalid session "nope"')])

    def test_lock_delay(self) -> None:
        """After a session is destroyed, lock ops fail during its lock-delay, then succeed."""
        s1 = self.session(lock_delay=10)
        self.ok(self.consul.kv.put("ld", "v", acquire=s1))
        self.ok(self.consul.session.destroy(s1))
        s2 = self.session()
        self.assertEqual(
            self.whats([Txn.kv_lock("ld", "v", s2), Txn.kv_set("other", "v")]),
            [(0, 'failed to lock key "ld" due to lock delay')],
        )
        self.assertIsNone(self.ok(self.consul.kv.get("other"))[1])
        self.clock.advance(10)
        self.ok(self.consul.txn.put([Txn.kv_lock("ld", "v", s2)]))


class ProtocolTests(TxnTestCase):
    """What FakeConsul's /v1/txn answers on the wire."""

    def test_write_txn_headers(self) -> None:
        """A write txn answers 200 JSON without X-Consul-Index (Consul sets no meta on writes)."""
        r = self.raw([Txn.kv_set("k", "v")])
        self.assertEqual(r.code, 200)
        self.assertIsNone(r.meta.index)
        self.assertEqual(r.json()["Errors"], None)

    def test_read_only_headers(self) -> None:
        """A read-only txn has KnownLeader/LastContact but no X-Consul-Index."""
        self.ok(self.consul.kv.put("k", "v"))
        r = self.raw([Txn.kv_get("k")], consistency="stale")
        self.assertEqual(r.code, 200)
        self.assertIsNone(r.meta.index)
        self.assertIs(r.meta.known_leader, True)
        self.assertEqual(r.meta.last_contact, 0)

    def test_read_only_allocates_no_index(self) -> None:
        """Reads (including failed ones) do not move the Raft index."""
        before = self.fake.index
        self.ok(self.consul.txn.put([Txn.kv_get_or_empty("k")]))
        self.failed([Txn.kv_get("k")])
        self.assertEqual(self.fake.index, before)

    def test_conflict_body(self) -> None:
        """A rollback is 409 with JSON Results null and the Errors list."""
        r = self.raw([Txn.kv_get("absent")])
        self.assertEqual(r.code, 409)
        self.assertEqual(r.headers.getRawHeaders(b"content-type"), [b"application/json"])
        body = r.json()
        self.assertEqual(
            {k: body[k] for k in ("Results", "Errors")},
            {"Results": None, "Errors": [{"OpIndex": 0, "What": 'key "absent" doesn\'t exist'}]},
        )

    def test_too_many_ops_413(self) -> None:
        """129 operations are refused with 413 and Consul's text."""
        ops = [Txn.kv_get(f"k{i}") for i in range(129)]
        f = self.failureResultOf(self.consul.http.request("PUT", "/v1/txn", json_body=ops), ClientError)
        self.assertEqual(f.value.status, 413)
        self.assertIn("Transaction contains too many operations (129 > 128)", str(f.value))

    def test_malformed_bodies(self) -> None:
        """Bad JSON, a non-array, bad base64 and bad field types are 400 'Failed to parse body'."""
        bodies = [
            b"{not json",
            b"",
            json.dumps({"KV": {"Verb": "get", "Key": "k"}}).encode(),
            json.dumps([{"KV": {"Verb": "set", "Key": "k", "Value": "!!!"}}]).encode(),
            json.dumps([{"KV": {"Verb": "set", "Key": "k", "Flags": "x"}}]).encode(),
            json.dumps(["op"]).encode(),
        ]
        for body in bodies:
            f = self.failureResultOf(self.consul.http.request("PUT", "/v1/txn", body=body), BadRequest)
            self.assertIn("Failed to parse body: ", str(f.value), body)

    def test_value_too_large(self) -> None:
        """A body over txn_max_req_len (512 KiB) is a 413 and nothing is applied."""
        ops = [{"KV": {"Verb": "set", "Key": "big", "Value": b64encode(b"x" * (600 * 1024)).decode()}}]
        f = self.failureResultOf(self.consul.http.request("PUT", "/v1/txn", json_body=ops), ClientError)
        self.assertEqual(f.value.status, 413)
        self.assertIn("too large, max size: 524288 bytes", str(f.value))
        self.assertIsNone(self.ok(self.consul.kv.get("big"))[1])

    def test_lowercase_fields_and_unknown_verb(self) -> None:
        """Field names match case-insensitively (Go); an unknown verb is an op error."""
        value = b64encode(b"v").decode()
        r = self.raw([{"kv": {"verb": "set", "key": "lc", "value": value}}])
        self.assertEqual(r.code, 200)
        self.assertEqual(self.ok(self.consul.kv.get("lc"))[1]["Value"], b"v")
        r = self.raw([{"KV": {"Verb": "bogus", "Key": "k"}}])
        self.assertEqual(r.json()["Errors"], [{"OpIndex": 0, "What": 'unknown KV verb "bogus"'}])

    def test_missing_key(self) -> None:
        """An op without a key fails the pre-check with 'Must provide key'."""
        r = self.raw([{"KV": {"Verb": "get"}}, {"KV": {"Verb": "delete-tree", "Key": ""}}])
        self.assertEqual(r.json()["Errors"], [{"OpIndex": 0, "What": "Must provide key"}])

    def test_get_not_allowed(self) -> None:
        """/v1/txn accepts only PUT."""
        f = self.failureResultOf(self.consul.http.request("GET", "/v1/txn"), ClientError)
        self.assertEqual(f.value.status, 405)

    def test_empty_payload(self) -> None:
        """An empty transaction succeeds with no results."""
        answer = self.ok(self.consul.txn.put([]))
        self.assertEqual((answer["Results"], answer["Errors"]), ([], None))


class DenyKeys:
    """An authorizer that denies every KV access under ``secret/``."""

    def allowed(self, resource: str, name: str, access: str) -> bool:
        """Deny keys under secret/."""
        return not (resource == "key" and name.startswith("secret/"))


class ACLTxnTests(TxnTestCase):
    """ACL denials inside a transaction (with a stand-in authorizer)."""

    def setUp(self) -> None:
        super().setUp()
        self.ok(self.consul.kv.put("secret/a", "s"))
        self.ok(self.consul.kv.put("open", "o"))
        self.fake.acl.authorizer = lambda req: DenyKeys()  # type: ignore[method-assign]

    def test_write_denied(self) -> None:
        """A denied write is a 'Permission denied' op error and nothing is applied."""
        self.assertEqual(
            self.whats([Txn.kv_set("open", "x"), Txn.kv_set("secret/b", "x")]), [(1, "Permission denied")]
        )
        self.assertEqual(self.ok(self.consul.kv.get("open"))[1]["Value"], b"o")

    def test_check_index_denied(self) -> None:
        """check-index needs read access, so a denied key fails the txn."""
        self.assertEqual(self.whats([Txn.kv_check_index("secret/a", 1)]), [(0, "Permission denied")])

    def test_get_filtered(self) -> None:
        """Denied get results are silently filtered out."""
        result = self.ok(self.consul.txn.put([Txn.kv_get("secret/a"), Txn.kv_get("open")]))
        self.assertEqual([r["KV"]["Key"] for r in result["Results"]], ["open"])


class CatalogTxnTests(TxnTestCase):
    """Node, Service and Check operations against the fake's catalog."""

    node_op = {"Node": {"Verb": "set", "Node": {"Node": "n2", "Address": "10.0.0.2"}}}
    service_op = {"Service": {"Verb": "set", "Node": "n2", "Service": {"Service": "web", "Port": 80}}}

    def test_register_and_get(self) -> None:
        """set registers a node and a service at one index; get reads them back."""
        r = self.ok(self.consul.txn.put([self.node_op, self.service_op]))
        node, service = r["Results"]
        self.assertEqual(node["Node"]["Address"], "10.0.0.2")
        self.assertEqual(node["Node"]["Datacenter"], "dc1")
        self.assertEqual(service["Service"]["ID"], "web")
        self.assertEqual(node["Node"]["ModifyIndex"], service["Service"]["ModifyIndex"])
        self.assertIn("n2", self.fake.catalog.nodes)
        got = self.ok(
            self.consul.txn.put(
                [
                    {"Node": {"Verb": "get", "Node": {"Node": "n2"}}},
                    {"Service": {"Verb": "get", "Node": "n2", "Service": {"ID": "web"}}},
                ]
            )
        )
        self.assertEqual(got["Results"][1]["Service"]["Port"], 80)

    def test_missing_entities(self) -> None:
        """Getting unknown nodes/services/checks fails with Consul's texts."""
        self.assertEqual(
            self.whats(
                [
                    {"Node": {"Verb": "get", "Node": {"Node": "ghost"}}},
                    {"Service": {"Verb": "get", "Node": "ghost", "Service": {"ID": "s"}}},
                    {"Check": {"Verb": "get", "Check": {"Node": "ghost", "CheckID": "c"}}},
                ]
            ),
            [
                (0, 'node "ghost" doesn\'t exist'),
                (1, 'service "s" on node "ghost" doesn\'t exist'),
                (2, 'check "c" on node "ghost" doesn\'t exist'),
            ],
        )

    def test_service_needs_node(self) -> None:
        """A service on an unregistered node fails with 'Missing node registration'."""
        self.assertEqual(self.whats([self.service_op]), [(0, "Missing node registration")])

    def test_rollback_restores_catalog(self) -> None:
        """A failing KV op rolls back catalog writes in the same txn."""
        self.failed([self.node_op, self.service_op, Txn.kv_get("nope")])
        self.assertNotIn("n2", self.fake.catalog.nodes)
        self.assertNotIn(("n2", "web"), self.fake.catalog.services)

    def test_delete_node_removes_services(self) -> None:
        """Deleting a node removes its services and checks."""
        self.ok(self.consul.txn.put([self.node_op, self.service_op]))
        self.ok(self.consul.txn.put([{"Node": {"Verb": "delete", "Node": {"Node": "n2"}}}]))
        self.assertNotIn(("n2", "web"), self.fake.catalog.services)
        self.assertNotIn("n2", self.fake.catalog.nodes)

    def test_cas_stale(self) -> None:
        """A node cas with a stale index fails."""
        self.ok(self.consul.txn.put([self.node_op]))
        op = {"Node": {"Verb": "cas", "Node": {"Node": "n2", "Address": "x", "ModifyIndex": 1}}}
        self.assertEqual(self.whats([op]), [(0, 'failed to set node "n2", index is stale')])

    def test_critical_check_invalidates_session(self) -> None:
        """Setting a linked check critical through a txn invalidates the session after commit."""
        sid = self.ok(self.consul.session.create())
        self.ok(self.consul.kv.put("held", "v", acquire=sid))
        check = {
            "Node": self.fake.core.node_name,
            "CheckID": "serfHealth",
            "Name": "Serf Health Status",
            "Status": "critical",
        }
        self.ok(self.consul.txn.put([{"Check": {"Verb": "set", "Check": check}}]))
        self.assertIsNone(self.ok(self.consul.session.info(sid))[1])
        self.assertNotIn("Session", self.ok(self.consul.kv.get("held"))[1])

    def test_unknown_catalog_verb(self) -> None:
        """An unknown node verb fails the pre-check."""
        op = {"Node": {"Verb": "explode", "Node": {"Node": "n2"}}}
        self.assertEqual(self.whats([op]), [(0, "unknown node operation: explode")])
