# -*- test-case-name: tests.test_api_modern_connect -*-
"""
Connect: the CA (``/v1/connect/ca/``) and intentions
(``/v1/connect/intentions``), as py-consul's ``consul.connect.ca`` and
``consul.connect.intentions``.  Intentions use the exact-match model of
Consul 1.9+ (by source and destination name), not the deprecated IDs.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from .._duration import DurationLike
from .._http import ConsulResponse, Param
from ._base import Endpoint, Request, check_str, decode_json, decode_true, endpoint
from .agent_modern import data_or_meta, decode_text

__all__ = ["ACTIONS", "MATCH_BY", "Connect", "ConnectCA", "Intentions"]

#: The ``by`` values :meth:`Intentions.match` accepts.
MATCH_BY = ("source", "destination")
#: The actions an L4 intention takes.
ACTIONS = ("allow", "deny")


class ConnectCA(Endpoint):
    """The Connect CA: ``consul.connect.ca``."""

    @endpoint
    def roots(
        self,
        pem: bool = False,
        token: Optional[str] = None,
        *,
        dc: Optional[str] = None,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The CA roots: ``{'ActiveRootID', 'TrustDomain', 'Roots': [...]}``,
        or with ``pem=True`` the root certificates as one PEM ``str``.
        Needs no ACL.

        Blocking: pass ``index`` and ``meta=True`` to get ``(QueryMeta, data)``.
        """
        params: list[Param] = [("pem", "true")] if pem else []
        decode = decode_text if pem else decode_json
        return Request("GET", "/v1/connect/ca/roots", params, decode=data_or_meta(decode, meta))

    @endpoint
    def configuration(self, token: Optional[str] = None, *, dc: Optional[str] = None) -> Request:
        """
        The CA provider configuration: ``{'Provider', 'Config', 'State',
        'ForceWithoutCrossSigning', 'CreateIndex', 'ModifyIndex'}``.  Needs
        ``operator:read``.
        """
        return Request("GET", "/v1/connect/ca/configuration")

    @endpoint
    def set_configuration(
        self,
        provider: str,
        config: Mapping[str, Any],
        token: Optional[str] = None,
        *,
        force_without_cross_signing: bool = False,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Replace the CA provider configuration (Go's ``CASetConfig``); fires
        ``True``.  Changing the key type or size rotates the root.  Needs
        ``operator:write``.
        """
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict, not {type(config).__name__}")
        body = {
            "Provider": check_str(provider, "provider"),
            "Config": dict(config),
            "ForceWithoutCrossSigning": bool(force_without_cross_signing),
        }
        return Request("PUT", "/v1/connect/ca/configuration", json_body=body, decode=decode_true)


def _pair(source: str, destination: str) -> list[Param]:
    return [("source", check_str(source, "source")), ("destination", check_str(destination, "destination"))]


def _allowed(response: ConsulResponse) -> bool:
    return bool(response.json()["Allowed"])


class Intentions(Endpoint):
    """Exact-match intentions: ``consul.connect.intentions``."""

    @endpoint
    def upsert(
        self,
        source: str,
        destination: str,
        token: Optional[str] = None,
        action: Optional[str] = None,
        source_type: str = "consul",
        description: str = "",
        meta: Optional[Mapping[str, str]] = None,
        permissions: Optional[Sequence[Mapping[str, Any]]] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Create or replace the intention from ``source`` to ``destination``
        (either may be ``'*'``); fires ``True``.  Give ``action``
        (``'allow'``/``'deny'``) or L7 ``permissions``, not both.  Needs
        ``intentions:write`` on the destination.
        """
        params = _pair(source, destination)
        if action is not None and action not in ACTIONS:
            raise ValueError(f"invalid action {action!r}: use 'allow' or 'deny'")
        if (action is None) == (not permissions):
            raise ValueError("give exactly one of action or permissions")
        body: dict[str, Any] = {"SourceType": check_str(source_type, "source_type")}
        if action:
            body["Action"] = action
        if description:
            body["Description"] = check_str(description, "description")
        if meta:
            body["Meta"] = dict(meta)
        if permissions:
            body["Permissions"] = [dict(p) for p in permissions]
        return Request("PUT", "/v1/connect/intentions/exact", params, json_body=body)

    @endpoint
    def read(
        self,
        source: str,
        destination: str,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        The intention from ``source`` to ``destination``: ``{'SourceName',
        'DestinationName', 'Action', 'Precedence', ...}``; a missing one
        fails with :class:`~txconsul.NotFound`.
        """
        return Request("GET", "/v1/connect/intentions/exact", _pair(source, destination))

    @endpoint
    def delete(
        self, source: str, destination: str, token: Optional[str] = None, dc: Optional[str] = None
    ) -> Request:
        """Delete the intention from ``source`` to ``destination``; fires ``True``."""
        return Request(
            "DELETE", "/v1/connect/intentions/exact", _pair(source, destination), decode=decode_true
        )

    @endpoint
    def list(
        self,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        filter_expr: Optional[str] = None,
        *,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        meta: bool = False,
    ) -> Request:
        """
        Every intention the token may read.  Blocking: pass ``index`` and
        ``meta=True`` to get ``(QueryMeta, intentions)``.
        """
        params: list[Param] = []
        if filter_expr is not None:
            params.append(("filter", check_str(filter_expr, "filter_expr")))
        return Request("GET", "/v1/connect/intentions", params, decode=data_or_meta(decode_json, meta))

    @endpoint
    def check(
        self,
        source: str,
        destination: str,
        token: Optional[str] = None,
        source_type: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """Whether the intentions allow ``source`` to connect to ``destination``."""
        params = _pair(source, destination)
        if source_type is not None:
            params.append(("source-type", check_str(source_type, "source_type")))
        return Request("GET", "/v1/connect/intentions/check", params, decode=_allowed)

    @endpoint
    def match(self, by: str, name: str, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """
        The intentions that apply to ``name`` as a ``by`` (``'source'`` or
        ``'destination'``), in evaluation order: ``{name: [intention, ...]}``.
        """
        if by not in MATCH_BY:
            raise ValueError(f"invalid by {by!r}: use 'source' or 'destination'")
        return Request("GET", "/v1/connect/intentions/match", [("by", by), ("name", check_str(name, "name"))])


class Connect(Endpoint):
    """Connect: ``consul.connect.ca`` and ``consul.connect.intentions``."""

    def __init__(self, transport: Any) -> None:
        super().__init__(transport)
        #: The CA (:class:`ConnectCA`).
        self.ca = ConnectCA(transport)
        #: Exact-match intentions (:class:`Intentions`).
        self.intentions = Intentions(transport)
