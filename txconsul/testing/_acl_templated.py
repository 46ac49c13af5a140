# -*- test-case-name: tests.test_api_modern_templated -*-
"""
ACL templated policies: the builtin templates of the advertised Consul, and
the validation and rendering the token and role endpoints use for
``TemplatedPolicies`` (the endpoints are in ``_acl_templated_part``).

The templates, IDs and descriptions follow hashicorp/consul
``agent/structs/acl_templated_policy.go`` and
``agent/structs/acltemplatedpolicy/policies/ce/*.hcl`` (the line the fake
advertises: service, node, dns, nomad-server, api-gateway and nomad-client;
the workload-identity template of 1.17-1.18 is gone).  Rendering fills
``{{.Name}}`` only, the one variable the builtin templates use.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from ._authz import Rules, parse_rules
from ._core import HTTPError
from ._gojson import Field, List, Ptr, String, Struct

#: The identities schema of the service, node and api-gateway templates
#: (``acltemplatedpolicy/schemas/*.json``, as the HTTP API shows it).
_NAME_SCHEMA = (
    '{\n\t"type": "object",\n\t"properties": {\n\t\t"name": { "type": "string", "$ref": "#/definitions/min-length-one" }\n'
    '\t},\n\t"required": ["name"],\n\t"definitions": {\n\t\t"min-length-one": {\n\t\t\t\t"type": "string",\n'
    '\t\t\t\t"minLength": 1\n\t\t}\n\t}\n}'
)

#: name -> (TemplateID, Schema, Template, Description).
TEMPLATES: dict[str, tuple[str, str, str, str]] = {
    "builtin/service": (
        "00000000-0000-0000-0000-000000000003",
        _NAME_SCHEMA,
        '\nservice "{{.Name}}" {\n\tpolicy = "write"\n}\nservice "{{.Name}}-sidecar-proxy" {\n\tpolicy = "write"\n}\n'
        'service_prefix "" {\n\tpolicy = "read"\n}\nnode_prefix "" {\n\tpolicy = "read"\n}',
        "Gives the token or role permissions to register a service and discover services in the Consul catalog. "
        "It also gives the specified service's sidecar proxy the permission to discover and route traffic to "
        "other services.",
    ),
    "builtin/node": (
        "00000000-0000-0000-0000-000000000004",
        _NAME_SCHEMA,
        '\nnode "{{.Name}}" {\n\tpolicy = "write"\n}\nservice_prefix "" {\n\tpolicy = "read"\n}',
        "Gives the token or role permissions for a register an agent/node into the catalog. A node is typically "
        "a consul agent but can also be a physical server, cloud instance or a container.",
    ),
    "builtin/dns": (
        "00000000-0000-0000-0000-000000000005",
        "",
        '\nnode_prefix "" {\n\tpolicy = "read"\n}\nservice_prefix "" {\n\tpolicy = "read"\n}\n'
        'query_prefix "" {\n\tpolicy = "read"\n}',
        "Gives the token or role permissions for the Consul DNS to query services in the network.",
    ),
    "builtin/nomad-server": (
        "00000000-0000-0000-0000-000000000006",
        "",
        '\nacl = "write"\nagent_prefix "" {\n  policy = "read"\n}\nnode_prefix "" {\n  policy = "read"\n}\n'
        'service_prefix "" {\n  policy = "write"\n}',
        "Gives the token or role permissions required for integration with a nomad server.",
    ),
    "builtin/api-gateway": (
        "00000000-0000-0000-0000-000000000008",
        _NAME_SCHEMA,
        'mesh = "read"\nnode_prefix "" {\n\tpolicy = "read"\n}\nservice_prefix "" {\n\tpolicy = "read"\n}\n'
        'service "{{.Name}}" {\n\tpolicy = "write"\n}',
        "Gives the token or role permissions for a Consul api gateway",
    ),
    "builtin/nomad-client": (
        "00000000-0000-0000-0000-000000000009",
        "",
        'agent_prefix "" {\n  policy = "read"\n}\nnode_prefix "" {\n  policy = "read"\n}\n'
        'service_prefix "" {\n  policy = "write"\n}\nkey_prefix "" {\n  policy = "read"\n}',
        "Gives the token or role permissions required for integration with a nomad client.",
    ),
}

#: acl.IsValidServiceIdentityName / IsValidNodeIdentityName (acl/validation.go).
_IDENTITY_NAME = re.compile(r"^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$")

#: structs.ACLTemplatedPolicyVariables: ``name`` is its one field.
VARIABLES = Struct(
    "ACLTemplatedPolicyVariables",
    [Field("Name", String(), "name")],
    type_str="structs.ACLTemplatedPolicyVariables",
)
#: structs.ACLTemplatedPolicies, as token and role bodies carry them.
TEMPLATED_POLICIES = List(
    Ptr(
        Struct(
            "ACLTemplatedPolicy",
            [
                Field("TemplateID", String()),
                Field("TemplateName", String()),
                Field("TemplateVariables", Ptr(VARIABLES)),
                Field("Datacenters", List(String())),
            ],
            type_str="structs.ACLTemplatedPolicy",
        )
    ),
    type_str="structs.ACLTemplatedPolicies",
)

# FNV-128a of nothing: Go's ``fnv.New128a().Sum(b)`` appends it to ``b``.
_FNV128A_EMPTY = "6c62272e07bb014262b821756295c58d"


def response(name: str) -> dict[str, str]:
    """``api.ACLTemplatedPolicyResponse`` of one builtin template."""
    _, schema, template, description = TEMPLATES[name]
    return {"TemplateName": name, "Schema": schema, "Template": template, "Description": description}


def validate_variables(name: str, variables: Optional[dict[str, Any]]) -> Optional[str]:
    """
    ``ACLTemplatedPolicy.ValidateTemplatedPolicy``: the identity-name rule,
    then the schema's (a multierror text), or ``None``.
    """
    schema = TEMPLATES[name][1]
    if not schema:
        return None
    value = (variables or {}).get("Name")
    if variables is not None and name in ("builtin/service", "builtin/node"):
        if not _IDENTITY_NAME.match(value or "") or len(value or "") > 256:
            what = "service identity" if name == "builtin/service" else "node identity"
            spaces = " " if name == "builtin/service" else "  "
            return (
                f"{what} {_go_quote(value or '')}{spaces}has an invalid name. "
                "Only lowercase alphanumeric characters, '-' and '_' are allowed"
            )
    if variables is None:
        # gojsonschema on a nil pointer: the document is null.
        return "1 error occurred:\n\t* Invalid type. Expected: object, given: null\n\n"
    if not value:
        # ``name,omitempty``: an empty name is a missing one.
        return "1 error occurred:\n\t* name is required\n\n"
    return None


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(name: str, variables: Optional[dict[str, Any]]) -> str:
    """The rules a template gives for these variables (``{{.Name}}`` filled in)."""
    return TEMPLATES[name][2].replace("{{.Name}}", str((variables or {}).get("Name") or ""))


def synthetic_id(rules: str) -> str:
    """``fmt.Sprintf("%x", fnv.New128a().Sum([]byte(rules)))``: the rules' bytes, then the empty digest."""
    return rules.encode("utf-8").hex() + _FNV128A_EMPTY


