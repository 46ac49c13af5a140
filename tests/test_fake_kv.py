"""
Tests for FakeConsul's KV store (txconsul.testing._kv) at the HTTP level:
what Consul answers on the wire, below what the client decodes.
"""

from __future__ import annotations

from .fakecase import FakeConsulCase


class FakeKVWireTests(FakeConsulCase):
    """Raw answers of /v1/kv/ as Consul gives them."""

    def test_missing_key_is_404_with_index(self) -> None:
        """A missing key answers 404 with an empty body and an X-Consul-Index."""
        self.ok(self.consul.kv.put("other", "x"))
        r = self.ok(self.consul.http.request("GET", "/v1/kv/missing", expect=(200, 404)))
        self.assertEqual((r.code, r.body), (404, b""))
        self.assertGreater(r.index, 0)

    def test_entry_shape(self) -> None:
        """An entry is a one-element list: base64 Value, Flags as sent, the indexes."""
        self.ok(self.consul.kv.put("k", b"\x00\xff", flags=2**64 - 1))
        (entry,) = self.ok(self.consul.http.request("GET", "/v1/kv/k")).json()
        self.assertEqual((entry["Key"], entry["Value"], entry["Flags"]), ("k", "AP8=", 2**64 - 1))
        self.assertEqual(entry["CreateIndex"], entry["ModifyIndex"])
        self.assertEqual(entry["LockIndex"], 0)

    def test_lock_index_counts_acquisitions(self) -> None:
        """Each acquisition by a session bumps LockIndex and sets Session; release clears Session."""
        sid = self.ok(self.consul.session.create(checks=[], ttl="30s"))
        for n in (1, 2):
            self.assertIs(self.ok(self.consul.kv.put("lock", "me", acquire=sid)), True)
            (entry,) = self.ok(self.consul.http.request("GET", "/v1/kv/lock")).json()
            self.assertEqual((entry["LockIndex"], entry["Session"]), (n, sid))
            self.assertIs(self.ok(self.consul.kv.put("lock", "me", release=sid)), True)
            (entry,) = self.ok(self.consul.http.request("GET", "/v1/kv/lock")).json()
            self.assertNotIn("Session", entry)
