# -*- test-case-name: tests.test_catalog -*-
"""
FakeConsul's catalog state (nodes, services, checks) and the
``/v1/catalog/*`` and ``/v1/health/*`` endpoints that read it.

A fresh agent holds its own node, the ``consul`` service (a server) and the
node's ``serfHealth`` check, passing, as a real dev agent does.

Every write goes through the mutation methods here (``ensure_node``,
``set_service``, ``set_check``, ``update_check``, ``remove_*``) so that the
table indexes move and sessions hear about checks that go critical or away.
"""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol

from ._authz import require
from ._core import FakeRequest, HTTPError, Reply, Route
from ._gofmt import go_duration, go_quote
from ._gojson import GoJSONError, decode_body, parse_duration
from ._shapes import DEREGISTER_REQUEST, REGISTER_REQUEST

if TYPE_CHECKING:  # pragma: no cover
    from ._core import FakeCore

PASSING, WARNING, CRITICAL = "passing", "warning", "critical"
STATUSES = (PASSING, WARNING, CRITICAL)



# -- answer shapes: Consul's structs as encoding/json writes them -----------------


def proxy_json(proxy: Optional[dict[str, Any]]) -> dict[str, Any]:
    """
    ``structs.ConnectProxyConfig`` as Consul writes it
    (agent/structs/connect_proxy_config.go, ``MarshalJSON``): ``Mode`` has no
    ``omitempty`` and ``MeshGateway`` and ``Expose`` are value structs, so a
    typical service shows ``{"Mode": "", "MeshGateway": {}, "Expose": {}}``;
    ``TransparentProxy`` and ``AccessLogs`` appear only when set.
    """
    out: dict[str, Any] = {"Mode": "", "MeshGateway": {}, "Expose": {}}
    out.update(copy.deepcopy(proxy or {}))
    return out


def node_service_json(svc: dict[str, Any]) -> dict[str, Any]:
    """
    A stored service as ``structs.NodeService`` (agent/structs/structs.go),
    the ``Service`` of health and prepared-query results and the services
    of ``/v1/catalog/node``: ``Kind``, ``TaggedAddresses``, ``Port``,
    ``SocketPath`` and ``Locality`` are ``omitempty``; ``Meta`` is ``null``
    when the service was registered without one (the state store keeps the
    nil map, ``ServiceNode.ToNodeService``); ``Proxy`` and ``Connect`` are
    value structs, so always objects; ``PeerName`` has no ``omitempty``.
    """
    out: dict[str, Any] = {}
    if svc.get("Kind"):
        out["Kind"] = svc["Kind"]
    out["ID"] = svc["ID"]
    out["Service"] = svc["Service"]
    out["Tags"] = list(svc.get("Tags") or [])
    out["Address"] = svc.get("Address") or ""
    if svc.get("TaggedAddresses"):
        out["TaggedAddresses"] = copy.deepcopy(svc["TaggedAddresses"])
    meta = svc.get("Meta")
    out["Meta"] = dict(meta) if meta is not None else None
    if svc.get("Port"):
        out["Port"] = svc["Port"]
    if svc.get("SocketPath"):
        out["SocketPath"] = svc["SocketPath"]
    out["Weights"] = dict(svc.get("Weights") or {"Passing": 1, "Warning": 1})
    out["EnableTagOverride"] = bool(svc.get("EnableTagOverride"))
    if svc.get("Locality"):
        out["Locality"] = copy.deepcopy(svc["Locality"])
    out["Proxy"] = proxy_json(svc.get("Proxy"))
    out["Connect"] = copy.deepcopy(svc.get("Connect") or {})
    out["PeerName"] = ""
    out["CreateIndex"] = svc.get("CreateIndex", 0)
    out["ModifyIndex"] = svc.get("ModifyIndex", 0)
    return out


#: structs.HealthCheckDefinition's fields, in struct order (structs.go).
_DEFINITION_FIELDS = (
    "HTTP",
    "TLSServerName",
    "TLSSkipVerify",
    "Header",
    "Method",
    "Body",
    "DisableRedirects",
    "TCP",
    "UDP",
    "H2PING",
    "OSService",
    "H2PingUseTLS",
    "Interval",
    "OutputMaxSize",
    "Timeout",
    "DeregisterCriticalServiceAfter",
    "ScriptArgs",
    "DockerContainerID",
    "Shell",
    "GRPC",
    "GRPCUseTLS",
    "AliasNode",
    "AliasService",
    "TTL",
)
_DEFINITION_FOLDED = {name.lower(): name for name in _DEFINITION_FIELDS}
_DEFINITION_DURATIONS = ("Interval", "Timeout", "DeregisterCriticalServiceAfter", "TTL")


