"""
Snapshot save and restore (``/v1/snapshot``) against FakeConsul in memory.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile

from txconsul import ACLPermissionDenied, ConsulException
from txconsul._http import QueryMeta

from .modern_case import ROOT, ACLModernCase, ModernCase


def _members(archive: bytes) -> dict[str, bytes]:
    """The files of a snapshot archive."""
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive)), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}  # type: ignore[union-attr]


class SnapshotTests(ModernCase):
    """Saving and restoring the fake's state."""

    def test_archive_layout(self) -> None:
        """The archive is a gzipped tar of meta.json, state.bin and SHA256SUMS whose sums match."""
        self.ok(self.consul.kv.put("k", "v"))
        files = _members(self.ok(self.consul.snapshot.save()))
        self.assertEqual(set(files), {"meta.json", "state.bin", "SHA256SUMS"})
        meta = json.loads(files["meta.json"])
        self.assertEqual(meta["Index"], self.fake.index)
        self.assertEqual(meta["Size"], len(files["state.bin"]))
        sums = files["SHA256SUMS"].decode()
        self.assertIn(hashlib.sha256(files["state.bin"]).hexdigest() + "  state.bin", sums)

    def test_round_trip_restores_kv_sessions_catalog(self) -> None:
        """Changes after a save are undone by restoring it: KV, sessions and catalog."""
        c = self.consul
        sid = self.ok(c.session.create(ttl=60))
        self.ok(c.kv.put("locked", "1", acquire=sid))
        self.ok(c.kv.put("plain", b"\x00\xffbinary"))
        self.ok(c.catalog.register("ext-node", "10.0.0.9", service={"Service": "db", "Port": 5432}))
        saved = self.ok(c.snapshot.save())

        self.ok(c.kv.delete("plain"))
        self.ok(c.kv.put("later", "x"))
        self.ok(c.session.destroy(sid))
        self.ok(c.catalog.deregister("ext-node"))

        self.assertIs(self.ok(c.snapshot.restore(saved)), True)
        _, plain = self.ok(c.kv.get("plain"))
        self.assertEqual(plain["Value"], b"\x00\xffbinary")
        self.assertIsNone(self.ok(c.kv.get("later"))[1])
        _, locked = self.ok(c.kv.get("locked"))
        self.assertEqual(locked["Session"], sid)
        self.assertEqual(self.ok(c.session.info(sid))[1]["ID"], sid)
        _, nodes = self.ok(c.catalog.nodes())
        self.assertIn("ext-node", [n["Node"] for n in nodes])
        _, svc = self.ok(c.catalog.service("db"))
        self.assertEqual(svc[0]["ServicePort"], 5432)

    def test_restored_session_ttl_restarts(self) -> None:
        """A restored TTL session is reaped on its own timer again."""
        c = self.consul
        sid = self.ok(c.session.create(ttl=10))
        saved = self.ok(c.snapshot.save())
        self.ok(c.snapshot.restore(saved))
        self.clock.advance(25)
        self.assertIsNone(self.ok(c.session.info(sid))[1])

    def test_index_moves_forward(self) -> None:
        """The restore is a new write: the fake's Raft index only grows."""
        c = self.consul
        self.ok(c.kv.put("k", "v"))
        saved = self.ok(c.snapshot.save())
        self.ok(c.kv.put("k2", "v"))
        before = self.fake.index
        self.ok(c.snapshot.restore(saved))
        self.assertGreater(self.fake.index, before)
        self.assertEqual(self.fake.snapshot.restores, 1)

    def test_save_to_file_and_callable(self) -> None:
        """save(out) streams into a file or callable and fires the QueryMeta with the index."""
        self.ok(self.consul.kv.put("k", "v"))
        f = io.BytesIO()
        meta = self.ok(self.consul.snapshot.save(f))
        self.assertIsInstance(meta, QueryMeta)
        self.assertEqual(meta.index, self.fake.index)
        pieces: list[bytes] = []
        self.ok(self.consul.snapshot.save(pieces.append))
        self.assertEqual(_members(f.getvalue())["state.bin"], _members(b"".join(pieces))["state.bin"])

    def test_restore_from_file(self) -> None:
        """restore() reads a file in pieces (sent chunked) and restores it."""
        self.ok(self.consul.kv.put("k", "before"))
        saved = self.ok(self.consul.snapshot.save())
        self.ok(self.consul.kv.put("k", "after"))
        self.ok(self.consul.snapshot.restore(io.BytesIO(saved)))
        self.assertEqual(self.ok(self.consul.kv.get("k"))[1]["Value"], b"before")

    def test_corrupt_archive_changes_nothing(self) -> None:
        """A tampered archive fails the integrity check; the state is untouched."""
        self.ok(self.consul.kv.put("k", "v"))
        files = _members(self.ok(self.consul.snapshot.save()))
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            for name, data in files.items():
                if name == "state.bin":
                    data = data.replace(b'"k"', b'"j"')
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        self.ok(self.consul.kv.put("k", "now"))
        e = self.fails(self.consul.snapshot.restore(gzip.compress(raw.getvalue())), ConsulException)
        self.assertIn("sha256 hash mismatch for state.bin", str(e))
        self.assertEqual(self.ok(self.consul.kv.get("k"))[1]["Value"], b"now")

    def test_not_an_archive(self) -> None:
        """Bytes that are not a gzipped tar are a 500 naming the failure."""
        e = self.fails(self.consul.snapshot.restore(b"junk"), ConsulException)
        self.assertEqual(e.status, 500)
        self.assertIn("failed to read snapshot file", str(e))

    def test_bad_arguments(self) -> None:
        """A non-file, non-bytes argument is a TypeError before any request."""
        before = len(self.fake.requests)
        with self.assertRaises(TypeError):
            self.consul.snapshot.restore("text")
        with self.assertRaises(TypeError):
            self.consul.snapshot.save(42)
        self.assertEqual(len(self.fake.requests), before)

    def test_save_sends_stale_and_dc(self) -> None:
        """stale=True sends ?stale; an unknown dc is the fake's 500."""
        self.ok(self.consul.snapshot.save(stale=True))
        self.assertEqual(self.fake.requests[-1].query, [("stale", "")])
        e = self.fails(self.consul.snapshot.save(dc="nowhere"), ConsulException)
        self.assertIn("No path to datacenter", str(e))


class SnapshotACLTests(ACLModernCase):
    """Snapshots need acl:write; they carry the ACL state."""

    def test_needs_acl_write(self) -> None:
        """A token without acl:write gets 403 for save and restore."""
        c = self.client('key_prefix "" { policy = "write" }')
        self.fails(c.snapshot.save(), ACLPermissionDenied)
        saved = self.ok(self.root.snapshot.save())
        self.fails(c.snapshot.restore(saved), ACLPermissionDenied)

    def test_round_trip_restores_acls(self) -> None:
        """Tokens and policies made after a save are gone after the restore; older ones work."""
        keep = self.token_with('key_prefix "" { policy = "read" }')
        saved = self.ok(self.root.snapshot.save())
        later = self.token_with('key_prefix "" { policy = "write" }')
        self.ok(self.root.snapshot.restore(saved))
        self.ok(self.fake.client(token=keep).kv.get("any"))
        self.fails(self.fake.client(token=later).kv.get("any"), ConsulException)
        self.ok(self.fake.client(token=ROOT).kv.put("still", "root"))