def templated_rules(policies: list[dict[str, Any]], datacenter: str) -> Rules:
    """The merged rules of a token's or role's templated policies valid in ``datacenter``."""
    rules = Rules()
    for tp in policies:
        dcs = tp.get("Datacenters") or []
        if dcs and datacenter not in dcs:
            continue
        rules.merge(parse_rules(render(tp["TemplateName"], tp.get("TemplateVariables"))))
    return rules


def hash_parts(policies: list[dict[str, Any]]) -> list[str]:
    """``ACLTemplatedPolicy.AddToHash``: ID, name, the variable, datacenters."""
    parts: list[str] = []
    for tp in policies:
        parts.extend((tp["TemplateID"], tp["TemplateName"]))
        if tp.get("TemplateVariables") is not None:
            parts.append(tp["TemplateVariables"].get("Name") or "")
        parts.extend(tp.get("Datacenters") or [])
    return parts


def parse_templated(raw: Any, what: str, local: bool) -> list[dict[str, Any]]:
    """
    A token's or role's decoded ``TemplatedPolicies``, validated as the
    server's token and role set do (500s with the RPC's text), given their
    template IDs and deduplicated (``ACLTemplatedPolicies.Deduplicate``).
    """
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, Optional[str]]] = set()
    lowered = what.lower()
    for tp in raw or []:
        tp = tp or {}
        name = tp.get("TemplateName") or ""
        if not name:
            raise HTTPError(500, f"templated policy is missing the template name field on this {lowered}")
        if name not in TEMPLATES:
            raise HTTPError(
                500, f"templated policy with an invalid templated name: {name} for this {lowered}"
            )
        dcs = list(tp.get("Datacenters") or [])
        if local and dcs:
            raise HTTPError(
                500,
                f"templated policy {_go_quote(name)} cannot specify a list of datacenters on a local token",
            )
        variables = tp.get("TemplateVariables")
        reason = validate_variables(name, variables)
        if reason is not None:
            raise HTTPError(500, f"encountered {lowered} validation error: {reason}")
        key = (name, (variables or {}).get("Name") if TEMPLATES[name][1] else None)
        if key in seen:
            continue
        seen.add(key)
        entry: dict[str, Any] = {"TemplateID": TEMPLATES[name][0], "TemplateName": name}
        if variables is not None:
            entry["TemplateVariables"] = {"Name": variables.get("Name") or ""}
        if dcs:
            entry["Datacenters"] = dcs
        out.append(entry)
    return out


def templated_json(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``TemplatedPolicies`` as Consul's JSON (the variable under ``name``)."""
    out = []
    for tp in policies:
        entry: dict[str, Any] = {"TemplateID": tp["TemplateID"], "TemplateName": tp["TemplateName"]}
        if tp.get("TemplateVariables") is not None:
            name = tp["TemplateVariables"].get("Name") or ""
            entry["TemplateVariables"] = {"name": name} if name else {}
        if tp.get("Datacenters"):
            entry["Datacenters"] = list(tp["Datacenters"])
        out.append(entry)
    return out
