# -*- test-case-name: tests.test_api_modern_agent -*-
"""
FakeConsul's service-mesh reads of the catalog: ``/v1/catalog/connect/<svc>``,
``/v1/health/connect/<svc>``, ``/v1/health/ingress/<svc>`` and
``/v1/catalog/gateway-services/<gateway>``.

A service's Connect-capable instances are its sidecar proxies (``Kind``
``connect-proxy`` with ``Proxy.DestinationServiceName`` naming it), its
Connect-native instances (``Connect.Native``) and the terminating gateways
linked to it (agent/consul/state/catalog.go ``serviceNodesTxn`` /
``connectServiceNodes``).  Gateway links come from the ``ingress-gateway``
and ``terminating-gateway`` config entries (state/config_entry.go
``updateGatewayServices``).  The catalog keeps ``Kind``, ``Proxy`` and
``Connect`` where registration stores them.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from ._acl import require
from ._catalog import (
    _consistency_header,
    apply_filter,
    filter_non_passing,
    node_meta_filter,
    node_service_json,
    parse_bool,
    proxy_json,
)
from ._core import FakeRequest, HTTPError, Reply, Route



class MeshPart:
    """The Connect and gateway views of a FakeConsul's catalog."""

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers

    def routes(self) -> list[Route]:
        """The four mesh read routes."""
        return [
            Route("/v1/catalog/connect/", ("GET",), self._catalog_connect),
            Route("/v1/catalog/gateway-services/", ("GET",), self._gateway_services),
            Route("/v1/health/connect/", ("GET",), self._health_connect),
            Route("/v1/health/ingress/", ("GET",), self._health_ingress),
        ]

    # -- gateway links -----------------------------------------------------------

    def _entries_index(self) -> int:
        part = getattr(self._peers, "config_entries", None)
        return part.table_index if part is not None else 0

    def gateway_services(self) -> list[dict[str, Any]]:
        """Every gateway-service link, by gateway then service."""
        part = getattr(self._peers, "config_entries", None)
        if part is None:
            return []
        catalog = self._peers.catalog
        plain = sorted(
            {
                svc["Service"]
                for svc in catalog.services.values()
                if not svc.get("Kind") and svc["Service"] != "consul"
            }
        )
        out: list[dict[str, Any]] = []
        for entry in part.of_kind("ingress-gateway"):
            for listener in entry.get("Listeners") or []:
                protocol = listener.get("Protocol") or "tcp"
                for svc in listener.get("Services") or []:
                    names = plain if svc.get("Name") == "*" else [svc.get("Name") or ""]
                    for name in names:
                        link = {
                            "Gateway": {"Name": entry["Name"]},
                            "Service": {"Name": name},
                            "GatewayKind": "ingress-gateway",
                            "Port": listener.get("Port") or 0,
                            "Protocol": protocol,
                        }
                        if svc.get("Hosts"):
                            link["Hosts"] = list(svc["Hosts"])
                        if svc.get("Name") == "*":
                            link["FromWildcard"] = True
                        link["CreateIndex"] = entry["CreateIndex"]
                        link["ModifyIndex"] = entry["ModifyIndex"]
                        out.append(link)
        for entry in part.of_kind("terminating-gateway"):
            for svc in entry.get("Services") or []:
                names = plain if svc.get("Name") == "*" else [svc.get("Name") or ""]
                for name in names:
                    link = {
                        "Gateway": {"Name": entry["Name"]},
                        "Service": {"Name": name},
                        "GatewayKind": "terminating-gateway",
                    }
                    for field in ("CAFile", "CertFile", "KeyFile", "SNI"):
                        if svc.get(field):
                            link[field] = svc[field]
                    if svc.get("Name") == "*":
                        link["FromWildcard"] = True
                    link["CreateIndex"] = entry["CreateIndex"]
                    link["ModifyIndex"] = entry["ModifyIndex"]
                    out.append(link)
        return out

    # -- instances -----------------------------------------------------------------

    def _instances(
        self, req: FakeRequest, select: Callable[[dict[str, Any]], bool]
    ) -> list[tuple[str, dict[str, Any]]]:
        catalog = self._peers.catalog
        tags = req.getall("tag")
        meta_ok = node_meta_filter(req)
        out = []
        for (node, _sid), svc in sorted(catalog.services.items()):
            if node not in catalog.nodes or not select(svc):
                continue
            if not all(t in svc["Tags"] for t in tags) or not meta_ok(catalog.nodes[node]):
                continue
            if not (
                req.authz.allowed("node", node, "read")
                and req.authz.allowed("service", svc["Service"], "read")
            ):
                continue
            out.append((node, svc))
        return out

    def _connect_select(self, name: str) -> Callable[[dict[str, Any]], bool]:
        gateways = {
            link["Gateway"]["Name"]
            for link in self.gateway_services()
            if link["GatewayKind"] == "terminating-gateway" and link["Service"]["Name"] == name
        }

        def select(svc: dict[str, Any]) -> bool:
            kind = svc.get("Kind") or ""
            if kind == "connect-proxy":
                return bool((svc.get("Proxy") or {}).get("DestinationServiceName") == name)
            if kind == "terminating-gateway":
                return svc["Service"] in gateways
            return not kind and svc["Service"] == name and bool((svc.get("Connect") or {}).get("Native"))

        return select

    def _ingress_select(self, name: str) -> Callable[[dict[str, Any]], bool]:
        gateways = {
            link["Gateway"]["Name"]
            for link in self.gateway_services()
            if link["GatewayKind"] == "ingress-gateway" and link["Service"]["Name"] == name
        }
        return lambda svc: svc.get("Kind") == "ingress-gateway" and svc["Service"] in gateways

    def _service_node(self, node: str, svc: dict[str, Any]) -> dict[str, Any]:
        entry = self._peers.catalog.service_node(node, svc)
        entry["ServiceKind"] = svc.get("Kind") or ""
        entry["ServiceProxy"] = proxy_json(svc.get("Proxy"))
        entry["ServiceConnect"] = copy.deepcopy(svc.get("Connect") or {})
        return entry

    def _index(self, with_checks: bool = False) -> int:
        catalog = self._peers.catalog
        index = max(catalog.nodes_index, catalog.services_index, self._entries_index())
        if with_checks:
            index = max(index, catalog.checks_index)
        return max(index, 1)

    def _read(self, req: FakeRequest, index_of: Callable[[], int], body_of: Callable[[], Any]) -> Any:
        headers = _consistency_header(req)

        def compute() -> tuple[int, Reply]:
            index = index_of()
            return index, Reply(body_of(), index=index, headers=dict(headers))

        return self.core.blocking(req, compute)

    # -- handlers ----------------------------------------------------------------------

    def _catalog_connect(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing service name")
        # Catalog.ServiceNodes with Connect: service:read on the destination first.
        require(req, "service", name, "read")

        def body() -> Any:
            select = self._connect_select(name)
            items = [self._service_node(node, svc) for node, svc in self._instances(req, select)]
            return apply_filter(req, items)

        return self._read(req, self._index, body)

    def _check_service_nodes(
        self, req: FakeRequest, select: Callable[[dict[str, Any]], bool], passing: bool
    ) -> Any:
        catalog = self._peers.catalog
        out = []
        for node, svc in self._instances(req, select):
            checks = [
                dict(c)
                for (n, _), c in sorted(catalog.checks.items())
                if n == node and (c["ServiceID"] == "" or c["ServiceID"] == svc["ID"])
            ]
            out.append({"Node": dict(catalog.nodes[node]), "Service": node_service_json(svc), "Checks": checks})
        if passing:
            out = filter_non_passing(out)
        return apply_filter(req, out)

    def _passing(self, req: FakeRequest) -> bool:
        if not req.has("passing"):
            return False
        raw = req.get("passing") or ""
        value = True if raw == "" else parse_bool(raw)
        if value is None:
            raise HTTPError(400, "Invalid value for ?passing")
        return value

    def _health_connect(self, req: FakeRequest) -> Any:
        return self._health_read(req, self._connect_select)

    def _health_ingress(self, req: FakeRequest) -> Any:
        return self._health_read(req, self._ingress_select)

    def _health_read(self, req: FakeRequest, select: Callable[[str], Any]) -> Any:
        """``/v1/health/connect/`` or ``/ingress/``: the instances ``select(name)`` picks, with node and checks."""
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing service name")
        passing = self._passing(req)
        require(req, "service", name, "read")
        return self._read(
            req,
            lambda: self._index(True),
            lambda: self._check_service_nodes(req, select(name), passing),
        )

    def _gateway_services(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing gateway name")
        # Catalog.GatewayServices: service:read on the gateway, else 403.
        require(req, "service", name, "read")

        def body() -> Any:
            return [link for link in self.gateway_services() if link["Gateway"]["Name"] == name]

        return self._read(req, lambda: max(self._entries_index(), 1), body)
