# -*- test-case-name: tests.test_query -*-
"""
FakeConsul's prepared queries: ``/v1/query`` and ``/v1/query/:id``,
``/execute`` and ``/explain``.

Follows agent/prepared_query_endpoint.go, agent/consul/prepared_query_endpoint.go
and agent/consul/state/prepared_query.go: names are unique (case-insensitive)
and may not alias an ID, an unnamed query must be bound to a session or be a
template, a query bound to a session goes away with it, templates
(``name_prefix_match``) resolve by longest name prefix and interpolate
``${name.full}``, ``${name.prefix}``, ``${name.suffix}``, ``${match(N)}`` and
``${agent.segment}`` in the ``Service`` strings.  Execution reads the health
view of the catalog: without ``OnlyPassing`` an instance with a critical
check is dropped, with it any non-passing check drops it; ``Tags`` must all
be present and ``!tag`` ones absent.  With a single datacenter there is
nothing to fail over to, so ``Failovers`` is always 0.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Callable, Optional

from ._authz import check_resolved, require, resolve
from ._acl import ACLSystem
from ._catalog import CatalogPart, node_service_json
from ._session import SessionPart
from ._core import (
    FakeCore,
    FakeRequest,
    HTTPError,
    Reply,
    Route,
    parse_go_duration,
    parse_query_options,
    permission_denied,
)
from ._gojson import decode_body
from ._shapes import PREPARED_QUERY

REDACTED = "<hidden>"
TEMPLATE_TYPE = "name_prefix_match"
NOT_FOUND = "Query not found"

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_INTERP = re.compile(r"\$\{([^}]*)\}")
_MATCH = re.compile(r"^match\(\s*(-?\d+)\s*\)$")


def is_uuid(text: str) -> bool:
    """Whether ``text`` looks like a UUID (as Consul's ``isUUID``)."""
    return bool(_UUID.match(text))


def _field(obj: dict[str, Any], name: str) -> Any:
    """Go's JSON decoding matches keys case-insensitively (python-consul sends lower case)."""
    if name in obj:
        return obj[name]
    low = name.lower()
    for key, value in obj.items():
        if isinstance(key, str) and key.lower() == low:
            return value
    return None


def _decode_error(what: str, want: str) -> HTTPError:
    return HTTPError(
        400, f"Request decode failed: json: cannot unmarshal {what} into Go value of type {want}"
    )


def _as_str(obj: dict[str, Any], name: str) -> str:
    value = _field(obj, name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _decode_error(type(value).__name__, "string")
    return value


def _as_bool(obj: dict[str, Any], name: str) -> bool:
    value = _field(obj, name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _decode_error(type(value).__name__, "bool")
    return value


def _as_int(obj: dict[str, Any], name: str) -> int:
    value = _field(obj, name)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise _decode_error(type(value).__name__, "int")
    return int(value)


def _as_list(obj: dict[str, Any], name: str) -> Optional[list[str]]:
    value = _field(obj, name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _decode_error(type(value).__name__, "[]string")
    return list(value)


def _as_map(obj: dict[str, Any], name: str) -> Optional[dict[str, str]]:
    value = _field(obj, name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise _decode_error(type(value).__name__, "map[string]string")
    return dict(value)


def _as_obj(obj: dict[str, Any], name: str) -> dict[str, Any]:
    value = _field(obj, name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _decode_error(type(value).__name__, "struct")
    return value


def normalize(body: Any) -> dict[str, Any]:
    """
    A request body as the full ``structs.PreparedQuery`` Consul stores,
    with Go's zero values for what is missing.  Raises a 400 HTTPError
    for a body that does not decode.
    """
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise _decode_error(type(body).__name__, "structs.PreparedQuery")
    svc = _as_obj(body, "Service")
    failover = _as_obj(svc, "Failover")
    template = _as_obj(body, "Template")
    dns = _as_obj(body, "DNS")
    return {
        "ID": _as_str(body, "ID"),
        "Name": _as_str(body, "Name"),
        "Session": _as_str(body, "Session"),
        "Token": _as_str(body, "Token"),
        "Template": {
            "Type": _as_str(template, "Type"),
            "Regexp": _as_str(template, "Regexp"),
            "RemoveEmptyTags": _as_bool(template, "RemoveEmptyTags"),
        },
        "Service": {
            "Service": _as_str(svc, "Service"),
            "Failover": {
                "NearestN": _as_int(failover, "NearestN"),
                "Datacenters": _as_list(failover, "Datacenters"),
            },
            "OnlyPassing": _as_bool(svc, "OnlyPassing"),
            "IgnoreCheckIDs": _as_list(svc, "IgnoreCheckIDs"),
            "Near": _as_str(svc, "Near"),
            "Tags": _as_list(svc, "Tags"),
            "NodeMeta": _as_map(svc, "NodeMeta"),
            "ServiceMeta": _as_map(svc, "ServiceMeta"),
            "Connect": _as_bool(svc, "Connect"),
        },
        "DNS": {"TTL": _as_str(dns, "TTL")},
        "CreateIndex": 0,
        "ModifyIndex": 0,
    }


def consistency_level(req: FakeRequest) -> str:
    """``QueryOptions.ConsistencyLevel()`` for the request's flags."""
    if req.has("consistent"):
        return "consistent"
    if req.has("stale"):
        return "stale"
    return "leader"


def read_headers(req: FakeRequest) -> dict[str, str]:
    """
    The prepared query read handlers set ``reply.ConsistencyLevel`` before
    ``setMeta`` runs, so every read (list, get, execute, explain) carries
    ``X-Consul-Effective-Consistency`` (agent/prepared_query_endpoint.go).
    """
    return {"X-Consul-Effective-Consistency": consistency_level(req)}


def query_meta(req: FakeRequest) -> dict[str, Any]:
    """
    The ``structs.QueryMeta`` fields that ``PreparedQueryExecuteResponse``
    and ``PreparedQueryExplainResponse`` embed without a JSON tag, so Go
    marshals them into the body (Consul 1.10 set).  Execute and Explain are
    not blocking queries: ``setQueryMeta`` sets only ``KnownLeader`` and
    ``LastContact``, so ``Index`` stays 0 (the header says 1).
    """
    return {
        "Index": 0,
        "LastContact": 0,
        "KnownLeader": True,
        "ConsistencyLevel": consistency_level(req),
        "NotModified": False,
        "Backend": 0,
    }


def acl_prefix(query: dict[str, Any]) -> Optional[str]:
    """The name ACLs apply to (Consul's ``GetACLPrefix``), or ``None``."""
    if query["Name"] or query["Template"]["Type"]:
        return query["Name"]
    return None


def validate(query: dict[str, Any]) -> None:
    """Consul's ``parseQuery``: raise the 500 it answers for a bad definition."""

    def bad(text: str) -> HTTPError:
        return HTTPError(500, f"Invalid prepared query: {text}")

    if not query["Name"] and not query["Template"]["Type"] and not query["Session"]:
        raise bad("Must be bound to a session")
    if query["Token"] == REDACTED:
        raise bad(
            f"Bad Token '{REDACTED}', it looks like a query definition with a redacted token was submitted"
        )
    svc = query["Service"]
    if not svc["Service"]:
        raise bad("Must provide a Service name to query")
    nearest = svc["Failover"]["NearestN"]
    if nearest < 0:
        raise bad(f"Bad NearestN '{nearest}', must be >= 0")
    ttl = query["DNS"]["TTL"]
    if ttl:
        try:
            seconds = parse_go_duration(ttl)
        except ValueError:
            raise bad(f"Bad DNS TTL '{ttl}': time: invalid duration \"{ttl}\"")
        if seconds < 0:
            raise bad(f"DNS TTL '{int(seconds * 1e9)}', must be >=0")


class _Template:
    """A compiled ``name_prefix_match`` template."""

    def __init__(self, query: dict[str, Any]) -> None:
        self.query = query
        if query["Template"]["Type"] != TEMPLATE_TYPE:
            raise HTTPError(
                500, f"failed compiling template: Bad Template.Type '{query['Template']['Type']}'"
            )
        self.regexp = None
        pattern = query["Template"]["Regexp"]
        if pattern:
            try:
                self.regexp = re.compile(pattern)
            except re.error as e:
                raise HTTPError(500, f"failed compiling template: Bad Regexp: error parsing regexp: {e}")
            except RecursionError:
                raise HTTPError(
                    500,
                    f"failed compiling template: Bad Regexp: error parsing regexp: "
                    f"expression nests too deeply: `{pattern}`",
                )
        # A test render with the bare prefix catches bad interpolations.
        self.render(query["Name"], prefix="failed compiling template: ")

    def render(self, name: str, prefix: str = "") -> dict[str, Any]:
        """The query with every ``Service`` string interpolated for ``name``."""
        query = copy.deepcopy(self.query)
        matches: list[str] = []
        if self.regexp is not None:
            m = self.regexp.search(name)
            if m is not None:
                matches = [m.group(0)] + [g or "" for g in m.groups()]
        variables = {
            "name.full": name,
            "name.prefix": query["Name"],
            "name.suffix": name[len(query["Name"]) :] if name.startswith(query["Name"]) else name,
            "agent.segment": "",
        }

        def interpolate(text: str, path: str) -> str:
            def one(m: "re.Match[str]") -> str:
                expr = m.group(1).strip()
                if expr in variables:
                    return variables[expr]
                mm = _MATCH.match(expr)
                if mm:
                    i = int(mm.group(1))
                    return matches[i] if 0 <= i < len(matches) else ""
                raise HTTPError(
                    500,
                    f"{prefix}Bad evaluation for '{text}' in Service{path}: "
                    f"unknown variable accessed: {expr}",
                )

            return _INTERP.sub(one, text)

        svc = query["Service"]
        for key in ("Service", "Near"):
            svc[key] = interpolate(svc[key], "." + key)
        for key in ("Tags", "IgnoreCheckIDs"):
            if svc[key] is not None:
                svc[key] = [interpolate(v, f".{key}[{i}]") for i, v in enumerate(svc[key])]
        if svc["Failover"]["Datacenters"] is not None:
            svc["Failover"]["Datacenters"] = [
                interpolate(v, f".Failover.Datacenters[{i}]")
                for i, v in enumerate(svc["Failover"]["Datacenters"])
            ]
        for key in ("NodeMeta", "ServiceMeta"):
            if svc[key] is not None:
                svc[key] = {k: interpolate(v, f".{key}[{k}]") for k, v in svc[key].items()}
        if query["Template"]["RemoveEmptyTags"] and svc["Tags"] is not None:
            svc["Tags"] = [t for t in svc["Tags"] if t]
        return query


class QueryPart:
    """
    The prepared query table of a FakeConsul.

    :ivar queries: query ID -> the stored definition.
    :ivar table_index: the index of the last change to the table.
    """

    def __init__(self, core: FakeCore, acl: ACLSystem, catalog: CatalogPart, sessions: SessionPart) -> None:
        self.core = core
        self.acl = acl
        self.catalog = catalog
        self.sessions = sessions
        sessions.listeners.append(self)
        self.queries: dict[str, dict[str, Any]] = {}
        self._templates: dict[str, _Template] = {}
        self.table_index = 0

    def routes(self) -> list[Route]:
        """``/v1/query`` (list, create) and ``/v1/query/`` (the rest)."""
        return [
            Route("/v1/query", ("GET", "POST"), self._general),
            Route("/v1/query/", ("GET", "PUT", "DELETE"), self._specific),
        ]

    # -- sessions -----------------------------------------------------------

    def session_destroyed(self, session: dict[str, Any], idx: int) -> None:
        """A session went: the queries bound to it go too."""
        self.session_invalidated(session["ID"], idx)

    def session_invalidated(self, session_id: str, index: Optional[int] = None) -> None:
        """Delete the queries bound to a session that went away."""
        doomed = [qid for qid, q in self.queries.items() if q["Session"] == session_id]
        for qid in doomed:
            self._remove(qid)
        if doomed:
            self.table_index = index if index is not None else self.core.index

    def _purge(self) -> None:
        """Drop queries whose session no longer exists (if nobody told us)."""
        gone = {
            q["Session"]
            for q in self.queries.values()
            if q["Session"] and self.sessions.get(q["Session"]) is None
        }
        for sid in gone:
            self.session_invalidated(sid)

    def _remove(self, qid: str) -> None:
        self.queries.pop(qid, None)
        self._templates.pop(qid, None)

    # -- state --------------------------------------------------------------

    def _by_name(self, name: str) -> Optional[dict[str, Any]]:
        low = name.lower()
        for q in self.queries.values():
            if q["Name"] and q["Name"].lower() == low:
                return q
        return None

    def store(self, query: dict[str, Any]) -> str:
        """
        Insert or replace ``query`` (its ``ID`` set) after the state store's
        integrity checks; returns the ID.  Raises HTTPError.
        """
        core = self.core
        qid = query["ID"]
        existing = self.queries.get(qid)
        name = query["Name"]
        if name:
            other = self._by_name(name)
            if other is not None and (existing is None or other["ID"] != qid):
                raise HTTPError(500, f"name '{name}' aliases an existing query name")
        elif query["Template"]["Type"]:
            for other in self.queries.values():
                if other["Template"]["Type"] and not other["Name"] and other["ID"] != qid:
                    raise HTTPError(500, "a query template with an empty name already exists")
        if is_uuid(name) and name.lower() in (k.lower() for k in self.queries):
            raise HTTPError(500, f"name '{name}' aliases an existing query ID")
        session = query["Session"]
        if session and self.sessions.get(session) is None:
            raise HTTPError(500, f'invalid session "{session}"')
        template = _Template(query) if query["Template"]["Type"] else None
        idx = core.next_index()
        query["CreateIndex"] = existing["CreateIndex"] if existing else idx
        query["ModifyIndex"] = idx
        self.queries[qid] = query
        if template is not None:
            self._templates[qid] = template
        else:
            self._templates.pop(qid, None)
        self.table_index = idx
        return qid

    def resolve(self, id_or_name: str) -> Optional[dict[str, Any]]:
        """
        Consul's ``PreparedQueryResolve``: by ID, then exact name, then the
        longest template prefix (rendered).  ``None`` when nothing matches.
        """
        if not id_or_name:
            raise HTTPError(500, "Missing query ID")
        if is_uuid(id_or_name):
            for qid, q in self.queries.items():
                if qid.lower() == id_or_name.lower():
                    if q["Template"]["Type"]:
                        raise HTTPError(
                            500, "prepared query templates can only be resolved up by name, not by ID"
                        )
                    return q
        named = self._by_name(id_or_name)
        if named is None:
            best: Optional[_Template] = None
            low = id_or_name.lower()
            for t in self._templates.values():
                prefix = t.query["Name"].lower()
                if low.startswith(prefix) and (best is None or len(prefix) > len(best.query["Name"])):
                    best = t
            if best is None:
                return None
            return best.render(id_or_name)
        template = self._templates.get(named["ID"])
        if template is not None:
            return template.render(id_or_name)
        return named

    # -- ACL helpers --------------------------------------------------------

    @staticmethod
    def _readable(authz: Any, query: dict[str, Any]) -> bool:
        if authz.allowed("acl", "", "write"):
            return True
        prefix = acl_prefix(query)
        return prefix is not None and authz.allowed("query", prefix, "read")

    @staticmethod
    def _show(authz: Any, query: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(query)
        if shown["Token"] and not authz.allowed("acl", "", "write"):
            shown["Token"] = REDACTED
        return shown

    # -- handlers -------------------------------------------------------------

    def _general(self, req: FakeRequest) -> Any:
        self._purge()
        if req.method == "POST":
            return self._create(req)
        return self._list(req)

    def _create(self, req: FakeRequest) -> Reply:
        # prepared_query_endpoint.go: decodeBody into structs.PreparedQuery;
        # Go's types are checked first (unknown fields are let through here,
        # see docs/fidelity.md).
        decode_body(PREPARED_QUERY, req.body, strict=False)
        query = normalize(req.json())
        if query["ID"]:
            raise HTTPError(500, "ID must be empty when creating a new prepared query")
        # PreparedQuery.Apply resolves the token before any ACL decision.
        resolve(req)
        prefix = acl_prefix(query)
        if prefix is not None:
            require(req, "query", prefix, "write")
        validate(query)
        while True:
            query["ID"] = self.core.new_uuid()
            if query["ID"] not in self.queries:
                break
        return Reply({"ID": self.store(query)})

    def _list(self, req: FakeRequest) -> Any:
        authz = req.authz
        # s.parse, then PreparedQuery.List's filterACL resolves the token
        # even when there is nothing to filter.
        parse_query_options(req)
        check_resolved(authz)

        def compute() -> tuple[int, Reply]:
            self._purge()
            out = [
                self._show(authz, q)
                for q in sorted(self.queries.values(), key=lambda q: q["ID"])
                if self._readable(authz, q)
            ]
            headers = read_headers(req)
            if req.token and len(out) != len(self.queries):
                headers["X-Consul-Results-Filtered-By-ACLs"] = "true"
            return self.table_index, Reply(out, index=self.table_index, headers=headers)

        return self.core.blocking(req, compute)

    def _specific(self, req: FakeRequest) -> Any:
        self._purge()
        tail = req.tail
        for suffix, handler in (("/execute", self._execute), ("/explain", self._explain)):
            if req.path.endswith(suffix):
                if req.method != "GET":
                    raise HTTPError(405, f"method {req.method} not allowed", {"Allow": "OPTIONS,GET"})
                return handler(req, tail[: -len(suffix)])
        if req.method == "GET":
            return self._get(req, tail)
        if req.method == "PUT":
            return self._update(req, tail)
        return self._delete(req, tail)

    def _existing(self, req: FakeRequest, qid: str) -> dict[str, Any]:
        existing = self.queries.get(qid)
        if existing is None:
            raise HTTPError(500, f"Cannot modify non-existent prepared query: '{qid}'")
        prefix = acl_prefix(existing)
        if prefix is not None:
            require(req, "query", prefix, "write")
        return existing

    def _update(self, req: FakeRequest, qid: str) -> Reply:
        # prepared_query_endpoint.go: decodeBody into structs.PreparedQuery;
        # Go's types are checked first (unknown fields are let through here,
        # see docs/fidelity.md).
        decode_body(PREPARED_QUERY, req.body, strict=False)
        query = normalize(req.json())
        query["ID"] = qid
        resolve(req)
        prefix = acl_prefix(query)
        if prefix is not None:
            require(req, "query", prefix, "write")
        self._existing(req, qid)
        validate(query)
        self.store(query)
        return Reply(b"", json=False)

    def _delete(self, req: FakeRequest, qid: str) -> Reply:
        resolve(req)
        self._existing(req, qid)
        self._remove(qid)
        self.table_index = self.core.next_index()
        return Reply(b"", json=False)

    def _get(self, req: FakeRequest, qid: str) -> Any:
        authz = req.authz

        def compute() -> tuple[int, Reply]:
            self._purge()
            query = self.queries.get(qid)
            index = self.table_index
            if query is None:
                return index, Reply(NOT_FOUND, status=404, json=False, index=index)
            # Both filterACL paths of PreparedQuery.Get resolve the token.
            check_resolved(authz)
            if acl_prefix(query) is not None and not self._readable(authz, query):
                return index, Reply("Permission denied", status=403, json=False)
            return index, Reply([self._show(authz, query)], index=index, headers=read_headers(req))

        return self.core.blocking(req, compute)

    def _resolve_readable(self, req: FakeRequest, id_or_name: str) -> dict[str, Any]:
        query = self.resolve(id_or_name)
        if query is None:
            raise HTTPError(404, NOT_FOUND)
        return query

    def _explain(self, req: FakeRequest, id_or_name: str) -> Reply:
        # Explain parses ?limit too (agent/prepared_query_endpoint.go).
        self._parse_limit(req)
        query = self._resolve_readable(req, id_or_name)
        check_resolved(req.authz)
        if not self._readable(req.authz, query):
            raise permission_denied()
        body = {"Query": self._show(req.authz, query)}
        body.update(query_meta(req))
        return Reply(body, index=0, headers=read_headers(req))

    @staticmethod
    def _parse_limit(req: FakeRequest) -> int:
        """``s.parse`` then ``parseLimit``, as execute and explain both do."""
        parse_query_options(req)
        raw_limit = req.get("limit") or ""
        if not raw_limit:
            return 0
        try:
            return int(raw_limit, 10)
        except ValueError:
            raise HTTPError(500, f'Bad limit: strconv.Atoi: parsing "{raw_limit}": invalid syntax')

    def _execute(self, req: FakeRequest, id_or_name: str) -> Reply:
        limit = self._parse_limit(req)
        query = self._resolve_readable(req, id_or_name)
        authz = req.authz
        if query["Token"]:
            token_req = FakeRequest("GET", req.path, [], b"", {"x-consul-token": query["Token"]})
            authz = self.acl.authorizer(token_req)
        # filterACL on the nodes resolves the (query's or request's) token
        # even when no instance matched.
        check_resolved(authz)
        nodes = self.execute(query, authz.allowed)
        near = req.get("near") or query["Service"]["Near"]
        if near == "_agent":
            near = self.core.node_name
        if near:
            for i, entry in enumerate(nodes[:10]):
                if entry["Node"]["Node"] == near:
                    nodes.insert(0, nodes.pop(i))
                    break
        if limit > 0:
            nodes = nodes[:limit]
        body = {
            "Service": query["Service"]["Service"],
            "Nodes": nodes,
            "DNS": dict(query["DNS"]),
            "Datacenter": self.core.datacenter,
            "Failovers": 0,
        }
        body.update(query_meta(req))
        return Reply(body, index=0, headers=read_headers(req))

    def execute(
        self, query: dict[str, Any], allowed: Callable[[str, str, str], bool]
    ) -> list[dict[str, Any]]:
        """The health entries ``query`` selects, in node/service-ID order."""
        catalog = self.catalog
        svc = query["Service"]
        name = svc["Service"].lower()
        ignore = set(svc["IgnoreCheckIDs"] or [])
        must, must_not = [], []
        for tag in svc["Tags"] or []:
            tag = tag.lower()
            if tag.startswith("!"):
                must_not.append(tag[1:])
            else:
                must.append(tag)
        only_passing = svc["OnlyPassing"]

        def unhealthy(check: dict[str, Any]) -> bool:
            # structs.CheckServiceNodes.FilterIgnore
            if only_passing:
                return bool(check["Status"] != "passing")
            return bool(check["Status"] == "critical")

        out = []
        for (node_name, sid), service in sorted(catalog.services.items()):
            if service.get("Service", "").lower() != name:
                continue
            node = catalog.nodes.get(node_name)
            if node is None:
                continue
            if not (allowed("node", node_name, "read") and allowed("service", service["Service"], "read")):
                continue
            checks = [
                c
                for (cnode, _), c in sorted(catalog.checks.items())
                if cnode == node_name and c.get("ServiceID", "") in ("", sid)
            ]
            if any(unhealthy(c) for c in checks if c["CheckID"] not in ignore):
                continue
            tags = {t.lower() for t in service.get("Tags") or []}
            if any(t not in tags for t in must) or any(t in tags for t in must_not):
                continue
            node_meta = node.get("Meta") or {}
            if any(node_meta.get(k) != v for k, v in (svc["NodeMeta"] or {}).items()):
                continue
            service_meta = service.get("Meta") or {}
            if any(service_meta.get(k) != v for k, v in (svc["ServiceMeta"] or {}).items()):
                continue
            out.append(
                {
                    "Node": copy.deepcopy(node),
                    "Service": node_service_json(service),
                    "Checks": copy.deepcopy(checks),
                }
            )
        return out
