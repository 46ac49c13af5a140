# -*- test-case-name: tests.test_fake_acl -*-
"""
FakeConsul's ACL endpoints: who may do what.

With ACLs disabled (the default) every request is allowed and every
``/v1/acl/*`` endpoint answers 401 ``ACL support disabled``.

ACLs are enabled by an initial management token
(``FakeConsul(acl_master_token=...)``, ``twistd consul-fake
--acl-master-token``), or without one by ``FakeConsul(acl_enabled=True)``: a
fresh cluster that still needs ``PUT /v1/acl/bootstrap``.  The fake then
behaves like a server of the advertised release (see ``_version.py``):

* the token, policy and role APIs, ``token/self``, ``bootstrap`` and
  ``replication`` (agent/http_register.go); the builtin policies
  ``global-management`` (``...0001``) and ``builtin/global-read-only``
  (``...0002``); the anonymous token (AccessorID ``...0002``, secret
  ``anonymous``) and the configured token (``Initial Management Token``);
* a missing token, policy or role read is 404 ``Requested <kind> does not
  exist: ACL not found``; ``token/self`` with an unknown secret is 404
  ``Supplied token does not exist``; any other request with an unknown
  secret is 403 ``ACL not found`` (``ACL system must be bootstrapped
  before...`` until a bootstrap); a denial names the token and the
  permission (acl/errors.go); deleting a missing token/policy/role is
  ``true``; validation failures are 500s with Consul's messages; bodies
  decode as Go structs (``_acl_bodies.py``);
* a configured token counts as the bootstrap (the leader bootstraps with
  it), so ``PUT /v1/acl/bootstrap`` answers 403 ``Permission denied: ACL
  bootstrap no longer allowed (reset index: N)`` until
  :meth:`ACLSystem.reset_bootstrap` (the fake's stand-in for the
  ``acl-bootstrap-reset`` file) allows one more.

With ``FakeConsul(legacy_acl=True)`` it is a **Consul 1.10** server, the last
release where both ACL generations coexist: the legacy API
(``/v1/acl/create``, ``update``, ``destroy/:id``, ``info/:id``,
``clone/:id``, ``list``) shares the token table (a legacy token's ``ID`` is
its ``SecretID``), the configured token is the ``Master Token`` with the
legacy ``Type``, a missing token or policy read is 403 ``ACL not found``, a
missing role an empty 404, a denial plain ``Permission denied``.

The tables are :class:`~txconsul.testing._acl_store.ACLStore`; rules and authorizers live in
:mod:`txconsul.testing._authz`.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import attr

from ._acl_bodies import BOOTSTRAP, POLICY, ROLE, decode_acl_body, token_shape
from ._acl_templated import hash_parts as templated_hash_parts
from ._acl_templated import parse_templated
from ._acl_store import (
    ACL_TOKEN_MAX_EXPIRATION_TTL,
    ACL_TOKEN_MIN_EXPIRATION_TTL,
    ANONYMOUS_ACCESSOR,
    ANONYMOUS_SECRET,
    GLOBAL_MANAGEMENT_ID,
    BUILTIN_POLICIES,
    LEGACY_BUILTIN_POLICIES,
    ACLStore,
    hash_fields,
    identity_parts,
)
from ._core import FakeCore, FakeRequest, HTTPError, Reply, Route, parse_common, permission_denied
from ._authz import (
    AllowAll,
    Authorizer,
    RuleError,
    UnknownToken,
    parse_rules,
    require,
)
from ._gofmt import go_duration, go_time, parse_go_time


_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_POLICY_NAME_RE = re.compile(r"^[A-Za-z0-9\-_]{1,128}$")
_ROLE_NAME_RE = re.compile(r"^[A-Za-z0-9\-_]{1,256}$")
_IDENTITY_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9\-_]*[a-z0-9])?$")


# -- helpers --------------------------------------------------------------------


def _decode_object(req: FakeRequest, what: str, legacy: bool = False) -> dict[str, Any]:
    """
    The body as a JSON object; 400 ``<what> decoding failed: ...`` otherwise
    (the legacy handlers say ``Request decode failed: ...``).
    """
    prefix = "Request decode failed" if legacy else f"{what} decoding failed"
    if not req.body.strip():
        return {}
    try:
        body = json.loads(req.body)
    except ValueError as e:
        raise HTTPError(400, f"{prefix}: {e}")
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise HTTPError(400, f"{prefix}: json: cannot unmarshal {type(body).__name__} into an object")
    return body


def _field(
    body: dict[str, Any], name: str, kind: Any, what: str, default: Any = None, legacy: bool = False
) -> Any:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        prefix = "Request decode failed" if legacy else f"{what} decoding failed"
        raise HTTPError(400, f"{prefix}: json: cannot unmarshal {type(value).__name__} into field {name}")
    return value


def _links(body: dict[str, Any], name: str, what: str) -> list[dict[str, Any]]:
    """A decoded list of links or identities; a ``null`` element is Go's zero value."""
    return [link or {} for link in body.get(name) or []]


def _is_uuid(value: str) -> bool:
    return bool(_UUID_RE.match(value))


# -- the part -------------------------------------------------------------------


