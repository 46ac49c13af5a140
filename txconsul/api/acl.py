# -*- test-case-name: tests.test_acl -*-
"""
ACLs: ``/v1/acl/*``, both generations.

* The legacy API (Consul 0.x–1.10; removed in 1.11), with python-consul's
  names and return shapes: ``acl.list()``, ``acl.info(acl_id)``,
  ``acl.create(...)``, ``acl.update(acl_id, ...)``, ``acl.clone(acl_id)``,
  ``acl.destroy(acl_id)``.  A legacy ACL ID *is* a secret, so it is never
  shown in an exception message or ``path``: they show ``<acl-id>``.
* The current API (Consul 1.4+) in sub-groups: ``acl.token``,
  ``acl.policy``, ``acl.role``, plus ``acl.bootstrap()``.  Blocking-capable
  reads fire with ``(index, data)`` like every txconsul read; writes fire
  with the object Consul answers (a dict) or ``True`` for deletes.

A read of a token or policy that does not exist fails with
:class:`~txconsul.ACLPermissionDenied` (``ACL not found``) on Consul
1.4–1.14 and FakeConsul, and with :class:`~txconsul.NotFound` on 1.15+; a
missing role is :class:`~txconsul.NotFound` on every version.

Consul *replaces* a token, policy or role on update: a field left out of an
update (``rules=None``, ``policies=None``...) is cleared, as the legacy
``update`` clears rules it is not given.
"""

from __future__ import annotations

import json
import re
from .acl_auth import ACLAuthExtras
from .acl_templated import ACLTemplatedPolicy, templated_policies as check_templated
from typing import Any, Iterable, Optional, Union

from .._duration import DurationLike, format_duration, parse_duration
from .._http import ConsulResponse, HTTPTransport, Param
from ._base import Endpoint, Request, check_str, decode_true, endpoint, path_segment, read

__all__ = [
    "ACL",
    "ACLPolicy",
    "ACLRole",
    "ACLToken",
    "ACL_TYPES",
    "encode_rules",
    "links",
    "node_identities",
    "service_identities",
]

ACL_TYPES = ("client", "management")

_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

RulesLike = Union[str, dict[str, Any]]
LinksLike = Iterable[Union[str, dict[str, Any]]]


def encode_rules(rules: Any, what: str = "rules") -> str:
    """
    Rules as Consul's ``Rules`` string: an HCL/JSON string as is, a dict as
    JSON (Consul's rule parser reads JSON).

    :raises TypeError: for any other type.
    """
    if isinstance(rules, bytes):
        rules = rules.decode("utf-8")
    if isinstance(rules, str):
        return rules
    if isinstance(rules, dict):
        return json.dumps(rules)
    raise TypeError(f"{what} must be an HCL/JSON string or a dict, not {type(rules).__name__}")


def _optional_str(value: Any, what: str) -> Optional[str]:
    if value is None:
        return None
    return check_str(value, what, allow_empty=True)


def links(items: Any, what: str) -> list[dict[str, str]]:
    """
    Policy or role links: each item a UUID string (linked by ``ID``),
    another string (linked by ``Name``), or a dict with ``ID`` or ``Name``.

    :raises TypeError: for a single string or a non-iterable.
    :raises ValueError: for a dict with neither ``ID`` nor ``Name``.
    """
    if isinstance(items, (str, bytes, dict)):
        raise TypeError(f"{what} must be a list of IDs, names or dicts, not a single {type(items).__name__}")
    try:
        values = list(items)
    except TypeError:
        raise TypeError(f"{what} must be a list of IDs, names or dicts, not {type(items).__name__}")
    out: list[dict[str, str]] = []
    for item in values:
        if isinstance(item, dict):
            link = {k: check_str(item[k], f"{what} {k}") for k in ("ID", "Name") if item.get(k)}
            if not link:
                raise ValueError(f"{what} entries given as dicts need an 'ID' or a 'Name'")
            out.append(link)
        else:
            text = check_str(item, f"{what} entry")
            out.append({"ID": text} if _UUID_RE.match(text) else {"Name": text})
    return out


def service_identities(items: Any) -> list[dict[str, Any]]:
    """
    Service identities: service names, or dicts with ``ServiceName`` (and
    optional ``Datacenters``).
    """
    if isinstance(items, (str, bytes, dict)):
        raise TypeError("service_identities must be a list of service names or dicts")
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            if not item.get("ServiceName"):
                raise ValueError("service_identities entries given as dicts need a 'ServiceName'")
            entry = dict(item)
            entry["ServiceName"] = check_str(entry["ServiceName"], "service_identities ServiceName")
            out.append(entry)
        else:
            out.append({"ServiceName": check_str(item, "service_identities entry")})
    return out


