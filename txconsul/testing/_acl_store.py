# -*- test-case-name: tests.test_fake_acl -*-
"""
FakeConsul's ACL tables: tokens, policies and roles as Consul's state
store keeps them, their hashes and JSON forms, and the rules a token
resolves to.  No HTTP here: the endpoints are in :mod:`txconsul.testing._acl`.
"""

from __future__ import annotations

import base64
import hashlib
from typing import TYPE_CHECKING, Any, Iterable, Optional

from ._authz import ANONYMOUS_ACCESSOR as ANONYMOUS_ACCESSOR
from ._authz import Rules, node_identity_rules, parse_rules, service_identity_rules
from ._acl_templated import hash_parts as templated_hash_parts
from ._acl_templated import templated_json, templated_rules
from ._core import HTTPError

if TYPE_CHECKING:  # pragma: no cover
    from ._core import FakeCore

#: The builtin management policy.
GLOBAL_MANAGEMENT_ID = "00000000-0000-0000-0000-000000000001"
#: The anonymous token's SecretID.
ANONYMOUS_SECRET = "anonymous"
#: agent/consul/config.go defaults for acl_token_min/max_expiration_ttl.
ACL_TOKEN_MIN_EXPIRATION_TTL = 60.0
ACL_TOKEN_MAX_EXPIRATION_TTL = 24 * 3600.0
#: What a reader without ``acl:write`` sees instead of a secret.
REDACTED = "<hidden>"


def builtin_rules(level: str, mesh_and_peering: bool = True) -> str:
    """
    The rules of a builtin policy granting ``level`` on everything, as
    agent/structs/acl.go writes them (``ACLPolicyGlobalManagementRules``,
    ``ACLPolicyGlobalReadOnlyRules``): a Go raw string that starts with a
    newline and indents with tabs, returned as is by policy reads.  Consul
    1.10's management rules had no ``mesh`` and ``peering`` lines.
    """

    def block(kind: str, extra: str = "") -> str:
        return f'{kind}_prefix "" {{\n\tpolicy = "{level}"\n{extra}}}'

    parts = [
        f'\nacl = "{level}"',
        block("agent"),
        block("event"),
        block("key"),
        f'keyring = "{level}"',
        block("node"),
        f'operator = "{level}"',
    ]
    if mesh_and_peering:
        parts += [f'mesh = "{level}"', f'peering = "{level}"']
    parts += [block("query"), block("service", f'\tintentions = "{level}"\n'), block("session")]
    return "\n".join(parts)


GLOBAL_MANAGEMENT_RULES = builtin_rules("write")
LEGACY_GLOBAL_MANAGEMENT_RULES = builtin_rules("write", mesh_and_peering=False)
#: The builtin read-only policy (agent/structs/acl.go ACLPolicyGlobalReadOnly*, 1.16+).
GLOBAL_READ_ONLY_ID = "00000000-0000-0000-0000-000000000002"
GLOBAL_READ_ONLY_RULES = builtin_rules("read")

_MANAGEMENT = ("global-management", "Builtin Policy that grants unlimited access")
#: structs.ACLBuiltinPolicies: (ID, Name, Description, Rules).
BUILTIN_POLICIES = (
    (GLOBAL_MANAGEMENT_ID, *_MANAGEMENT, GLOBAL_MANAGEMENT_RULES),
    (
        GLOBAL_READ_ONLY_ID,
        "builtin/global-read-only",
        "Builtin Policy that grants unlimited read-only access to all components",
        GLOBAL_READ_ONLY_RULES,
    ),
)
#: Consul 1.10 had the management policy only.
LEGACY_BUILTIN_POLICIES = ((GLOBAL_MANAGEMENT_ID, *_MANAGEMENT, LEGACY_GLOBAL_MANAGEMENT_RULES),)


def hash_fields(*parts: Any) -> str:
    """
    Consul's ``SetHash``: a BLAKE2b-256 over the given strings written one
    after another (agent/structs/acl.go), base64 as Go encodes ``[]byte``.
    """
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        h.update(part.encode("utf-8"))
    return base64.b64encode(h.digest()).decode("ascii")


