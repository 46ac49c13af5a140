# -*- test-case-name: tests.test_session -*-
"""
FakeConsul's sessions: create/destroy/info/node/list/renew, TTL expiry on
the clock (at twice the TTL, as Consul's servers do), invalidation when a
linked check goes critical, and the release/delete behaviours on held keys.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol

from ._acl import ACLSystem
from ._authz import require
from ._catalog import CatalogPart
from ._core import FakeCore, FakeRequest, HTTPError, Reply, Route, parse_query_options
from ._gofmt import go_quote, parse_go_duration
from ._gojson import decode_body, format_duration
from ._shapes import SESSION

DEFAULT_LOCK_DELAY = 15.0
#: structs.Session.UnmarshalJSON: a LockDelay under 1000 (ns) means seconds.
LOCK_DELAY_MIN_THRESHOLD = 1000
SERF_CHECK_ID = "serfHealth"
MIN_TTL = 10.0
MAX_TTL = 86400.0
#: Consul's servers reap a session only after twice its TTL.
TTL_MULTIPLIER = 2


class SessionListener(Protocol):
    """What the session table tells of destroyed sessions (KV, queries listen)."""

    def session_destroyed(self, session: dict[str, Any], idx: int) -> None:
        """``session`` was destroyed or invalidated at index ``idx``."""
        ...


class SessionPart:
    """
    The session table of a FakeConsul.  It listens to ``catalog`` for
    health changes and tells its own :attr:`listeners` of lost sessions.
    """

    def __init__(self, core: FakeCore, acl: ACLSystem, catalog: CatalogPart) -> None:
        self.core = core
        self.acl = acl
        self.catalog = catalog
        #: Told when a session goes (KV releases its locks, queries go).
        self.listeners: list[SessionListener] = []
        catalog.listeners.append(self)
        self.sessions: dict[str, dict[str, Any]] = {}
        self.table_index = 0
        self._timers: dict[str, Any] = {}

    def get(self, session_id: str) -> Optional[dict[str, Any]]:
        """
        The session dict, or ``None``.  IDs are looked up case-insensitively,
        as the state store's ``id`` index lowercases them
        (state/session_ce.go ``indexFromSession``).
        """
        found = self.sessions.get(session_id)
        if found is None and session_id != session_id.lower():
            found = self.sessions.get(session_id.lower())
        return found

    # -- lifecycle ----------------------------------------------------------

    def decode(self, body: Any) -> dict[str, Any]:
        """
        Decode a create body onto the defaults as agent/session_endpoint.go
        ``SessionCreate`` does (``lib.DecodeJSON`` into ``structs.Session``,
        whose ``UnmarshalJSON`` uses plain ``json.Unmarshal``: field names
        match case-insensitively, unknown fields are ignored, ``null``
        leaves a scalar alone and nils a slice), then
        ``fixupEmptySessionChecks``.  Raises 400 ``Request decode failed``.
        """
        fields: dict[str, Any] = {
            "Name": "",
            "Node": self.core.node_name,
            "LockDelay": int(DEFAULT_LOCK_DELAY * 1e9),
            "Behavior": "release",
            "TTL": "",
            "NodeChecks": [SERF_CHECK_ID],
            "ServiceChecks": None,
            "Checks": [SERF_CHECK_ID],
        }
        if body is None:
            pass
        elif not isinstance(body, dict):
            kind = {list: "array", str: "string", bool: "bool"}.get(type(body), "number")
            raise HTTPError(
                400,
                f"Request decode failed: json: cannot unmarshal {kind} into Go value of type "
                "struct { LockDelay interface {}; *structs.Alias }",
            )
        else:
            canonical = {k.lower(): k for k in fields if k != "LockDelay"}
            canonical["id"] = "ID"
            for raw_key, value in body.items():
                lower = raw_key.lower()
                if lower == "lockdelay":
                    if value is not None:
                        fields["LockDelay"] = self._parse_lock_delay(value)
                    continue
                name = canonical.get(lower)
                if name is None:
                    continue  # json.Unmarshal ignores unknown fields
                if name in ("NodeChecks", "Checks", "ServiceChecks"):
                    fields[name] = self._decode_list(name, value)
                elif value is None:
                    continue
                elif not isinstance(value, str):
                    raise _type_error(value, name, "string")
                elif name != "ID":  # a client-sent ID is overwritten by the server
                    fields[name] = value
        # agent/session_endpoint.go fixupEmptySessionChecks
        checks = fields["Checks"]
        if not checks:
            fields["NodeChecks"] = []
        elif checks == [SERF_CHECK_ID]:
            fields["Checks"] = None
        elif not fields["NodeChecks"]:
            fields["Checks"] = None
        return fields

    @staticmethod
    def _decode_list(name: str, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list):
            kind = (
                "[]structs.ServiceCheck"
                if name == "ServiceChecks"
                else ("[]string" if name == "NodeChecks" else "[]types.CheckID")
            )
            raise _type_error(value, name, kind)
        if name == "ServiceChecks":
            out = []
            for item in value:
                if item is None:
                    out.append({"ID": "", "Namespace": ""})
                    continue
                if not isinstance(item, dict):
                    raise _type_error(item, name, "structs.ServiceCheck")
                sc = {"ID": "", "Namespace": ""}
                for k, v in item.items():
                    field = {"id": "ID", "namespace": "Namespace"}.get(k.lower())
                    if field is None or v is None:
                        continue
                    if not isinstance(v, str):
                        raise _type_error(v, f"{name}.{field}", "string")
                    sc[field] = v
                out.append(sc)
            return out
        out_ids = []
        for item in value:
            if item is None:
                out_ids.append("")
            elif not isinstance(item, str):
                raise _type_error(item, name, "string")
            else:
                out_ids.append(item)
        return out_ids

    def create(self, body: Optional[dict[str, Any]], *, fields: Optional[dict[str, Any]] = None) -> str:
        """Validate and store a session; returns its ID.  Raises HTTPError."""
        core = self.core
        if fields is None:
            fields = self.decode(body)
        node = fields["Node"]
        if not node:
            # consul/session_endpoint.go Apply
            raise HTTPError(500, "Must provide Node")
        behavior = fields["Behavior"] or "release"
        if behavior not in ("release", "delete"):
            raise HTTPError(500, f"Invalid Behavior setting '{behavior}'")
        ttl_text = fields["TTL"]
        ttl = 0.0
        if ttl_text:
            try:
                ttl = parse_go_duration(ttl_text)
            except ValueError:
                raise HTTPError(
                    500, f"Session TTL '{ttl_text}' invalid: time: invalid duration {go_quote(ttl_text)}"
                )
            # consul/session_endpoint.go Apply: the minimum is the server's
            # session_ttl_min (10s unless configured).
            ttl_min = core.session_ttl_min
            if ttl != 0 and not (ttl_min <= ttl <= MAX_TTL):
                raise HTTPError(
                    500,
                    f"Invalid Session TTL '{int(round(ttl * 1e9))}', must be between "
                    f"[{format_duration(ttl_min)}=24h0m0s]",
                )
        node_checks = fields["NodeChecks"]
        service_checks = fields["ServiceChecks"]
        legacy_checks = fields["Checks"]
        # structs.Session.CheckIDs: Checks, then NodeChecks, then ServiceChecks.
        check_ids = list(legacy_checks or []) + list(node_checks or [])
        check_ids += [sc["ID"] for sc in service_checks or []]
        # From here on the failures come from the state store, after the
        # Raft log entry was committed: the index moves all the same.
        catalog = self.catalog
        if not catalog.node_exists(node):
            core.next_index()
            raise HTTPError(500, "Missing node registration")
        for check_id in check_ids:
            check = catalog.get_check(node, check_id)
            if check is None:
                core.next_index()
                raise HTTPError(500, f"Missing check '{check_id}' registration")
            if check["Status"] == "critical":
                core.next_index()
                raise HTTPError(500, f"Check '{check_id}' is in critical state")
        idx = core.next_index()
        sid = core.new_uuid()
        # structs.Session field order; Checks is `json:",omitempty"`.
        session: dict[str, Any] = {
            "ID": sid,
            "Name": fields["Name"],
            "Node": node,
            "LockDelay": fields["LockDelay"],
            "Behavior": behavior,
            "TTL": ttl_text,
            "NodeChecks": node_checks,
            "ServiceChecks": service_checks,
        }
        if legacy_checks:
            session["Checks"] = list(legacy_checks)
        session["CreateIndex"] = idx
        session["ModifyIndex"] = idx
        self.sessions[sid] = session
        self.table_index = idx
        if ttl:
            self._arm(sid, ttl)
        return sid

    def _parse_lock_delay(self, value: Any) -> int:
        """
        structs.Session.UnmarshalJSON: a string is a Go duration, a number is
        nanoseconds (truncated), anything else counts as 0; any result under
        1000 ns is taken as seconds.  Returns nanoseconds.
        """
        ns: int
        if isinstance(value, str):
            try:
                ns = int(round(parse_go_duration(value) * 1e9))
            except ValueError:
                raise HTTPError(400, f"Request decode failed: time: invalid duration {go_quote(value)}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            ns = int(value)  # time.Duration(float64) truncates toward zero
        else:
            ns = 0
        if ns < LOCK_DELAY_MIN_THRESHOLD:
            ns *= 1_000_000_000
        return ns

    def _arm(self, sid: str, ttl: float) -> None:
        # consul/session_ttl.go createSessionTimer: ttl * SessionTTLMultiplier.
        timer = self._timers.pop(sid, None)
        if timer is not None and timer.active():
            timer.cancel()
        clock: Any = self.core.clock
        self._timers[sid] = clock.callLater(ttl * TTL_MULTIPLIER, self._expired, sid)

    def _expired(self, sid: str) -> None:
        self._timers.pop(sid, None)
        if sid in self.sessions:
            self.invalidate(sid)
            self.core.changed()

    def invalidate(self, sid: str) -> bool:
        """Destroy a session: release or delete its keys, set lock-delays."""
        found = self.get(sid)
        if found is not None:
            sid = found["ID"]
        session = self.sessions.pop(sid, None)
        timer = self._timers.pop(sid, None)
        if timer is not None and timer.active():
            timer.cancel()
        if session is None:
            return False
        idx = self.core.next_index()
        self.table_index = idx
        for listener in self.listeners:
            listener.session_destroyed(session, idx)
        return True

    def check_changed(self, node: str, check_id: str, status: Optional[str]) -> None:
        """
        Called by the catalog when a check's status changes (``None``: the
        check was deregistered): sessions linked to it are invalidated when
        it is critical or gone.
        """
        if status not in (None, "critical"):
            return
        for sid, s in list(self.sessions.items()):
            if s["Node"] != node:
                continue
            # The session_checks mappings come from CheckIDs(): all three lists.
            linked = list(s.get("Checks") or []) + list(s["NodeChecks"] or [])
            linked += [c.get("ID") for c in (s["ServiceChecks"] or []) if isinstance(c, dict)]
            if check_id in linked:
                self.invalidate(sid)

    def node_removed(self, node: str) -> None:
        """Called by the catalog when a node is deregistered."""
        for sid, s in list(self.sessions.items()):
            if s["Node"] == node:
                self.invalidate(sid)

    # -- HTTP -------------------------------------------------------------

    def routes(self) -> list[Route]:
        """``/v1/session/*``."""
        # Every handler validates its input before the RPC fails for an
        # unknown datacenter (check_dc=False: core.check_dc is called there);
        # create and destroy only call parseDC/parseToken, not s.parse, so
        # they ignore consistency flags and ?wait/?index.
        return [
            Route("/v1/session/create", ("PUT",), self._create, check_dc=False, parse=False),
            Route("/v1/session/destroy/", ("PUT",), self._destroy, check_dc=False, parse=False),
            Route("/v1/session/renew/", ("PUT",), self._renew, check_dc=False),
            Route("/v1/session/info/", ("GET",), self._info, check_dc=False),
            Route("/v1/session/node/", ("GET",), self._node, check_dc=False),
            Route("/v1/session/list", ("GET",), self._list, check_dc=False),
        ]

    def _visible(self, req: FakeRequest, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in items if req.authz.allowed("session", s["Node"], "read")]

    def _create(self, req: FakeRequest) -> Reply:
        # agent/session_endpoint.go: the body is only decoded when
        # Content-Length > 0; whitespace alone is io.EOF.
        body = req.json() if req.body else None
        if req.body and not req.body.strip():
            raise HTTPError(400, "Request decode failed: EOF")
        if req.body:
            # lib.DecodeJSON into structs.Session, whose UnmarshalJSON
            # (agent/structs/structs.go) uses plain json.Unmarshal: Go's
            # types are enforced, unknown fields ignored.
            decode_body(SESSION, req.body, strict=False)
        fields = self.decode(body)
        self.core.check_dc(req)
        if not fields["Node"]:
            raise HTTPError(500, "Must provide Node")
        require(req, "session", fields["Node"], "write")
        return Reply({"ID": self.create(body, fields=fields)})

    def _destroy(self, req: FakeRequest) -> Reply:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing session")
        self.core.check_dc(req)
        session = self.get(sid)
        if session is not None:
            require(req, "session", session["Node"], "write")
        elif self.acl.enabled:
            # consul/session_endpoint.go Apply: with ACLs enforced an unknown
            # session is an error (without ACLs destroy is idempotent).
            raise HTTPError(500, f"Unknown session {go_quote(sid)}")
        self.invalidate(sid)
        return Reply(True)

    def _renew(self, req: FakeRequest) -> Reply:
        parse_query_options(req)
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing session")
        self.core.check_dc(req)
        session = self.get(sid)
        if session is None:
            raise HTTPError(404, f"Session id '{sid}' not found")
        require(req, "session", session["Node"], "write")
        if session["TTL"]:
            ttl = parse_go_duration(session["TTL"])
            if ttl:
                self._arm(session["ID"], ttl)
        return Reply([dict(session)])

    def _read(self, req: FakeRequest, select: Any) -> Any:
        self.core.check_dc(req)

        def compute() -> tuple[int, Reply]:
            # The index is the sessions table index (state/session.go
            # sessionMaxIndex), min 1; the state store iterates the "id"
            # index, so sessions come sorted by (lowercased) ID.
            index = max(self.table_index, 1)
            items = self._visible(req, [dict(s) for s in self.sessions.values() if select(s)])
            items.sort(key=lambda s: s["ID"].lower())
            return index, Reply(items, index=index)

        return self.core.blocking(req, compute)

    def _info(self, req: FakeRequest) -> Any:
        parse_query_options(req)
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing session")
        return self._read(req, lambda s: s["ID"].lower() == sid.lower())

    def _node(self, req: FakeRequest) -> Any:
        parse_query_options(req)
        node = req.tail
        if not node:
            raise HTTPError(400, "Missing node name")
        # the sessions "node" index lowercases (indexFromIDValueLowerCase)
        return self._read(req, lambda s: s["Node"].lower() == node.lower())

    def _list(self, req: FakeRequest) -> Any:
        parse_query_options(req)
        return self._read(req, lambda s: True)


def _type_error(value: Any, field: str, go_type: str) -> HTTPError:
    """400 for a JSON value of the wrong type (encoding/json UnmarshalTypeError)."""
    if isinstance(value, bool):
        kind = "bool"
    elif isinstance(value, (int, float)):
        kind = "number"
    elif isinstance(value, str):
        kind = "string"
    elif isinstance(value, list):
        kind = "array"
    else:
        kind = "object"
    return HTTPError(
        400,
        f"Request decode failed: json: cannot unmarshal {kind} into Go struct field .{field} of type {go_type}",
    )