def node_identities(items: Any) -> list[dict[str, Any]]:
    """Node identities: ``(node_name, datacenter)`` pairs or dicts with ``NodeName`` and ``Datacenter``."""
    if isinstance(items, (str, bytes, dict)):
        raise TypeError("node_identities must be a list of (node, datacenter) pairs or dicts")
    out: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            if not item.get("NodeName") or not item.get("Datacenter"):
                raise ValueError("node_identities entries given as dicts need 'NodeName' and 'Datacenter'")
            out.append(
                {
                    "NodeName": check_str(item["NodeName"], "node_identities NodeName"),
                    "Datacenter": check_str(item["Datacenter"], "node_identities Datacenter"),
                }
            )
        else:
            if isinstance(item, (str, bytes)):
                raise TypeError(
                    "node_identities entries must be (node, datacenter) pairs or dicts, not strings"
                )
            try:
                node, dc = item
            except (TypeError, ValueError):
                raise TypeError("node_identities entries must be (node, datacenter) pairs or dicts")
            out.append(
                {
                    "NodeName": check_str(node, "node_identities node"),
                    "Datacenter": check_str(dc, "node_identities datacenter"),
                }
            )
    return out


def _datacenters(value: Any) -> list[str]:
    if isinstance(value, (str, bytes)):
        raise TypeError("datacenters must be a list of datacenter names, not a single string")
    return [check_str(dc, "datacenters entry") for dc in value]


def _one_or_none(response: ConsulResponse) -> Optional[dict[str, Any]]:
    """The first element of a JSON list, or ``None`` for ``[]``/``null``."""
    data = response.json()
    if not data:
        return None
    return data[0]


def _field_id(response: ConsulResponse) -> str:
    return response.json()["ID"]


def _secret(method: str, prefix: str, acl_id: Any, decode: Any) -> Request:
    """A legacy request whose path holds an ACL ID, a secret: errors show ``<acl-id>``."""
    path = prefix + path_segment(acl_id, "acl_id")
    return Request(method, path, decode=decode, shown_path=prefix + "<acl-id>")