def definition_json(raw: Any) -> dict[str, Any]:
    """
    A catalog check's ``Definition`` as Consul stores and writes it
    (agent/structs/structs.go ``HealthCheckDefinition``): fields match by
    name, exact first, then ignoring case; the durations take a Go duration
    string or nanoseconds (its ``UnmarshalJSON``); every field is
    ``omitempty``; ``MarshalJSON`` writes ``Interval``, ``Timeout`` and
    ``DeregisterCriticalServiceAfter`` as duration strings but leaves
    ``TTL`` a number of nanoseconds.

    :raises HTTPError: 400 for a malformed duration string, as decoding
        fails in Consul.
    """
    values: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return values
    for key, value in raw.items():
        name = key if key in _DEFINITION_FIELDS else _DEFINITION_FOLDED.get(str(key).lower())
        if name is None:
            continue
        if name in _DEFINITION_DURATIONS:
            if isinstance(value, str):
                try:
                    value = int(round(parse_duration(value) * 1e9))
                except GoJSONError as e:
                    raise HTTPError(400, f"Request decode failed: {e}") from None
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = int(value)
            else:
                continue
        values[name] = value
    out: dict[str, Any] = {}
    for name in ("Interval", "OutputMaxSize", "Timeout", "DeregisterCriticalServiceAfter"):
        if values.get(name):
            out[name] = go_duration(values[name] / 1e9) if name != "OutputMaxSize" else values[name]
    for name in _DEFINITION_FIELDS:
        if name not in out and values.get(name) not in (None, "", 0, False, [], {}):
            out[name] = copy.deepcopy(values[name])
    return out


# -- a small go-bexpr subset for ?filter= -------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<raw>`[^`]*`)|(?P<op>==|!=|\(|\))'
    r"|(?P<word>[A-Za-z0-9_.\-/\[\]\"]+))"
)


class FilterError(ValueError):
    """A ``?filter=`` expression that does not parse."""


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise FilterError(f"unexpected input at {pos}: {text[pos : pos + 10]!r}")
        pos = m.end()
        if m.group("str") is not None:
            tokens.append(("value", json.loads(m.group("str"))))
        elif m.group("raw") is not None:
            tokens.append(("value", m.group("raw")[1:-1]))
        elif m.group("op") is not None:
            tokens.append(("op", m.group("op")))
        else:
            tokens.append(("word", m.group("word")))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _selector(word: str) -> list[str]:
    parts: list[str] = []
    for m in re.finditer(r'([^.\[\]]+)|\["([^"]*)"\]', word):
        parts.append(m.group(1) if m.group(1) is not None else m.group(2))
    if not parts:
        raise FilterError(f"invalid selector {word!r}")
    return parts


def _resolve(item: Any, path: list[str]) -> Any:
    for part in path:
        if isinstance(item, dict):
            if part not in item:
                return None
            item = item[part]
        else:
            return None
    return item


def _coerce_equal(value: Any, literal: str) -> bool:
    if isinstance(value, bool):
        return literal.lower() == ("true" if value else "false")
    if isinstance(value, (int, float)):
        try:
            return float(literal) == float(value)
        except ValueError:
            return False
    if value is None:
        return literal == ""
    return str(value) == literal


def _contains(container: Any, literal: str) -> bool:
    if isinstance(container, (list, tuple)):
        return any(_coerce_equal(v, literal) for v in container)
    if isinstance(container, dict):
        return literal in container
    if isinstance(container, str):
        return literal in container
    return False


def compile_filter(text: str) -> Callable[[Any], bool]:
    """
    Compile a ``?filter=`` expression (``==``, ``!=``, ``in``, ``not in``,
    ``contains``, ``not contains``, ``matches``, ``not matches``, ``is
    empty``, ``is not empty``, ``and``, ``or``, ``not``, parentheses) into a
    predicate over one JSON item.

    :raises FilterError: if it does not parse.
    """
    tokens = _tokenize(text)
    pos = [0]

    def peek(offset: int = 0) -> Optional[tuple[str, str]]:
        i = pos[0] + offset
        return tokens[i] if i < len(tokens) else None

    def take() -> tuple[str, str]:
        tok = peek()
        if tok is None:
            raise FilterError("unexpected end of expression")
        pos[0] += 1
        return tok

    def is_word(tok: Optional[tuple[str, str]], word: str) -> bool:
        return tok is not None and tok[0] == "word" and tok[1] == word

    def literal() -> str:
        kind, value = take()
        if kind == "op":
            raise FilterError(f"expected a value, got {value!r}")
        return value

    def parse_or() -> Callable[[Any], bool]:
        left = parse_and()
        while is_word(peek(), "or"):
            take()
            right = parse_and()
            left = (lambda a, b: lambda x: a(x) or b(x))(left, right)
        return left

    def parse_and() -> Callable[[Any], bool]:
        left = parse_not()
        while is_word(peek(), "and"):
            take()
            right = parse_not()
            left = (lambda a, b: lambda x: a(x) and b(x))(left, right)
        return left

    def parse_not() -> Callable[[Any], bool]:
        if is_word(peek(), "not"):
            take()
            inner = parse_not()
            return lambda x: not inner(x)
        return parse_primary()

    def parse_primary() -> Callable[[Any], bool]:
        tok = peek()
        if tok == ("op", "("):
            take()
            inner = parse_or()
            if take() != ("op", ")"):
                raise FilterError("missing ')'")
            return inner
        first = take()
        if first[0] == "value" or (
            first[0] == "word"
            and (is_word(peek(), "in") or (is_word(peek(), "not") and is_word(peek(1), "in")))
        ):
            value = first[1]
            negate = False
            if is_word(peek(), "not"):
                take()
                negate = True
            if not is_word(take(), "in"):
                raise FilterError("expected 'in'")
            kind, word = take()
            if kind != "word":
                raise FilterError("expected a selector after 'in'")
            path = _selector(word)
            return lambda x: _contains(_resolve(x, path), value) != negate
        if first[0] != "word":
            raise FilterError(f"unexpected {first[1]!r}")
        path = _selector(first[1])
        op = take()
        if op == ("op", "=="):
            value = literal()
            return lambda x: _coerce_equal(_resolve(x, path), value)
        if op == ("op", "!="):
            value = literal()
            return lambda x: not _coerce_equal(_resolve(x, path), value)
        negate = False
        if is_word(op, "is"):
            if is_word(peek(), "not"):
                take()
                negate = True
            if not is_word(take(), "empty"):
                raise FilterError("expected 'empty'")
            return lambda x: (_resolve(x, path) in (None, "", [], {})) != negate
        if is_word(op, "not"):
            negate = True
            op = take()
        if is_word(op, "contains"):
            value = literal()
            return lambda x: _contains(_resolve(x, path), value) != negate
        if is_word(op, "matches"):
            try:
                rx = re.compile(literal())
            except re.error as e:
                raise FilterError(str(e))
            except RecursionError:
                raise FilterError("expression nests too deeply")
            return lambda x: (
                (isinstance(_resolve(x, path), str) and rx.search(_resolve(x, path)) is not None) != negate
            )
        raise FilterError(f"unknown operator {op[1]!r}")

    predicate = parse_or()
    if pos[0] != len(tokens):
        raise FilterError(f"unexpected {tokens[pos[0]][1]!r}")
    return predicate


