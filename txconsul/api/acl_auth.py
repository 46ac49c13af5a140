# -*- test-case-name: tests.test_api_modern_acl_auth -*-
"""
ACL auth methods, binding rules, login and logout, as py-consul's
``consul.acl.auth_method``, ``consul.acl.binding_rule``, ``consul.acl.login``
and ``consul.acl.logout`` (mixed into :class:`~txconsul.api.acl.ACL` by
:class:`ACLAuthExtras`).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .._http import Param
from ._base import Endpoint, Request, check_str, decode_true, endpoint, path_segment

__all__ = ["BIND_TYPES", "ACLAuthExtras", "ACLAuthMethod", "ACLBindingRule"]

#: The bind types of a binding rule.
BIND_TYPES = ("service", "node", "role", "policy", "templated-policy")


def _method_body(
    name: str,
    method_type: str,
    display_name: str,
    description: str,
    config: Optional[Mapping[str, Any]],
    max_token_ttl: Optional[str],
    token_locality: Optional[str],
    token_name_format: Optional[str],
) -> dict[str, Any]:
    body: dict[str, Any] = {"Name": check_str(name, "name"), "Type": check_str(method_type, "method_type")}
    if display_name:
        body["DisplayName"] = check_str(display_name, "display_name")
    if description:
        body["Description"] = check_str(description, "description")
    if config is not None:
        if not isinstance(config, Mapping):
            raise TypeError(f"config must be a dict, not {type(config).__name__}")
        body["Config"] = dict(config)
    if max_token_ttl:
        body["MaxTokenTTL"] = check_str(max_token_ttl, "max_token_ttl")
    if token_locality:
        if token_locality not in ("local", "global"):
            raise ValueError(f"invalid token_locality {token_locality!r}: use 'local' or 'global'")
        body["TokenLocality"] = token_locality
    if token_name_format:
        body["TokenNameFormat"] = check_str(token_name_format, "token_name_format")
    return body


def _rule_body(
    auth_method: str,
    bind_type: str,
    bind_name: str,
    description: str,
    selector: str,
    bind_vars: Optional[Mapping[str, Any]],
) -> dict[str, Any]:
    if bind_type not in BIND_TYPES:
        raise ValueError(f"invalid bind_type {bind_type!r}: use one of {', '.join(BIND_TYPES)}")
    body: dict[str, Any] = {
        "AuthMethod": check_str(auth_method, "auth_method"),
        "BindType": bind_type,
        "BindName": check_str(bind_name, "bind_name", allow_empty=bind_type == "templated-policy"),
    }
    if description:
        body["Description"] = check_str(description, "description")
    if selector:
        body["Selector"] = check_str(selector, "selector")
    if bind_vars is not None:
        body["BindVars"] = dict(bind_vars)
    return body


class ACLAuthMethod(Endpoint):
    """Auth methods: ``consul.acl.auth_method`` (also ``auth_methods``).  Reads need ``acl:read``, writes ``acl:write``."""

    @endpoint
    def list(self, token: Optional[str] = None) -> Request:
        """Every auth method, without its ``Config``."""
        return Request("GET", "/v1/acl/auth-methods")

    @endpoint
    def read(self, name: str, token: Optional[str] = None) -> Request:
        """The auth method ``name``, with its ``Config``."""
        return Request("GET", "/v1/acl/auth-method/" + path_segment(name, "name"))

    @endpoint
    def delete(self, name: str, token: Optional[str] = None) -> Request:
        """Delete an auth method, its binding rules and the tokens it made; fires ``True``."""
        return Request("DELETE", "/v1/acl/auth-method/" + path_segment(name, "name"), decode=decode_true)

    @endpoint
    def create(
        self,
        name: str,
        method_type: str,
        token: Optional[str] = None,
        display_name: str = "",
        description: str = "",
        config: Optional[Mapping[str, Any]] = None,
        max_token_ttl: Optional[str] = None,
        token_locality: Optional[str] = None,
        token_name_format: Optional[str] = None,
    ) -> Request:
        """
        Create an auth method of ``method_type`` (``'jwt'``,
        ``'kubernetes'``, ``'oidc'``, ``'aws-iam'``) with its ``config``;
        fires with the stored method.
        """
        body = _method_body(
            name,
            method_type,
            display_name,
            description,
            config,
            max_token_ttl,
            token_locality,
            token_name_format,
        )
        return Request("PUT", "/v1/acl/auth-method", json_body=body)

    @endpoint
    def update(
        self,
        name: str,
        method_type: str,
        token: Optional[str] = None,
        display_name: str = "",
        description: str = "",
        config: Optional[Mapping[str, Any]] = None,
        max_token_ttl: Optional[str] = None,
        token_locality: Optional[str] = None,
        token_name_format: Optional[str] = None,
    ) -> Request:
        """Replace the auth method ``name`` (its type cannot change); fires with the stored method."""
        body = _method_body(
            name,
            method_type,
            display_name,
            description,
            config,
            max_token_ttl,
            token_locality,
            token_name_format,
        )
        return Request("PUT", "/v1/acl/auth-method/" + path_segment(name, "name"), json_body=body)


class ACLBindingRule(Endpoint):
    """Binding rules: ``consul.acl.binding_rule`` (also ``binding_rules``)."""

    @endpoint
    def list(self, auth_method: Optional[str] = None, token: Optional[str] = None) -> Request:
        """Every binding rule, or those of ``auth_method``."""
        params: list[Param] = [("authmethod", check_str(auth_method, "auth_method"))] if auth_method else []
        return Request("GET", "/v1/acl/binding-rules", params)

    @endpoint
    def read(self, binding_rule_id: str, token: Optional[str] = None) -> Request:
        """One binding rule."""
        return Request("GET", "/v1/acl/binding-rule/" + path_segment(binding_rule_id, "binding_rule_id"))

    @endpoint
    def delete(self, binding_rule_id: str, token: Optional[str] = None) -> Request:
        """Delete a binding rule; fires ``True``."""
        return Request(
            "DELETE",
            "/v1/acl/binding-rule/" + path_segment(binding_rule_id, "binding_rule_id"),
            decode=decode_true,
        )

    @endpoint
    def create(
        self,
        auth_method: str,
        bind_type: str,
        bind_name: str,
        token: Optional[str] = None,
        description: str = "",
        selector: str = "",
        bind_vars: Optional[Mapping[str, Any]] = None,
    ) -> Request:
        """
        Create a rule: logins through ``auth_method`` whose identity matches
        ``selector`` (``'value.role == admin'``, ``'"ops" in list.groups'``)
        get a ``bind_type`` (``'service'``, ``'node'``, ``'role'``,
        ``'policy'``, ``'templated-policy'``) named ``bind_name``
        (``'${value.name}'`` is filled in).  Fires with the rule and its ``ID``.
        """
        body = _rule_body(auth_method, bind_type, bind_name, description, selector, bind_vars)
        return Request("PUT", "/v1/acl/binding-rule", json_body=body)

    @endpoint
    def update(
        self,
        binding_rule_id: str,
        auth_method: str,
        bind_type: str,
        bind_name: str,
        token: Optional[str] = None,
        description: str = "",
        selector: str = "",
        bind_vars: Optional[Mapping[str, Any]] = None,
    ) -> Request:
        """Replace a binding rule (its auth method cannot change)."""
        body = _rule_body(auth_method, bind_type, bind_name, description, selector, bind_vars)
        body["ID"] = check_str(binding_rule_id, "binding_rule_id")
        return Request(
            "PUT", "/v1/acl/binding-rule/" + path_segment(binding_rule_id, "binding_rule_id"), json_body=body
        )


class ACLAuthExtras(Endpoint):
    """``login``, ``logout`` and the auth groups, mixed into :class:`~txconsul.api.acl.ACL`."""

    def _group(self, name: str, cls: type) -> Any:
        group = self.__dict__.get(name)
        if group is None:
            group = self.__dict__[name] = cls(self._transport)
        return group

    @property
    def auth_method(self) -> ACLAuthMethod:
        """Auth methods (:class:`ACLAuthMethod`)."""
        return self._group("_auth_method_group", ACLAuthMethod)

    auth_methods = auth_method

    @property
    def binding_rule(self) -> ACLBindingRule:
        """Binding rules (:class:`ACLBindingRule`)."""
        return self._group("_binding_rule_group", ACLBindingRule)

    binding_rules = binding_rule

    @endpoint
    def login(self, auth_method: str, bearer_token: str, meta: Optional[Mapping[str, str]] = None) -> Request:
        """
        Exchange ``bearer_token`` (a JWT, a Kubernetes service account
        token...) for a new ACL token through ``auth_method``; fires with the
        token (``AccessorID``, ``SecretID``, identities...).  Needs no token.
        """
        body: dict[str, Any] = {
            "AuthMethod": check_str(auth_method, "auth_method"),
            "BearerToken": check_str(bearer_token, "bearer_token"),
        }
        if meta:
            body["Meta"] = dict(meta)
        return Request("POST", "/v1/acl/login", json_body=body, shown_path="/v1/acl/login")

    def logout(self, token: str) -> Any:
        """Destroy a token that :meth:`login` made, using that token itself; fires ``True``."""
        return self._logout(check_str(token, "token"))

    @endpoint
    def _logout(self, token: Optional[str] = None) -> Request:
        return Request("POST", "/v1/acl/logout", decode=decode_true)
