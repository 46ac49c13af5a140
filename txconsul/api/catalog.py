# -*- test-case-name: tests.test_catalog -*-
"""
The catalog: ``/v1/catalog/``.

Reads are blocking-capable and fire with ``(index, data)``; writes fire with
Consul's ``True``/``False``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence
from .mesh import CatalogExtras, catalog_service_read

from .._duration import DurationLike
from ._base import (
    Endpoint,
    Request,
    TagLike,
    check_str,
    check_str_map,
    endpoint,
    path_segment,
    read,
    read_params,
)
from ._cache import with_cache

__all__ = ["Catalog", "TagLike", "read_params"]


def _dict_or_none(value: Any, what: str) -> Optional[dict[str, Any]]:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict, not {type(value).__name__}")
    return dict(value)


class Catalog(CatalogExtras, Endpoint):
    """The catalog of nodes, services and checks, as ``consul.catalog``."""

    def _body_dc(self, dc: Optional[str]) -> Optional[str]:
        """
        The datacenter a register/deregister body names: ``dc`` or the
        client's default.  Consul reads these writes' datacenter from the
        body's ``Datacenter`` only (a ``?dc=`` is ignored), so the client's
        ``dc`` must travel there, as python-consul sends it.
        """
        if dc is not None:
            return check_str(dc, "dc")
        default = self._transport.dc
        return None if default is None else check_str(default, "dc")

    @endpoint
    def register(
        self,
        node: str,
        address: str,
        service: Optional[Mapping[str, Any]] = None,
        check: Optional[Mapping[str, Any]] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        checks: Optional[Sequence[Mapping[str, Any]]] = None,
        tagged_addresses: Optional[Mapping[str, str]] = None,
        node_id: Optional[str] = None,
    ) -> Request:
        """
        Register or update a node, and optionally one service and checks,
        directly in the catalog.  Catalog registrations run no checks.

        :param service: ``{'Service': 'redis', 'ID': 'redis1', 'Tags': [...],
            'Port': 8000}``.
        :param check: ``{'CheckID': ..., 'Name': ..., 'Status': 'passing',
            'ServiceID': ...}`` (``Status`` defaults to critical).
        :param dc: the datacenter (default: the client's ``dc``, else the
            agent's), sent in the body as ``Datacenter`` (Consul ignores a
            ``?dc=`` on this endpoint).
        :param node_meta: the node's metadata (sent in the body as
            ``NodeMeta``).
        :param checks: several checks (keyword only).

        Fires with ``True``.
        """
        data: dict[str, Any] = {
            "Node": check_str(node, "node"),
            "Address": check_str(address, "address"),
        }
        target = self._body_dc(dc)
        if target is not None:
            data["Datacenter"] = target
        if node_id is not None:
            data["ID"] = check_str(node_id, "node_id")
        svc = _dict_or_none(service, "service")
        if svc is not None:
            data["Service"] = svc
        chk = _dict_or_none(check, "check")
        if chk is not None:
            data["Check"] = chk
        if checks is not None:
            if isinstance(checks, Mapping) or not isinstance(checks, (list, tuple)):
                raise TypeError("checks must be a list of dicts")
            data["Checks"] = [_dict_or_none(c, "each of checks") for c in checks]
        meta = check_str_map(node_meta, "node_meta")
        if meta is not None:
            data["NodeMeta"] = meta
        tagged = check_str_map(tagged_addresses, "tagged_addresses")
        if tagged is not None:
            data["TaggedAddresses"] = tagged
        return Request("PUT", "/v1/catalog/register", json_body=data)

    @endpoint
    def deregister(
        self,
        node: str,
        service_id: Optional[str] = None,
        check_id: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
    ) -> Request:
        """
        Remove a node (with its services and checks), or only one of its
        services (``service_id``) or checks (``check_id``), from the catalog;
        fires with ``True`` (also for an unknown node).

        ``dc`` (default: the client's) is sent in the body as ``Datacenter``,
        as for :meth:`register`.

        :raises ValueError: for both ``service_id`` and ``check_id``
            (python-consul uses ``assert``).
        """
        if service_id is not None and check_id is not None:
            raise ValueError("give service_id or check_id, not both")
        data: dict[str, Any] = {"Node": check_str(node, "node")}
        target = self._body_dc(dc)
        if target is not None:
            data["Datacenter"] = target
        if service_id is not None:
            data["ServiceID"] = check_str(service_id, "service_id")
        if check_id is not None:
            data["CheckID"] = check_str(check_id, "check_id")
        return Request("PUT", "/v1/catalog/deregister", json_body=data)

    @endpoint
    def datacenters(self, token: Optional[str] = None) -> Request:
        """The known datacenters, nearest first."""
        return Request("GET", "/v1/catalog/datacenters", use_dc=False)

    @endpoint
    def nodes(
        self,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        Every node: ``(index, [{'Node', 'Address', 'ID', 'Meta', ...}])``.

        :param near: sort by round trip time from this node (``'_agent'``).
        :param node_meta: only nodes with all these metadata pairs.
        :param filter: a Consul filter expression.
        :param meta: fire with ``(QueryMeta, data)``.
        """
        return read("/v1/catalog/nodes", params=read_params(near=near, node_meta=node_meta))

    @endpoint
    def services(
        self,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        meta: bool = False,
        cached: bool = False,
        max_age: Optional[DurationLike] = None,
        stale_if_error: Optional[DurationLike] = None,
    ) -> Request:
        """
        Every service name with the tags seen on it: ``(index, {'web': ['v1'], ...})``.

        :param cached: answer from the agent cache (``?cached``); with
            ``max_age``/``stale_if_error`` as ``Cache-Control``.  See
            :func:`txconsul.api._cache.with_cache`.
        """
        return with_cache(
            read("/v1/catalog/services", params=read_params(node_meta=node_meta)),
            cached,
            max_age,
            stale_if_error,
            consistency,
        )

    @endpoint
    def node(
        self,
        node: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        One node and its services: ``(index, {'Node': {...}, 'Services':
        {service_id: {...}}})``, or ``(index, None)`` for an unknown node.
        """
        return read("/v1/catalog/node/" + path_segment(node, "node"))

    @endpoint
    def node_services(
        self,
        node: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        One node and its services as a list (``GET
        /v1/catalog/node-services/:node``): ``(index, {'Node': {...},
        'Services': [{...}, ...]})``.  For an unknown node Consul answers
        ``{'Node': None, 'Services': None}`` (not an error).  Blocking-capable,
        like :meth:`node`; not in python-consul.

        :param filter: a Consul filter expression over the services.
        """
        return read("/v1/catalog/node-services/" + path_segment(node, "node"))

    service = catalog_service_read(
        "service",
        """
        The instances of a service: ``(index, [{'Node', 'Address',
        'ServiceID', 'ServiceName', 'ServiceTags', 'ServicePort', ...}])``;
        ``[]`` for an unknown service.

        :param tag: a tag or a list of tags; an instance must have all.
        :param cached: answer from the agent cache (``?cached``); with
            ``max_age``/``stale_if_error`` as ``Cache-Control``.
        """,
    )
