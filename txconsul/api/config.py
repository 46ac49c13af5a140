# -*- test-case-name: tests.test_api_modern_config -*-
"""
Config entries (``/v1/config``) and compiled discovery chains
(``/v1/discovery-chain/``), as py-consul's ``consul.config`` and
``consul.discovery_chain``.

``Consul.config`` is also where the client's resolved connection settings
have always been: the group answers every other attribute (``base_url``,
``verify``, ``address``...) from those settings, so both uses keep working.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .._duration import DurationLike
from .._http import ConsulResponse, HTTPTransport, Param
from ._base import Endpoint, Request, check_cas, check_str, decode_bool, decode_json, endpoint, path_segment
from .agent_modern import data_or_meta

__all__ = ["ConfigEntries", "DiscoveryChain"]


def _true(response: ConsulResponse) -> bool:
    """``True`` for any 2xx answer (a plain delete answers ``{}``)."""
    return True


class ConfigEntries(Endpoint):
    """
    Config entries of every kind (``service-defaults``, ``proxy-defaults``,
    ``service-router``/``-splitter``/``-resolver``, ``ingress-gateway``,
    ``terminating-gateway``, ``service-intentions``, ``mesh``,
    ``exported-services``...).  The body of each kind is Consul's; the
    ACL each needs depends on the kind (``service:write`` on the name for
    service kinds, ``mesh:write`` or ``operator:write`` for global ones).

    :param settings: the client's resolved connection settings
        (:class:`txconsul._config.ClientConfig`), answered for any other
        attribute.
    """

    def __init__(self, transport: HTTPTransport, settings: Any = None) -> None:
        super().__init__(transport)
        self._settings = settings

    @property
    def settings(self) -> Any:
        """The client's resolved connection settings."""
        return self._settings

    def __getattr__(self, name: str) -> Any:
        # Only reached for names the group lacks: the resolved settings.
        if name.startswith("__") or name == "_settings":
            raise AttributeError(name)
        return getattr(self._settings, name)

    def __repr__(self) -> str:
        return repr(self._settings)

    @endpoint
    def set(
        self,
        kind: str,
        name: str,
        config_entry: Optional[Mapping[str, Any]] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        cas: Optional[int] = None,
    ) -> Request:
        """
        Create or replace the ``kind`` entry ``name`` with the fields of
        ``config_entry`` (``Kind`` and ``Name`` are set from the arguments).

        :param cas: write only if the entry's ``ModifyIndex`` is still this
            (0: only if it does not exist yet).
        :returns: a Deferred firing ``True``, or ``False`` when ``cas``
            did not match.
        """
        kind = check_str(kind, "kind")
        name = check_str(name, "name")
        if config_entry is not None and not isinstance(config_entry, Mapping):
            raise TypeError(f"config_entry must be a dict, not {type(config_entry).__name__}")
        body = dict(config_entry or {})
        body["Kind"] = kind
        body["Name"] = name
        raw_cas = check_cas(cas)
        params: list[Param] = [("cas", raw_cas)] if raw_cas is not None else []
        return Request("PUT", "/v1/config", params, json_body=body, decode=decode_bool)

    @endpoint
    def get(
        self,
        kind: str,
        name: str,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The ``kind`` entry ``name`` (with ``CreateIndex`` and
        ``ModifyIndex``); a missing entry fails with :class:`~txconsul.NotFound`.

        Blocking: pass ``index`` and ``meta=True`` to get ``(QueryMeta,
        entry)``; ``.index`` feeds the next call.
        """
        path = "/v1/config/" + path_segment(kind, "kind") + "/" + path_segment(name, "name")
        return Request("GET", path, decode=data_or_meta(decode_json, meta))

    @endpoint
    def list(
        self,
        kind: str,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        filter_expr: Optional[str] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        Every entry of ``kind`` the token may read, by name.

        Blocking: pass ``index`` and ``meta=True`` to get ``(QueryMeta,
        entries)``; it answers when an entry of the kind changes.
        """
        params: list[Param] = []
        if filter_expr is not None:
            params.append(("filter", check_str(filter_expr, "filter_expr")))
        return Request(
            "GET", "/v1/config/" + path_segment(kind, "kind"), params, decode=data_or_meta(decode_json, meta)
        )

    @endpoint
    def delete(
        self,
        kind: str,
        name: str,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        cas: Optional[int] = None,
    ) -> Request:
        """
        Delete the ``kind`` entry ``name``; fires ``True`` (also when it
        did not exist).  With ``cas``, fires whether it was deleted: only if
        its ``ModifyIndex`` is still ``cas``.
        """
        path = "/v1/config/" + path_segment(kind, "kind") + "/" + path_segment(name, "name")
        raw_cas = check_cas(cas)
        if raw_cas is not None:
            return Request("DELETE", path, [("cas", raw_cas)], decode=decode_bool)
        # Consul answers a plain delete with ``{}`` (agent/config_endpoint.go configDelete).
        return Request("DELETE", path, decode=_true)


class DiscoveryChain(Endpoint):
    """Compiled discovery chains, as py-consul's ``consul.discovery_chain``."""

    @endpoint
    def get(
        self,
        service: str,
        compile_dc: Optional[str] = None,
        token: Optional[str] = None,
        override_connect_timeout: Optional[str] = None,
        override_protocol: Optional[str] = None,
        override_mesh_gateway_mode: Optional[str] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        meta: bool = False,
    ) -> Request:
        """
        The compiled discovery chain of ``service``: ``{'Chain':
        {'ServiceName', 'Protocol', 'StartNode', 'Nodes', 'Targets', ...}}``.
        Needs ``service:read``.  With an override it is sent as a ``POST``
        carrying the overrides, as Consul documents.

        Blocking: pass ``index`` and ``meta=True`` to get ``(QueryMeta, data)``.
        """
        path = "/v1/discovery-chain/" + path_segment(service, "service")
        params: list[Param] = []
        if compile_dc is not None:
            params.append(("compile-dc", check_str(compile_dc, "compile_dc")))
        overrides: dict[str, Any] = {}
        if override_connect_timeout is not None:
            overrides["OverrideConnectTimeout"] = check_str(
                override_connect_timeout, "override_connect_timeout"
            )
        if override_protocol is not None:
            overrides["OverrideProtocol"] = check_str(override_protocol, "override_protocol")
        if override_mesh_gateway_mode is not None:
            overrides["OverrideMeshGateway"] = {
                "Mode": check_str(override_mesh_gateway_mode, "override_mesh_gateway_mode")
            }
        decode = data_or_meta(decode_json, meta)
        if not overrides:
            return Request("GET", path, params, decode=decode)
        if index is not None or wait is not None:
            raise ValueError("a discovery chain read with overrides cannot block")
        return Request("POST", path, params, json_body=overrides, decode=decode)
