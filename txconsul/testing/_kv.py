# -*- test-case-name: tests.test_fake_kv -*-
"""
FakeConsul's KV store, following Consul's state store (``state/kvs.go``):
entries, tombstones, per-key lock-delay, sessions' locks and the index rules
of single-key and prefix reads.
"""

from __future__ import annotations

import base64
from typing import Any, Optional
from urllib.parse import urlencode

import attr

from ._authz import require
from ._core import FakeCore, FakeRequest, HTTPError, Reply, Route, parse_query_options
from ._gofmt import go_quote, parse_uint
from ._session import SessionPart

#: Consul's default ``kv_max_value_size``.
MAX_VALUE_SIZE = 512 * 1024

#: Consul caps a session's lock-delay at 60 seconds.
MAX_LOCK_DELAY = 60.0


class KVError(Exception):
    """A KV operation failed with Consul's error text (a 500 over HTTP)."""


@attr.s(slots=True, auto_attribs=True)
class Entry:
    """One KV entry, as ``structs.DirEntry``."""

    key: str
    value: Optional[bytes]
    flags: int = 0
    session: str = ""
    lock_index: int = 0
    create_index: int = 0
    modify_index: int = 0

    def same_data(self, other: "Entry") -> bool:
        """Consul's ``DirEntry.Equal``: no index fields."""
        return (
            self.key == other.key
            and self.value == other.value
            and self.flags == other.flags
            and self.session == other.session
            and self.lock_index == other.lock_index
        )

    def to_json(self) -> dict[str, Any]:
        """The JSON shape Consul answers with (field order included)."""
        out: dict[str, Any] = {
            "LockIndex": self.lock_index,
            "Key": self.key,
            "Flags": self.flags,
            "Value": None if not self.value else base64.b64encode(self.value).decode("ascii"),
        }
        if self.session:
            out["Session"] = self.session
        out["CreateIndex"] = self.create_index
        out["ModifyIndex"] = self.modify_index
        return out


def _parse_uint(text: str) -> int:
    # agent/kvs_endpoint.go returns strconv's error as is: a 500.
    try:
        return parse_uint(text)
    except ValueError as e:
        raise HTTPError(500, str(e))


def _filtered_header(req: FakeRequest, removed: bool) -> dict[str, str]:
    """
    ``X-Consul-Results-Filtered-By-ACLs: true`` when ACLs removed entries and
    the request carried a token (never ``false``; http.go
    ``setResultsFilteredByACLs``).  Consul sets it before answering a 404.
    """
    if removed and req.token:
        return {"X-Consul-Results-Filtered-By-ACLs": "true"}
    return {}


