# -*- test-case-name: tests.test_api_modern_snapshot -*-
"""
FakeConsul's ``/v1/snapshot``: ``GET`` saves the fake's state (KV,
sessions, ACLs, catalog) as a gzipped tar archive laid out as Consul's
(``meta.json``, ``state.bin``, ``SHA256SUMS``; snapshot/archive.go), ``PUT``
restores one (agent/snapshot_endpoint.go, agent/consul/snapshot_endpoint.go).

The archive's ``state.bin`` holds the fake's state as JSON rather than
Raft's msgpack stream, so the fake restores its own archives only (not a
real Consul's, nor does Consul restore the fake's).  As Consul's, a
snapshot needs ``acl:write`` (acl/policy_authorizer.go ``Snapshot``), and a
restore checks the archive's SHA-256 sums before changing anything.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from typing import Any

import attr

from ._acl import require
from ._core import HTTPError, Reply, Route
from ._gofmt import parse_go_duration
from ._kv import Entry

#: The archive's format version (meta.json ``Version``, raft's snapshot version).
SNAPSHOT_VERSION = 1

#: Largest archive a restore reads (the fake keeps it in memory).
MAX_ARCHIVE = 256 * 1024 * 1024


def _encode(value: Any) -> Any:
    """Plain data as JSON, with bytes, tuples and non-string keys tagged."""
    if isinstance(value, bytes):
        return {"$b": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Entry):
        return {"$entry": _encode(attr.asdict(value, recurse=False))}
    if isinstance(value, tuple):
        return {"$t": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            if not any(k.startswith("$") for k in value):
                return {k: _encode(v) for k, v in value.items()}
        return {"$d": [[_encode(k), _encode(v)] for k, v in value.items()]}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"cannot snapshot a {type(value).__name__}")


def _decode(value: Any) -> Any:
    """Undo :func:`_encode`."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, inner),) = value.items()
            if tag == "$b":
                return base64.b64decode(inner)
            if tag == "$t":
                return tuple(_decode(v) for v in inner)
            if tag == "$d":
                return {_decode(k): _decode(v) for k, v in inner}
            if tag == "$entry":
                return Entry(**_decode(inner))
        return {k: _decode(v) for k, v in value.items()}
    return value


