# -*- test-case-name: tests.test_api_modern_agent -*-
"""
Service-mesh reads of the catalog, named after py-consul's and mixed into
:class:`~txconsul.api.catalog.Catalog` (``connect``, ``gateway_services``)
and :class:`~txconsul.api.health.Health` (``connect``, ``ingress``).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Optional

from .._duration import DurationLike
from .._http import Param
from ._base import Endpoint, Request, TagLike, decode_json, endpoint, path_segment, read, read_params
from ._cache import with_cache

__all__ = ["CatalogExtras", "HealthExtras", "catalog_service_read", "health_service_read"]


# A name path_segment would return unchanged (only unreserved characters):
# health reads skip the validation and escaping calls for it.
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.~-]+")


def catalog_service_read(kind: str, doc: str) -> Any:
    """
    The endpoint method ``Catalog.<kind>``: a read of
    ``/v1/catalog/<kind>/<service>`` (``service``, ``connect``), which take
    the same arguments and answer in the same shape; ``doc`` is its
    docstring.  The agent cache options (``cached``, ``max_age``,
    ``stale_if_error``) are applied by :func:`txconsul.api._cache.with_cache`.
    """

    def describer(
        self: Endpoint,
        service: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        tag: TagLike = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
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
        path = f"/v1/catalog/{kind}/" + path_segment(service, "service")
        return with_cache(
            read(path, params=read_params(tag=tag, near=near, node_meta=node_meta)),
            cached,
            max_age,
            stale_if_error,
            consistency,
        )

    describer.__name__ = kind
    describer.__qualname__ = f"Catalog.{kind}"
    describer.__doc__ = doc
    return endpoint(describer)


class CatalogExtras(Endpoint):
    """The catalog's Connect and gateway reads."""

    connect = catalog_service_read(
        "connect",
        """
        The Connect-capable instances of a service (its sidecar proxies,
        Connect-native instances and linked terminating gateways), with
        :meth:`txconsul.api.catalog.Catalog.service`'s arguments and shape: ``(index, [{'Node',
        'ServiceKind', 'ServiceProxy', ...}])``.
        """,
    )

    @endpoint
    def gateway_services(
        self,
        gateway: str,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The services an ingress or terminating gateway fronts, from its
        config entry: ``[{'Gateway', 'Service', 'GatewayKind', 'Port',
        'Protocol', 'Hosts', ...}]`` (py-consul's shape: the list alone).
        Needs ``service:read`` on the gateway.

        Blocking: pass ``index`` and ``meta=True`` to get ``(QueryMeta, list)``.
        """
        from .agent_modern import data_or_meta

        path = "/v1/catalog/gateway-services/" + path_segment(gateway, "gateway")
        return Request("GET", path, decode=data_or_meta(decode_json, meta))


def health_service_read(kind: str, doc: str) -> Any:
    """
    The endpoint method ``Health.<kind>``: a read of
    ``/v1/health/<kind>/<service>`` (``service``, ``connect``,
    ``ingress``), which take the same arguments and answer in the same
    shape; ``doc`` is its docstring.  (``Health.service`` is a hot path:
    plain names and calls without filters skip the general code.)  The
    agent cache options (``cached``, ``max_age``, ``stale_if_error``) are
    applied by :func:`txconsul.api._cache.with_cache`.
    """
    prefix = f"/v1/health/{kind}/"

    def describer(
        self: Endpoint,
        service: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        passing: Optional[bool] = None,
        tag: TagLike = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
        cached: bool = False,
        max_age: Optional[DurationLike] = None,
        stale_if_error: Optional[DurationLike] = None,
    ) -> Request:
        params: list[Param]
        if tag is None and near is None and node_meta is None:
            params = [("passing", "1")] if passing else []  # what read_params gives, without the call
        else:
            params = read_params(tag=tag, near=near, node_meta=node_meta, passing=passing)
        if cached or max_age is not None or stale_if_error is not None:
            return with_cache(
                read(prefix + path_segment(service, "service"), params=params),
                cached,
                max_age,
                stale_if_error,
                consistency,
            )
        if type(service) is str and _PLAIN_NAME.fullmatch(service):
            return read(prefix + service, params=params)
        return read(prefix + path_segment(service, "service"), params=params)

    describer.__name__ = kind
    describer.__qualname__ = f"Health.{kind}"
    describer.__doc__ = doc
    return endpoint(describer)


class HealthExtras(Endpoint):
    """Health's Connect and ingress reads."""

    connect = health_service_read(
        "connect",
        """
        The Connect-capable instances of a service with node and checks,
        with :meth:`txconsul.api.health.Health.service`'s arguments and shape.
        """,
    )

    ingress = health_service_read(
        "ingress",
        """
        The ingress gateway instances that expose ``service`` (by the
        ``ingress-gateway`` config entries), with :meth:`txconsul.api.health.Health.service`'s shape.
        """,
    )