class KVPart:
    """
    The KV store of a FakeConsul.  The primitive methods (``set``, ``cas``,
    ``lock``, ``unlock``, ``delete``, ``delete_cas``, ``delete_tree``) are
    shared with the transaction endpoint.
    """

    def __init__(self, core: FakeCore, sessions: SessionPart) -> None:
        self.core = core
        self.sessions = sessions
        sessions.listeners.append(self)
        self.entries: dict[str, Entry] = {}
        self.tombstones: dict[str, int] = {}
        self.lock_delays: dict[str, float] = {}
        self.kvs_index = 0
        self.tomb_index = 0

    # -- state ------------------------------------------------------------

    def table_index(self) -> int:
        """``kvsMaxIndex``: the highest index of the kvs and tombstone tables."""
        return max(self.kvs_index, self.tomb_index)

    def snapshot(self) -> Any:
        """Copy the state (for transaction rollback)."""
        return (
            {k: attr.evolve(e) for k, e in self.entries.items()},
            dict(self.tombstones),
            self.kvs_index,
            self.tomb_index,
        )

    def restore(self, snap: Any) -> None:
        """Put back a :meth:`snapshot`."""
        entries, tombs, self.kvs_index, self.tomb_index = snap
        self.entries = entries
        self.tombstones = tombs

    def reap_tombstones(self) -> None:
        """Forget every tombstone, as Consul does after ``tombstone_ttl``."""
        self.tombstones.clear()

    def under(self, prefix: str) -> list[Entry]:
        """Entries whose key starts with ``prefix``, sorted by key."""
        return [self.entries[k] for k in sorted(self.entries) if k.startswith(prefix)]

    def prefix_index(self, prefix: str, entries: list[Entry]) -> int:
        """``kvsListTxn``'s index for a prefix read."""
        if prefix == "":
            return self.table_index()
        lindex = max((e.modify_index for e in entries), default=0)
        gindex = max((i for k, i in self.tombstones.items() if k.startswith(prefix)), default=0)
        lindex = max(lindex, gindex)
        return lindex or self.table_index()

    def _insert(self, entry: Entry, idx: int) -> None:
        self.entries[entry.key] = entry
        self.kvs_index = idx

    # -- primitives -------------------------------------------------------

    def set(
        self,
        idx: int,
        key: str,
        value: Optional[bytes],
        flags: int = 0,
        session: Optional[str] = None,
        lock_index: int = 0,
    ) -> Entry:
        """``kvsSetTxn``: store, keeping the session unless one is given."""
        existing = self.entries.get(key)
        entry = Entry(key, value or None, flags, lock_index=lock_index)
        entry.create_index = existing.create_index if existing else idx
        if session is None:
            entry.session = existing.session if existing else ""
        else:
            entry.session = session
        if existing is not None and existing.same_data(entry):
            entry.modify_index = existing.modify_index
            return existing
        entry.modify_index = idx
        self._insert(entry, idx)
        return entry

    def cas(self, idx: int, key: str, value: Optional[bytes], flags: int, cas: int) -> Optional[Entry]:
        """``kvsSetCASTxn``: ``None`` when the check fails."""
        existing = self.entries.get(key)
        if cas == 0 and existing is not None:
            return None
        if cas != 0 and (existing is None or existing.modify_index != cas):
            return None
        return self.set(idx, key, value, flags)

    def lock(self, idx: int, key: str, value: Optional[bytes], flags: int, session: str) -> Optional[Entry]:
        """``kvsLockTxn``: ``None`` if another session holds the lock."""
        if not session:
            raise KVError("missing session")
        if self.sessions.get(session) is None:
            # state/kvs.go: fmt.Errorf("invalid session %#v", entry.Session)
            raise KVError(f"invalid session {go_quote(session)}")
        existing = self.entries.get(key)
        lock_index = 1
        if existing is not None:
            if existing.session == session:
                lock_index = existing.lock_index
            elif existing.session:
                return None
            else:
                lock_index = existing.lock_index + 1
        entry = Entry(key, value or None, flags, session, lock_index)
        entry.create_index = existing.create_index if existing else idx
        if existing is not None and existing.same_data(entry):
            # kvsSetTxn skips an unchanged entry (re-acquire, same data).
            return existing
        entry.modify_index = idx
        self._insert(entry, idx)
        return entry

    def unlock(self, idx: int, key: str, value: Optional[bytes], flags: int, session: str) -> Optional[Entry]:
        """``kvsUnlockTxn``: ``None`` unless ``session`` holds the lock."""
        if not session:
            raise KVError("missing session")
        existing = self.entries.get(key)
        if existing is None or existing.session != session:
            return None
        entry = Entry(key, value or None, flags, "", existing.lock_index, existing.create_index, idx)
        self._insert(entry, idx)
        return entry

    def delete(self, idx: int, key: str) -> bool:
        """``kvsDeleteTxn``: remove and tombstone; no-op for a missing key."""
        if key not in self.entries:
            return False
        del self.entries[key]
        self.tombstones[key] = idx
        self.tomb_index = idx
        self.kvs_index = idx
        return True

    def delete_cas(self, idx: int, key: str, cas: int) -> bool:
        """``kvsDeleteCASTxn``: ``True`` also for a missing key."""
        existing = self.entries.get(key)
        if existing is None or existing.modify_index != cas:
            return existing is None
        self.delete(idx, key)
        return True

    def delete_tree(self, idx: int, prefix: str) -> None:
        """
        ``kvsDeleteTreeTxn``: delete every key with this string prefix.  As
        state/kvs.go does, one tombstone is written at the prefix itself (none
        for the empty prefix) and the kvs index moves only if something was
        deleted.
        """
        doomed = [e.key for e in self.under(prefix)]
        if not doomed:
            return
        for key in doomed:
            del self.entries[key]
        if prefix:
            self.tombstones[prefix] = idx
            self.tomb_index = idx
        self.kvs_index = idx

    def lock_delay_active(self, key: str) -> bool:
        """Whether an invalidated session's lock-delay still guards ``key``."""
        until = self.lock_delays.get(key)
        if until is None:
            return False
        if self.core.clock.seconds() >= until:
            del self.lock_delays[key]
            return False
        return True

    def session_destroyed(self, session: dict[str, Any], idx: int) -> None:
        """A session went: apply its behaviour to the keys it held."""
        self.session_invalidated(idx, session["ID"], session["Behavior"], session["LockDelay"] / 1e9)

    def session_invalidated(self, idx: int, session: str, behavior: str, lock_delay: float) -> None:
        """Release or delete the keys ``session`` held, and set lock-delays."""
        # The kvs "session" index is a UUID index: case does not matter.
        held = [e for e in self.entries.values() if e.session and e.session.lower() == session.lower()]
        delay = min(lock_delay, MAX_LOCK_DELAY)
        for entry in held:
            if behavior == "delete":
                self.delete(idx, entry.key)
            else:
                self._insert(attr.evolve(entry, session="", modify_index=idx), idx)
            if delay > 0:
                self.lock_delays[entry.key] = self.core.clock.seconds() + delay

    # -- HTTP -------------------------------------------------------------

    def routes(self) -> list[Route]:
        """``/v1/kv/``."""
        # check_dc=False: KVSGet/Put/Delete validate their input before the
        # RPC that fails for an unknown datacenter.
        return [Route("/v1/kv/", ("GET", "PUT", "DELETE"), self._handle, check_dc=False)]

    def _handle(self, req: FakeRequest) -> Any:
        if req.method == "GET":
            return self._get(req)
        if req.method == "PUT":
            return self._put(req)
        return self._delete(req)

    def _get(self, req: FakeRequest) -> Any:
        # agent/kvs_endpoint.go: s.parse (?wait/?index), then the key name,
        # then the RPC (unknown datacenter, ACL).
        parse_query_options(req)
        key = req.tail
        authz = req.authz
        if not key and not req.has("keys") and not req.has("recurse"):
            raise HTTPError(400, "Missing key name")
        self.core.check_dc(req)
        if req.has("keys"):
            sep = req.get("separator")
            if sep is None:
                sep = req.get("seperator") or ""

            def compute_keys() -> tuple[int, Reply]:
                all_entries = self.under(key)
                entries = [e for e in all_entries if authz.allowed("key", e.key, "read")]
                index = self.prefix_index(key, all_entries)
                headers = _filtered_header(req, len(entries) != len(all_entries))
                names: list[str] = []
                seen = set()
                for e in entries:
                    name = e.key
                    if sep:
                        cut = name.find(sep, len(key))
                        if cut >= 0:
                            name = name[: cut + len(sep)]
                    if name not in seen:
                        seen.add(name)
                        names.append(name)
                if not names and key:
                    return index, Reply(b"", status=404, index=index, json=False, headers=headers)
                return index, Reply(names, index=index, headers=headers)

            return self.core.blocking(req, compute_keys)
        if req.has("recurse"):

            def compute_tree() -> tuple[int, Reply]:
                all_entries = self.under(key)
                index = self.prefix_index(key, all_entries)
                entries = [e for e in all_entries if authz.allowed("key", e.key, "read")]
                headers = _filtered_header(req, len(entries) != len(all_entries))
                if not entries:
                    return index, Reply(b"", status=404, index=index, json=False, headers=headers)
                return index, Reply([e.to_json() for e in entries], index=index, headers=headers)

            return self.core.blocking(req, compute_tree)
        require(req, "key", key, "read")
        raw = req.has("raw")

        def compute_one() -> tuple[int, Reply]:
            entry = self.entries.get(key)
            if entry is None:
                index = self.table_index()
                return index, Reply(b"", status=404, index=index, json=False)
            index = entry.modify_index
            if raw:
                headers = {
                    "Content-Type": "text/plain",
                    "X-Content-Type-Options": "nosniff",
                    "Content-Security-Policy": "sandbox",
                }
                return index, Reply(entry.value or b"", index=index, json=False, headers=headers)
            return index, Reply([entry.to_json()], index=index)

        return self.core.blocking(req, compute_one)

    def _conflicting(self, req: FakeRequest, names: tuple[str, ...]) -> None:
        if sum(1 for n in names if req.has(n)) > 1:
            # agent/kvs_endpoint.go conflictingFlags prints params.Encode():
            # Go's url.Values.Encode sorts by key (a key's values keep their order).
            ordered = sorted(req.query, key=lambda pair: pair[0])
            raise HTTPError(400, f"Conflicting flags: {urlencode(ordered)}\n")

    def _put(self, req: FakeRequest) -> Reply:
        # The order of checks follows agent/kvs_endpoint.go KVSPut: s.parse
        # (?wait/?index), key name, conflicting flags, flags, cas, body size;
        # then the RPC: datacenter, ACL, lock-delay (consul/kvs_endpoint.go
        # kvsPreApply), and the state store.
        parse_query_options(req)
        key = req.tail
        if not key:
            raise HTTPError(400, "Missing key name")
        self._conflicting(req, ("cas", "acquire", "release"))
        flags = _parse_uint(req.get("flags") or "") if req.has("flags") else 0
        cas = _parse_uint(req.get("cas") or "") if req.has("cas") else None
        if len(req.body) > MAX_VALUE_SIZE:
            raise HTTPError(
                413,
                f"Request body({len(req.body)} bytes) too large, max size: {MAX_VALUE_SIZE} bytes. "
                "See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size.",
            )
        self.core.check_dc(req)
        require(req, "key", key, "write")
        value = req.body
        try:
            if cas is not None:
                idx = self.core.next_index()
                return Reply(self.cas(idx, key, value, flags, cas) is not None)
            if req.has("acquire"):
                # kvsPreApply rejects a lock under lock-delay with false before
                # Raft, so before the session is even looked up.
                if self.lock_delay_active(key):
                    return Reply(False)
                idx = self.core.next_index()
                return Reply(self.lock(idx, key, value, flags, req.get("acquire") or "") is not None)
            if req.has("release"):
                idx = self.core.next_index()
                return Reply(self.unlock(idx, key, value, flags, req.get("release") or "") is not None)
            idx = self.core.next_index()
            self.set(idx, key, value, flags)
            return Reply(True)
        except KVError as e:
            raise HTTPError(500, str(e))

    def _delete(self, req: FakeRequest) -> Reply:
        # agent/kvs_endpoint.go KVSDelete: s.parse, conflicting flags, key
        # name (unless recurse), cas; then the RPC (datacenter, ACL, apply).
        parse_query_options(req)
        key = req.tail
        self._conflicting(req, ("recurse", "cas"))
        recurse = req.has("recurse")
        if not recurse and not key:
            raise HTTPError(400, "Missing key name")
        cas = _parse_uint(req.get("cas") or "") if req.has("cas") else None
        self.core.check_dc(req)
        # Deleting a tree needs write access to the prefix.
        require(req, "key", key, "write")
        idx = self.core.next_index()
        if recurse:
            self.delete_tree(idx, key)
            return Reply(True)
        if cas is not None:
            return Reply(self.delete_cas(idx, key, cas))
        self.delete(idx, key)
        return Reply(True)
