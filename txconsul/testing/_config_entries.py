# -*- test-case-name: tests.test_api_modern_config -*-
"""
FakeConsul's config entries (``/v1/config``) and compiled discovery chains
(``/v1/discovery-chain/<service>``).

Entries are kept as their JSON objects, keyed by ``(Kind, Name)``, with the
``CreateIndex``/``ModifyIndex`` of the write.  The HTTP behaviour follows
agent/config_endpoint.go (routes, 404/400 texts, ``cas``) and
agent/consul/config_endpoint.go (ACLs by kind, blocking reads).  Kind-specific
fields are stored as given, apart from the defaults Consul fills in for
``service-defaults`` and ``proxy-defaults``; the fake validates only what
the endpoint itself and the names of ``proxy-defaults`` and ``mesh`` need.

ACLs follow each kind's ``CanRead``/``CanWrite`` (agent/structs/config_entry*.go)
with the fake's ACL resources: ``mesh`` access is checked as ``operator``
access (Consul's fallback when a token has no ``mesh`` rule) and
``intentions`` access as ``service`` access on the destination (the fake's
rules do not model ``intentions =`` levels).
"""

from __future__ import annotations

import copy
from typing import Any, Optional

from ._acl import require
from ._core import FakeRequest, HTTPError, Reply, Route, go_quote, parse_common, parse_go_duration, parse_uint

#: The kinds a Consul 1.20 CE server knows (agent/structs/config_entry.go MakeConfigEntry).
KINDS = (
    "service-defaults",
    "proxy-defaults",
    "service-router",
    "service-splitter",
    "service-resolver",
    "ingress-gateway",
    "terminating-gateway",
    "service-intentions",
    "mesh",
    "exported-services",
    "api-gateway",
    "bound-api-gateway",
    "inline-certificate",
    "file-system-certificate",
    "http-route",
    "tcp-route",
    "jwt-provider",
)

#: Kinds read with ``service:read`` on their name and written with ``service:write``.
_SERVICE_KINDS = ("service-defaults", "service-router", "service-splitter", "service-resolver")
#: Kinds read with ``service:read`` on their name and written with ``mesh:write``.
_GATEWAY_KINDS = (
    "ingress-gateway",
    "terminating-gateway",
    "api-gateway",
    "bound-api-gateway",
    "http-route",
    "tcp-route",
)
#: Kinds anyone may read and ``mesh:write`` writes.
_GLOBAL_KINDS = ("proxy-defaults", "mesh", "inline-certificate", "file-system-certificate", "jwt-provider")

#: Names forced by a kind (ProxyConfigEntry / MeshConfigEntry Validate).
_FIXED_NAMES = {"proxy-defaults": "global", "mesh": "mesh"}

#: agent/structs/config_entry.go: the default ConnectTimeout of a resolver.
DEFAULT_CONNECT_TIMEOUT = "5s"


# The fields other parts read, with the shapes Consul's typed decoding
# (structs.DecodeConfigEntry, mapstructure) would insist on.  A list spec
# ``[spec]`` is a list of that spec; a dict spec is an object with those fields.
_DURATION = "duration"
_SERVICE_SCHEMA: dict[str, Any] = {"Name": str, "Hosts": [str]}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "service-defaults": {"Protocol": str, "MeshGateway": dict, "Expose": dict, "TransparentProxy": dict},
    "proxy-defaults": {"Config": dict, "MeshGateway": dict, "Expose": dict, "TransparentProxy": dict},
    "service-resolver": {"ConnectTimeout": _DURATION, "DefaultSubset": str, "Subsets": dict},
    "ingress-gateway": {
        "Listeners": [{"Port": int, "Protocol": str, "Services": [_SERVICE_SCHEMA]}],
    },
    "terminating-gateway": {
        "Services": [{"Name": str, "CAFile": str, "CertFile": str, "KeyFile": str, "SNI": str}],
    },
    "service-intentions": {
        "Sources": [
            {
                "Name": str,
                "Action": str,
                "Permissions": [dict],
                "Description": str,
                "Type": str,
                "LegacyMeta": {"*": str},
                "LegacyID": str,
            }
        ],
    },
}
_GO_KIND = {str: "string", int: "int", bool: "bool", dict: "map", list: "slice"}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "[]interface {}"
    return "map[string]interface {}"


