# -*- test-case-name: tests.test_txn -*-
"""
FakeConsul's ``PUT /v1/txn``, following ``agent/txn_endpoint.go``,
``agent/consul/txn_endpoint.go`` and ``agent/consul/state/txn.go``:

* the body is decoded (400 ``Failed to parse body: ...``), limited to 128
  operations and 512 KiB (413), and KV values are base64-decoded;
* pre-checks run first (ACLs, ``Must provide key``, lock-delay, unknown
  catalog verbs): any failure answers 409 and nothing is applied;
* then every operation runs in order at ONE new index; if any fails, all of
  them are rolled back and the 409 lists every failing operation;
* a transaction with no write verb is a read: no index is allocated and the
  answer has ``X-Consul-KnownLeader``/``X-Consul-LastContact`` but no
  ``X-Consul-Index``.

Session invalidations caused by catalog writes (a deleted node, a deleted or
critical check) run after the transaction commits, at their own index.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from typing import Any, Callable, Optional

from ._catalog import CatalogPart, node_service_json
from ._core import FakeCore, FakeRequest, HTTPError, Reply, Route
from ._gofmt import go_quote
from ._kv import MAX_VALUE_SIZE, Entry, KVError, KVPart
from ._gojson import GoJSONError, decode
from ._shapes import TXN_OPS

#: Consul's limit on operations per transaction (since 1.14; 64 before).
MAX_OPS = 128

#: ``txn_max_req_len`` (default 512 KiB, or ``kv_max_value_size`` if larger).
MAX_TXN_LEN = MAX_VALUE_SIZE

KV_WRITE_VERBS = ("set", "delete", "delete-cas", "delete-tree", "cas", "lock", "unlock")
CATALOG_VERBS = ("get", "set", "cas", "delete", "delete-cas")

_READ_HEADERS = {"X-Consul-KnownLeader": "true", "X-Consul-LastContact": "0"}

#: A read-only transaction answers ``structs.TxnReadResponse``, which embeds
#: ``QueryMeta`` untagged, so Go marshals its fields after ``Results`` and
#: ``Errors`` (on 200 and 409 alike).  ``Txn.Read`` only calls
#: ``setQueryMeta`` (KnownLeader, LastContact); nobody sets ``Index`` or
#: ``ConsistencyLevel``.  Consul 1.10's field set.
_READ_META = {
    "Index": 0,
    "LastContact": 0,
    "KnownLeader": True,
    "ConsistencyLevel": "",
    "NotModified": False,
    "Backend": 0,
}
_B64 = re.compile(r"[A-Za-z0-9+/=\r\n]")


def _go_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _node_service(service: dict[str, Any]) -> dict[str, Any]:
    """
    A txn result's Service: structs.NodeService's JSON (see
    :func:`~txconsul.testing._catalog.node_service_json`).
    """
    return node_service_json(service)


def _parse_error(text: str) -> HTTPError:
    return HTTPError(400, f"Failed to parse body: {text}")


def _field(obj: dict[str, Any], name: str) -> Any:
    """Go's encoding/json field matching: exact name first, then any case."""
    if name in obj:
        return obj[name]
    low = name.lower()
    for k, v in obj.items():
        if k.lower() == low:
            return v
    return None


