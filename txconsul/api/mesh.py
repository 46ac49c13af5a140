# -*- test-case-name: tests.test_api_modern_agent -*-
"""
Service-mesh reads of the catalog, named after py-consul's and mixed into
:class:`~txconsul.api.catalog.Catalog` (``connect``, ``gateway_services``)
and :class:`~txconsul.api.health.Health` (``connect``, ``ingress``).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

from .._duration import DurationLike
from .._http import Param
from ._base import Endpoint, Request, check_str, decode_json, endpoint, path_segment, read

__all__ = ["CatalogExtras", "HealthExtras"]


def _params(
    tag: Union[str, Sequence[str], None],
    near: Optional[str],
    node_meta: Optional[Mapping[str, str]],
    passing: Optional[bool] = None,
) -> list[Param]:
    """Repeated ``tag``, ``near``, repeated ``node-meta=k:v`` and ``passing``."""
    params: list[Param] = []
    if tag is not None:
        tags = [tag] if isinstance(tag, (str, bytes)) else tag
        if not isinstance(tags, (list, tuple)):
            raise TypeError("tag must be a string or a list of strings")
        params.extend(("tag", check_str(t, "tag")) for t in tags)
    if near is not None:
        params.append(("near", check_str(near, "near")))
    if node_meta is not None:
        if not isinstance(node_meta, Mapping):
            raise TypeError(f"node_meta must be a dict, not {type(node_meta).__name__}")
        for k, v in node_meta.items():
            k, v = check_str(k, "node_meta key"), check_str(v, "node_meta value", allow_empty=True)
            if ":" in k:
                raise ValueError(f"invalid node_meta key {k!r}: must not contain ':'")
            params.append(("node-meta", f"{k}:{v}"))
    if passing:
        params.append(("passing", "1"))
    return params


class CatalogExtras(Endpoint):
    """The catalog's Connect and gateway reads."""


    @endpoint
    def connect(
        self,
        service: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        tag: Union[str, Sequence[str], None] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The Connect-capable instances of a service (its sidecar proxies,
        Connect-native instances and linked terminating gateways), with
        :meth:`txconsul.api.catalog.Catalog.service`'s arguments and shape: ``(index, [{'Node',
        'ServiceKind', 'ServiceProxy', ...}])``.
        """
        return read("/v1/catalog/connect/" + path_segment(service, "service"), params=_params(tag, near, node_meta))

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


class HealthExtras(Endpoint):
    """Health's Connect and ingress reads."""


    @endpoint
    def connect(
        self,
        service: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        passing: Optional[bool] = None,
        tag: Union[str, Sequence[str], None] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The Connect-capable instances of a service with node and checks,
        with :meth:`txconsul.api.health.Health.service`'s arguments and shape.
        """
        return read("/v1/health/connect/" + path_segment(service, "service"),
                    params=_params(tag, near, node_meta, passing))

    @endpoint
    def ingress(
        self,
        service: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        passing: Optional[bool] = None,
        tag: Union[str, Sequence[str], None] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The ingress gateway instances that expose ``service`` (by the
        ``ingress-gateway`` config entries), with :meth:`txconsul.api.health.Health.service`'s shape.
        """
        return read("/v1/health/ingress/" + path_segment(service, "service"),
                    params=_params(tag, near, node_meta, passing))
