"""
Tests for the KV endpoint (txconsul.api.kv) against FakeConsul in memory.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import BadRequest, ClientError, ConsulException, QueryMeta, Timeout
from txconsul.api.kv import kv_path
from txconsul.testing import FakeConsul
from .fakecase import FakeConsulCase


class KVTestCase(FakeConsulCase):
    """Sets up a FakeConsul on a Clock and a client wired to it."""


class GetPutTests(KVTestCase):
    """kv.get / kv.put basics and return shapes."""

    def test_put_then_get(self) -> None:
        """A put value comes back as bytes with python-consul's entry shape."""
        self.assertIs(self.ok(self.consul.kv.put("foo", "bar")), True)
        index, data = self.ok(self.consul.kv.get("foo"))
        self.assertEqual(data["Value"], b"bar")
        self.assertEqual(data["Key"], "foo")
        self.assertEqual(data["Flags"], 0)
        self.assertEqual(index, data["ModifyIndex"])
        self.assertIsInstance(index, int)

    def test_missing_key(self) -> None:
        """A missing key is (index, None) with an index usable for blocking."""
        index, data = self.ok(self.consul.kv.get("nope"))
        self.assertIsNone(data)
        self.assertGreaterEqual(index, 1)

    def test_bytes_value_and_none(self) -> None:
        """Binary values round-trip; None and b'' store an empty value read as None."""
        blob = bytes(range(256))
        self.ok(self.consul.kv.put("bin", blob))
        self.assertEqual(self.ok(self.consul.kv.get("bin"))[1]["Value"], blob)
        self.ok(self.consul.kv.put("empty", None))
        self.assertIsNone(self.ok(self.consul.kv.get("empty"))[1]["Value"])

    def test_flags(self) -> None:
        """Flags are stored, and a later put without flags resets them to 0."""
        self.ok(self.consul.kv.put("f", "v", flags=42))
        self.assertEqual(self.ok(self.consul.kv.get("f"))[1]["Flags"], 42)
        self.ok(self.consul.kv.put("f", "v"))
        self.assertEqual(self.ok(self.consul.kv.get("f"))[1]["Flags"], 0)

    def test_identical_put_keeps_index(self) -> None:
        """Re-putting identical data does not change ModifyIndex (Consul >= 1.6)."""
        self.ok(self.consul.kv.put("same", "v"))
        first = self.ok(self.consul.kv.get("same"))[0]
        self.ok(self.consul.kv.put("same", "v"))
        self.assertEqual(self.ok(self.consul.kv.get("same"))[0], first)

    def test_meta(self) -> None:
        """meta=True gives a QueryMeta with index, leader and last contact."""
        self.ok(self.consul.kv.put("m", "v"))
        meta, data = self.ok(self.consul.kv.get("m", meta=True))
        self.assertIsInstance(meta, QueryMeta)
        self.assertEqual(meta.index, data["ModifyIndex"])
        self.assertIs(meta.known_leader, True)
        self.assertEqual(meta.last_contact, 0)

    def test_str_index_from_python_consul(self) -> None:
        """A string index (python-consul's type) is accepted."""
        self.ok(self.consul.kv.put("s", "v"))
        index, _ = self.ok(self.consul.kv.get("s"))
        d = self.consul.kv.get("s", index=str(index - 1))
        self.assertEqual(self.ok(d)[0], index)


class KeyEscapingTests(KVTestCase):
    """Any key round-trips byte-exact."""

    def test_special_characters(self) -> None:
        """Keys with spaces, ?, #, %, + and unicode are stored under their exact name."""
        for key in ["a b", "q?x=1", "h#frag", "p%20c", "plus+", "üñí/çødé", "semi;colon", "dir/sub/"]:
            self.ok(self.consul.kv.put(key, key))
            self.assertIn(key, self.fake.kv.entries)
            self.assertEqual(self.ok(self.consul.kv.get(key))[1]["Key"], key)

    def test_leading_slash(self) -> None:
        """A key starting with '/' is a ValueError before any request."""
        self.assertRaises(ValueError, self.consul.kv.put, "/foo", "x")
        self.assertRaises(ValueError, self.consul.kv.get, "/foo")

    def test_double_slash(self) -> None:
        """Keys with empty, '.' or '..' segments are refused (Consul's router rewrites them)."""
        for bad in ["a//b", "a/./b", "a/../b", ".."]:
            self.assertRaises(ValueError, kv_path, bad)

    def test_value_type(self) -> None:
        """A value that is not str/bytes/None is a TypeError."""
        self.assertRaises(TypeError, self.consul.kv.put, "k", 12)
        self.assertRaises(TypeError, self.consul.kv.put, "k", {"a": 1})

    def test_key_type(self) -> None:
        """A key that is not str/bytes is a TypeError."""
        self.assertRaises(TypeError, self.consul.kv.get, 12)

    def test_empty_key(self) -> None:
        """An empty key is a ValueError unless listing."""
        self.assertRaises(ValueError, self.consul.kv.get, "")
        self.assertRaises(ValueError, self.consul.kv.put, "", "x")