def apply_filter(req: FakeRequest, items: list[Any]) -> list[Any]:
    """Apply ``?filter=`` (if any) to ``items``; 400 if it does not parse."""
    text = req.get("filter")
    if not text:
        return items
    try:
        predicate = compile_filter(text)
    except FilterError as e:
        raise HTTPError(400, f"Failed to create boolean expression evaluator: {e}")
    except RecursionError:
        # Nesting the fake's recursive parser cannot follow (go-bexpr's
        # generated parser has no such limit): refused, never a crash.
        raise HTTPError(400, "Failed to create boolean expression evaluator: expression nests too deeply")
    return [item for item in items if predicate(item)]


def node_meta_filter(req: FakeRequest) -> Callable[[dict[str, Any]], bool]:
    """A predicate for repeated ``?node-meta=k:v`` (all must match)."""
    pairs = []
    for raw in req.getall("node-meta"):
        key, _, value = raw.partition(":")
        pairs.append((key, value))

    def match(node: dict[str, Any]) -> bool:
        meta = node.get("Meta") or {}
        return all(meta.get(k) == v for k, v in pairs)

    return match


def parse_bool(text: str) -> Optional[bool]:
    """Go's ``strconv.ParseBool``: ``None`` when it does not parse."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def filter_non_passing(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    health_endpoint.go ``filterNonPassing``: drop every entry with a check
    that is not passing, swapping the last kept entry into its place (so the
    survivors' order changes as in Consul).
    """
    out = list(entries)
    n = len(out)
    i = 0
    while i < n:
        if any(c["Status"] != PASSING for c in out[i]["Checks"]):
            out[i], out[n - 1] = out[n - 1], out[i]
            n -= 1
            continue
        i += 1
    return out[:n]


def _consistency_header(req: FakeRequest) -> dict[str, str]:
    if req.has("consistent"):
        mode = "consistent"
    elif req.has("stale"):
        mode = "stale"
    else:
        mode = "leader"
    return {"X-Consul-Effective-Consistency": mode}


class HealthListener(Protocol):
    """What the catalog tells of health changes (sessions listen)."""

    def check_changed(self, node: str, check_id: str, status: Optional[str]) -> None:
        """A check's status changed (``None``: the check is gone)."""
        ...

    def node_removed(self, node: str) -> None:
        """A node was deregistered."""
        ...