def identity_parts(services: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> list[str]:
    """ACLServiceIdentity/ACLNodeIdentity ``AddToHash``: names, then datacenters."""
    parts: list[str] = []
    for si in services:
        parts.append(si["ServiceName"])
        parts.extend(si.get("Datacenters") or [])
    for ni in nodes:
        parts.extend((ni["NodeName"], ni["Datacenter"]))
    return parts


def _by_name(table: dict[str, dict[str, Any]], name: str) -> Optional[dict[str, Any]]:
    """The policy or role in ``table`` (by ID) with this name, or ``None``."""
    for item in table.values():
        if item["Name"] == name:
            return item
    return None


def _resolve_links(links: list[dict[str, Any]], table: dict[str, dict[str, Any]], what: str) -> list[str]:
    """
    The IDs, in order and once each, of the links (``{'ID'}`` or
    ``{'Name'}``) to ``what`` (``'policy'``, ``'role'``) in ``table``; 500
    for a missing one, as Consul's ACL resolver answers.
    """
    ids: list[str] = []
    for link in links:
        item_id = link.get("ID") or ""
        if not item_id:
            name = link.get("Name") or ""
            match = _by_name(table, name)
            if match is None:
                raise HTTPError(500, f'No such ACL {what} with name "{name}"')
            item_id = match["ID"]
        elif item_id not in table:
            raise HTTPError(500, f'No such ACL {what} with ID "{item_id}"')
        if item_id not in ids:
            ids.append(item_id)
    return ids


class ACLStore:
    """
    The token, policy and role tables of the fake's ACL system, with the
    index each table last changed at.

    :param core: the fake's core (its clock decides token expiry).
    :param legacy: Consul 1.10's records: tokens may carry the legacy
        ``Type`` and ``Rules``, and list entries say whether they are
        ``Legacy``.
    """

    def __init__(self, core: "FakeCore", legacy: bool = False) -> None:
        self.core = core
        self.legacy = legacy
        #: AccessorID -> token record.
        self.tokens: dict[str, dict[str, Any]] = {}
        #: SecretID -> AccessorID.
        self.secrets: dict[str, str] = {}
        #: ID -> policy record.
        self.policies: dict[str, dict[str, Any]] = {}
        #: ID -> role record.
        self.roles: dict[str, dict[str, Any]] = {}
        self.tokens_index = 0
        self.policies_index = 0
        self.roles_index = 0
        #: policy ID -> (ModifyIndex, compiled rules).
        self.compiled: dict[str, tuple[int, Rules]] = {}

    def __repr__(self) -> str:
        return f"<ACLStore tokens={len(self.tokens)} policies={len(self.policies)} roles={len(self.roles)}>"

    def token_by_secret(self, secret: str) -> Optional[dict[str, Any]]:
        """The live token record with this SecretID, or ``None``."""
        accessor = self.secrets.get(secret)
        if accessor is None:
            return None
        token = self.tokens.get(accessor)
        if token is None or self.expired(token):
            return None
        return token

    def expired(self, token: dict[str, Any]) -> bool:
        """Whether ``token`` has passed its ExpirationTime on the clock."""
        expires = token.get("_expires")
        return expires is not None and self.core.clock.seconds() >= expires

    def store_token(
        self, fields: dict[str, Any], idx: int, create_index: Optional[int] = None
    ) -> dict[str, Any]:
        """Write a token record (new or replacing one) at index ``idx``; returns it."""
        token = {
            "AccessorID": fields["AccessorID"],
            "SecretID": fields["SecretID"],
            "Description": fields.get("Description", ""),
            "Policies": list(fields.get("Policies", [])),
            "Roles": list(fields.get("Roles", [])),
            "ServiceIdentities": list(fields.get("ServiceIdentities", [])),
            "NodeIdentities": list(fields.get("NodeIdentities", [])),
            "TemplatedPolicies": list(fields.get("TemplatedPolicies", [])),
            "Local": bool(fields.get("Local", False)),
            "Type": fields.get("Type", ""),
            "Rules": fields.get("Rules", ""),
            "CreateTime": fields["CreateTime"],
            "ExpirationTime": fields.get("ExpirationTime"),
            "_expires": fields.get("_expires"),
            "AuthMethod": "",
            "CreateIndex": create_index if create_index is not None else idx,
            "ModifyIndex": idx,
        }
        # ACLToken.SetHash in 1.10: Description, the legacy Type and Rules,
        # local/global, then link IDs and identities.
        token["Hash"] = hash_fields(
            token["Description"],
            token["Type"],
            token["Rules"],
            "local" if token["Local"] else "global",
            *token["Policies"],
            *token["Roles"],
            *identity_parts(token["ServiceIdentities"], token["NodeIdentities"]),
            *templated_hash_parts(token["TemplatedPolicies"]),
        )
        old = self.tokens.get(token["AccessorID"])
        if old is not None:
            self.secrets.pop(old["SecretID"], None)
        self.tokens[token["AccessorID"]] = token
        self.secrets[token["SecretID"]] = token["AccessorID"]
        self.tokens_index = idx
        return token

    def delete_token(self, accessor: str, idx: int) -> None:
        """Remove the token with this AccessorID at index ``idx``."""
        token = self.tokens.pop(accessor)
        self.secrets.pop(token["SecretID"], None)
        self.tokens_index = idx

    def policy_record(
        self,
        pid: str,
        name: str,
        description: str,
        rules: str,
        datacenters: Optional[list[str]],
        create_index: int,
        idx: int,
    ) -> dict[str, Any]:
        """A policy record with its hash, as the state store keeps it."""
        return {
            "ID": pid,
            "Name": name,
            "Description": description,
            "Rules": rules,
            "Datacenters": list(datacenters) if datacenters else None,
            # ACLPolicy.SetHash: Name, Description, Rules, each datacenter
            "Hash": hash_fields(name, description, rules, *(datacenters or [])),
            "CreateIndex": create_index,
            "ModifyIndex": idx,
        }

    def policy_rules(self, policy_id: str) -> Optional[Rules]:
        """A policy's compiled rules (cached per ModifyIndex), or ``None`` if it is gone."""
        policy = self.policies.get(policy_id)
        if policy is None:
            return None
        cached = self.compiled.get(policy_id)
        if cached is not None and cached[0] == policy["ModifyIndex"]:
            return cached[1]
        rules = parse_rules(policy["Rules"])
        self.compiled[policy_id] = (policy["ModifyIndex"], rules)
        return rules

    def token_rules(self, token: dict[str, Any]) -> Rules:
        """Everything ``token`` grants: legacy rules, policies, roles' policies and identities."""
        rules = Rules()
        if token["Type"] == "management" and not token["Policies"]:
            rules.merge(parse_rules(LEGACY_GLOBAL_MANAGEMENT_RULES))
        elif token["Type"] and token["Rules"]:
            rules.merge(parse_rules(token["Rules"], legacy=True))
        policy_ids = list(token["Policies"])
        for role_id in token["Roles"]:
            role = self.roles.get(role_id)
            if role is None:
                continue
            policy_ids.extend(role["Policies"])
            for si in role["ServiceIdentities"]:
                rules.merge(service_identity_rules(si["ServiceName"]))
            for ni in role["NodeIdentities"]:
                rules.merge(node_identity_rules(ni["NodeName"]))
            rules.merge(templated_rules(role.get("TemplatedPolicies") or [], self.core.datacenter))
        for pid in policy_ids:
            compiled = self.policy_rules(pid)
            if compiled is not None:
                rules.merge(compiled)
        for si in token["ServiceIdentities"]:
            rules.merge(service_identity_rules(si["ServiceName"]))
        for ni in token["NodeIdentities"]:
            rules.merge(node_identity_rules(ni["NodeName"]))
        rules.merge(templated_rules(token.get("TemplatedPolicies") or [], self.core.datacenter))
        return rules

    def policy_links(self, ids: Iterable[str]) -> list[dict[str, str]]:
        """Policy links ``{"ID", "Name"}`` for the IDs that still exist."""
        return [{"ID": pid, "Name": self.policies[pid]["Name"]} for pid in ids if pid in self.policies]

    def role_links(self, ids: Iterable[str]) -> list[dict[str, str]]:
        """Role links ``{"ID", "Name"}`` for the IDs that still exist."""
        return [{"ID": rid, "Name": self.roles[rid]["Name"]} for rid in ids if rid in self.roles]

    def token_json(self, token: dict[str, Any], redact: bool = False, stub: bool = False) -> dict[str, Any]:
        """A token as Consul's JSON (``stub``: as a list entry)."""
        out: dict[str, Any] = {
            "AccessorID": token["AccessorID"],
            "SecretID": REDACTED if redact else token["SecretID"],
            "Description": token["Description"],
        }
        policies = self.policy_links(token["Policies"])
        if policies:
            out["Policies"] = policies
        roles = self.role_links(token["Roles"])
        if roles:
            out["Roles"] = roles
        if token["ServiceIdentities"]:
            out["ServiceIdentities"] = [dict(s) for s in token["ServiceIdentities"]]
        if token["NodeIdentities"]:
            out["NodeIdentities"] = [dict(n) for n in token["NodeIdentities"]]
        if token.get("TemplatedPolicies"):
            out["TemplatedPolicies"] = templated_json(token["TemplatedPolicies"])
        if token["Rules"] and not stub:
            out["Rules"] = token["Rules"]
        out["Local"] = token["Local"]
        if token["ExpirationTime"]:
            out["ExpirationTime"] = token["ExpirationTime"]
        out["CreateTime"] = token["CreateTime"]
        out["Hash"] = token["Hash"]
        out["CreateIndex"] = token["CreateIndex"]
        out["ModifyIndex"] = token["ModifyIndex"]
        if stub and self.legacy:
            # 1.10's ACLTokenListStub.Legacy (gone with the legacy system)
            out["Legacy"] = bool(token["Type"]) and not token["Policies"]
        return out

    def legacy_json(self, token: dict[str, Any]) -> dict[str, Any]:
        """A token as the legacy ``/v1/acl/info`` and ``list`` show it."""
        return {
            "CreateIndex": token["CreateIndex"],
            "ModifyIndex": token["ModifyIndex"],
            "ID": token["SecretID"],
            "Name": token["Description"],
            "Type": token["Type"],
            "Rules": token["Rules"],
        }

    def policy_json(self, policy: dict[str, Any], stub: bool = False) -> dict[str, Any]:
        """A policy as Consul's JSON (``stub``: as a list entry, without rules)."""
        out: dict[str, Any] = {
            "ID": policy["ID"],
            "Name": policy["Name"],
            "Description": policy["Description"],
        }
        if not stub:
            out["Rules"] = policy["Rules"]
        # ACLPolicyListStub.Datacenters has no omitempty (null); the full
        # ACLPolicy's has since 1.11 (agent/structs/acl.go), not in 1.10.
        if policy["Datacenters"]:
            out["Datacenters"] = list(policy["Datacenters"])
        elif stub or self.legacy:
            out["Datacenters"] = None
        out["Hash"] = policy["Hash"]
        out["CreateIndex"] = policy["CreateIndex"]
        out["ModifyIndex"] = policy["ModifyIndex"]
        return out

    def role_json(self, role: dict[str, Any]) -> dict[str, Any]:
        """A role as Consul's JSON."""
        out: dict[str, Any] = {"ID": role["ID"], "Name": role["Name"], "Description": role["Description"]}
        policies = self.policy_links(role["Policies"])
        if policies:
            out["Policies"] = policies
        if role["ServiceIdentities"]:
            out["ServiceIdentities"] = [dict(s) for s in role["ServiceIdentities"]]
        if role["NodeIdentities"]:
            out["NodeIdentities"] = [dict(n) for n in role["NodeIdentities"]]
        if role.get("TemplatedPolicies"):
            out["TemplatedPolicies"] = templated_json(role["TemplatedPolicies"])
        out["Hash"] = role["Hash"]
        out["CreateIndex"] = role["CreateIndex"]
        out["ModifyIndex"] = role["ModifyIndex"]
        return out

    def policy_by_name(self, name: str) -> Optional[dict[str, Any]]:
        """The policy with this name, or ``None``."""
        return _by_name(self.policies, name)

    def role_by_name(self, name: str) -> Optional[dict[str, Any]]:
        """The role with this name, or ``None``."""
        return _by_name(self.roles, name)

    def resolve_policy_links(self, links: list[dict[str, Any]]) -> list[str]:
        """Policy IDs for links given by ID or Name; 500 for a missing policy."""
        return _resolve_links(links, self.policies, "policy")

    def resolve_role_links(self, links: list[dict[str, Any]]) -> list[str]:
        """Role IDs for links given by ID or Name; 500 for a missing role."""
        return _resolve_links(links, self.roles, "role")