def _str(obj: dict[str, Any], name: str, where: str) -> str:
    value = _field(obj, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _parse_error(
            f"json: cannot unmarshal {_go_type(value)} into Go struct field {where}.{name} of type string"
        )
    return value


def _uint(obj: dict[str, Any], name: str, where: str) -> int:
    value = _field(obj, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or value != int(value):
        raise _parse_error(
            f"json: cannot unmarshal {_go_type(value)} into Go struct field {where}.{name} of type uint64"
        )
    return int(value)


def _obj(obj: dict[str, Any], name: str, where: str) -> Optional[dict[str, Any]]:
    value = _field(obj, name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _parse_error(
            f"json: cannot unmarshal {_go_type(value)} into Go struct field {where}.{name} of type map"
        )
    return value


def _map_or_nil(value: Any) -> Optional[dict[str, Any]]:
    """A decoded Go map: a copy of the object, or ``None`` (nil) when absent."""
    return dict(value) if isinstance(value, dict) else None


def _b64(text: str) -> bytes:
    for i, ch in enumerate(text):
        if not _B64.match(ch):
            raise _parse_error(f"illegal base64 data at input byte {i}")
    try:
        return base64.b64decode(text.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        raise _parse_error(f"illegal base64 data at input byte {len(text)}")


class _Op:
    """One decoded operation: ``kind`` is KV, Node, Service or Check."""

    __slots__ = ("kind", "verb", "key", "value", "flags", "index", "session", "node", "body")

    def __init__(self, kind: str, verb: str) -> None:
        self.kind = kind
        self.verb = verb
        self.key = ""
        self.value: Optional[bytes] = None
        self.flags = 0
        self.index = 0
        self.session = ""
        self.node = ""
        self.body: dict[str, Any] = {}

    @property
    def is_write(self) -> bool:
        """Whether the operation goes through Raft (``isWrite`` and friends)."""
        if self.kind == "KV":
            return self.verb in KV_WRITE_VERBS
        return self.verb != "get"


class _Failed(Exception):
    """An operation failed with Consul's error text."""


class TxnPart:
    """The transaction endpoint of a FakeConsul."""

    def __init__(self, core: FakeCore, catalog: CatalogPart, kv: KVPart) -> None:
        self.core = core
        self.catalog = catalog
        self.kv = kv

    def routes(self) -> list[Route]:
        """``/v1/txn``, PUT only."""
        return [Route("/v1/txn", ("PUT",), self._handle)]

    # -- decoding ---------------------------------------------------------

    def _decode(self, body: bytes) -> list[_Op]:
        if len(body) > MAX_TXN_LEN:
            raise HTTPError(
                413,
                f"Request body({len(body)} bytes) too large, max size: {MAX_TXN_LEN} bytes. "
                "See https://www.consul.io/docs/agent/config/config-files#txn_max_req_len.",
            )
        if not body.strip():
            raise _parse_error("EOF")
        try:
            raw = json.loads(body)
        except RecursionError:
            raise _parse_error("exceeded max depth")
        except ValueError as e:
            raise _parse_error(str(e))
        if raw is None:
            raw = []
        if not isinstance(raw, list):
            raise _parse_error(f"json: cannot unmarshal {_go_type(raw)} into Go value of type api.TxnOps")
        try:
            # Every nested field typed as api.TxnOps declares it, so that no
            # op can store a value of the wrong type (Consul's decode refuses
            # it before anything is applied).
            decode(TXN_OPS, body, strict=False)
        except GoJSONError as e:
            raise _parse_error(e.text)
        ops: list[_Op] = []
        for item in raw:
            if item is None:
                continue
            if not isinstance(item, dict):
                raise _parse_error(f"json: cannot unmarshal {_go_type(item)} into Go value of type api.TxnOp")
            op = self._decode_op(item)
            if op is not None:  # Consul silently drops ops with no known member
                ops.append(op)
        if len(raw) > MAX_OPS:
            raise HTTPError(413, f"Transaction contains too many operations ({len(raw)} > {MAX_OPS})")
        for op in ops:
            if op.kind == "KV" and op.value is not None and len(op.value) > MAX_VALUE_SIZE:
                raise HTTPError(
                    413,
                    f"Value for key {go_quote(op.key)} is too large ({len(op.value)} > {MAX_VALUE_SIZE} bytes)",
                )
        return ops

    def _decode_op(self, item: dict[str, Any]) -> Optional[_Op]:
        kv = _obj(item, "KV", "TxnOp")
        if kv is not None:
            op = _Op("KV", _str(kv, "Verb", "KVTxnOp"))
            op.key = _str(kv, "Key", "KVTxnOp")
            raw_value = _field(kv, "Value")
            if raw_value is not None:
                if not isinstance(raw_value, str):
                    raise _parse_error(
                        f"json: cannot unmarshal {_go_type(raw_value)} into Go struct field KVTxnOp.KV.Value of type []uint8"
                    )
                op.value = _b64(raw_value) or None
            op.flags = _uint(kv, "Flags", "KVTxnOp")
            op.index = _uint(kv, "Index", "KVTxnOp")
            op.session = _str(kv, "Session", "KVTxnOp")
            return op
        node = _obj(item, "Node", "TxnOp")
        if node is not None:
            op = _Op("Node", _str(node, "Verb", "NodeTxnOp"))
            op.body = _obj(node, "Node", "NodeTxnOp") or {}
            op.node = _str(op.body, "Node", "Node")
            op.index = _uint(op.body, "ModifyIndex", "Node")
            return op
        service = _obj(item, "Service", "TxnOp")
        if service is not None:
            op = _Op("Service", _str(service, "Verb", "ServiceTxnOp"))
            op.node = _str(service, "Node", "ServiceTxnOp")
            op.body = _obj(service, "Service", "ServiceTxnOp") or {}
            op.key = _str(op.body, "ID", "AgentService")
            op.index = _uint(op.body, "ModifyIndex", "AgentService")
            return op
        check = _obj(item, "Check", "TxnOp")
        if check is not None:
            op = _Op("Check", _str(check, "Verb", "CheckTxnOp"))
            op.body = _obj(check, "Check", "CheckTxnOp") or {}
            op.node = _str(op.body, "Node", "HealthCheck")
            op.key = _str(op.body, "CheckID", "HealthCheck") or _str(op.body, "Name", "HealthCheck")
            op.index = _uint(op.body, "ModifyIndex", "HealthCheck")
            return op
        return None

    # -- handler ------------------------------------------------------------

    def _handle(self, req: FakeRequest) -> Reply:
        ops = self._decode(req.body)
        read_only = not any(op.is_write for op in ops)
        headers = dict(_READ_HEADERS) if read_only else {}
        meta = dict(_READ_META) if read_only else {}
        errors = self._precheck(req, ops)
        if errors:
            return Reply(dict({"Results": None, "Errors": errors}, **meta), status=409, headers=headers)
        if read_only:
            results, errors, _ = self._dispatch(0, ops)
        else:
            results, errors = self._apply(ops)
        if errors:
            return Reply(dict({"Results": None, "Errors": errors}, **meta), status=409, headers=headers)
        visible = [r for r in results if self._may_read(req, r)]
        return Reply(dict({"Results": visible, "Errors": None}, **meta), headers=headers)

    def _apply(self, ops: list[_Op]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        core = self.core
        snap = self._snapshot()
        idx = core.next_index()
        results, errors, after = self._dispatch(idx, ops)
        if errors:
            self._restore(snap)
            return results, errors
        for action in after:
            action()
        return results, errors

    def _snapshot(self) -> Any:
        cat = self.catalog
        return (
            self.kv.snapshot(),
            copy.deepcopy(cat.nodes),
            copy.deepcopy(cat.services),
            copy.deepcopy(cat.checks),
            (cat.nodes_index, cat.services_index, cat.checks_index),
        )

    def _restore(self, snap: Any) -> None:
        kv_snap, nodes, services, checks, indexes = snap
        cat = self.catalog
        self.kv.restore(kv_snap)
        for table, saved in ((cat.nodes, nodes), (cat.services, services), (cat.checks, checks)):
            table.clear()
            table.update(saved)
        cat.nodes_index, cat.services_index, cat.checks_index = indexes

    # -- ACLs and pre-checks ------------------------------------------------

    def _precheck(self, req: FakeRequest, ops: list[_Op]) -> list[dict[str, Any]]:
        """``Txn.preCheck``: errors here stop the transaction before it runs."""
        authz = req.authz
        errors: list[dict[str, Any]] = []

        def fail(i: int, what: str) -> None:
            errors.append({"OpIndex": i, "What": what})

        for i, op in enumerate(ops):
            if op.kind == "KV":
                if op.key == "" and op.verb != "delete-tree":
                    fail(i, "Must provide key")
                    continue
                if op.verb in ("get", "get-tree"):
                    pass  # filtered on the way out
                elif op.verb in ("check-session", "check-index"):
                    if not authz.allowed("key", op.key, "read"):
                        fail(i, "Permission denied")
                        continue
                elif not authz.allowed("key", op.key, "write"):
                    fail(i, "Permission denied")
                    continue
                if op.verb == "lock" and self.kv.lock_delay_active(op.key):
                    fail(i, f"failed to lock key {go_quote(op.key)} due to lock delay")
                continue
            if op.verb not in CATALOG_VERBS:
                fail(i, f"unknown {op.kind.lower()} operation: {op.verb}")
                continue
            if op.verb == "get":
                continue
            if op.kind == "Node":
                if not op.node:
                    fail(i, "Must provide node")
                elif not authz.allowed("node", op.node, "write"):
                    fail(i, "Permission denied")
            elif op.kind == "Service":
                name = _str(op.body, "Service", "AgentService")
                existing = self.catalog.services.get((op.node, op.key or name))
                if existing is not None:
                    name = existing["Service"]
                if op.verb in ("set", "cas") and not name:
                    fail(i, "Must provide service name")
                elif not authz.allowed("service", name, "write"):
                    fail(i, "Permission denied")
            else:
                check = self.catalog.checks.get((op.node, op.key)) or op.body
                service_id = _field(check, "ServiceID") or ""
                if service_id:
                    svc = self.catalog.services.get((op.node, service_id))
                    name = svc["Service"] if svc else (_field(check, "ServiceName") or "")
                    allowed = bool(name) and authz.allowed("service", name, "write")
                else:
                    allowed = authz.allowed("node", op.node, "write")
                if not allowed:
                    fail(i, "Permission denied")
        return errors

    def _may_read(self, req: FakeRequest, result: dict[str, Any]) -> bool:
        """``FilterTxnResults``: drop results the token may not read."""
        authz = req.authz
        if "KV" in result:
            return authz.allowed("key", result["KV"]["Key"], "read")
        if "Node" in result:
            return authz.allowed("node", result["Node"]["Node"], "read")
        if "Service" in result:
            return authz.allowed("service", result["Service"]["Service"], "read")
        check = result["Check"]
        if check.get("ServiceName"):
            return authz.allowed("service", check["ServiceName"], "read")
        return authz.allowed("node", check["Node"], "read")

    # -- dispatch -------------------------------------------------------------

    def _dispatch(
        self, idx: int, ops: list[_Op]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[Callable[[], None]]]:
        """``txnDispatch``: run every op, collecting results and all errors."""
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        after: list[Callable[[], None]] = []
        handlers = {"KV": self._kv, "Node": self._node, "Service": self._service, "Check": self._check}
        for i, op in enumerate(ops):
            try:
                results.extend(handlers[op.kind](idx, op, after))
            except (_Failed, KVError) as e:
                errors.append({"OpIndex": i, "What": str(e)})
        if errors:
            return [], errors, []
        return results, [], after

    def _kv(self, idx: int, op: _Op, after: list[Callable[[], None]]) -> list[dict[str, Any]]:
        kv = self.kv
        key, verb = op.key, op.verb
        entry: Optional[Entry] = None
        if verb == "set":
            entry = kv.set(idx, key, op.value, op.flags)
        elif verb == "delete":
            kv.delete(idx, key)
        elif verb == "delete-cas":
            if not kv.delete_cas(idx, key, op.index):
                raise _Failed(f"failed to delete key {go_quote(key)}, index is stale")
        elif verb == "delete-tree":
            kv.delete_tree(idx, key)
        elif verb == "cas":
            entry = kv.cas(idx, key, op.value, op.flags, op.index)
            if entry is None:
                raise _Failed(f"failed to set key {go_quote(key)}, index is stale")
        elif verb == "lock":
            entry = kv.lock(idx, key, op.value, op.flags, op.session)
            if entry is None:
                raise _Failed(f"failed to lock key {go_quote(key)}, lock is already held")
        elif verb == "unlock":
            entry = kv.unlock(idx, key, op.value, op.flags, op.session)
            if entry is None:
                raise _Failed(
                    f"failed to unlock key {go_quote(key)}, lock isn't held, or is held by another session"
                )
        elif verb == "get":
            entry = kv.entries.get(key)
            if entry is None:
                raise _Failed(f"key {go_quote(key)} doesn't exist")
        elif verb == "get-or-empty":
            entry = kv.entries.get(key)
            if entry is None:
                entry = Entry(key, None, op.flags, op.session, 0, 0, op.index)
        elif verb == "get-tree":
            return [{"KV": e.to_json()} for e in kv.under(key)]
        elif verb == "check-session":
            entry = kv.entries.get(key)
            if entry is None:
                raise _Failed(f"failed to check session, key {go_quote(key)} doesn't exist")
            if entry.session != op.session:
                raise _Failed(
                    f"failed session check for key {go_quote(key)}, current session "
                    f"{go_quote(entry.session)} != {go_quote(op.session)}"
                )
        elif verb == "check-index":
            entry = kv.entries.get(key)
            if entry is None:
                raise _Failed(f"failed to check index, key {go_quote(key)} doesn't exist")
            if entry.modify_index != op.index:
                raise _Failed(
                    f"failed index check for key {go_quote(key)}, current modify index "
                    f"{entry.modify_index} != {op.index}"
                )
        elif verb == "check-not-exists":
            if key in kv.entries:
                raise _Failed(f"key {go_quote(key)} exists")
        else:
            raise _Failed(f"unknown KV verb {go_quote(verb)}")
        if entry is None:
            return []
        out = entry.to_json()
        if verb not in ("get", "get-or-empty"):
            out["Value"] = None
        return [{"KV": out}]

    # -- catalog ----------------------------------------------------------------

    def _node(self, idx: int, op: _Op, after: list[Callable[[], None]]) -> list[dict[str, Any]]:
        cat = self.catalog
        name, verb = op.node, op.verb
        node_id = _str(op.body, "ID", "Node")
        existing = self._find_node(name, node_id)
        if verb == "get":
            if existing is None:
                raise _Failed(f"node {go_quote(name)} doesn't exist")
            return [{"Node": copy.deepcopy(existing)}]
        if verb in ("set", "cas"):
            if verb == "cas":
                if (op.index == 0 and existing is not None) or (
                    op.index != 0 and (existing is None or existing["ModifyIndex"] != op.index)
                ):
                    raise _Failed(f"failed to set node {go_quote(name)}, index is stale")
            stored = self._store_node(idx, op, existing)
            return [{"Node": copy.deepcopy(stored)}]
        if existing is None:
            if verb == "delete-cas":
                raise _Failed(f"failed to delete node {go_quote(name)}, index is stale")
            return []
        if verb == "delete-cas" and existing["ModifyIndex"] != op.index:
            raise _Failed(f"failed to delete node {go_quote(name)}, index is stale")
        node = existing["Node"]
        del cat.nodes[node]
        cat.nodes_index = idx
        for key in [k for k in cat.services if k[0] == node]:
            del cat.services[key]
            cat.services_index = idx
        for key in [k for k in cat.checks if k[0] == node]:
            del cat.checks[key]
            cat.checks_index = idx
        after.append(lambda: self.catalog.notify_node_removed(node))
        return []

    def _find_node(self, name: str, node_id: str) -> Optional[dict[str, Any]]:
        nodes = self.catalog.nodes
        if node_id:
            for node in nodes.values():
                if node.get("ID") == node_id:
                    return node
            return None
        return nodes.get(name)

    def _store_node(self, idx: int, op: _Op, existing: Optional[dict[str, Any]]) -> dict[str, Any]:
        cat = self.catalog
        body = op.body
        node = {
            "ID": _str(body, "ID", "Node") or (existing or {}).get("ID", ""),
            "Node": op.node,
            "Address": _str(body, "Address", "Node"),
            "Datacenter": _str(body, "Datacenter", "Node") or self.core.datacenter,
            # ensureNodeTxn stores the maps as decoded: nil (null) when absent.
            "TaggedAddresses": _map_or_nil(_field(body, "TaggedAddresses")),
            "Meta": _map_or_nil(_field(body, "Meta")),
            "CreateIndex": existing["CreateIndex"] if existing else idx,
            "ModifyIndex": idx,
        }
        if existing is not None:
            same = all(existing.get(k) == node[k] for k in node if not k.endswith("Index"))
            if same:
                return existing
            if existing["Node"] != op.node:
                del cat.nodes[existing["Node"]]
        cat.nodes[op.node] = node
        cat.nodes_index = idx
        return node

    def _service(self, idx: int, op: _Op, after: list[Callable[[], None]]) -> list[dict[str, Any]]:
        cat = self.catalog
        node, verb = op.node, op.verb
        body = op.body
        sid = op.key or _str(body, "Service", "AgentService")
        existing = cat.services.get((node, sid))
        if verb == "get":
            if existing is None:
                raise _Failed(f"service {go_quote(sid)} on node {go_quote(node)} doesn't exist")
            return [{"Service": _node_service(existing)}]
        if verb in ("set", "cas"):
            if verb == "cas":
                if (op.index == 0 and existing is not None) or (
                    op.index != 0 and (existing is None or existing["ModifyIndex"] != op.index)
                ):
                    raise _Failed(
                        f"failed to set service {go_quote(sid)} on node {go_quote(node)}, index is stale"
                    )
            if node not in cat.nodes:
                raise _Failed("Missing node registration")
            weights = _field(body, "Weights") or {}
            weights = {"Passing": _field(weights, "Passing") or 0, "Warning": _field(weights, "Warning") or 0}
            if not (1 <= weights["Passing"] <= 65535 and 0 <= weights["Warning"] <= 65535):
                # The txn endpoint copies AgentService.Weights, a value type
                # (absent weights are zeros), and the state store keeps
                # NodeService.ToServiceNode's result, which replaces weights
                # failing ValidateWeights with {1, 1} (agent/structs/structs.go).
                weights = {"Passing": 1, "Warning": 1}
            service = {
                "ID": sid,
                "Service": _str(body, "Service", "AgentService"),
                "Tags": _field(body, "Tags") or [],
                "Address": _str(body, "Address", "AgentService"),
                # convertOps copies AgentService.Meta: nil when absent.
                "Meta": _map_or_nil(_field(body, "Meta")),
                "Port": _uint(body, "Port", "AgentService"),
                "Weights": weights,
                "EnableTagOverride": bool(_field(body, "EnableTagOverride")),
                "CreateIndex": existing["CreateIndex"] if existing else idx,
                "ModifyIndex": idx,
            }
            tagged = _field(body, "TaggedAddresses")
            if tagged:
                # Consul 1.20.6+/1.21 copies TaggedAddresses (hashicorp/consul
                # PR 22220, agent/txn_endpoint.go convertOps).
                service["TaggedAddresses"] = {
                    k: {"Address": _field(v or {}, "Address") or "", "Port": _field(v or {}, "Port") or 0}
                    for k, v in tagged.items()
                }
            if existing is not None and all(
                existing.get(k) == service[k] for k in service if not k.endswith("Index")
            ):
                return [{"Service": _node_service(existing)}]
            cat.services[(node, sid)] = service
            cat.services_index = idx
            return [{"Service": _node_service(service)}]
        if existing is None:
            if verb == "delete-cas":
                raise _Failed(
                    f"failed to delete service {go_quote(sid)} on node {go_quote(node)}, index is stale"
                )
            return []
        if verb == "delete-cas" and existing["ModifyIndex"] != op.index:
            raise _Failed(
                f"failed to delete service {go_quote(sid)} on node {go_quote(node)}, index is stale"
            )
        del cat.services[(node, sid)]
        cat.services_index = idx
        for key, check in list(cat.checks.items()):
            if key[0] == node and check.get("ServiceID") == sid:
                del cat.checks[key]
                cat.checks_index = idx
                after.append(self._notify(node, key[1], None))
        return []

    def _notify(self, node: str, check_id: str, status: Optional[str]) -> Callable[[], None]:
        return lambda: self.catalog.notify_check_changed(node, check_id, status)

    def _check(self, idx: int, op: _Op, after: list[Callable[[], None]]) -> list[dict[str, Any]]:
        cat = self.catalog
        node, cid, verb = op.node, op.key, op.verb
        body = op.body
        existing = cat.checks.get((node, cid))
        if verb == "get":
            if existing is None:
                raise _Failed(f"check {go_quote(cid)} on node {go_quote(node)} doesn't exist")
            return [{"Check": copy.deepcopy(existing)}]
        if verb in ("set", "cas"):
            if verb == "cas":
                if (op.index == 0 and existing is not None) or (
                    op.index != 0 and (existing is None or existing["ModifyIndex"] != op.index)
                ):
                    raise _Failed(
                        f"failed to set check {go_quote(cid)} on node {go_quote(node)}, index is stale"
                    )
            if node not in cat.nodes:
                raise _Failed("Missing node registration")
            service_id = _str(body, "ServiceID", "HealthCheck")
            service_name, service_tags = "", []
            if service_id:
                svc = cat.services.get((node, service_id))
                if svc is None:
                    raise _Failed("Missing service registration")
                service_name, service_tags = svc["Service"], list(svc.get("Tags") or [])
            status = _str(body, "Status", "HealthCheck") or "critical"
            check = {
                "Node": node,
                "CheckID": cid,
                "Name": _str(body, "Name", "HealthCheck"),
                "Status": status,
                "Notes": _str(body, "Notes", "HealthCheck"),
                "Output": _str(body, "Output", "HealthCheck"),
                "ServiceID": service_id,
                "ServiceName": service_name,
                "ServiceTags": service_tags,
                # Consul 1.20.6+/1.21 copies the check's Type too (PR 22220).
                "Type": _str(body, "Type", "HealthCheck"),
                "Definition": _field(body, "Definition") or {},
                "CreateIndex": existing["CreateIndex"] if existing else idx,
                "ModifyIndex": idx,
            }
            if existing is not None and all(
                existing.get(k) == check[k] for k in check if not k.endswith("Index")
            ):
                return [{"Check": copy.deepcopy(existing)}]
            cat.checks[(node, cid)] = check
            cat.checks_index = idx
            if status == "critical":
                after.append(self._notify(node, cid, status))
            return [{"Check": copy.deepcopy(check)}]
        if existing is None:
            if verb == "delete-cas":
                raise _Failed(
                    f"failed to delete check {go_quote(cid)} on node {go_quote(node)}, index is stale"
                )
            return []
        if verb == "delete-cas" and existing["ModifyIndex"] != op.index:
            raise _Failed(f"failed to delete check {go_quote(cid)} on node {go_quote(node)}, index is stale")
        del cat.checks[(node, cid)]
        cat.checks_index = idx
        after.append(self._notify(node, cid, None))
        return []
