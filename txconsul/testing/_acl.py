# -*- test-case-name: tests.test_fake -*-
"""
FakeConsul's ACL system: who may do what.

With ACLs disabled (the default) every request is allowed and every
``/v1/acl/*`` endpoint answers 401 ``ACL support disabled``.
"""

from __future__ import annotations

from typing import Any, Optional

from ._core import FakeRequest, HTTPError, Route, permission_denied


class AllowAll:
    """The authorizer used while ACLs are disabled: everything is allowed."""

    def allowed(self, resource: str, name: str, access: str) -> bool:
        """``True``: ACLs are off."""
        return True

    def require(self, resource: str, name: str, access: str) -> None:
        """Never raises: ACLs are off."""


class ACLSystem:
    """
    The ACL part of a FakeConsul.

    :param master_token: enables ACLs with this management token.
    :param default_policy: ``'allow'`` or ``'deny'`` for anonymous requests.
    """

    def __init__(self, core: Any, master_token: Optional[str] = None, default_policy: str = "allow") -> None:
        if default_policy not in ("allow", "deny"):
            raise ValueError(f"invalid ACL default policy {default_policy!r}")
        self.core = core
        self.master_token = master_token
        self.enabled = master_token is not None
        self.default_policy = default_policy if self.enabled else "allow"

    def authorizer(self, req: FakeRequest) -> Any:
        """The authorizer for the token ``req`` carries."""
        return AllowAll()

    def routes(self) -> list[Route]:
        """``/v1/acl/*``: 401 while ACLs are disabled."""
        return [Route("/v1/acl/", ("GET", "PUT", "DELETE", "POST"), self._disabled)]

    def _disabled(self, req: FakeRequest) -> Any:
        raise HTTPError(401, "ACL support disabled")


def require(req: FakeRequest, resource: str, name: str, access: str) -> None:
    """Raise the 403 Consul answers unless ``req``'s token grants access."""
    if not req.authz.allowed(resource, name, access):
        raise permission_denied()