class ListingTests(KVTestCase):
    """recurse, keys and separator."""

    def setUp(self) -> None:
        super().setUp()
        for k in ["web/bar", "web/foo", "web/subdir/x", "web/subdir/y", "webby", "other"]:
            self.ok(self.consul.kv.put(k, k))

    def test_recurse_is_string_prefix(self) -> None:
        """recurse matches a raw string prefix ('web' matches 'webby')."""
        _, data = self.ok(self.consul.kv.get("web", recurse=True))
        self.assertEqual(
            [e["Key"] for e in data], ["web/bar", "web/foo", "web/subdir/x", "web/subdir/y", "webby"]
        )
        self.assertEqual(data[0]["Value"], b"web/bar")

    def test_keys_separator(self) -> None:
        """keys with a separator truncates after the prefix and de-duplicates."""
        _, keys = self.ok(self.consul.kv.get("web/", keys=True, separator="/"))
        self.assertEqual(keys, ["web/bar", "web/foo", "web/subdir/"])

    def test_keys_empty_prefix(self) -> None:
        """keys on the whole store lists every key."""
        _, keys = self.ok(self.consul.kv.get("", keys=True))
        self.assertEqual(len(keys), 6)

    def test_recurse_no_match(self) -> None:
        """A prefix with no keys gives (index, None)."""
        index, data = self.ok(self.consul.kv.get("zzz", recurse=True))
        self.assertIsNone(data)
        self.assertGreaterEqual(index, 1)

    def test_separator_needs_keys(self) -> None:
        """separator without keys=True is a ValueError."""
        self.assertRaises(ValueError, self.consul.kv.get, "web/", separator="/")

    def test_delete_recurse(self) -> None:
        """delete(recurse=True) removes every key with the prefix, and only those."""
        self.assertIs(self.ok(self.consul.kv.delete("web/", recurse=True)), True)
        self.assertEqual(sorted(self.fake.kv.entries), ["other", "webby"])

    def test_prefix_index_uses_tombstones(self) -> None:
        """Deleting the newest key under a prefix does not move its index backwards."""
        before, _ = self.ok(self.consul.kv.get("web/", recurse=True))
        self.ok(self.consul.kv.delete("web/subdir/y"))
        after, _ = self.ok(self.consul.kv.get("web/", recurse=True))
        self.assertGreater(after, before)


class CASTests(KVTestCase):
    """Check-and-set on put and delete."""

    def test_cas_zero_creates_only(self) -> None:
        """cas=0 writes only when the key does not exist."""
        self.assertIs(self.ok(self.consul.kv.put("c", "1", cas=0)), True)
        self.assertIs(self.ok(self.consul.kv.put("c", "2", cas=0)), False)
        self.assertEqual(self.ok(self.consul.kv.get("c"))[1]["Value"], b"1")

    def test_cas_index(self) -> None:
        """cas=<ModifyIndex> succeeds once; a stale index fails."""
        self.ok(self.consul.kv.put("c", "1"))
        index = self.ok(self.consul.kv.get("c"))[1]["ModifyIndex"]
        self.assertIs(self.ok(self.consul.kv.put("c", "2", cas=index)), True)
        self.assertIs(self.ok(self.consul.kv.put("c", "3", cas=index)), False)

    def test_delete_cas(self) -> None:
        """delete(cas=) removes the key only at the matching index."""
        self.ok(self.consul.kv.put("d", "1"))
        index = self.ok(self.consul.kv.get("d"))[1]["ModifyIndex"]
        self.assertIs(self.ok(self.consul.kv.delete("d", cas=index + 100)), False)
        self.assertIs(self.ok(self.consul.kv.delete("d", cas=index)), True)
        self.assertNotIn("d", self.fake.kv.entries)

    def test_conflicting_arguments(self) -> None:
        """cas with acquire, or recurse with cas, are ValueErrors before any request."""
        self.assertRaises(ValueError, self.consul.kv.put, "k", "v", cas=1, acquire="s")
        self.assertRaises(ValueError, self.consul.kv.delete, "k", recurse=True, cas=1)

    def test_negative_cas(self) -> None:
        """A negative cas or flags is a ValueError."""
        self.assertRaises(ValueError, self.consul.kv.put, "k", "v", cas=-1)
        self.assertRaises(ValueError, self.consul.kv.put, "k", "v", flags=2**64)