def _shape_error(path: str, want: str, value: Any) -> HTTPError:
    return HTTPError(
        400,
        "Request decoding failed: 1 error occurred:\n\t* "
        f"'{path}' expected type '{want}', got unconvertible type '{_json_type(value)}', value: '{value}'\n\n",
    )


def check_shape(value: Any, spec: Any, path: str) -> None:
    """Raise Consul's 400 when ``value`` does not have the shape ``spec``."""
    if value is None:
        return
    if spec is _DURATION:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _shape_error(path, "time.Duration", value)
        if isinstance(value, str):
            try:
                parse_go_duration(value)
            except ValueError:
                raise HTTPError(
                    400,
                    f"Request decoding failed: 1 error occurred:\n\t* error decoding '{path}': time: invalid duration {go_quote(value)}\n\n",
                )
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise _shape_error(path, "slice", value)
        for i, item in enumerate(value):
            check_shape(item, spec[0], f"{path}[{i}]")
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _shape_error(path, "struct", value)
        for key, sub in spec.items():
            if key == "*":
                for k, v in value.items():
                    check_shape(v, sub, f"{path}[{k}]")
            elif key in value:
                check_shape(value[key], sub, f"{path}.{key}" if path else key)
        return
    if spec is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise _shape_error(path, "int", value)
        return
    if not isinstance(value, spec) or (spec is not bool and isinstance(value, bool)):
        raise _shape_error(path, _GO_KIND.get(spec, "value"), value)


def entry_allowed(authz: Any, kind: str, name: str, access: str) -> bool:
    """Whether ``authz`` may ``access`` (read/write) the ``kind`` entry ``name``."""
    if kind in _SERVICE_KINDS:
        return bool(authz.allowed("service", name, access))
    if kind == "service-intentions":
        # Intentions on a destination: read/write "intentions"; the fake's
        # rules keep no intentions level, so the service level stands in.
        return bool(authz.allowed("service", name, access))
    if access == "read":
        if kind in _GATEWAY_KINDS:
            return bool(authz.allowed("service", name, "read"))
        if kind in _GLOBAL_KINDS:
            return True
        return bool(authz.allowed("operator", "", "read"))
    return bool(authz.allowed("operator", "", "write"))


def require_entry(req: FakeRequest, kind: str, name: str, access: str) -> None:
    """
    Raise the ACL system's 403 unless ``req``'s token may ``access`` the
    ``kind`` entry ``name`` (the resource each kind checks: see :func:`entry_allowed`).
    """
    if kind in _SERVICE_KINDS or kind == "service-intentions":
        require(req, "service", name, access)
    elif access == "read" and kind in _GATEWAY_KINDS:
        require(req, "service", name, "read")
    elif access == "read" and kind in _GLOBAL_KINDS:
        return
    else:
        require(req, "operator", "", access)


def _canon_key(body: dict[str, Any], name: str) -> Optional[str]:
    """The key of ``body`` that spells ``name`` (Consul decodes case-insensitively, snake_case too)."""
    want = name.lower()
    for key in body:
        if isinstance(key, str) and key.lower().replace("_", "") == want:
            return key
    return None


def _cas(req: FakeRequest) -> Optional[int]:
    """The ``?cas=`` index of a write or delete, ``None`` when absent or empty; a bad one is a 500."""
    raw_cas = req.get("cas")
    if not raw_cas:
        return None
    try:
        return parse_uint(raw_cas)
    except ValueError as e:
        raise HTTPError(500, str(e))