class SnapshotPart:
    """
    Snapshot save and restore of a FakeConsul's state.

    :ivar restores: how many archives were restored.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers
        self.restores = 0

    def routes(self) -> list[Route]:
        """``/v1/snapshot``."""
        # agent/snapshot_endpoint.go reads ?dc, the token and ?stale only (no s.parse).
        return [Route("/v1/snapshot", ("GET", "PUT"), self.handle, parse=False)]

    # -- state ----------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """The fake's state as plain data."""
        p = self._peers
        store = p.acl.store
        return {
            "Index": self.core.index,
            "KV": p.kv.snapshot(),
            "Sessions": {"Sessions": p.sessions.sessions, "Index": p.sessions.table_index},
            "Catalog": {
                "Nodes": p.catalog.nodes,
                "Services": p.catalog.services,
                "Checks": p.catalog.checks,
                "Indexes": [p.catalog.nodes_index, p.catalog.services_index, p.catalog.checks_index],
            },
            "ACL": {
                "Tokens": store.tokens,
                "Secrets": store.secrets,
                "Policies": store.policies,
                "Roles": store.roles,
                "Indexes": [store.tokens_index, store.policies_index, store.roles_index],
                "BootstrapIndex": p.acl.bootstrap_index,
            },
        }

    def archive(self) -> bytes:
        """A gzipped tar of ``meta.json``, ``state.bin`` and ``SHA256SUMS``."""
        index = self.core.index
        state = json.dumps(_encode(self.state()), separators=(",", ":")).encode("utf-8")
        meta = json.dumps(
            {
                "Version": SNAPSHOT_VERSION,
                "ID": f"1-{index}-{int(self.core.clock.seconds() * 1000)}",
                "Index": index,
                "Term": 1,
                "Peers": None,
                "Configuration": {
                    "Servers": [
                        {
                            "Suffrage": 0,
                            "ID": str(getattr(self.core, "node_id", "")),
                            "Address": f"{getattr(self.core, 'address', '127.0.0.1')}:8300",
                        }
                    ]
                },
                "ConfigurationIndex": 1,
                "Size": len(state),
            }
        ).encode("utf-8")
        sums = b"".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode("ascii")
            for name, data in (("meta.json", meta), ("state.bin", state))
        )
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in (("meta.json", meta), ("state.bin", state), ("SHA256SUMS", sums)):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                info.mode = 0o600
                info.mtime = int(self.core.clock.seconds())
                tar.addfile(info, io.BytesIO(data))
        return gzip.compress(raw.getvalue(), mtime=0)

    def restore(self, archive: bytes) -> None:
        """
        Check and load an archive from :meth:`archive`.

        :raises HTTPError: 500 with Consul's wording for a broken archive.
        """
        try:
            raw = gzip.decompress(archive)
            files: dict[str, bytes] = {}
            with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as tar:
                for member in tar:
                    if not member.isfile():
                        continue
                    f = tar.extractfile(member)
                    files[member.name] = f.read() if f is not None else b""
        except (OSError, EOFError, tarfile.TarError, ValueError) as e:
            raise HTTPError(500, f"failed to read snapshot file: {e}")
        for name in ("meta.json", "state.bin", "SHA256SUMS"):
            if name not in files:
                raise HTTPError(500, f"failed to read snapshot file: missing {name}")
        sums = {}
        for line in files["SHA256SUMS"].decode("ascii", "replace").splitlines():
            digest, _, fname = line.partition("  ")
            sums[fname.strip()] = digest.strip()
        for name in ("meta.json", "state.bin"):
            if sums.get(name) != hashlib.sha256(files[name]).hexdigest():
                raise HTTPError(
                    500, f"failed checking integrity of snapshot: sha256 hash mismatch for {name}"
                )
        try:
            state = _decode(json.loads(files["state.bin"].decode("utf-8")))
            self._load(state)
        except (ValueError, KeyError, TypeError) as e:
            raise HTTPError(500, f"failed to restore snapshot: {e}")

    def _load(self, state: dict[str, Any]) -> None:
        p = self._peers
        cat = state["Catalog"]
        sess = state["Sessions"]
        acl = state["ACL"]
        kv = state["KV"]
        # Everything is read before anything changes: a bad archive changes nothing.
        nodes, services, checks = dict(cat["Nodes"]), dict(cat["Services"]), dict(cat["Checks"])
        sessions = dict(sess["Sessions"])
        p.kv.restore(kv)
        p.catalog.nodes, p.catalog.services, p.catalog.checks = nodes, services, checks
        p.catalog.nodes_index, p.catalog.services_index, p.catalog.checks_index = cat["Indexes"]
        table = p.sessions
        for timer in list(table._timers.values()):
            if timer.active():
                timer.cancel()
        table._timers.clear()
        table.sessions = sessions
        table.table_index = sess["Index"]
        for sid, session in sessions.items():
            # agent/consul/leader.go initializeSessionTimers: restored TTLs start over.
            if session.get("TTL"):
                table._arm(sid, parse_go_duration(session["TTL"]))
        store = p.acl.store
        store.tokens, store.secrets = acl["Tokens"], acl["Secrets"]
        store.policies, store.roles = acl["Policies"], acl["Roles"]
        store.tokens_index, store.policies_index, store.roles_index = acl["Indexes"]
        store.compiled.clear()
        p.acl.bootstrap_index = acl["BootstrapIndex"]
        # The Raft index only moves forward: the restore is a new write.
        self.core.index = max(self.core.index, int(state["Index"]))
        self.core.next_index()
        self.restores += 1
        self.core.changed()

    # -- HTTP -----------------------------------------------------------------

    def handle(self, req: Any) -> Reply:
        """``GET`` saves, ``PUT`` restores; both need ``acl:write``."""
        require(req, "acl", "", "write")
        if req.method == "GET":
            return Reply(
                self.archive(),
                json=False,
                index=self.core.index,
                headers={"Content-Type": "application/x-gzip"},
            )
        if len(req.body) > MAX_ARCHIVE:
            raise HTTPError(413, "Request body too large")
        self.restore(req.body)
        return Reply(b"", json=False)
