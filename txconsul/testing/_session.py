# -*- test-case-name: tests.test_fake_session -*-
"""
FakeConsul's sessions: create/destroy/info/node/list/renew, TTL expiry on
the clock (at twice the TTL, as Consul's servers do), invalidation when a
linked check goes critical, and the release/delete behaviours on held keys.
"""

from __future__ import annotations

from typing import Any, Optional

from ._acl import require
from ._core import FakeRequest, HTTPError, Reply, Route, parse_go_duration

DEFAULT_LOCK_DELAY = 15.0
MIN_TTL = 10.0
MAX_TTL = 86400.0
#: Consul's servers reap a session only after twice its TTL.
TTL_MULTIPLIER = 2


class SessionPart:
    """The session table of a FakeConsul."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.sessions: dict[str, dict[str, Any]] = {}
        self.table_index = 0
        self._timers: dict[str, Any] = {}

    def get(self, session_id: str) -> Optional[dict[str, Any]]:
        """The session dict, or ``None``."""
        return self.sessions.get(session_id)

    # -- lifecycle ----------------------------------------------------------

    def create(self, body: Optional[dict[str, Any]]) -> str:
        """Validate and store a session; returns its ID.  Raises HTTPError."""
        core = self.core
        body = body or {}
        if not isinstance(body, dict):
            raise HTTPError(400, "Request decode failed: json: cannot unmarshal into structs.Session")
        node = body.get("Node") or core.node_name
        name = body.get("Name") or ""
        behavior = body.get("Behavior") or "release"
        if behavior not in ("release", "delete"):
            raise HTTPError(500, f"Invalid Behavior setting '{behavior}'")
        lock_delay = self._parse_lock_delay(body.get("LockDelay", None))
        ttl_text = body.get("TTL") or ""
        ttl = 0.0
        if ttl_text:
            try:
                ttl = parse_go_duration(ttl_text)
            except ValueError:
                raise HTTPError(500, f"Session TTL '{ttl_text}' invalid: time: invalid duration \"{ttl_text}\"")
            if ttl != 0 and not (MIN_TTL <= ttl <= MAX_TTL):
                raise HTTPError(
                    500,
                    f"Invalid Session TTL '{int(round(ttl * 1e9))}', must be between [10s=24h0m0s]",
                )
        if "NodeChecks" in body:
            checks = body.get("NodeChecks") or []
        elif "Checks" in body:
            checks = body.get("Checks") or []
        else:
            checks = ["serfHealth"]
        service_checks = body.get("ServiceChecks") or None
        catalog = core.catalog
        if not catalog.node_exists(node):
            raise HTTPError(500, "Missing node registration")
        for check_id in checks:
            check = catalog.get_check(node, check_id)
            if check is None:
                raise HTTPError(500, f"Missing check '{check_id}' registration")
            if check["Status"] == "critical":
                raise HTTPError(500, f"Check '{check_id}' is in critical state")
        for sc in service_checks or []:
            cid = sc.get("ID", "") if isinstance(sc, dict) else ""
            check = catalog.get_check(node, cid)
            if check is None:
                raise HTTPError(500, f"Missing check '{cid}' registration")
            if check["Status"] == "critical":
                raise HTTPError(500, f"Check '{cid}' is in critical state")
        idx = core.next_index()
        sid = core.new_uuid()
        self.sessions[sid] = {
            "ID": sid,
            "Name": name,
            "Node": node,
            "LockDelay": int(round(lock_delay * 1e9)),
            "Behavior": behavior,
            "TTL": ttl_text,
            "NodeChecks": list(checks),
            "ServiceChecks": service_checks,
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self.table_index = idx
        if ttl:
            self._arm(sid, ttl)
        return sid

    def _parse_lock_delay(self, value: Any) -> float:
        if value is None or value == "":
            return DEFAULT_LOCK_DELAY
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            ns = float(value)
            return ns if ns < 1000 else ns / 1e9
        if isinstance(value, str):
            try:
                return parse_go_duration(value)
            except ValueError:
                raise HTTPError(400, f"Request decode failed: time: invalid duration \"{value}\"")
        raise HTTPError(400, "Request decode failed: invalid LockDelay")

    def _arm(self, sid: str, ttl: float) -> None:
        timer = self._timers.pop(sid, None)
        if timer is not None and timer.active():
            timer.cancel()
        self._timers[sid] = self.core.clock.callLater(
            ttl * TTL_MULTIPLIER, self._expired, sid
        )

    def _expired(self, sid: str) -> None:
        self._timers.pop(sid, None)
        if sid in self.sessions:
            self.invalidate(sid)
            self.core.changed()

    def invalidate(self, sid: str) -> bool:
        """Destroy a session: release or delete its keys, set lock-delays."""
        session = self.sessions.pop(sid, None)
        timer = self._timers.pop(sid, None)
        if timer is not None and timer.active():
            timer.cancel()
        if session is None:
            return False
        idx = self.core.next_index()
        self.table_index = idx
        self.core.kv.session_invalidated(
            idx, sid, session["Behavior"], session["LockDelay"] / 1e9
        )
        self.core.queries.session_invalidated(sid, idx)
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
            linked = list(s["NodeChecks"] or [])
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
        return [
            Route("/v1/session/create", ("PUT",), self._create),
            Route("/v1/session/destroy/", ("PUT",), self._destroy),
            Route("/v1/session/renew/", ("PUT",), self._renew),
            Route("/v1/session/info/", ("GET",), self._info),
            Route("/v1/session/node/", ("GET",), self._node),
            Route("/v1/session/list", ("GET",), self._list),
        ]

    def _visible(self, req: FakeRequest, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in items if req.authz.allowed("session", s["Node"], "read")]

    def _create(self, req: FakeRequest) -> Reply:
        body = req.json()
        node = (body or {}).get("Node") if isinstance(body, dict) else None
        require(req, "session", node or self.core.node_name, "write")
        return Reply({"ID": self.create(body)})

    def _destroy(self, req: FakeRequest) -> Reply:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing session")
        session = self.sessions.get(sid)
        if session is not None:
            require(req, "session", session["Node"], "write")
        self.invalidate(sid)
        return Reply(True)

    def _renew(self, req: FakeRequest) -> Reply:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing session")
        session = self.sessions.get(sid)
        if session is None:
            raise HTTPError(404, f"Session id '{sid}' not found")
        require(req, "session", session["Node"], "write")
        if session["TTL"]:
            self._arm(sid, parse_go_duration(session["TTL"]))
        return Reply([dict(session)])

    def _read(self, req: FakeRequest, select: Any) -> Any:
        def compute() -> tuple[int, Reply]:
            index = max(self.table_index, 1)
            items = self._visible(req, [dict(s) for s in self.sessions.values() if select(s)])
            items.sort(key=lambda s: s["CreateIndex"])
            return index, Reply(items, index=index)

        return self.core.blocking(req, compute)

    def _info(self, req: FakeRequest) -> Any:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing session")
        return self._read(req, lambda s: s["ID"] == sid)

    def _node(self, req: FakeRequest) -> Any:
        node = req.tail
        if not node:
            raise HTTPError(400, "Missing node name")
        return self._read(req, lambda s: s["Node"] == node)

    def _list(self, req: FakeRequest) -> Any:
        return self._read(req, lambda s: True)