class ConfigEntriesPart:
    """
    The config entries of a FakeConsul.

    :ivar entries: ``(kind, name)`` -> the entry's JSON object.
    :ivar table_index: the index of the last write to the table.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.table_index = core.index

    def routes(self) -> list[Route]:
        """``/v1/config``, ``/v1/config/<kind>[/<name>]`` and the discovery chain."""
        return [
            Route("/v1/config", ("PUT",), self._apply, check_dc=False, parse=False),
            # agent/config_endpoint.go: reads call s.parse; configDelete
            # calls parseDC only, and checks the path and ?cas before the RPC
            # refuses another datacenter.
            Route("/v1/config/", ("GET", "DELETE"), self._config, check_dc=False, parse=False),
            Route("/v1/discovery-chain/", ("GET", "POST"), self._discovery_chain),
        ]

    # -- state ------------------------------------------------------------------

    def get(self, kind: str, name: str) -> Optional[dict[str, Any]]:
        """The stored entry (a copy), or ``None``."""
        entry = self.entries.get((kind, name))
        return copy.deepcopy(entry) if entry is not None else None

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Every entry of ``kind`` (copies), by name."""
        return [copy.deepcopy(e) for (k, _), e in sorted(self.entries.items()) if k == kind]

    def put(self, entry: dict[str, Any], idx: Optional[int] = None) -> dict[str, Any]:
        """Store ``entry`` (with ``Kind`` and ``Name``) at a new index; returns the stored entry."""
        kind, name = entry["Kind"], entry["Name"]
        idx = idx if idx is not None else self.core.next_index()
        old = self.entries.get((kind, name))
        stored = {"Kind": kind, "Name": name}
        for key, value in _defaults(kind).items():
            stored[key] = value
        for key, value in entry.items():
            if key in ("Kind", "Name", "CreateIndex", "ModifyIndex"):
                continue
            stored[key] = copy.deepcopy(value)
        stored["CreateIndex"] = old["CreateIndex"] if old else idx
        stored["ModifyIndex"] = idx
        self.entries[(kind, name)] = stored
        self.table_index = idx
        return stored

    def delete(self, kind: str, name: str, idx: Optional[int] = None) -> bool:
        """Remove an entry; whether one was there."""
        if (kind, name) not in self.entries:
            return False
        del self.entries[(kind, name)]
        self.table_index = idx if idx is not None else self.core.next_index()
        return True

    # -- HTTP -------------------------------------------------------------------

    def _decode_entry(self, req: FakeRequest) -> dict[str, Any]:
        body = req.json()
        if not isinstance(body, dict):
            what = "null" if body is None else type(body).__name__
            raise HTTPError(
                400,
                f"Request decoding failed: json: cannot unmarshal {what} into Go value of type map[string]interface {{}}",
            )
        kind_key = _canon_key(body, "Kind")
        kind = body.get(kind_key) if kind_key is not None else None
        if not isinstance(kind, str) or not kind:
            raise HTTPError(
                400, "Request decoding failed: Payload does not contain a kind/Kind key at the top level"
            )
        if kind not in KINDS:
            raise HTTPError(400, f"Request decoding failed: invalid config entry kind: {kind}")
        name_key = _canon_key(body, "Name")
        name = body.get(name_key, "") if name_key is not None else ""
        if not isinstance(name, str):
            raise HTTPError(
                400, "Request decoding failed: 1 error occurred:\n\t* 'Name' expected type 'string'\n\n"
            )
        entry = {k: v for k, v in body.items() if k not in (kind_key, name_key)}
        check_shape(entry, _SCHEMAS.get(kind, {}), "")
        entry["Kind"] = kind
        entry["Name"] = name
        return entry

    def _apply(self, req: FakeRequest) -> Reply:
        entry = self._decode_entry(req)
        cas = _cas(req)
        self.core.check_dc(req)
        kind, name = entry["Kind"], entry["Name"]
        fixed = _FIXED_NAMES.get(kind)
        if fixed is not None and name != fixed:
            # ProxyConfigEntry / MeshConfigEntry Validate, an RPC error (500).
            raise HTTPError(500, f"invalid name ({go_quote(name)}), only {go_quote(fixed)} is supported")
        require_entry(req, kind, name, "write")
        old = self.entries.get((kind, name))
        if cas is not None:
            # state/config_entry.go EnsureConfigEntryCAS.
            if (cas == 0 and old is not None) or (cas != 0 and (old is None or old["ModifyIndex"] != cas)):
                return Reply(False)
        self.put(entry)
        return Reply(True)

    def _split(self, req: FakeRequest) -> list[str]:
        return req.tail.split("/", 1)

    def _config(self, req: FakeRequest) -> Any:
        if req.method == "GET":
            parse_common(req)
            self.core.check_dc(req)
        parts = self._split(req)
        if req.method == "DELETE":
            return self._delete(req, parts)
        if len(parts) == 2:
            return self._get(req, parts[0], parts[1])
        return self._list(req, parts[0])

    def _get(self, req: FakeRequest, kind: str, name: str) -> Any:
        if kind not in KINDS:
            raise HTTPError(500, f"invalid config entry kind: {kind}")
        require_entry(req, kind, name, "read")

        def compute() -> tuple[int, Reply]:
            index = max(self.table_index, 1)
            entry = self.entries.get((kind, name))
            if entry is None:
                return index, Reply(
                    f"Config entry not found for {go_quote(kind)} / {go_quote(name)}",
                    status=404,
                    json=False,
                    index=index,
                )
            return index, Reply(copy.deepcopy(entry), index=index)

        return self.core.blocking(req, compute)

    def _list(self, req: FakeRequest, kind: str) -> Any:
        if kind and kind not in KINDS:
            raise HTTPError(500, f"invalid config entry kind: {kind}")

        def compute() -> tuple[int, Reply]:
            index = max(self.table_index, 1)
            out = []
            removed = False
            for (k, n), entry in sorted(self.entries.items()):
                if kind and k != kind:
                    continue
                if not entry_allowed(req.authz, k, n, "read"):
                    removed = True
                    continue
                out.append(copy.deepcopy(entry))
            headers = {"X-Consul-Results-Filtered-By-ACLs": "true"} if removed and req.token else {}
            return index, Reply(out, index=index, headers=headers)

        return self.core.blocking(req, compute)

    def _delete(self, req: FakeRequest, parts: list[str]) -> Reply:
        if len(parts) != 2:
            raise HTTPError(404, "Must provide both a kind and name to delete")
        kind, name = parts
        if kind not in KINDS:
            raise HTTPError(400, f"invalid config entry kind: {kind}")
        cas = _cas(req)
        self.core.check_dc(req)
        require_entry(req, kind, name, "write")
        old = self.entries.get((kind, name))
        if cas is not None:
            # state/config_entry.go DeleteConfigEntryCAS; the handler answers the bool.
            if old is None or old["ModifyIndex"] != cas:
                return Reply(False)
            self.delete(kind, name)
            return Reply(True)
        if old is not None:
            self.delete(kind, name)
        return Reply({})

    # -- discovery chain --------------------------------------------------------------

    def _discovery_chain(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing chain name")
        overrides: dict[str, Any] = {}
        if req.method == "POST":
            # agent/discovery_chain_endpoint.go decodeDiscoveryChainReadRequest:
            # CamelCase or snake_case keys, weakly typed.
            body = req.json()
            if body is not None and not isinstance(body, dict):
                raise HTTPError(
                    400,
                    "Request decoding failed: json: cannot unmarshal into Go value of type map[string]interface {}",
                )
            for key, value in (body or {}).items():
                canon = key.lower().replace("_", "") if isinstance(key, str) else ""
                if canon == "overrideprotocol":
                    if isinstance(value, (dict, list)):
                        raise HTTPError(400, "Request decoding failed: OverrideProtocol: invalid type")
                    overrides["OverrideProtocol"] = (
                        str(value).lower() if isinstance(value, bool) else str(value)
                    )
                elif canon == "overrideconnecttimeout":
                    if isinstance(value, str):
                        try:
                            overrides["OverrideConnectTimeout"] = _go_duration(parse_go_duration(value))
                        except ValueError:
                            raise HTTPError(
                                400, f"Request decoding failed: time: invalid duration {go_quote(value)}"
                            )
                    elif isinstance(value, (int, float)) and not isinstance(value, bool):
                        overrides["OverrideConnectTimeout"] = _go_duration(value / 1e9)
                elif canon == "overridemeshgateway" and isinstance(value, dict):
                    mode = str(value.get("Mode", value.get("mode", "")) or "")
                    if mode:
                        if mode not in ("none", "local", "remote"):
                            raise HTTPError(400, "Invalid OverrideMeshGateway.Mode parameter")
                        overrides["OverrideMeshGateway"] = {"Mode": mode}
        compile_dc = req.get("compile-dc") or self.core.datacenter
        require(req, "service", name, "read")

        def compute() -> tuple[int, Reply]:
            index = max(self.table_index, 1)
            chain = self.compile_chain(name, compile_dc, overrides)
            return index, Reply({"Chain": chain}, index=index)

        return self.core.blocking(req, compute)

    def compile_chain(self, name: str, dc: str, overrides: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """
        The compiled discovery chain of ``name`` (agent/consul/discoverychain/compile.go),
        for the default shape: one resolver node and one target, with the
        protocol of ``service-defaults``/``proxy-defaults`` and the
        ``ConnectTimeout`` of a ``service-resolver``.  Routers, splitters,
        subsets, redirects and failover are not compiled.
        """
        overrides = overrides or {}
        defaults = self.entries.get(("service-defaults", name)) or {}
        proxy = self.entries.get(("proxy-defaults", "global")) or {}
        resolver = self.entries.get(("service-resolver", name))
        protocol = (
            overrides.get("OverrideProtocol")
            or defaults.get("Protocol")
            or (proxy.get("Config") or {}).get("protocol")
            or "tcp"
        )
        timeout = (
            overrides.get("OverrideConnectTimeout")
            or (resolver or {}).get("ConnectTimeout")
            or DEFAULT_CONNECT_TIMEOUT
        )
        if isinstance(timeout, str):
            timeout = _go_duration(parse_go_duration(timeout))
        target_id = f"{name}.default.default.{dc}"
        sni = f"{name}.default.{dc}.internal.{trust_domain(self._peers)}"
        mesh_gateway = dict(overrides.get("OverrideMeshGateway") or defaults.get("MeshGateway") or {})
        node_name = f"resolver:{target_id}"
        return {
            "ServiceName": name,
            "Namespace": "default",
            "Partition": "default",
            "Datacenter": dc,
            # CompiledDiscoveryChain.Default: no resolver, splitter or router entry.
            "Default": not any(
                (kind, name) in self.entries
                for kind in ("service-resolver", "service-splitter", "service-router")
            ),
            "Protocol": protocol,
            "ServiceMeta": None,
            "StartNode": node_name,
            "Nodes": {
                node_name: {
                    "Type": "resolver",
                    "Name": target_id,
                    "Resolver": {
                        "ConnectTimeout": timeout,
                        "Default": resolver is None,
                        "Target": target_id,
                    },
                }
            },
            "Targets": {
                target_id: {
                    "ID": target_id,
                    "Service": name,
                    "Namespace": "default",
                    "Partition": "default",
                    "Datacenter": dc,
                    "MeshGateway": mesh_gateway,
                    "Subset": {},
                    "ConnectTimeout": timeout,
                    "SNI": sni,
                    "Name": sni,
                }
            },
        }


def _defaults(kind: str) -> dict[str, Any]:
    """The empty structs Consul's JSON always carries for a kind."""
    if kind in ("service-defaults", "proxy-defaults"):
        return {"TransparentProxy": {}, "MeshGateway": {}, "Expose": {}}
    return {}


def _go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String``."""
    from ._operator_modern import _format_duration

    return _format_duration(seconds)


def trust_domain(peers: Any) -> str:
    """The cluster's SPIFFE trust domain: ``<cluster ID>.consul`` (the ID made on first use)."""
    if peers.cluster_id is None:
        peers.cluster_id = peers.core.new_uuid()
    return f"{peers.cluster_id}.consul"