class CatalogPart:
    """
    Nodes, services and checks, keyed as Consul's state store keys them.

    :ivar nodes: node name -> node dict.
    :ivar services: ``(node, service_id)`` -> service dict.
    :ivar checks: ``(node, check_id)`` -> check dict.
    :ivar nodes_index: index of the last write to the nodes table (also
        ``services_index`` and ``checks_index``).
    """

    def __init__(self, core: "FakeCore") -> None:
        self.core = core
        #: Told when a check's status changes or a node goes (sessions).
        self.listeners: list[HealthListener] = []
        self.nodes: dict[str, dict[str, Any]] = {}
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.checks: dict[tuple[str, str], dict[str, Any]] = {}
        self.nodes_index = self.services_index = self.checks_index = core.index
        self._bootstrap()

    def _own_node_meta(self) -> dict[str, str]:
        """
        The node meta keys the agent sets itself: the network segment and,
        in recent releases (not 1.10), the agent's version
        (agent/structs/structs.go ``MetaSegmentKey``, ``MetaConsulVersion``).
        """
        meta = {"consul-network-segment": ""}
        if self.core.profile.node_version_meta:
            meta["consul-version"] = self.core.profile.version
        return meta

    def _consul_service_meta(self) -> dict[str, str]:
        """
        The ``consul`` service's meta, as the leader registers a server
        (agent/consul/leader_registrator_v1.go ``HandleAliveMember``): its
        raft and serf protocol versions, its build, and (Consul 1.14 and
        later, whose dev agent serves gRPC on 8502 and 8503) its gRPC ports.
        """
        meta = {
            "non_voter": "false",
            "read_replica": "false",
            "raft_version": "3",
            "serf_protocol_current": "2",
            "serf_protocol_min": "1",
            "serf_protocol_max": "5",
            "version": self.core.profile.version,
        }
        if not self.core.profile.legacy_acl:
            meta["grpc_port"] = "8502"
            meta["grpc_tls_port"] = "8503"
        return meta

    def _bootstrap(self) -> None:
        core = self.core
        idx = core.index
        addr = core.address
        # agent/agent.go: the agent's node meta is its configured node_meta
        # plus the keys it sets itself.
        meta = dict(core.node_meta)
        meta.update(self._own_node_meta())
        self.nodes[core.node_name] = {
            "ID": core.node_id or core.new_uuid(),
            "Node": core.node_name,
            "Address": addr,
            "Datacenter": core.datacenter,
            "TaggedAddresses": {"lan": addr, "lan_ipv4": addr, "wan": addr, "wan_ipv4": addr},
            "Meta": meta,
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self.services[(core.node_name, "consul")] = {
            "ID": "consul",
            "Service": "consul",
            "Tags": [],
            "Address": "",
            "Meta": self._consul_service_meta(),
            "Port": 8300,
            "Weights": {"Passing": 1, "Warning": 1},
            "EnableTagOverride": False,
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self.checks[(core.node_name, "serfHealth")] = {
            "Node": core.node_name,
            "CheckID": "serfHealth",
            "Name": "Serf Health Status",
            "Status": PASSING,
            "Notes": "",
            "Output": "Agent alive and reachable",
            "ServiceID": "",
            "ServiceName": "",
            "ServiceTags": [],
            "Type": "",
            "Interval": "",
            "Timeout": "",
            "ExposedPort": 0,
            "Definition": {},
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }

    def node_exists(self, node: str) -> bool:
        """Whether ``node`` is registered."""
        return node in self.nodes

    def get_check(self, node: str, check_id: str) -> Optional[dict[str, Any]]:
        """The check dict, or ``None``."""
        return self.checks.get((node, check_id))

    def get_service(self, node: str, service_id: str) -> Optional[dict[str, Any]]:
        """The service dict, or ``None``."""
        return self.services.get((node, service_id))

    # -- mutations ------------------------------------------------------------

    def ensure_node(
        self,
        name: str,
        address: str,
        idx: int,
        *,
        node_id: Optional[str] = None,
        tagged_addresses: Optional[dict[str, str]] = None,
        meta: Optional[dict[str, str]] = None,
    ) -> None:
        """
        Create or update a node.  A new node registered without tagged
        addresses or meta keeps the nil maps, written ``null``
        (state/catalog.go ``ensureRegistrationTxn`` copies them as given).
        """
        old = self.nodes.get(name)
        node = {
            "ID": node_id or (old["ID"] if old else self.core.new_uuid()),
            "Node": name,
            "Address": address,
            "Datacenter": self.core.datacenter,
            "TaggedAddresses": dict(tagged_addresses)
            if tagged_addresses is not None
            else (old["TaggedAddresses"] if old else None),
            "Meta": dict(meta) if meta is not None else (old["Meta"] if old else None),
            "CreateIndex": old["CreateIndex"] if old else idx,
            "ModifyIndex": idx,
        }
        if old is not None and all(old[k] == node[k] for k in node if k != "ModifyIndex"):
            return
        self.nodes[name] = node
        self.nodes_index = idx

    def set_service(self, node: str, service: dict[str, Any], idx: int) -> None:
        """Create or replace a service (``service['ID']``) on ``node``."""
        key = (node, service["ID"])
        old = self.services.get(key)
        weights = service.get("Weights")
        if not (isinstance(weights, dict) and _valid_weights(weights)):
            # structs.go NodeService.ToServiceNode, which the state store
            # keeps: missing weights, or weights failing ValidateWeights,
            # become {1, 1}.
            weights = {"Passing": 1, "Warning": 1}
        folded = {str(k).lower(): v for k, v in weights.items()}
        entry = {
            "ID": service["ID"],
            "Service": service["Service"],
            "Tags": list(service.get("Tags") or []),
            "Address": service.get("Address") or "",
            # A service registered without Meta keeps the nil map (null in
            # NodeService views, {} in ServiceNode ones).
            "Meta": dict(service["Meta"]) if isinstance(service.get("Meta"), dict) else None,
            "Port": service.get("Port") or 0,
            "Weights": {"Passing": folded.get("passing") or 0, "Warning": folded.get("warning") or 0},
            "EnableTagOverride": bool(service.get("EnableTagOverride", False)),
            "CreateIndex": old["CreateIndex"] if old else idx,
            "ModifyIndex": idx,
        }
        if service.get("TaggedAddresses"):
            entry["TaggedAddresses"] = dict(service["TaggedAddresses"])
        # The Connect fields, kept when set (the agent's registration and
        # /v1/catalog/register both carry them).
        for field in ("Kind", "Proxy", "Connect", "Locality", "SocketPath"):
            if service.get(field):
                entry[field] = copy.deepcopy(service[field])
        self.services[key] = entry
        self.services_index = idx
        # Service checks carry the service's name and tags.
        for (n, _cid), check in self.checks.items():
            if n == node and check["ServiceID"] == service["ID"]:
                if check["ServiceName"] != entry["Service"] or check["ServiceTags"] != entry["Tags"]:
                    check["ServiceName"] = entry["Service"]
                    check["ServiceTags"] = list(entry["Tags"])
                    check["ModifyIndex"] = idx
                    self.checks_index = idx

    def set_check(self, check: dict[str, Any], idx: int) -> None:
        """
        Create or replace a check (``check['Node']``, ``check['CheckID']``);
        sessions hear about its status.
        """
        node = check["Node"]
        key = (node, check["CheckID"])
        old = self.checks.get(key)
        entry = dict(check)
        entry.setdefault("Notes", "")
        entry.setdefault("Output", "")
        entry.setdefault("ServiceID", "")
        entry.setdefault("Type", "")
        entry.setdefault("Interval", "")
        entry.setdefault("Timeout", "")
        entry.setdefault("ExposedPort", 0)
        entry.setdefault("Definition", {})
        if not entry.get("Status"):
            entry["Status"] = CRITICAL
        sid = entry["ServiceID"]
        svc = self.services.get((node, sid)) if sid else None
        entry["ServiceName"] = svc["Service"] if svc else ""
        entry["ServiceTags"] = list(svc["Tags"]) if svc else []
        entry["CreateIndex"] = old["CreateIndex"] if old else idx
        entry["ModifyIndex"] = idx
        self.checks[key] = entry
        self.checks_index = idx
        self.notify_check_changed(node, entry["CheckID"], entry["Status"])

    def update_check(self, node: str, check_id: str, status: str, output: str) -> bool:
        """
        Set a check's status and output (a new index only if either
        changed); returns whether anything changed.
        """
        check = self.checks.get((node, check_id))
        if check is None:
            return False
        if check["Status"] == status and check["Output"] == output:
            return False
        idx = self.core.next_index()
        changed_status = check["Status"] != status
        check["Status"] = status
        check["Output"] = output
        check["ModifyIndex"] = idx
        self.checks_index = idx
        if changed_status:
            self.notify_check_changed(node, check_id, status)
        return True

    def remove_check(self, node: str, check_id: str, idx: int) -> bool:
        """Remove a check; sessions linked to it are invalidated."""
        if self.checks.pop((node, check_id), None) is None:
            return False
        self.checks_index = idx
        self.notify_check_changed(node, check_id, None)
        return True

    def remove_service(self, node: str, service_id: str, idx: int) -> bool:
        """Remove a service and its checks."""
        if self.services.pop((node, service_id), None) is None:
            return False
        self.services_index = idx
        for (n, cid), check in list(self.checks.items()):
            if n == node and check["ServiceID"] == service_id:
                self.remove_check(n, cid, idx)
        return True

    def remove_node(self, node: str, idx: int) -> bool:
        """Remove a node with its services and checks; its sessions go."""
        if self.nodes.pop(node, None) is None:
            return False
        self.nodes_index = idx
        for n, cid in [k for k in self.checks if k[0] == node]:
            self.remove_check(n, cid, idx)
        for n, sid in [k for k in self.services if k[0] == node]:
            self.services.pop((n, sid), None)
            self.services_index = idx
        self.notify_node_removed(node)
        return True

    def notify_check_changed(self, node: str, check_id: str, status: Optional[str]) -> None:
        """Tell the listeners a check's status changed (``None``: it is gone)."""
        for listener in self.listeners:
            listener.check_changed(node, check_id, status)

    def notify_node_removed(self, node: str) -> None:
        """Tell the listeners a node was deregistered."""
        for listener in self.listeners:
            listener.node_removed(node)

    # -- views ------------------------------------------------------------------

    def service_node(self, node: str, svc: dict[str, Any]) -> dict[str, Any]:
        """The flattened ``/v1/catalog/service`` entry of one instance."""
        n = self.nodes[node]
        entry = {
            "ID": n["ID"],
            "Node": node,
            "Address": n["Address"],
            "Datacenter": n["Datacenter"],
            "TaggedAddresses": n["TaggedAddresses"],
            "NodeMeta": n["Meta"],
            "ServiceKind": svc.get("Kind") or "",
            "ServiceID": svc["ID"],
            "ServiceName": svc["Service"],
            "ServiceTags": list(svc["Tags"]),
            "ServiceAddress": svc["Address"],
            "ServiceWeights": svc["Weights"],
            # state/catalog.go parseServiceNodes hands out PartialClone()s,
            # which copy the meta into a fresh map: {} even when nil.
            "ServiceMeta": dict(svc["Meta"] or {}),
            "ServicePort": svc["Port"],
            # structs.go ServiceNode: ServiceSocketPath and ServiceLocality
            # have no omitempty ("" and null for a typical service).
            "ServiceSocketPath": svc.get("SocketPath") or "",
            "ServiceEnableTagOverride": svc["EnableTagOverride"],
            "ServiceProxy": proxy_json(svc.get("Proxy")),
            "ServiceConnect": copy.deepcopy(svc.get("Connect") or {}),
            "ServiceLocality": copy.deepcopy(svc["Locality"]) if svc.get("Locality") else None,
            "CreateIndex": svc["CreateIndex"],
            "ModifyIndex": svc["ModifyIndex"],
        }
        if svc.get("TaggedAddresses"):
            # ServiceNode.ServiceTaggedAddresses is omitempty.
            entry["ServiceTaggedAddresses"] = svc["TaggedAddresses"]
        return entry

    def _instances(self, req: FakeRequest, name: str) -> list[tuple[str, dict[str, Any]]]:
        tags = req.getall("tag")
        meta_ok = node_meta_filter(req)
        out = []
        for (node, _sid), svc in sorted(self.services.items()):
            if svc["Service"] != name or node not in self.nodes:
                continue
            if not all(t in svc["Tags"] for t in tags):
                continue
            if not meta_ok(self.nodes[node]):
                continue
            if not (req.authz.allowed("service", name, "read") and req.authz.allowed("node", node, "read")):
                continue
            out.append((node, svc))
        return out

    def _check_visible(self, req: FakeRequest, check: dict[str, Any]) -> bool:
        if check["ServiceID"]:
            return req.authz.allowed("service", check["ServiceName"], "read")
        return req.authz.allowed("node", check["Node"], "read")

    # -- HTTP -------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """``/v1/catalog/*`` and ``/v1/health/*``."""
        return [
            Route("/v1/catalog/register", ("PUT",), self._register),
            Route("/v1/catalog/deregister", ("PUT",), self._deregister),
            Route("/v1/catalog/datacenters", ("GET",), self._datacenters, check_dc=False),
            Route("/v1/catalog/nodes", ("GET",), self._nodes),
            Route("/v1/catalog/services", ("GET",), self._services),
            Route("/v1/catalog/service/", ("GET",), self._service),
            Route("/v1/catalog/node/", ("GET",), self._node),
            Route("/v1/catalog/node-services/", ("GET",), self._node_services),
            Route("/v1/health/node/", ("GET",), self._health_node),
            Route("/v1/health/checks/", ("GET",), self._health_checks),
            Route("/v1/health/service/", ("GET",), self._health_service),
            Route("/v1/health/state/", ("GET",), self._health_state),
        ]

    def _blocking(self, req: FakeRequest, index_of: Callable[[], int], body_of: Callable[[], Any]) -> Any:
        headers = _consistency_header(req)
        if req.get("peer"):
            body_of = self._unknown_peer(body_of)

        def compute() -> tuple[int, Reply]:
            index = max(index_of(), 1)
            return index, Reply(body_of(), index=index, headers=dict(headers))

        return self.core.blocking(req, compute)

    def _unknown_peer(self, body_of: Callable[[], Any]) -> Callable[[], Any]:
        """
        ``?peer=<name>``: the state store reads only what was imported from
        that peer (agent/consul/state/catalog.go, every query keyed by
        PeerName); the fake has no peerings, so a named peer holds nothing
        and the answer is the empty one, not the local catalog.
        """

        def body() -> Any:
            saved = self.nodes, self.services, self.checks
            self.nodes, self.services, self.checks = {}, {}, {}
            try:
                return body_of()
            finally:
                self.nodes, self.services, self.checks = saved

        return body

    def _register(self, req: FakeRequest) -> Reply:
        # catalog_endpoint.go CatalogRegister: decodeBody into
        # structs.RegisterRequest (Go's types, unknown fields refused).
        decode_body(REGISTER_REQUEST, req.body)
        body = req.json()
        if not isinstance(body, dict):
            body = {}
        body = normalize(body, _REGISTER_KEYS)
        raw_checks = ([body["Check"]] if body.get("Check") else []) + list(body.get("Checks") or [])
        for raw in raw_checks:
            # A malformed duration in a Definition fails the decoding, before
            # anything else is looked at.
            definition_json(normalize(raw, _CATALOG_CHECK_KEYS).get("Definition"))
        dc = body.get("Datacenter")
        if dc and dc != self.core.datacenter:
            raise HTTPError(500, "No path to datacenter")
        node = body.get("Node") or ""
        if not node:
            raise HTTPError(500, "Must provide node")
        skip = bool(body.get("SkipNodeUpdate"))
        address = body.get("Address") or ""
        if not address and not skip:
            raise HTTPError(500, "Must provide address if SkipNodeUpdate is not set")
        service = body.get("Service")
        if service is not None:
            service = normalize(service, _SERVICE_KEYS)
            if not service.get("ID") and service.get("Service"):
                service["ID"] = service["Service"]
            if service.get("ID") and not service.get("Service"):
                raise HTTPError(500, "Must provide service name with ID")
            if service.get("Address") in ("0.0.0.0", "::", "[::]"):
                raise HTTPError(500, "Invalid service address")
            if not service.get("ID"):
                service = None
        checks = []
        for raw in raw_checks:
            check = normalize(raw, _CATALOG_CHECK_KEYS)
            check.setdefault("Node", node)
            if not check.get("Node"):
                check["Node"] = node
            if check["Node"] != node:
                raise HTTPError(
                    500, f"Node in check ({check['Node']}) does not match node in request ({node})"
                )
            if not check.get("CheckID"):
                check["CheckID"] = check.get("Name") or ""
            if not check["CheckID"]:
                raise HTTPError(500, "Missing check ID")
            if check.get("Status") and check["Status"] not in STATUSES:
                raise HTTPError(500, f"Invalid check status: {go_quote(check['Status'])}")
            checks.append(check)
        require(req, "node", node, "write")
        if service is not None:
            require(req, "service", service["Service"], "write")
        for check in checks:
            sid = check.get("ServiceID") or ""
            if sid and (node, sid) not in self.services and not (service and service["ID"] == sid):
                raise HTTPError(500, "Missing service registration")
        idx = self.core.next_index()
        # state/catalog.go ensureRegistrationTxn: the node is written when it
        # does not exist yet (ChangesNode(nil) is true) even with
        # SkipNodeUpdate, which only protects an existing node.
        if not skip or node not in self.nodes:
            meta = body.get("NodeMeta")
            self.ensure_node(
                node,
                address,
                idx,
                node_id=body.get("ID") or None,
                tagged_addresses=body.get("TaggedAddresses"),
                meta=meta if meta is not None else None,
            )
        if service is not None:
            self.set_service(node, service, idx)
        for check in checks:
            definition = definition_json(check.get("Definition"))
            self.set_check(
                {
                    "Node": node,
                    "CheckID": check["CheckID"],
                    "Name": check.get("Name") or check["CheckID"],
                    "Status": check.get("Status") or CRITICAL,
                    "Notes": check.get("Notes") or "",
                    "Output": check.get("Output") or "",
                    "ServiceID": check.get("ServiceID") or "",
                    "Type": check.get("Type") or "",
                    "Definition": definition,
                },
                idx,
            )
        return Reply(True)

    def _deregister(self, req: FakeRequest) -> Reply:
        # catalog_endpoint.go CatalogDeregister: decodeBody into
        # structs.DeregisterRequest (its UnmarshalJSON allows "Address").
        decode_body(DEREGISTER_REQUEST, req.body)
        body = req.json()
        if not isinstance(body, dict):
            body = {}
        body = normalize(body, _REGISTER_KEYS)
        dc = body.get("Datacenter")
        if dc and dc != self.core.datacenter:
            raise HTTPError(500, "No path to datacenter")
        node = body.get("Node") or ""
        if not node:
            raise HTTPError(500, "Must provide node")
        sid = body.get("ServiceID") or ""
        cid = body.get("CheckID") or ""
        if sid:
            svc = self.services.get((node, sid))
            require(req, "service", svc["Service"] if svc else sid, "write")
        elif cid:
            check = self.checks.get((node, cid))
            if check and check["ServiceID"]:
                require(req, "service", check["ServiceName"], "write")
            else:
                require(req, "node", node, "write")
        else:
            require(req, "node", node, "write")
        idx = self.core.next_index()
        if sid:
            self.remove_service(node, sid, idx)
        if cid:
            self.remove_check(node, cid, idx)
        if not sid and not cid:
            self.remove_node(node, idx)
        return Reply(True)

    def _datacenters(self, req: FakeRequest) -> Reply:
        return Reply([self.core.datacenter])

    def _nodes(self, req: FakeRequest) -> Any:
        def body() -> Any:
            meta_ok = node_meta_filter(req)
            items = [
                dict(n)
                for name, n in sorted(self.nodes.items())
                if meta_ok(n) and req.authz.allowed("node", name, "read")
            ]
            return apply_filter(req, items)

        return self._blocking(req, lambda: self.nodes_index, body)

    def _services(self, req: FakeRequest) -> Any:
        def body() -> Any:
            meta_ok = node_meta_filter(req)
            visible = [
                (node, svc)
                for (node, _), svc in self.services.items()
                if node in self.nodes
                and meta_ok(self.nodes[node])
                and req.authz.allowed("service", svc["Service"], "read")
            ]
            if req.get("filter"):
                # consul/catalog_endpoint.go ListServices: the filter runs on
                # the service instances (ServiceNodes), then
                # servicesTagsByName groups what is left: a service's tags
                # come only from its matching instances.
                kept = apply_filter(req, [self.service_node(node, svc) for node, svc in visible])
                pairs = [(e["ServiceName"], e["ServiceTags"] or []) for e in kept]
            else:
                pairs = [(svc["Service"], svc["Tags"]) for _, svc in visible]
            tags: dict[str, set[str]] = {}
            for name, instance_tags in pairs:
                tags.setdefault(name, set()).update(instance_tags)
            return {name: sorted(t) for name, t in sorted(tags.items())}

        return self._blocking(req, lambda: max(self.services_index, self.nodes_index), body)

    def _service(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing service name")

        def body() -> Any:
            items = [self.service_node(node, svc) for node, svc in self._instances(req, name)]
            return apply_filter(req, items)

        return self._blocking(req, lambda: max(self.services_index, self.nodes_index), body)

    def _node_services_visible(
        self, req: FakeRequest, name: str
    ) -> Optional[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """The node and its services the token may read (filtered), or ``None``."""
        node = self.nodes.get(name)
        if node is None or not req.authz.allowed("node", name, "read"):
            return None
        services = [
            node_service_json(svc)
            for (n, _sid), svc in sorted(self.services.items())
            if n == name and req.authz.allowed("service", svc["Service"], "read")
        ]
        if req.get("filter"):
            services = apply_filter(req, services)
        return dict(node), services

    def _node(self, req: FakeRequest) -> Any:
        # catalog_endpoint.go CatalogNodeServices: Services is a map by ID;
        # an unknown node is null.
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing node name")

        def body() -> Any:
            found = self._node_services_visible(req, name)
            if found is None:
                return None
            node, services = found
            return {"Node": node, "Services": {s["ID"]: s for s in services}}

        return self._blocking(req, lambda: max(self.services_index, self.nodes_index), body)

    def _node_services(self, req: FakeRequest) -> Any:
        # catalog_endpoint.go CatalogNodeServiceList: Services is a list;
        # an unknown node is {"Node": null, "Services": null}.
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing node name")

        def body() -> Any:
            found = self._node_services_visible(req, name)
            if found is None:
                return {"Node": None, "Services": None}
            node, services = found
            return {"Node": node, "Services": services}

        return self._blocking(req, lambda: max(self.services_index, self.nodes_index), body)

    def _health_node(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing node name")

        def body() -> Any:
            items = [
                dict(c)
                for (n, _), c in sorted(self.checks.items())
                if n == name and self._check_visible(req, c)
            ]
            return apply_filter(req, items)

        return self._blocking(req, lambda: self.checks_index, body)

    def _health_checks(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing service name")

        def body() -> Any:
            meta_ok = node_meta_filter(req)
            items = [
                dict(c)
                for (n, _), c in sorted(self.checks.items())
                if c["ServiceName"] == name
                and c["ServiceID"]
                and n in self.nodes
                and meta_ok(self.nodes[n])
                and self._check_visible(req, c)
            ]
            return apply_filter(req, items)

        return self._blocking(req, lambda: self.checks_index, body)

    def _health_service(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing service name")
        passing = False
        if req.has("passing"):
            raw = req.get("passing") or ""
            value = True if raw == "" else parse_bool(raw)
            if value is None:
                raise HTTPError(400, "Invalid value for ?passing")
            passing = value

        def body() -> Any:
            out = []
            for node, svc in self._instances(req, name):
                checks = [
                    dict(c)
                    for (n, _), c in sorted(self.checks.items())
                    if n == node and (c["ServiceID"] == "" or c["ServiceID"] == svc["ID"])
                ]
                out.append({"Node": dict(self.nodes[node]), "Service": node_service_json(svc), "Checks": checks})
            if passing:
                out = filter_non_passing(out)
            return apply_filter(req, out)

        return self._blocking(
            req, lambda: max(self.nodes_index, self.services_index, self.checks_index), body
        )

    def _health_state(self, req: FakeRequest) -> Any:
        state = req.tail
        if not state:
            raise HTTPError(400, "Missing check state")

        def body() -> Any:
            meta_ok = node_meta_filter(req)
            items = [
                dict(c)
                for (n, _), c in sorted(self.checks.items())
                if (state == "any" or c["Status"] == state)
                and n in self.nodes
                and meta_ok(self.nodes[n])
                and self._check_visible(req, c)
            ]
            return apply_filter(req, items)

        return self._blocking(req, lambda: self.checks_index, body)


# -- case-insensitive, snake_case-tolerant bodies (Consul decodes them so) --------


def _valid_weights(weights: dict[str, Any]) -> bool:
    """structs.go ValidateWeights (case-insensitive keys, as decoded)."""
    folded = {str(k).lower(): v for k, v in weights.items()}
    passing, warning = folded.get("passing") or 0, folded.get("warning") or 0
    return 1 <= passing <= 65535 and 0 <= warning <= 65535


def _canon(names: list[str]) -> dict[str, str]:
    return {n.lower().replace("_", ""): n for n in names}


_REGISTER_KEYS = _canon(
    [
        "ID",
        "Node",
        "Address",
        "Datacenter",
        "TaggedAddresses",
        "NodeMeta",
        "Service",
        "Check",
        "Checks",
        "SkipNodeUpdate",
        "ServiceID",
        "CheckID",
    ]
)
_SERVICE_KEYS = _canon(
    [
        "ID",
        "Service",
        "Name",
        "Tags",
        "Address",
        "TaggedAddresses",
        "Meta",
        "Port",
        "Weights",
        "EnableTagOverride",
        "Kind",
        "Check",
        "Checks",
        "Proxy",
        "Connect",
        "Locality",
        "SocketPath",
    ]
)
_CATALOG_CHECK_KEYS = _canon(
    [
        "Node",
        "CheckID",
        "Name",
        "Notes",
        "Status",
        "Output",
        "ServiceID",
        "Type",
        "Definition",
    ]
)


def normalize(body: Any, keys: dict[str, str], aliases: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """
    Map a JSON object's top-level keys to Consul's field names, ignoring
    case and underscores (``service_id`` -> ``ServiceID``); unknown keys are
    kept as given.
    """
    if not isinstance(body, dict):
        raise HTTPError(400, "Request decode failed: expected a JSON object")
    out: dict[str, Any] = {}
    for key, value in body.items():
        folded = str(key).lower().replace("_", "")
        if aliases and folded in aliases:
            folded = aliases[folded]
        name = keys.get(folded)
        out[key if name is None else name] = value
    return out
