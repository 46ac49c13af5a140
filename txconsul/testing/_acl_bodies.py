# -*- test-case-name: tests.test_fake_acl_fidelity -*-
"""
The request bodies of the ACL endpoints as Consul's Go structs, decoded as
``lib.DecodeJSON`` does (``encoding/json`` with unknown fields refused):
field names match case-insensitively and a value of the wrong JSON type is
a 400 ``<What> decoding failed: json: cannot unmarshal ...``.

Shapes follow agent/structs/acl.go (``ACLToken``, ``ACLPolicy``,
``ACLRole`` and their links and identities; each has an ``UnmarshalJSON``
over an anonymous ``aux`` struct, so errors name the field as
``.Description``).  Consul 1.10's ``ACLToken`` also had the legacy ``Type``
and ``Rules`` fields.
"""

from __future__ import annotations

from typing import Any

from ._acl_templated import TEMPLATED_POLICIES
from ._core import FakeRequest, HTTPError
from ._gojson import Bool, Duration, Field, GoJSONError, List, Ptr, String, Struct, Uint, decode

__all__ = ["BOOTSTRAP", "POLICY", "ROLE", "decode_acl_body", "token_shape"]


def _link(name: str) -> Struct:
    return Struct(name, [Field("ID", String()), Field("Name", String())], type_str=f"structs.{name}")


_SERVICE_IDENTITIES = List(
    Ptr(
        Struct(
            "ACLServiceIdentity",
            [Field("ServiceName", String()), Field("Datacenters", List(String()))],
            type_str="structs.ACLServiceIdentity",
        )
    ),
    type_str="structs.ACLServiceIdentities",
)
_NODE_IDENTITIES = List(
    Ptr(
        Struct(
            "ACLNodeIdentity",
            [Field("NodeName", String()), Field("Datacenter", String())],
            type_str="structs.ACLNodeIdentity",
        )
    ),
    type_str="structs.ACLNodeIdentities",
)
_RAFT_INDEX = [Field("CreateIndex", Uint()), Field("ModifyIndex", Uint())]
#: ACLTemplatedPolicies (1.17+).
_TEMPLATED_POLICIES = TEMPLATED_POLICIES


def token_shape(legacy: bool) -> Struct:
    """``structs.ACLToken`` as its ``UnmarshalJSON`` decodes it (``legacy``: Consul 1.10's)."""
    fields = [
        Field("AccessorID", String()),
        Field("SecretID", String()),
        Field("Description", String()),
        Field("Policies", List(_link("ACLTokenPolicyLink"))),
        Field("Roles", List(_link("ACLTokenRoleLink"))),
        Field("ServiceIdentities", _SERVICE_IDENTITIES),
        Field("NodeIdentities", _NODE_IDENTITIES),
        Field("Local", Bool()),
        Field("AuthMethod", String()),
        # *time.Time: a JSON string parsed as RFC 3339 after decoding.
        Field("ExpirationTime", Ptr(String("time.Time"))),
        # aux ExpirationTTL interface{}: "10m" or nanoseconds.
        Field("ExpirationTTL", Duration()),
        Field("CreateTime", String("time.Time")),
        Field("Hash", String()),
        *_RAFT_INDEX,
    ]
    if legacy:
        fields += [Field("Type", String()), Field("Rules", String())]
    else:
        fields.append(Field("TemplatedPolicies", _TEMPLATED_POLICIES))
    return Struct("", fields, type_str="structs.ACLToken", custom=True)


#: ``structs.ACLPolicy``.
POLICY = Struct(
    "",
    [
        Field("ID", String()),
        Field("Name", String()),
        Field("Description", String()),
        Field("Rules", String()),
        Field("Datacenters", List(String())),
        Field("Hash", String()),
        *_RAFT_INDEX,
    ],
    type_str="structs.ACLPolicy",
    custom=True,
)

#: ``structs.ACLRole``.
ROLE = Struct(
    "",
    [
        Field("ID", String()),
        Field("Name", String()),
        Field("Description", String()),
        Field("Policies", List(_link("ACLRolePolicyLink"))),
        Field("ServiceIdentities", _SERVICE_IDENTITIES),
        Field("NodeIdentities", _NODE_IDENTITIES),
        Field("TemplatedPolicies", _TEMPLATED_POLICIES),
        Field("Hash", String()),
        *_RAFT_INDEX,
    ],
    type_str="structs.ACLRole",
    custom=True,
)

#: api.BootstrapRequest (agent/acl_endpoint.go ``ACLBootstrap``).
BOOTSTRAP = Struct("BootstrapRequest", [Field("BootstrapSecret", String())], type_str="api.BootstrapRequest")


def decode_acl_body(req: FakeRequest, shape: Struct, what: str) -> dict[str, Any]:
    """
    Decode ``req``'s body into ``shape`` or answer 400 ``<what> decoding
    failed: <Go's error>``.  An empty body is ``EOF``, as ``lib.DecodeJSON``
    finds it; an unknown ``Namespace`` is reworded as Consul CE does
    (agent/http_ce.go ``rewordUnknownEnterpriseFieldError``).
    """
    prefix = f"{what} decoding failed: "
    try:
        value = decode(shape, req.body)
    except GoJSONError as e:
        text = e.text
        if text == 'json: unknown field "Namespace"':
            text += " - Namespaces are a Consul Enterprise feature"
        raise HTTPError(400, prefix + text)
    except HTTPError as e:
        # decode_json_like_go's syntax errors: "Request decode failed: <err>"
        raise HTTPError(400, prefix + e.text.split(": ", 1)[-1])
    if not isinstance(value, dict):
        return {}
    return value
