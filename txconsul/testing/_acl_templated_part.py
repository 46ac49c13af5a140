# -*- test-case-name: tests.test_api_modern_templated -*-
"""
The ACL templated policy endpoints: ``/v1/acl/templated-policies``,
``/v1/acl/templated-policy/name/:name`` and
``/v1/acl/templated-policy/preview/:name`` (agent/acl_endpoint.go), over the
builtin templates of :mod:`txconsul.testing._acl_templated`.
"""

from __future__ import annotations

from typing import Any

from ._acl_store import hash_fields
from ._acl_templated import TEMPLATES, VARIABLES, render, response, synthetic_id, validate_variables
from ._authz import require
from ._core import FakeRequest, HTTPError, Reply, Route
from ._gojson import decode_body

__all__ = ["TemplatedPolicyPart"]


class TemplatedPolicyPart:
    """The three read-only templated policy endpoints (``acl:read``)."""

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers

    def routes(self) -> list[Route]:
        """The templated policy routes; with ACLs disabled each answers 401."""
        return [
            Route("/v1/acl/templated-policies", ("GET",), self._list),
            Route("/v1/acl/templated-policy/name/", ("GET",), self._read),
            Route("/v1/acl/templated-policy/preview/", ("POST",), self._preview),
        ]

    def _start(self, req: FakeRequest) -> None:
        # agent/acl_endpoint.go: checkACLDisabled, then ACLReadAllowed.
        if not self._peers.acl.enabled:
            raise HTTPError(401, "ACL support disabled")
        require(req, "acl", "", "read")

    def _name(self, req: FakeRequest) -> str:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing templated policy Name")
        return name

    def _list(self, req: FakeRequest) -> Reply:
        self._start(req)
        return Reply({name: response(name) for name in sorted(TEMPLATES)})

    def _read(self, req: FakeRequest) -> Reply:
        self._start(req)
        name = self._name(req)
        if name not in TEMPLATES:
            raise HTTPError(400, f"Invalid templated policy Name: {name}")
        return Reply(response(name))

    def _preview(self, req: FakeRequest) -> Reply:
        self._start(req)
        name = self._name(req)
        variables = (
            decode_body(VARIABLES, req.body, prefix="Failed to decode request body: ")
            if req.body.strip()
            else {}
        )
        if name not in TEMPLATES:
            raise HTTPError(400, f"Invalid templated policy Name: {name}")
        reason = validate_variables(name, variables if isinstance(variables, dict) else {})
        if reason is not None:
            raise HTTPError(400, f"validation error for templated policy: {name}: {reason}")
        rules = render(name, variables)
        pid = synthetic_id(rules)
        policy_name = f"synthetic-policy-{pid}"
        description = f"synthetic policy generated from templated policy: {name}"
        return Reply(
            {
                "ID": pid,
                "Name": policy_name,
                "Description": description,
                "Rules": rules,
                "Hash": hash_fields(policy_name, description, rules),
                "CreateIndex": 0,
                "ModifyIndex": 0,
            }
        )