class ACLToken(Endpoint):
    """Tokens (Consul 1.4+), as ``consul.acl.token``."""

    @endpoint
    def create(
        self,
        description: Optional[str] = None,
        policies: Optional[LinksLike] = None,
        roles: Optional[LinksLike] = None,
        service_identities: Optional[Iterable[Any]] = None,
        node_identities: Optional[Iterable[Any]] = None,
        local: bool = False,
        expiration_ttl: Optional[DurationLike] = None,
        accessor_id: Optional[str] = None,
        secret_id: Optional[str] = None,
        *,
        expiration_time: Optional[str] = None,
        templated_policies: Optional[Iterable[Any]] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Create a token; fires with the token dict (``AccessorID``,
        ``SecretID``, ``Description``, ``Policies``...).

        :param policies: policy IDs, names or ``{'ID'|'Name': ...}`` dicts.
        :param roles: role IDs, names or dicts, likewise.
        :param service_identities: service names or ``{'ServiceName',
            'Datacenters'}`` dicts.
        :param node_identities: ``(node, datacenter)`` pairs or dicts.
        :param expiration_ttl: how long the token lives (``'1h'`` or seconds).
        :param expiration_time: an RFC 3339 expiry (exclusive with the TTL).
        :param accessor_id: choose the AccessorID (a UUID; Consul 1.5+).
        :param secret_id: choose the SecretID (a UUID; Consul 1.5+).
        :param templated_policies: builtin templated policies (Consul
            1.17+; keyword only): names, ``(name, variable)`` pairs such as
            ``('builtin/service', 'web')``, or Consul's dicts.
        """
        body = self._body(description, policies, roles, service_identities, node_identities, local, secret_id)
        if templated_policies is not None:
            body["TemplatedPolicies"] = check_templated(templated_policies)
        if accessor_id is not None:
            body["AccessorID"] = check_str(accessor_id, "accessor_id")
        if expiration_ttl is not None:
            if expiration_time is not None:
                raise ValueError("give expiration_ttl or expiration_time, not both")
            seconds = parse_duration(expiration_ttl, "expiration_ttl")
            if seconds <= 0:
                raise ValueError(f"invalid expiration_ttl {expiration_ttl!r}: must be > 0")
            body["ExpirationTTL"] = format_duration(seconds)
        if expiration_time is not None:
            body["ExpirationTime"] = check_str(expiration_time, "expiration_time")
        return Request("PUT", "/v1/acl/token", json_body=body)

    @staticmethod
    def _body(
        description: Any,
        policies: Any,
        roles: Any,
        services: Any,
        nodes: Any,
        local: Any,
        secret_id: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {}
        desc = _optional_str(description, "description")
        if desc is not None:
            body["Description"] = desc
        if policies is not None:
            body["Policies"] = links(policies, "policies")
        if roles is not None:
            body["Roles"] = links(roles, "roles")
        if services is not None:
            body["ServiceIdentities"] = service_identities(services)
        if nodes is not None:
            body["NodeIdentities"] = node_identities(nodes)
        if local is not None:
            if not isinstance(local, bool):
                raise TypeError(f"local must be a bool, not {type(local).__name__}")
            body["Local"] = local
        if secret_id is not None:
            body["SecretID"] = check_str(secret_id, "secret_id")
        return body

    @endpoint
    def read(
        self,
        accessor_id: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """
        Read a token by AccessorID; fires with ``(index, token)``.  Without
        ``acl:write`` the ``SecretID`` reads ``'<hidden>'``.
        """
        path = "/v1/acl/token/" + path_segment(accessor_id, "accessor_id")
        return read(path)

    @endpoint
    def read_self(
        self,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """Read the token the request carries (``token`` or the client's); fires with ``(index, token)``."""
        return read("/v1/acl/token/self")

    @endpoint
    def update(
        self,
        accessor_id: str,
        description: Optional[str] = None,
        policies: Optional[LinksLike] = None,
        roles: Optional[LinksLike] = None,
        service_identities: Optional[Iterable[Any]] = None,
        node_identities: Optional[Iterable[Any]] = None,
        local: Optional[bool] = None,
        *,
        secret_id: Optional[str] = None,
        templated_policies: Optional[Iterable[Any]] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Replace a token's description, links and identities; fires with the
        token dict.  Consul clears what is not given; ``local`` must match
        the token's (pass ``local=True`` for a local token).
        ``templated_policies`` as for :meth:`create`.
        """
        path = "/v1/acl/token/" + path_segment(accessor_id, "accessor_id")
        body = self._body(description, policies, roles, service_identities, node_identities, local, secret_id)
        if templated_policies is not None:
            body["TemplatedPolicies"] = check_templated(templated_policies)
        body["AccessorID"] = check_str(accessor_id, "accessor_id")
        return Request("PUT", path, json_body=body)

    @endpoint
    def clone(
        self,
        accessor_id: str,
        description: Optional[str] = None,
        *,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """Copy a token's links under new IDs; fires with the new token dict."""
        path = "/v1/acl/token/" + path_segment(accessor_id, "accessor_id") + "/clone"
        body: dict[str, Any] = {}
        desc = _optional_str(description, "description")
        if desc:
            body["Description"] = desc
        return Request("PUT", path, json_body=body)

    @endpoint
    def delete(self, accessor_id: str, *, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """Delete a token; fires with ``True`` (also when it did not exist)."""
        path = "/v1/acl/token/" + path_segment(accessor_id, "accessor_id")
        return Request("DELETE", path, decode=decode_true)

    @endpoint
    def list(
        self,
        policy: Optional[str] = None,
        role: Optional[str] = None,
        authmethod: Optional[str] = None,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """
        List tokens (without secrets unless the caller has ``acl:write``);
        fires with ``(index, tokens)``.

        :param policy: only tokens linked to this policy ID.
        :param role: only tokens linked to this role ID.
        :param authmethod: only tokens created by this auth method.
        """
        params: list[Param] = []
        if policy is not None:
            params.append(("policy", check_str(policy, "policy")))
        if role is not None:
            params.append(("role", check_str(role, "role")))
        if authmethod is not None:
            params.append(("authmethod", check_str(authmethod, "authmethod")))
        return read("/v1/acl/tokens", params=params)


class ACLPolicy(Endpoint):
    """Policies (Consul 1.4+), as ``consul.acl.policy``."""

    @staticmethod
    def _body(name: Any, rules: Any, description: Any, datacenters: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"Name": check_str(name, "name")}
        if description is not None:
            body["Description"] = check_str(description, "description", allow_empty=True)
        if rules is not None:
            body["Rules"] = encode_rules(rules)
        if datacenters is not None:
            body["Datacenters"] = _datacenters(datacenters)
        return body

    @endpoint
    def create(
        self,
        name: str,
        rules: Optional[RulesLike] = None,
        description: Optional[str] = None,
        datacenters: Optional[Iterable[str]] = None,
        *,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Create a policy; fires with the policy dict (``ID``, ``Name``,
        ``Rules``...).  ``rules`` is an HCL/JSON string or a dict (sent as
        JSON).
        """
        body = self._body(name, rules, description, datacenters)
        return Request("PUT", "/v1/acl/policy", json_body=body)

    @endpoint
    def read(
        self,
        policy_id: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """Read a policy by ID; fires with ``(index, policy)``."""
        path = "/v1/acl/policy/" + path_segment(policy_id, "policy_id")
        return read(path)

    @endpoint
    def read_by_name(
        self,
        name: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """Read a policy by name (Consul 1.8+); fires with ``(index, policy)``."""
        path = "/v1/acl/policy/name/" + path_segment(name, "name")
        return read(path)

    @endpoint
    def update(
        self,
        policy_id: str,
        name: str,
        rules: Optional[RulesLike] = None,
        description: Optional[str] = None,
        datacenters: Optional[Iterable[str]] = None,
        *,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Replace a policy (Consul requires its name; rules not given are
        cleared); fires with the policy dict.
        """
        path = "/v1/acl/policy/" + path_segment(policy_id, "policy_id")
        body = self._body(name, rules, description, datacenters)
        body["ID"] = check_str(policy_id, "policy_id")
        return Request("PUT", path, json_body=body)

    @endpoint
    def delete(self, policy_id: str, *, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """Delete a policy; fires with ``True`` (also when it did not exist)."""
        path = "/v1/acl/policy/" + path_segment(policy_id, "policy_id")
        return Request("DELETE", path, decode=decode_true)

    @endpoint
    def list(
        self,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """List policies (without their rules); fires with ``(index, policies)``."""
        return read("/v1/acl/policies")


class ACLRole(Endpoint):
    """Roles (Consul 1.5+), as ``consul.acl.role``."""

    @staticmethod
    def _body(
        name: Any,
        description: Any,
        policies: Any,
        services: Any,
        nodes: Any,
        templated: Any = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"Name": check_str(name, "name")}
        if templated is not None:
            body["TemplatedPolicies"] = check_templated(templated)
        if description is not None:
            body["Description"] = check_str(description, "description", allow_empty=True)
        if policies is not None:
            body["Policies"] = links(policies, "policies")
        if services is not None:
            body["ServiceIdentities"] = service_identities(services)
        if nodes is not None:
            body["NodeIdentities"] = node_identities(nodes)
        return body

    @endpoint
    def create(
        self,
        name: str,
        description: Optional[str] = None,
        policies: Optional[LinksLike] = None,
        service_identities: Optional[Iterable[Any]] = None,
        node_identities: Optional[Iterable[Any]] = None,
        *,
        templated_policies: Optional[Iterable[Any]] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Create a role; fires with the role dict.  ``policies`` are IDs, names
        or dicts; ``templated_policies`` as for :meth:`ACLToken.create`.
        """
        body = self._body(
            name, description, policies, service_identities, node_identities, templated_policies
        )
        return Request("PUT", "/v1/acl/role", json_body=body)

    @endpoint
    def read(
        self,
        role_id: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """Read a role by ID; fires with ``(index, role)``."""
        path = "/v1/acl/role/" + path_segment(role_id, "role_id")
        return read(path)

    @endpoint
    def read_by_name(
        self,
        name: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """Read a role by name; fires with ``(index, role)``."""
        path = "/v1/acl/role/name/" + path_segment(name, "name")
        return read(path)

    @endpoint
    def update(
        self,
        role_id: str,
        name: str,
        description: Optional[str] = None,
        policies: Optional[LinksLike] = None,
        service_identities: Optional[Iterable[Any]] = None,
        node_identities: Optional[Iterable[Any]] = None,
        *,
        templated_policies: Optional[Iterable[Any]] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """Replace a role (links not given are cleared); fires with the role dict."""
        path = "/v1/acl/role/" + path_segment(role_id, "role_id")
        body = self._body(
            name, description, policies, service_identities, node_identities, templated_policies
        )
        body["ID"] = check_str(role_id, "role_id")
        return Request("PUT", path, json_body=body)

    @endpoint
    def delete(self, role_id: str, *, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """Delete a role; fires with ``True`` (also when it did not exist)."""
        path = "/v1/acl/role/" + path_segment(role_id, "role_id")
        return Request("DELETE", path, decode=decode_true)

    @endpoint
    def list(
        self,
        policy: Optional[str] = None,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        meta: bool = False,
    ) -> Request:
        """List roles (only those linked to policy ID ``policy`` if given); fires with ``(index, roles)``."""
        params: list[Param] = []
        if policy is not None:
            params.append(("policy", check_str(policy, "policy")))
        return read("/v1/acl/roles", params=params)


class ACL(ACLAuthExtras, Endpoint):
    """
    ACLs, as ``consul.acl``: python-consul's legacy methods plus the
    current API under :attr:`token`, :attr:`policy` and :attr:`role`.
    """

    def __init__(self, transport: HTTPTransport) -> None:
        super().__init__(transport)
        #: Tokens (:class:`ACLToken`).
        self.token = ACLToken(transport)
        #: Policies (:class:`ACLPolicy`).
        self.policy = ACLPolicy(transport)
        #: Roles (:class:`ACLRole`).
        self.role = ACLRole(transport)
        #: Templated policies (:class:`~txconsul.api.acl_templated.ACLTemplatedPolicy`; Consul 1.17+).
        self.templated_policy = self.templated_policies = ACLTemplatedPolicy(transport)

    # -- legacy API (python-consul) ---------------------------------------

    def _legacy_body(self, acl_id: Any, name: Any, type: Any, rules: Any) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if acl_id:
            body["ID"] = check_str(acl_id, "acl_id")
        if name:
            body["Name"] = check_str(name, "name")
        if type:
            if type not in ACL_TYPES:
                raise ValueError(f"invalid type {type!r}: must be 'client' or 'management'")
            body["Type"] = type
        if rules:
            body["Rules"] = encode_rules(rules)
        return body

    @endpoint
    def list(self, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """List the legacy ACLs (a management token is required); fires with a list of dicts."""
        return Request("GET", "/v1/acl/list")

    @endpoint
    def info(self, acl_id: str, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """The legacy ACL ``acl_id`` (``ID``, ``Name``, ``Type``, ``Rules``...), or ``None``."""
        return _secret("GET", "/v1/acl/info/", acl_id, _one_or_none)

    @endpoint
    def create(
        self,
        name: Optional[str] = None,
        type: str = "client",
        rules: Optional[RulesLike] = None,
        acl_id: Optional[str] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Create a legacy ACL token (a management token is required); fires
        with its ID.  ``rules`` is an HCL/JSON string or a dict (sent as
        JSON); ``type`` is ``'client'`` or ``'management'``.
        """
        body = self._legacy_body(acl_id, name, type, rules)
        return Request("PUT", "/v1/acl/create", json_body=body, decode=_field_id)

    @endpoint
    def update(
        self,
        acl_id: str,
        name: Optional[str] = None,
        type: Optional[str] = None,
        rules: Optional[RulesLike] = None,
        token: Optional[str] = None,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Replace the legacy ACL ``acl_id`` (Consul resets what is not given:
        type to ``client``, rules to none); fires with its ID.
        """
        body = self._legacy_body(acl_id, name, type, rules)
        if "ID" not in body:
            raise ValueError("acl_id must not be empty")
        return Request("PUT", "/v1/acl/update", json_body=body, decode=_field_id)

    @endpoint
    def clone(self, acl_id: str, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """Copy the legacy ACL ``acl_id``; fires with the new ID."""
        return _secret("PUT", "/v1/acl/clone/", acl_id, _field_id)

    @endpoint
    def destroy(self, acl_id: str, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """Destroy the legacy ACL ``acl_id``; fires with ``True``."""
        return _secret("PUT", "/v1/acl/destroy/", acl_id, decode_true)

    # -- current API ----------------------------------------------------------

    @endpoint
    def bootstrap(self, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """
        Create the first management token (once per cluster); fires with the
        token dict plus the legacy ``ID`` (= ``SecretID``).
        """
        return Request("PUT", "/v1/acl/bootstrap")

    @endpoint
    def replication(self, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """The ACL replication status of the datacenter."""
        return Request("GET", "/v1/acl/replication")