class ACLSystem:
    """
    The ACL part of a FakeConsul: the ``/v1/acl/*`` endpoints over an
    :class:`~txconsul.testing._acl_store.ACLStore` (:attr:`store`), and the authorizer of
    each request.

    :param master_token: enables ACLs with this management token (Consul's
        initial management token).
    :param default_policy: ``'allow'`` or ``'deny'`` for what no rule covers.
    :param enabled: ``True`` turns ACLs on without a management token (not
        bootstrapped yet); by default ACLs are on exactly when
        ``master_token`` is given.

    The core's profile decides the Consul release: the current one, or 1.10
    (``legacy_acl``) with the legacy endpoints and 1.10's texts.
    """

    def __init__(
        self,
        core: FakeCore,
        master_token: Optional[str] = None,
        default_policy: str = "allow",
        enabled: Optional[bool] = None,
    ) -> None:
        if default_policy not in ("allow", "deny"):
            raise ValueError(f"invalid ACL default policy {default_policy!r}")
        if enabled is False and master_token is not None:
            raise ValueError("a management token needs ACLs enabled")
        self.core = core
        self.legacy = core.profile.legacy_acl
        self.master_token = master_token
        self.enabled = master_token is not None if enabled is None else enabled
        self.default_policy = default_policy if self.enabled else "allow"
        self.store = ACLStore(core, legacy=self.legacy)
        #: The index of the bootstrap (0: never bootstrapped).
        self.bootstrap_index = 0
        self._bootstrap_reset = False
        if self.enabled:
            self._initialize(master_token)

    def __repr__(self) -> str:
        state = f"default={self.default_policy}" if self.enabled else "disabled"
        return f"<ACLSystem {state} tokens={len(self.store.tokens)}>"

    def _initialize(self, master: Optional[str]) -> None:
        """
        What the leader's ``initializeACLs`` writes (agent/consul/leader.go):
        the builtin policies, the configured management token (counted as
        the bootstrap), and the anonymous token.
        """
        idx = self.core.index
        now = go_time(self.core.clock.seconds())
        builtins = LEGACY_BUILTIN_POLICIES if self.legacy else BUILTIN_POLICIES
        for pid, name, description, rules in builtins:
            self.store.policies[pid] = self.store.policy_record(pid, name, description, rules, None, idx, idx)
        self.store.policies_index = idx
        if master is not None:
            fields: dict[str, Any] = {
                "AccessorID": self.core.new_uuid(),
                "SecretID": master,
                # initializeManagementToken: "Initial Management Token" since
                # 1.11 (1.10: "Master Token", with the legacy Type).
                "Description": "Master Token" if self.legacy else "Initial Management Token",
                "Policies": [GLOBAL_MANAGEMENT_ID],
                "CreateTime": now,
            }
            if self.legacy:
                fields["Type"] = "management"
            self.store.store_token(fields, idx)
            self.bootstrap_index = idx
        self.store.store_token(
            {
                "AccessorID": ANONYMOUS_ACCESSOR,
                "SecretID": ANONYMOUS_SECRET,
                "Description": "Anonymous Token",
                "CreateTime": now,
            },
            idx,
        )

    # -- controls for tests ---------------------------------------------------

    def reset_bootstrap(self) -> None:
        """
        Allow one more ``PUT /v1/acl/bootstrap``, as writing the reset index
        to Consul's ``acl-bootstrap-reset`` file does.
        """
        self._bootstrap_reset = True

    def token_by_secret(self, secret: str) -> Optional[dict[str, Any]]:
        """The live token record with this SecretID, or ``None``."""
        return self.store.token_by_secret(secret)

    @property
    def tokens(self) -> dict[str, dict[str, Any]]:
        """The token table (AccessorID -> record) of :attr:`store`."""
        return self.store.tokens

    @property
    def policies(self) -> dict[str, dict[str, Any]]:
        """The policy table (ID -> record) of :attr:`store`."""
        return self.store.policies

    @property
    def roles(self) -> dict[str, dict[str, Any]]:
        """The role table (ID -> record) of :attr:`store`."""
        return self.store.roles

    # -- authorization -------------------------------------------------------

    def authorizer_for_secret(self, secret: Optional[str]) -> Any:
        """The authorizer of a secret (``None``: the anonymous token)."""
        if not self.enabled:
            return AllowAll()
        token = self.store.token_by_secret(secret or ANONYMOUS_SECRET)
        if token is None:
            if not self.legacy and not self.bootstrap_index:
                # agent/consul/acl_server.go ResolveIdentityFromToken: while
                # CanBootstrapACLToken, an unknown secret says so.
                return UnknownToken(
                    "ACL system must be bootstrapped before making any requests that require authorization: "
                    "ACL not found"
                )
            return UnknownToken()
        return Authorizer(
            lambda: self.store.token_rules(token),
            self.default_policy == "allow",
            token["AccessorID"],
            detailed=not self.legacy,
        )

    def authorizer(self, req: FakeRequest) -> Any:
        """The authorizer for the token ``req`` carries."""
        return self.authorizer_for_secret(req.token)

    # -- routes ------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """
        ``/v1/acl/*`` as agent/http_register.go lists them: the token,
        policy and role APIs, and with ``legacy_acl`` the legacy API (gone
        from the router since 1.11, so a 404 there).  While ACLs are
        disabled every one of them answers 401 ``ACL support disabled``.
        """
        routes = []
        if self.legacy:
            routes += [
                Route("/v1/acl/create", ("PUT",), self._legacy_create),
                Route("/v1/acl/update", ("PUT",), self._legacy_update),
                Route("/v1/acl/destroy/", ("PUT",), self._legacy_destroy),
                Route("/v1/acl/info/", ("GET",), self._legacy_info),
                Route("/v1/acl/clone/", ("PUT",), self._legacy_clone),
                Route("/v1/acl/list", ("GET",), self._legacy_list),
            ]
        # agent/acl_endpoint.go: reads call s.parse (query checks, ?dc);
        # writes (bootstrap, create, update, delete) use the agent's own
        # datacenter and call parseToken only.
        write = {"check_dc": False, "parse": False}
        routes += [
            Route("/v1/acl/bootstrap", ("PUT",), self._bootstrap, **write),
            Route("/v1/acl/replication", ("GET",), self._replication),
            # tokens
            Route("/v1/acl/token", ("PUT",), self._token_create, **write),
            Route("/v1/acl/token/self", ("GET",), self._token_self),
            Route("/v1/acl/token/", ("GET", "PUT", "DELETE"), self._reads_parse(self._token_crud), **write),
            Route("/v1/acl/tokens", ("GET",), self._token_list),
            # policies
            Route("/v1/acl/policy", ("PUT",), self._policy_create, **write),
            Route("/v1/acl/policy/name/", ("GET",), self._policy_read_by_name),
            Route("/v1/acl/policy/", ("GET", "PUT", "DELETE"), self._reads_parse(self._policy_crud), **write),
            Route("/v1/acl/policies", ("GET",), self._policy_list),
            # roles
            Route("/v1/acl/role", ("PUT",), self._role_create, **write),
            Route("/v1/acl/role/name/", ("GET",), self._role_read_by_name),
            Route("/v1/acl/role/", ("GET", "PUT", "DELETE"), self._reads_parse(self._role_crud), **write),
            Route("/v1/acl/roles", ("GET",), self._role_list),
        ]
        if not self.enabled:
            # agent/acl_endpoint.go: each handler starts with checkACLDisabled,
            # so the 401 comes before any query option is looked at.
            routes = [
                attr.evolve(route, handler=self._disabled, check_dc=False, parse=False) for route in routes
            ]
        return routes

    def _reads_parse(self, handler: Any) -> Any:
        """``handler``, with ``s.parse``'s checks and ``?dc`` for its GETs only."""

        def run(req: FakeRequest) -> Any:
            if req.method == "GET":
                parse_common(req)
                self.core.check_dc(req)
            return handler(req)

        return run

    def _disabled(self, req: FakeRequest) -> Any:
        raise HTTPError(401, "ACL support disabled")

    @staticmethod
    def _need(req: FakeRequest, access: str) -> None:
        require(req, "acl", "", access)

    def _decode(self, req: FakeRequest, what: str) -> dict[str, Any]:
        """A token, policy or role body decoded as the Go struct (400 otherwise)."""
        shape = {"Token": token_shape(self.legacy), "Policy": POLICY, "Role": ROLE}[what]
        return decode_acl_body(req, shape, what)

    def _not_found(self, kind: Optional[str], text: str = "") -> Reply:
        """
        A read of a missing token, policy or role: 404 ``Requested <kind>
        does not exist: ACL not found`` (agent/acl_endpoint.go, 1.15+).
        Consul 1.10 answered 403 ``ACL not found`` for tokens and policies
        and an empty 404 for roles.
        """
        if self.legacy:
            if kind == "role":
                return Reply(b"", status=404, index=self.store.roles_index, json=False)
            index = self.store.policies_index if kind == "policy" else self.store.tokens_index
            return Reply("ACL not found", status=403, index=index, json=False)
        index = {"policy": self.store.policies_index, "role": self.store.roles_index}.get(
            kind or "", self.store.tokens_index
        )
        return Reply(
            text or f"Requested {kind} does not exist: ACL not found", status=404, index=index, json=False
        )

    # -- bootstrap / replication -------------------------------------------

    def _bootstrap(self, req: FakeRequest) -> Any:
        secret = ""
        if not self.legacy and req.body:
            # agent/acl_endpoint.go ACLBootstrap: an optional
            # {"BootstrapSecret": ...} when the body is not empty.
            secret = decode_acl_body(req, BOOTSTRAP, "Request").get("BootstrapSecret", "")
        if self.bootstrap_index and not self._bootstrap_reset:
            raise HTTPError(
                403,
                f"Permission denied: ACL bootstrap no longer allowed (reset index: {self.bootstrap_index})",
            )
        self._bootstrap_reset = False
        idx = self.core.next_index()
        fields: dict[str, Any] = {
            "AccessorID": self.core.new_uuid(),
            "SecretID": secret or self.core.new_uuid(),
            "Description": "Bootstrap Token (Global Management)",
            "Policies": [GLOBAL_MANAGEMENT_ID],
            "CreateTime": go_time(self.core.clock.seconds()),
        }
        if self.legacy:
            # 1.10 BootstrapTokens: "DEPRECATED (ACL-Legacy-Compat) - This is
            # used so that the bootstrap token is still visible via the v1
            # acl APIs"
            fields["Type"] = "management"
        token = self.store.store_token(fields, idx)
        self.bootstrap_index = idx
        body = {"ID": token["SecretID"]}
        body.update(self.store.token_json(token))
        return Reply(body)

    def _replication(self, req: FakeRequest) -> Any:
        # structs.ACLReplicationStatus of a primary datacenter: nothing runs.
        body: dict[str, Any] = {
            "Enabled": False,
            "Running": False,
            "SourceDatacenter": "",
            "ReplicationType": "",
            "ReplicatedIndex": 0,
            "ReplicatedRoleIndex": 0,
            "ReplicatedTokenIndex": 0,
            "LastSuccess": "0001-01-01T00:00:00Z",
            "LastError": "0001-01-01T00:00:00Z",
        }
        if not self.legacy:
            body["LastErrorMessage"] = ""  # agent/structs/acl.go, after 1.10
        return Reply(body)

    # -- legacy API ------------------------------------------------------------

    def _legacy_set(self, req: FakeRequest, update: bool) -> Any:
        # agent/acl_endpoint_legacy.go aclSet: the body is decoded (400
        # "Request decode failed: ...") over a default Type of "client", and
        # the ID checked, before the ACL.Apply RPC checks acl:write.
        body = _decode_object(req, "Request", legacy=True)
        acl_id = _field(body, "ID", str, "Request", "", legacy=True)
        name = _field(body, "Name", str, "Request", "", legacy=True)
        kind = _field(body, "Type", str, "Request", "client", legacy=True)
        rules = _field(body, "Rules", str, "Request", "", legacy=True)
        if update and not acl_id:
            raise HTTPError(400, "ACL ID must be set")
        self._need(req, "write")
        if kind not in ("client", "management"):
            raise HTTPError(500, "Invalid ACL Type")
        existing = self.store.token_by_secret(acl_id) if acl_id else None
        if existing is not None and self._uses_non_legacy_fields(existing):
            raise HTTPError(500, "Cannot use legacy endpoint to modify a non-legacy token")
        if acl_id in ("allow", "deny", "manage"):
            raise HTTPError(403, "Permission denied: Cannot modify root ACL")
        try:
            parse_rules(rules, legacy=True)
        except RuleError as e:
            raise HTTPError(500, f"ACL rule compilation failed: {e}")
        idx = self.core.next_index()
        fields = {
            "AccessorID": existing["AccessorID"] if existing else self.core.new_uuid(),
            "SecretID": acl_id or self.core.new_uuid(),
            "Description": name,
            "Type": kind,
            "Rules": rules,
            "CreateTime": existing["CreateTime"] if existing else go_time(self.core.clock.seconds()),
        }
        token = self.store.store_token(fields, idx, existing["CreateIndex"] if existing else None)
        return Reply({"ID": token["SecretID"]})

    @staticmethod
    def _uses_non_legacy_fields(token: dict[str, Any]) -> bool:
        """agent/structs/acl.go ``ACLToken.UsesNonLegacyFields`` (1.10)."""
        return bool(
            token["Policies"]
            or token["Roles"]
            or token["ServiceIdentities"]
            or token["NodeIdentities"]
            or not token["Type"]
            or token["ExpirationTime"]
            or token["AuthMethod"]
        )

    def _legacy_create(self, req: FakeRequest) -> Any:
        return self._legacy_set(req, update=False)

    def _legacy_update(self, req: FakeRequest) -> Any:
        return self._legacy_set(req, update=True)

    def _legacy_destroy(self, req: FakeRequest) -> Any:
        self._need(req, "write")
        acl_id = req.tail
        if not acl_id:
            raise HTTPError(400, "Missing ACL")
        if acl_id == ANONYMOUS_SECRET:
            raise HTTPError(403, "Permission denied: Cannot delete anonymous token")
        accessor = self.store.secrets.get(acl_id)
        idx = self.core.next_index()
        if accessor is not None:
            self.store.delete_token(accessor, idx)
        return Reply(True)

    def _legacy_info(self, req: FakeRequest) -> Any:
        acl_id = req.tail
        if not acl_id:
            raise HTTPError(400, "Missing ACL")

        def compute() -> tuple[int, Reply]:
            token = self.store.token_by_secret(acl_id)
            items = [self.store.legacy_json(token)] if token is not None and token["Type"] else []
            return self.store.tokens_index, Reply(items, index=self.store.tokens_index)

        return self.core.blocking(req, compute)

    def _legacy_clone(self, req: FakeRequest) -> Any:
        acl_id = req.tail
        if not acl_id:
            raise HTTPError(400, "Missing ACL")
        source = self.store.token_by_secret(acl_id)
        if source is None or not source["Type"]:
            raise permission_denied()
        self._need(req, "write")
        idx = self.core.next_index()
        token = self.store.store_token(
            {
                "AccessorID": self.core.new_uuid(),
                "SecretID": self.core.new_uuid(),
                "Description": source["Description"],
                "Type": source["Type"],
                "Rules": source["Rules"],
                "CreateTime": go_time(self.core.clock.seconds()),
            },
            idx,
        )
        return Reply({"ID": token["SecretID"]})

    def _legacy_list(self, req: FakeRequest) -> Any:
        self._need(req, "write")

        def compute() -> tuple[int, Reply]:
            items = [
                self.store.legacy_json(t)
                for _, t in sorted(self.store.tokens.items())
                if t["Type"] and not self.store.expired(t)
            ]
            return self.store.tokens_index, Reply(items, index=self.store.tokens_index)

        return self.core.blocking(req, compute)

    # -- tokens ------------------------------------------------------------------

    @staticmethod
    def _identities(
        body: dict[str, Any], what: str, local: bool
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        services: list[dict[str, Any]] = []
        seen = set()
        for si in _links(body, "ServiceIdentities", what):
            name = si.get("ServiceName") or ""
            if not name:
                raise HTTPError(
                    500, f"Service identity is missing the service name field on this {what.lower()}"
                )
            dcs = si.get("Datacenters") or []
            if local and dcs:
                raise HTTPError(
                    500, f'Service identity "{name}" cannot specify a list of datacenters on a local token'
                )
            if not _IDENTITY_NAME_RE.match(name) or len(name) > 256:
                raise HTTPError(
                    500,
                    f"Service identity \"{name}\" has an invalid name. Only alphanumeric characters, '-' and '_' are allowed",
                )
            if name not in seen:
                seen.add(name)
                entry: dict[str, Any] = {"ServiceName": name}
                if dcs:
                    entry["Datacenters"] = list(dcs)
                services.append(entry)
        nodes: list[dict[str, Any]] = []
        for ni in _links(body, "NodeIdentities", what):
            name = ni.get("NodeName") or ""
            dc = ni.get("Datacenter") or ""
            if not name:
                raise HTTPError(500, f"Node identity is missing the node name field on this {what.lower()}")
            if not dc:
                raise HTTPError(500, f"Node identity is missing the datacenter field on this {what.lower()}")
            if not _IDENTITY_NAME_RE.match(name) or len(name) > 256:
                raise HTTPError(
                    500,
                    "Node identity has an invalid name. Only alphanumeric characters, '-' and '_' are allowed",
                )
            entry = {"NodeName": name, "Datacenter": dc}
            if entry not in nodes:
                nodes.append(entry)
        return services, nodes

    def _token_set(
        self, req: FakeRequest, accessor: str, create: bool, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Create or update a token from a decoded body (ACL write already checked)."""
        what = "Token"
        secret = _field(body, "SecretID", str, what, "")
        description = _field(body, "Description", str, what, "")
        local = _field(body, "Local", bool, what, False)
        if _field(body, "Rules", str, what, ""):
            raise HTTPError(500, "Rules cannot be specified for this token")
        if _field(body, "Type", str, what, ""):
            raise HTTPError(500, "Type cannot be specified for this token")
        if _field(body, "AuthMethod", str, what, ""):
            raise HTTPError(500, "AuthMethod field is disallowed outside of Login")
        # decode_acl_body has parsed ExpirationTTL into seconds (None if unset)
        ttl = body.get("ExpirationTTL") or 0.0
        exp_raw = _field(body, "ExpirationTime", str, what, "")
        now = self.core.clock.seconds()
        existing = self.store.tokens.get(accessor) if accessor else None
        if existing is not None and self.store.expired(existing):
            existing = None
        fields: dict[str, Any] = {}
        if not accessor or create:
            if not accessor:
                accessor = self.core.new_uuid()
            elif not _is_uuid(accessor):
                raise HTTPError(500, "Invalid Token: AccessorID is not a valid UUID")
            elif accessor in self.store.tokens or accessor in self.store.secrets:
                raise HTTPError(500, "Invalid Token: AccessorID is already in use")
            elif accessor.startswith("00000000-0000-0000-0000-0000000000"):
                raise HTTPError(
                    500,
                    'Invalid Token: UUIDs with the prefix "00000000-0000-0000-0000-0000000000" are reserved',
                )
            if not secret:
                secret = self.core.new_uuid()
            elif not _is_uuid(secret):
                raise HTTPError(500, "Invalid Token: SecretID is not a valid UUID")
            elif secret in self.store.secrets or secret in self.store.tokens:
                raise HTTPError(500, "Invalid Token: SecretID is already in use")
            fields["CreateTime"] = go_time(now)
            expires: Optional[float] = None
            if ttl:
                if ttl < 0:
                    # tokenSetInternal formats the time.Duration
                    raise HTTPError(500, f"Token Expiration TTL '{go_duration(ttl)}' should be > 0")
                if exp_raw:
                    raise HTTPError(500, "Token Expiration TTL and Expiration Time cannot both be set")
                expires = now + ttl
            elif exp_raw:
                try:
                    expires = parse_go_time(exp_raw)
                except ValueError:
                    raise HTTPError(400, f"Token decoding failed: parsing time {exp_raw!r}")
                if expires < now:
                    raise HTTPError(500, "ExpirationTime cannot be before CreateTime")
            if expires is not None:
                self._check_expiry_bounds(expires - now)
                fields["_expires"] = expires
                fields["ExpirationTime"] = go_time(expires)
            create_index = None
        else:
            if not _is_uuid(accessor):
                raise HTTPError(500, "AccessorID is not a valid UUID")
            if secret in ("allow", "deny", "manage"):
                raise HTTPError(403, "Permission denied: Cannot modify root ACL")
            if existing is None:
                raise HTTPError(500, f'Cannot find token "{accessor}"')
            if not secret:
                secret = existing["SecretID"]
            elif secret != existing["SecretID"]:
                raise HTTPError(500, "Changing a tokens SecretID is not permitted")
            if local != existing["Local"]:
                raise HTTPError(500, f"cannot toggle local mode of {accessor}")
            if ttl:
                raise HTTPError(500, f"Cannot change expiration time of {accessor}")
            if exp_raw and exp_raw != existing["ExpirationTime"]:
                raise HTTPError(500, f"Cannot change expiration time of {accessor}")
            fields["CreateTime"] = existing["CreateTime"]
            fields["ExpirationTime"] = existing["ExpirationTime"]
            fields["_expires"] = existing["_expires"]
            create_index = existing["CreateIndex"]
        policies = self.store.resolve_policy_links(_links(body, "Policies", what))
        roles = self.store.resolve_role_links(_links(body, "Roles", what))
        services, nodes = self._identities(body, what, local)
        templated = parse_templated(body.get("TemplatedPolicies"), what, local)
        fields.update(
            {
                "TemplatedPolicies": templated,
                "AccessorID": accessor,
                "SecretID": secret,
                "Description": description,
                "Policies": policies,
                "Roles": roles,
                "ServiceIdentities": services,
                "NodeIdentities": nodes,
                "Local": local,
            }
        )
        idx = self.core.next_index()
        return self.store.store_token(fields, idx, create_index)

    @staticmethod
    def _check_expiry_bounds(expires_in: float) -> None:
        """
        tokenSetInternal: an expiry must lie within the server's
        acl_token_min/max_expiration_ttl (defaults 1m and 24h).
        """
        if expires_in > ACL_TOKEN_MAX_EXPIRATION_TTL:
            raise HTTPError(
                500,
                f"ExpirationTime cannot be more than {go_duration(ACL_TOKEN_MAX_EXPIRATION_TTL)} "
                f"in the future (was {go_duration(expires_in)})",
            )
        if expires_in < ACL_TOKEN_MIN_EXPIRATION_TTL:
            raise HTTPError(
                500,
                f"ExpirationTime cannot be less than {go_duration(ACL_TOKEN_MIN_EXPIRATION_TTL)} "
                f"in the future (was {go_duration(expires_in)})",
            )

    def _token_create(self, req: FakeRequest) -> Any:
        # agent/acl_endpoint.go aclTokenSetInternal decodes the body (400)
        # before the ACL.TokenSet RPC checks acl:write.
        body = self._decode(req, "Token")
        self._need(req, "write")
        accessor = _field(body, "AccessorID", str, "Token", "")
        return Reply(self.store.token_json(self._token_set(req, accessor, True, body)))

    def _token_self(self, req: FakeRequest) -> Any:
        secret = req.token

        def compute() -> tuple[int, Reply]:
            token = self.store.token_by_secret(secret) if secret else None
            if token is None:
                # agent/acl_endpoint.go ACLTokenSelf (1.15+; 1.10: 403 ACL not found)
                return self.store.tokens_index, self._not_found(None, "Supplied token does not exist")
            return self.store.tokens_index, Reply(self.store.token_json(token), index=self.store.tokens_index)

        return self.core.blocking(req, compute)

    def _token_crud(self, req: FakeRequest) -> Any:
        tail = req.tail
        if req.method == "PUT" and tail.endswith("/clone"):
            return self._token_clone(req, tail[: -len("/clone")])
        if not tail and req.method != "PUT":
            raise HTTPError(400, "Missing token ID" if self.legacy else "Missing token AccessorID")
        if req.method == "GET":
            return self._token_read(req, tail)
        if req.method == "PUT":
            return self._token_update(req, tail)
        return self._token_delete(req, tail)

    def _token_read(self, req: FakeRequest, accessor: str) -> Any:
        self._need(req, "read")
        redact = not req.authz.allowed("acl", "", "write")

        def compute() -> tuple[int, Reply]:
            token = self.store.tokens.get(accessor)
            if token is None or self.store.expired(token):
                return self.store.tokens_index, self._not_found("token")
            return self.store.tokens_index, Reply(
                self.store.token_json(token, redact), index=self.store.tokens_index
            )

        return self.core.blocking(req, compute)

    def _token_update(self, req: FakeRequest, accessor: str) -> Any:
        # decode and the URL/payload check (400s) come before the RPC's ACL check
        body = self._decode(req, "Token")
        in_body = _field(body, "AccessorID", str, "Token", "")
        if in_body and in_body != accessor:
            raise HTTPError(400, "Token Accessor ID in URL and payload do not match")
        self._need(req, "write")
        return Reply(self.store.token_json(self._token_set(req, accessor, False, body)))

    def _token_clone(self, req: FakeRequest, accessor: str) -> Any:
        body = self._decode(req, "Token")
        self._need(req, "write")
        source = self.store.tokens.get(accessor)
        if source is None or self.store.expired(source):
            raise HTTPError(403, "ACL not found")
        if source["Rules"]:
            raise HTTPError(500, "Cannot clone a legacy ACL with this endpoint")
        description = _field(body, "Description", str, "Token", "") or source["Description"]
        if source["_expires"] is not None:
            # the clone goes through tokenSetInternal's create checks with
            # the source's ExpirationTime
            self._check_expiry_bounds(source["_expires"] - self.core.clock.seconds())
        idx = self.core.next_index()
        token = self.store.store_token(
            {
                "AccessorID": self.core.new_uuid(),
                "SecretID": self.core.new_uuid(),
                "Description": description,
                "Policies": source["Policies"],
                "Roles": source["Roles"],
                "ServiceIdentities": source["ServiceIdentities"],
                "NodeIdentities": source["NodeIdentities"],
                "TemplatedPolicies": source.get("TemplatedPolicies", []),
                "Local": source["Local"],
                "ExpirationTime": source["ExpirationTime"],
                "_expires": source["_expires"],
                "CreateTime": go_time(self.core.clock.seconds()),
            },
            idx,
        )
        return Reply(self.store.token_json(token))

    def _token_delete(self, req: FakeRequest, accessor: str) -> Any:
        self._need(req, "write")
        if not _is_uuid(accessor):
            raise HTTPError(500, "Accessor ID is missing or an invalid UUID")
        if accessor == ANONYMOUS_ACCESSOR:
            raise HTTPError(500, "Delete operation not permitted on the anonymous token")
        token = self.store.tokens.get(accessor)
        if token is None:
            return Reply(True)
        if req.token and req.token == token["SecretID"]:
            raise HTTPError(500, "Deletion of the request's authorization token is not permitted")
        self.store.delete_token(accessor, self.core.next_index())
        return Reply(True)

    def _token_list(self, req: FakeRequest) -> Any:
        self._need(req, "read")
        redact = not req.authz.allowed("acl", "", "write")
        policy = req.get("policy") or ""
        role = req.get("role") or ""
        method = req.get("authmethod") or ""
        # ?servicename came after 1.10 (agent/acl_endpoint.go ACLTokenList)
        service = "" if self.legacy else req.get("servicename") or ""
        if sum(bool(f) for f in (policy, role, method, service)) > 1:
            # agent/consul/state/acl.go ACLTokenList: one index at a time
            raise HTTPError(
                500,
                (
                    "can only filter by one of policy, role, or methodName at a time"
                    if self.legacy
                    else "can only filter by one of policy, role, serviceName, or methodName at a time"
                ),
            )

        def compute() -> tuple[int, Reply]:
            items = []
            for _, token in sorted(self.store.tokens.items()):
                if self.store.expired(token):
                    continue
                if policy and policy not in token["Policies"]:
                    continue
                if role and role not in token["Roles"]:
                    continue
                if method and token["AuthMethod"] != method:
                    continue
                if service and not any(si["ServiceName"] == service for si in token["ServiceIdentities"]):
                    continue
                items.append(self.store.token_json(token, redact, stub=True))
            return self.store.tokens_index, Reply(items, index=self.store.tokens_index)

        return self.core.blocking(req, compute)

    # -- policies ----------------------------------------------------------------

    def _policy_set(self, req: FakeRequest, policy_id: str, create: bool) -> Any:
        # agent/acl_endpoint.go aclPolicyWriteInternal: decode and ID checks
        # (400s) before the ACL.PolicySet RPC checks acl:write.
        what = "Policy"
        body = self._decode(req, what)
        in_body = _field(body, "ID", str, what, "")
        if create:
            if in_body:
                raise HTTPError(400, "Cannot specify the ID when creating a new policy")
        elif in_body and in_body != policy_id:
            raise HTTPError(400, "Policy ID in URL and payload do not match")
        name = _field(body, "Name", str, what, "")
        description = _field(body, "Description", str, what, "")
        rules = _field(body, "Rules", str, what, "")
        datacenters = _field(body, "Datacenters", list, what, None)
        self._need(req, "write")
        if not name:
            raise HTTPError(500, "Invalid Policy: no Name is set")
        if not _POLICY_NAME_RE.match(name):
            raise HTTPError(
                500, "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
            )
        name_match = self.store.policy_by_name(name)
        existing = None
        if create:
            if name_match is not None:
                raise HTTPError(500, f'Invalid Policy: A Policy with Name "{name}" already exists')
            policy_id = self.core.new_uuid()
        else:
            if not _is_uuid(policy_id):
                raise HTTPError(500, "Policy ID invalid UUID")
            existing = self.store.policies.get(policy_id)
            if existing is None:
                raise HTTPError(500, f"cannot find policy {policy_id}")
            if existing["Name"] != name and name_match is not None:
                raise HTTPError(500, f'Invalid Policy: A policy with name "{name}" already exists')
            if policy_id == GLOBAL_MANAGEMENT_ID:
                if datacenters is not None:
                    raise HTTPError(
                        500,
                        "Changing the Datacenters of the builtin global-management policy is not permitted",
                    )
                if rules != existing["Rules"]:
                    raise HTTPError(
                        500, "Changing the Rules for the builtin global-management policy is not permitted"
                    )
        try:
            parse_rules(rules)
        except RuleError as e:
            raise HTTPError(500, str(e))
        idx = self.core.next_index()
        record = self.store.policy_record(
            policy_id,
            name,
            description,
            rules,
            datacenters,
            existing["CreateIndex"] if existing else idx,
            idx,
        )
        self.store.policies[policy_id] = record
        self.store.policies_index = idx
        return Reply(self.store.policy_json(record))

    def _policy_create(self, req: FakeRequest) -> Any:
        return self._policy_set(req, "", True)

    def _policy_read(self, req: FakeRequest, find: Any) -> Any:
        self._need(req, "read")

        def compute() -> tuple[int, Reply]:
            policy = find()
            if policy is None:
                return self.store.policies_index, self._not_found("policy")
            return self.store.policies_index, Reply(
                self.store.policy_json(policy), index=self.store.policies_index
            )

        return self.core.blocking(req, compute)

    def _policy_read_by_name(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing policy Name")
        return self._policy_read(req, lambda: self.store.policy_by_name(name))

    def _policy_crud(self, req: FakeRequest) -> Any:
        policy_id = req.tail
        if not policy_id and req.method != "PUT":
            raise HTTPError(400, "Missing policy ID")
        if req.method == "GET":
            return self._policy_read(req, lambda: self.store.policies.get(policy_id))
        if req.method == "PUT":
            return self._policy_set(req, policy_id, False)
        self._need(req, "write")
        policy = self.store.policies.get(policy_id)
        if policy is None:
            return Reply(True)
        if policy_id == GLOBAL_MANAGEMENT_ID:
            raise HTTPError(500, "Delete operation not permitted on the builtin global-management policy")
        idx = self.core.next_index()
        del self.store.policies[policy_id]
        self.store.compiled.pop(policy_id, None)
        self.store.policies_index = idx
        return Reply(True)

    def _policy_list(self, req: FakeRequest) -> Any:
        self._need(req, "read")

        def compute() -> tuple[int, Reply]:
            items = [self.store.policy_json(p, stub=True) for _, p in sorted(self.store.policies.items())]
            return self.store.policies_index, Reply(items, index=self.store.policies_index)

        return self.core.blocking(req, compute)

    # -- roles ---------------------------------------------------------------------

    def _role_set(self, req: FakeRequest, role_id: str) -> Any:
        # agent/acl_endpoint.go ACLRoleWrite: decode and ID check (400s)
        # before the ACL.RoleSet RPC checks acl:write.
        what = "Role"
        body = self._decode(req, what)
        in_body = _field(body, "ID", str, what, "")
        if in_body and in_body != role_id:
            raise HTTPError(400, "Role ID in URL and payload do not match")
        self._need(req, "write")
        name = _field(body, "Name", str, what, "")
        description = _field(body, "Description", str, what, "")
        if not name:
            raise HTTPError(500, "Invalid Role: no Name is set")
        if not _ROLE_NAME_RE.match(name):
            raise HTTPError(
                500, "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed"
            )
        existing = None
        if not role_id:
            if self.store.role_by_name(name) is not None:
                raise HTTPError(500, f'Invalid Role: A Role with Name "{name}" already exists')
            role_id = self.core.new_uuid()
        else:
            if not _is_uuid(role_id):
                raise HTTPError(500, "Role ID invalid UUID")
            existing = self.store.roles.get(role_id)
            if existing is None:
                raise HTTPError(500, f"cannot find role {role_id}")
            if existing["Name"] != name and self.store.role_by_name(name) is not None:
                raise HTTPError(500, f'Invalid Role: A role with name "{name}" already exists')
        policies = self.store.resolve_policy_links(_links(body, "Policies", what))
        services, nodes = self._identities(body, what, False)
        templated = parse_templated(body.get("TemplatedPolicies"), what, False)
        idx = self.core.next_index()
        record = {
            "ID": role_id,
            "Name": name,
            "Description": description,
            "Policies": policies,
            "ServiceIdentities": services,
            "NodeIdentities": nodes,
            # ACLRole.SetHash: Name, Description, policy IDs, identities
            "TemplatedPolicies": templated,
            "Hash": hash_fields(
                name,
                description,
                *policies,
                *identity_parts(services, nodes),
                *templated_hash_parts(templated),
            ),
            "CreateIndex": existing["CreateIndex"] if existing else idx,
            "ModifyIndex": idx,
        }
        self.store.roles[role_id] = record
        self.store.roles_index = idx
        return Reply(self.store.role_json(record))

    def _role_create(self, req: FakeRequest) -> Any:
        return self._role_set(req, "")

    def _role_read(self, req: FakeRequest, find: Any) -> Any:
        self._need(req, "read")

        def compute() -> tuple[int, Reply]:
            role = find()
            if role is None:
                return self.store.roles_index, self._not_found("role")
            return self.store.roles_index, Reply(self.store.role_json(role), index=self.store.roles_index)

        return self.core.blocking(req, compute)

    def _role_read_by_name(self, req: FakeRequest) -> Any:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing role Name")
        return self._role_read(req, lambda: self.store.role_by_name(name))

    def _role_crud(self, req: FakeRequest) -> Any:
        role_id = req.tail
        if not role_id and req.method != "PUT":
            raise HTTPError(400, "Missing role ID")
        if req.method == "GET":
            return self._role_read(req, lambda: self.store.roles.get(role_id))
        if req.method == "PUT":
            return self._role_set(req, role_id)
        self._need(req, "write")
        if role_id not in self.store.roles:
            return Reply(True)
        idx = self.core.next_index()
        del self.store.roles[role_id]
        self.store.roles_index = idx
        return Reply(True)

    def _role_list(self, req: FakeRequest) -> Any:
        self._need(req, "read")
        policy = req.get("policy") or ""

        def compute() -> tuple[int, Reply]:
            items = [
                self.store.role_json(r)
                for _, r in sorted(self.store.roles.items())
                if not policy or policy in r["Policies"]
            ]
            return self.store.roles_index, Reply(items, index=self.store.roles_index)

        return self.core.blocking(req, compute)