class LockTests(KVTestCase):
    """acquire/release with sessions."""

    def test_acquire_release(self) -> None:
        """acquire sets Session and LockIndex; another session cannot take it; release clears it."""
        s1 = self.ok(self.consul.http.request("PUT", "/v1/session/create")).json()["ID"]
        s2 = self.ok(self.consul.http.request("PUT", "/v1/session/create")).json()["ID"]
        self.assertIs(self.ok(self.consul.kv.put("lock", "me", acquire=s1)), True)
        _, data = self.ok(self.consul.kv.get("lock"))
        self.assertEqual((data["Session"], data["LockIndex"]), (s1, 1))
        self.assertIs(self.ok(self.consul.kv.put("lock", "you", acquire=s2)), False)
        self.assertIs(self.ok(self.consul.kv.put("lock", "bye", release=s2)), False)
        self.assertIs(self.ok(self.consul.kv.put("lock", "bye", release=s1)), True)
        _, data = self.ok(self.consul.kv.get("lock"))
        self.assertNotIn("Session", data)
        self.assertEqual((data["Value"], data["LockIndex"]), (b"bye", 1))

    def test_acquire_invalid_session(self) -> None:
        """Acquiring with an unknown session is Consul's 500 'invalid session'."""
        f = self.failureResultOf(self.consul.kv.put("lock", "x", acquire="nope"), ConsulException)
        self.assertIn('invalid session "nope"', str(f.value))
        self.assertEqual(f.value.status, 500)


class BlockingTests(KVTestCase):
    """Blocking queries: index + wait."""

    def test_blocks_until_change(self) -> None:
        """A blocking get waits for a write past its index, then returns the new data."""
        self.ok(self.consul.kv.put("foo", "1"))
        index, _ = self.ok(self.consul.kv.get("foo"))
        d = self.consul.kv.get("foo", index=index, wait="1m")
        self.assertNoResult(d)
        self.ok(self.consul.kv.put("other", "x"))
        self.assertNoResult(d)
        self.ok(self.consul.kv.put("foo", "2"))
        new_index, data = self.ok(d)
        self.assertGreater(new_index, index)
        self.assertEqual(data["Value"], b"2")

    def test_wait_expires(self) -> None:
        """Without a change the query returns the same index after wait (+ at most wait/16)."""
        self.ok(self.consul.kv.put("foo", "1"))
        index, _ = self.ok(self.consul.kv.get("foo"))
        d = self.consul.kv.get("foo", index=index, wait="16s")
        self.clock.advance(15.9)
        self.assertNoResult(d)
        self.clock.advance(1.1)
        self.assertEqual(self.ok(d)[0], index)

    def test_missing_key_wakes_on_create(self) -> None:
        """Blocking on a missing key returns when it is created."""
        index, _ = self.ok(self.consul.kv.get("later"))
        d = self.consul.kv.get("later", index=index, wait="5m")
        self.assertNoResult(d)
        self.ok(self.consul.kv.put("later", "now"))
        self.assertEqual(self.ok(d)[1]["Value"], b"now")

    def test_delete_wakes_with_none(self) -> None:
        """Blocking on a key returns (index, None) when it is deleted."""
        self.ok(self.consul.kv.put("gone", "x"))
        index, _ = self.ok(self.consul.kv.get("gone"))
        d = self.consul.kv.get("gone", index=index)
        self.ok(self.consul.kv.delete("gone"))
        new_index, data = self.ok(d)
        self.assertIsNone(data)
        self.assertGreater(new_index, index)

    def test_cancel_aborts_request(self) -> None:
        """Cancelling a blocking get fails it with CancelledError and frees the server side."""
        index, _ = self.ok(self.consul.kv.get("x"))
        d = self.consul.kv.get("x", index=index, wait="5m")
        self.assertEqual(self.fake.pending_queries(), 1)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.fake.pending_queries(), 0)

    def test_client_timeout(self) -> None:
        """A blocking call times out client-side after wait + wait/16 + margin."""
        index, _ = self.ok(self.consul.kv.get("x"))
        d = self.consul.kv.get("x", index=index, wait="16s")
        # Stop the fake from answering, as a hung agent would.
        for waiter in list(self.fake.core._waiters):
            waiter.timer.cancel()
        self.clock.advance(16 + 1 + 4.9)
        self.assertNoResult(d)
        self.clock.advance(0.2)
        f = self.failureResultOf(d, Timeout)
        self.assertIn("GET /v1/kv/x", str(f.value))

    def test_bad_wait(self) -> None:
        """Malformed or over-10-minute waits are ValueErrors before any request."""
        for bad in ["10", "abc", "11m", -1, "0s"]:
            self.assertRaises(ValueError, self.consul.kv.get, "x", index=1, wait=bad)

    def test_bad_index(self) -> None:
        """A negative or non-numeric index is a ValueError."""
        self.assertRaises(ValueError, self.consul.kv.get, "x", index=-1)
        self.assertRaises(ValueError, self.consul.kv.get, "x", index="abc")

    def test_bad_consistency(self) -> None:
        """An unknown consistency mode is a ValueError."""
        self.assertRaises(ValueError, self.consul.kv.get, "x", consistency="eventual")


class ErrorTests(KVTestCase):
    """Server-side errors surface as txconsul exceptions."""

    def test_value_too_large(self) -> None:
        """A value over 512 KiB surfaces Consul's 413 as a ClientError naming the limit."""
        f = self.failureResultOf(self.consul.kv.put("big", b"x" * (512 * 1024 + 1)), ClientError)
        self.assertEqual(f.value.status, 413)
        self.assertIn("too large", str(f.value))
        self.assertNotIn("big", self.fake.kv.entries)

    def test_unknown_dc(self) -> None:
        """An unknown datacenter is Consul's 500 'No path to datacenter'."""
        f = self.failureResultOf(self.consul.kv.get("x", dc="mars"), ConsulException)
        self.assertIn("No path to datacenter", str(f.value))

    def test_bad_request(self) -> None:
        """A 400 from the agent is a BadRequest naming method and path."""
        d = self.consul.http.request("GET", "/v1/kv/x", [("index", "abc")])
        f = self.failureResultOf(d, BadRequest)
        self.assertIn("GET /v1/kv/x", str(f.value))
        self.assertIn("Invalid index", str(f.value))


class ACLFilteringTests(SynchronousTestCase):
    """KV listings under ACLs."""

    def setUp(self) -> None:
        self.fake = FakeConsul(Clock(), acl_master_token="root", acl_default_policy="deny")
        self.root = self.fake.client(token="root")
        for key in ("app/a", "app/b", "other/c"):
            self.successResultOf(self.root.kv.put(key, "v"))
        policy = self.successResultOf(
            self.root.acl.policy.create("app-read", 'key_prefix "app/" { policy = "read" }')
        )
        self.secret = self.successResultOf(self.root.acl.token.create(policies=[policy["ID"]]))["SecretID"]

    def test_filtered_listing_says_so(self) -> None:
        """A listing that ACLs trimmed carries X-Consul-Results-Filtered-By-ACLs: true."""
        c = self.fake.client(token=self.secret)
        response = self.successResultOf(c.http.request("GET", "/v1/kv/", [("recurse", None)]))
        self.assertEqual([e["Key"] for e in response.json()], ["app/a", "app/b"])
        self.assertEqual(response.headers.getRawHeaders(b"X-Consul-Results-Filtered-By-ACLs"), [b"true"])
        _, keys = self.successResultOf(c.kv.get("", keys=True))
        self.assertEqual(keys, ["app/a", "app/b"])

    def test_unfiltered_listing_has_no_header(self) -> None:
        """Nothing removed (management token): no header, never 'false'."""
        response = self.successResultOf(self.root.http.request("GET", "/v1/kv/", [("recurse", None)]))
        self.assertEqual(len(response.json()), 3)
        self.assertIsNone(response.headers.getRawHeaders(b"X-Consul-Results-Filtered-By-ACLs"))

    def test_everything_filtered_is_none(self) -> None:
        """A prefix whose keys are all hidden reads as (index, None)."""
        c = self.fake.client(token=self.secret)
        index, data = self.successResultOf(c.kv.get("other/", recurse=True))
        self.assertIsNone(data)
        self.assertGreaterEqual(index, 1)
