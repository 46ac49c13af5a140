# -*- test-case-name: tests.test_api_modern_acl_auth -*-
"""
FakeConsul's ACL auth methods, binding rules, login and logout
(agent/acl_endpoint.go, agent/consul/acl_endpoint.go ``AuthMethod*``,
``BindingRule*``, ``Login``, ``Logout``).

Like the rest of the fake's ACL system this answers as Consul 1.10 does:
with ACLs disabled every endpoint is 401 ``ACL support disabled``; a read
of something missing is 403 ``ACL not found``; validation failures are
500s.  Reads need ``acl:read``, writes ``acl:write``; login needs no token
and logout only the token being destroyed.

Only ``jwt`` auth methods with static ``JWTValidationPubKeys`` can log in
(the fake verifies the JWT's RS*/ES* signature with ``cryptography``, then
``BoundIssuer``, ``BoundAudiences``, ``exp``/``nbf`` on the fake's clock,
and maps claims through ``ClaimMappings``/``ListClaimMappings``).  Other
types (``kubernetes``, ``oidc``, ``aws-iam``, or a ``jwt`` method that
fetches its keys) can be stored but not logged in with.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from typing import Any, Optional

from ._acl import require
from ._acl_templated import TEMPLATES, parse_templated, validate_variables
from ._core import FakeRequest, HTTPError, Reply, Route, go_quote, parse_common, parse_go_duration
from ._gofmt import go_time
from ._gojson import decode_body
from ._shapes_modern import ACL_LOGIN

#: The auth method types Consul CE registers.
AUTH_METHOD_TYPES = ("kubernetes", "jwt", "oidc", "aws-iam")
#: The bind types of a binding rule (Consul 1.20).
BIND_TYPES = ("service", "node", "role", "policy", "templated-policy")

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


def _token_table(acl: Any) -> Any:
    """
    What stores and renders tokens: the ACL system's ``store`` where it has
    one (``store_token``, ``delete_token``, ``token_json``), else the system.
    """
    store = getattr(acl, "store", None)
    return store if store is not None and hasattr(store, "store_token") else None


def store_token(acl: Any, fields: dict[str, Any], idx: int) -> dict[str, Any]:
    """Store a new token record in the ACL system's table."""
    table = _token_table(acl)
    return table.store_token(fields, idx) if table is not None else acl._store_token(fields, idx)


def delete_token(acl: Any, accessor: str, idx: int) -> None:
    """Delete a token record from the ACL system's table."""
    table = _token_table(acl)
    if table is not None:
        table.delete_token(accessor, idx)
    else:
        acl._delete_token(accessor, idx)


def token_json(acl: Any, token: dict[str, Any]) -> dict[str, Any]:
    """A token record as Consul's JSON."""
    table = _token_table(acl)
    return dict(table.token_json(token) if table is not None else acl.token_json(token))


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LoginError(Exception):
    """A bearer token the auth method refuses."""


def verify_jwt(token: str, config: dict[str, Any], now: float) -> dict[str, Any]:
    """
    The claims of ``token`` once its signature, issuer, audience and
    validity times check out against a ``jwt`` auth method's ``config``.

    :raises LoginError: with the reason.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    try:
        head_b64, body_b64, sig_b64 = token.split(".")
        header = json.loads(_b64url(head_b64))
        claims = json.loads(_b64url(body_b64))
        signature = _b64url(sig_b64)
    except (ValueError, TypeError):
        raise LoginError("failed to parse JWT: square/go-jose: compact JWS format must have three parts")
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise LoginError("failed to parse JWT: square/go-jose: invalid header or claims")
    alg = header.get("alg", "")
    digests = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    if alg[:2] not in ("RS", "ES") or alg[2:] not in digests:
        raise LoginError(f"unsupported signing algorithm {go_quote(alg)}")
    digest = digests[alg[2:]]
    signed = f"{head_b64}.{body_b64}".encode("ascii")
    verified = False
    for pem in config.get("JWTValidationPubKeys") or []:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
        try:
            if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, signed, padding.PKCS1v15(), digest)
                verified = True
            elif alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
                half = len(signature) // 2
                der = utils.encode_dss_signature(
                    int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
                )
                key.verify(der, signed, ec.ECDSA(digest))
                verified = True
        except InvalidSignature:
            continue
        if verified:
            break
    if not verified:
        raise LoginError("no known key successfully validated the token signature")
    leeway = 60.0
    for name in ("exp", "nbf"):
        if name in claims and (isinstance(claims[name], bool) or not isinstance(claims[name], (int, float))):
            raise LoginError(f"failed to parse JWT claims: {name} is not a number")
    if "exp" in claims and now > claims["exp"] + leeway:
        raise LoginError("token is expired (exp)")
    if "nbf" in claims and now < claims["nbf"] - leeway:
        raise LoginError("token not valid yet (nbf)")
    issuer = config.get("BoundIssuer")
    if issuer and claims.get("iss") != issuer:
        raise LoginError("invalid issuer (iss) claim")
    audiences = config.get("BoundAudiences") or []
    if audiences:
        aud = claims.get("aud")
        given = aud if isinstance(aud, list) else [aud]
        if not any(a in audiences for a in given):
            raise LoginError("invalid audience (aud) claim")
    return claims


def _typed(body: dict[str, Any], what: str, fields: dict[str, type]) -> None:
    """400 ``<what> decoding failed`` for a field of the wrong JSON type (Go's typed decoding)."""
    for name, kind in fields.items():
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            got = (
                "number"
                if isinstance(value, (int, float)) and not isinstance(value, bool)
                else type(value).__name__
            )
            wants: dict[type, str] = {str: "string", dict: "map[string]interface {}", list: "[]string"}
            want = wants.get(kind, "value")
            raise HTTPError(
                400,
                f"{what} decoding failed: json: cannot unmarshal {got} into Go struct field .{name} of type {want}",
            )


class ACLAuthPart:
    """
    Auth methods, binding rules, login and logout of a FakeConsul.

    :ivar methods: name -> auth method record.
    :ivar rules: ID -> binding rule record.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers
        self.methods: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, dict[str, Any]] = {}
        self.methods_index = core.index
        self.rules_index = core.index
        #: AccessorID -> the auth method that minted the token.
        self.login_tokens: dict[str, str] = {}

    def routes(self) -> list[Route]:
        """
        The auth method, binding rule, login and logout routes, always
        registered as Consul registers them; with ACLs disabled each answers
        401 ``ACL support disabled``.
        """
        gate = {"check_dc": False, "parse": False}
        return [
            Route("/v1/acl/auth-method", ("PUT",), self._gate(self._method_create), **gate),
            Route("/v1/acl/auth-method/", ("GET", "PUT", "DELETE"), self._gate(self._method_crud), **gate),
            Route("/v1/acl/auth-methods", ("GET",), self._gate(self._method_list), **gate),
            Route("/v1/acl/binding-rule", ("PUT",), self._gate(self._rule_create), **gate),
            Route("/v1/acl/binding-rule/", ("GET", "PUT", "DELETE"), self._gate(self._rule_crud), **gate),
            Route("/v1/acl/binding-rules", ("GET",), self._gate(self._rule_list), **gate),
            Route("/v1/acl/login", ("POST",), self._gate(self._login), **gate),
            Route("/v1/acl/logout", ("POST",), self._gate(self._logout), **gate),
        ]

    def _gate(self, handler: Any) -> Any:
        """
        ``handler`` behind what agent/acl_endpoint.go does first:
        ``checkACLDisabled`` (401), then ``s.parse`` for the reads, and
        ``?dc`` for every one of these (the writes call ``parseDC``; Consul
        decodes a write's body before the RPC refuses another datacenter,
        the fake refuses the datacenter first).
        """

        def run(req: FakeRequest) -> Any:
            self._enabled()
            if req.method == "GET":
                parse_common(req)
            self.core.check_dc(req)
            return handler(req)

        return run

    @property
    def _acl(self) -> Any:
        return self._peers.acl

    def _enabled(self) -> None:
        if not self._acl.enabled:
            raise HTTPError(401, "ACL support disabled")

    def _not_found(self, kind: str, index: int) -> Reply:
        """
        A read of a missing auth method or binding rule: 403 ``ACL not
        found`` in Consul 1.10, 404 ``Requested <kind> does not exist: ACL
        not found`` since 1.15 (agent/acl_endpoint.go), by the ACL system's release.
        """
        if getattr(self._acl, "legacy", True):
            return Reply("ACL not found", status=403, json=False, index=index)
        return Reply(f"Requested {kind} does not exist: ACL not found", status=404, json=False, index=index)

    @staticmethod
    def _body(req: FakeRequest, what: str) -> dict[str, Any]:
        if not req.body.strip():
            return {}
        try:
            body = json.loads(req.body)
        except ValueError as e:
            raise HTTPError(400, f"{what} decoding failed: {e}")
        if not isinstance(body, dict):
            raise HTTPError(
                400,
                f"{what} decoding failed: json: cannot unmarshal into Go value of type structs.ACL{what.replace(' ', '')}",
            )
        return body

    # -- auth methods -------------------------------------------------------------

    def method_json(self, method: dict[str, Any], stub: bool = False) -> dict[str, Any]:
        """An auth method as Consul's JSON (``stub``: as a list entry, without ``Config``)."""
        out = {k: v for k, v in method.items() if not (stub and k == "Config")}
        return copy.deepcopy(out)

    def _store_method(
        self, req: FakeRequest, body: dict[str, Any], name: str, old: Optional[dict[str, Any]]
    ) -> Reply:
        _typed(
            body,
            "AuthMethod",
            {
                "Name": str,
                "Type": str,
                "DisplayName": str,
                "Description": str,
                "Config": dict,
                "TokenLocality": str,
                "TokenNameFormat": str,
            },
        )
        mtype = body.get("Type") or ""
        if old is not None and mtype and mtype != old["Type"]:
            raise HTTPError(500, "Invalid Auth Method: cannot change the Type of an existing auth method")
        mtype = mtype or (old or {}).get("Type", "")
        if not name:
            raise HTTPError(500, "Invalid Auth Method: no Name is set")
        if mtype not in AUTH_METHOD_TYPES:
            raise HTTPError(500, f"Invalid Auth Method: Type should be one of: {AUTH_METHOD_TYPES}")
        config = body.get("Config") or {}
        if not isinstance(config, dict):
            raise HTTPError(400, "AuthMethod decoding failed: json: cannot unmarshal into Config")
        if mtype == "jwt":
            sources = [k for k in ("JWTValidationPubKeys", "JWKSURL", "OIDCDiscoveryURL") if config.get(k)]
            if len(sources) != 1:
                raise HTTPError(
                    500,
                    "Invalid Auth Method: exactly one of 'JWTValidationPubKeys', 'JWKSURL', or 'OIDCDiscoveryURL' must be set for type 'jwt'",
                )
            _check_keys(config.get("JWTValidationPubKeys"))
        locality = body.get("TokenLocality") or ""
        if locality not in ("", "local", "global"):
            raise HTTPError(500, "Invalid Auth Method: TokenLocality should be one of 'local' or 'global'")
        ttl_raw = body.get("MaxTokenTTL") or "0s"
        try:
            ttl = parse_go_duration(ttl_raw) if isinstance(ttl_raw, str) else float(ttl_raw) / 1e9
        except (ValueError, TypeError):
            raise HTTPError(
                400, f"AuthMethod decoding failed: time: invalid duration {go_quote(str(ttl_raw))}"
            )
        if ttl and not 60 <= ttl <= 24 * 3600:
            raise HTTPError(
                500,
                "Invalid Auth Method: MaxTokenTTL 0s cannot be more than 24h0m0s or less than 1m0s".replace(
                    "0s", _dur(ttl), 1
                ),
            )
        idx = self.core.next_index()
        method: dict[str, Any] = {"Name": name, "Type": mtype}
        for key in ("DisplayName", "Description"):
            if body.get(key):
                method[key] = body[key]
        if ttl:
            method["MaxTokenTTL"] = _dur(ttl)
        if locality:
            method["TokenLocality"] = locality
        if body.get("TokenNameFormat"):
            method["TokenNameFormat"] = body["TokenNameFormat"]
        method["Config"] = copy.deepcopy(config)
        method["CreateIndex"] = old["CreateIndex"] if old else idx
        method["ModifyIndex"] = idx
        self.methods[name] = method
        self.methods_index = idx
        return Reply(self.method_json(method))

    def _method_create(self, req: FakeRequest) -> Reply:
        self._enabled()
        require(req, "acl", "", "write")
        body = self._body(req, "AuthMethod")
        name = body.get("Name") or ""
        return self._store_method(req, body, name, self.methods.get(name))

    def _method_crud(self, req: FakeRequest) -> Any:
        self._enabled()
        name = req.tail
        if req.method == "GET":
            require(req, "acl", "", "read")
            method = self.methods.get(name)
            if method is None:
                return self._not_found("auth method", self.methods_index)
            return Reply(self.method_json(method), index=method["ModifyIndex"])
        require(req, "acl", "", "write")
        if req.method == "DELETE":
            if name in self.methods:
                idx = self.core.next_index()
                del self.methods[name]
                self.methods_index = idx
                for rid in [r for r, rule in self.rules.items() if rule["AuthMethod"] == name]:
                    del self.rules[rid]
                    self.rules_index = idx
                for accessor in [a for a, m in self.login_tokens.items() if m == name]:
                    self.login_tokens.pop(accessor)
                    if accessor in self._acl.tokens:
                        delete_token(self._acl, accessor, idx)
            return Reply(True)
        body = self._body(req, "AuthMethod")
        if body.get("Name") and body["Name"] != name:
            raise HTTPError(400, "Auth Method Name in URL and payload do not match")
        if name not in self.methods:
            raise HTTPError(500, f"Cannot find auth method to update: {go_quote(name)}")
        return self._store_method(req, body, name, self.methods[name])

    def _method_list(self, req: FakeRequest) -> Any:
        self._enabled()
        require(req, "acl", "", "read")

        def compute() -> tuple[int, Reply]:
            index = max(self.methods_index, 1)
            return index, Reply(
                [self.method_json(m, stub=True) for _, m in sorted(self.methods.items())], index=index
            )

        return self.core.blocking(req, compute)

    # -- binding rules ------------------------------------------------------------------

    def _store_rule(self, body: dict[str, Any], rid: str, old: Optional[dict[str, Any]]) -> Reply:
        _typed(
            body,
            "BindingRule",
            {
                "AuthMethod": str,
                "BindType": str,
                "BindName": str,
                "Selector": str,
                "Description": str,
                "BindVars": dict,
            },
        )
        method = body.get("AuthMethod") or (old or {}).get("AuthMethod", "")
        if not method:
            raise HTTPError(500, "Invalid Binding Rule: no AuthMethod is set")
        if old is not None and method != old["AuthMethod"]:
            raise HTTPError(500, "Invalid Binding Rule: cannot change AuthMethod")
        if method not in self.methods:
            raise HTTPError(500, f"Invalid Binding Rule: unknown auth method {go_quote(method)}")
        bind_type = body.get("BindType") or ""
        if not bind_type:
            raise HTTPError(500, "Invalid Binding Rule: no BindType is set")
        if bind_type not in BIND_TYPES:
            raise HTTPError(500, f"Invalid Binding Rule: unknown BindType {go_quote(bind_type)}")
        bind_name = body.get("BindName") or ""
        if not bind_name and bind_type != "templated-policy":
            raise HTTPError(500, "Invalid Binding Rule: no BindName is set")
        selector = body.get("Selector") or ""
        if selector:
            from ._catalog import FilterError, compile_filter

            try:
                compile_filter(selector)
            except FilterError as e:
                raise HTTPError(500, f"Invalid Binding Rule: Selector is invalid: {e}")
        idx = self.core.next_index()
        rule = {
            "ID": rid,
            "Description": body.get("Description") or "",
            "AuthMethod": method,
            "Selector": selector,
            "BindType": bind_type,
            "BindName": bind_name,
        }
        if body.get("BindVars"):
            rule["BindVars"] = copy.deepcopy(body["BindVars"])
        rule["CreateIndex"] = old["CreateIndex"] if old else idx
        rule["ModifyIndex"] = idx
        self.rules[rid] = rule
        self.rules_index = idx
        return Reply(copy.deepcopy(rule))

    def _rule_create(self, req: FakeRequest) -> Reply:
        self._enabled()
        require(req, "acl", "", "write")
        body = self._body(req, "BindingRule")
        if body.get("ID"):
            raise HTTPError(400, "Cannot specify the ID when creating a new binding rule")
        return self._store_rule(body, self.core.new_uuid(), None)

    def _rule_crud(self, req: FakeRequest) -> Any:
        self._enabled()
        rid = req.tail
        if req.method == "GET":
            require(req, "acl", "", "read")
            rule = self.rules.get(rid)
            if rule is None:
                return self._not_found("binding rule", self.rules_index)
            return Reply(copy.deepcopy(rule), index=rule["ModifyIndex"])
        require(req, "acl", "", "write")
        if req.method == "DELETE":
            if rid in self.rules:
                del self.rules[rid]
                self.rules_index = self.core.next_index()
            return Reply(True)
        body = self._body(req, "BindingRule")
        if body.get("ID") and body["ID"] != rid:
            raise HTTPError(400, "BindingRule ID in URL and payload do not match")
        if rid not in self.rules:
            raise HTTPError(500, f"Cannot find binding rule to update: {go_quote(rid)}")
        return self._store_rule(body, rid, self.rules[rid])

    def _rule_list(self, req: FakeRequest) -> Any:
        self._enabled()
        require(req, "acl", "", "read")
        method = req.get("authmethod")

        def compute() -> tuple[int, Reply]:
            index = max(self.rules_index, 1)
            rules = [
                copy.deepcopy(r)
                for r in sorted(self.rules.values(), key=lambda r: (r["CreateIndex"], r["ID"]))
                if not method or r["AuthMethod"] == method
            ]
            return index, Reply(rules, index=index)

        return self.core.blocking(req, compute)

    # -- login / logout ------------------------------------------------------------------

    def _identity(self, method: dict[str, Any], bearer: str) -> dict[str, Any]:
        """The verified identity: ``{'value': {...}, 'list': {...}}``."""
        config = method["Config"]
        if method["Type"] != "jwt" or not config.get("JWTValidationPubKeys"):
            raise HTTPError(
                500, f"FakeConsul cannot validate logins for auth method type {go_quote(method['Type'])}"
            )
        try:
            claims = verify_jwt(bearer, config, self.core.clock.seconds())
        except LoginError as e:
            raise HTTPError(403, f"Permission denied: {e}")
        values: dict[str, str] = {}
        for claim, attr in (config.get("ClaimMappings") or {}).items():
            if claim in claims:
                values[attr] = str(claims[claim])
        lists: dict[str, list[str]] = {}
        for claim, attr in (config.get("ListClaimMappings") or {}).items():
            value = claims.get(claim)
            if value is not None:
                lists[attr] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return {"value": values, "list": lists}

    @staticmethod
    def _templated_binding(name: str, bind_vars: Any, identity: dict[str, Any]) -> dict[str, Any]:
        """
        agent/consul/authmethod: generateTemplatedPolicies -- the template
        named by the rule, its ``BindVars`` interpolated with the identity
        and validated against the template's schema (a failed login if not).
        """
        if name not in TEMPLATES:
            raise HTTPError(
                500,
                f"Bind name for templated-policy bind type does not match existing template name: {name}",
            )
        entry: dict[str, Any] = {"TemplateName": name}
        if isinstance(bind_vars, dict):
            raw = next((v for k, v in bind_vars.items() if str(k).lower() == "name"), "")
            value = _INTERPOLATION.sub(lambda m: _lookup(identity, m.group(1)), str(raw or ""))
            entry["TemplateVariables"] = {"Name": value}
        reason = validate_variables(name, entry.get("TemplateVariables"))
        if reason is not None:
            raise HTTPError(500, f"templated policy failed validation: {reason}")
        return entry

    def _login(self, req: FakeRequest) -> Reply:
        self._enabled()
        body = decode_body(ACL_LOGIN, req.body) if req.body.strip() else {}
        name = body.get("AuthMethod") or ""
        bearer = body.get("BearerToken") or ""
        if not name:
            raise HTTPError(400, "Invalid login request: Missing auth method name")
        if not bearer:
            raise HTTPError(400, "Invalid login request: Missing auth method bearer token")
        method = self.methods.get(name)
        if method is None:
            raise HTTPError(403, "ACL not found")
        identity = self._identity(method, bearer)
        acl = self._acl
        services: list[dict[str, Any]] = []
        nodes: list[dict[str, Any]] = []
        roles: list[str] = []
        policies: list[str] = []
        templated: list[dict[str, Any]] = []
        from ._catalog import compile_filter

        for rule in sorted(self.rules.values(), key=lambda r: (r["CreateIndex"], r["ID"])):
            if rule["AuthMethod"] != name:
                continue
            if rule["Selector"] and not compile_filter(rule["Selector"])(identity):
                continue
            bound = _INTERPOLATION.sub(lambda m: _lookup(identity, m.group(1)), rule["BindName"])
            if rule["BindType"] == "service":
                services.append({"ServiceName": bound})
            elif rule["BindType"] == "node":
                nodes.append({"NodeName": bound, "Datacenter": self.core.datacenter})
            elif rule["BindType"] == "role":
                roles.extend(rid for rid, r in acl.roles.items() if r["Name"] == bound)
            elif rule["BindType"] == "policy":
                policies.extend(pid for pid, p in acl.policies.items() if p["Name"] == bound)
            elif rule["BindType"] == "templated-policy":
                templated.append(self._templated_binding(bound, rule.get("BindVars"), identity))
        if not (services or nodes or roles or policies or templated):
            # agent/consul/acl_endpoint.go Login: nothing bound, nothing granted.
            raise HTTPError(403, "Permission denied")
        now = self.core.clock.seconds()
        idx = self.core.next_index()
        meta = body.get("Meta") or {}
        fields: dict[str, Any] = {
            "AccessorID": self.core.new_uuid(),
            "SecretID": self.core.new_uuid(),
            "Description": "token created via login"
            + (": " + json.dumps(meta, separators=(",", ":")) if meta else ""),
            "Policies": policies,
            "Roles": roles,
            "ServiceIdentities": services,
            "NodeIdentities": nodes,
            "TemplatedPolicies": parse_templated(templated, "Token", False),
            "Local": method.get("TokenLocality", "local") != "global",
            "CreateTime": go_time(now),
        }
        ttl = parse_go_duration(method["MaxTokenTTL"]) if method.get("MaxTokenTTL") else 0
        if ttl:
            fields["ExpirationTime"] = go_time(now + ttl)
            fields["_expires"] = now + ttl
        token = store_token(acl, fields, idx)
        token["AuthMethod"] = name
        self.login_tokens[token["AccessorID"]] = name
        out = token_json(acl, token)
        out["AuthMethod"] = name
        return Reply(out)

    def _logout(self, req: FakeRequest) -> Reply:
        self._enabled()
        secret = req.token
        if not secret:
            # ACLLogout refuses a request with no token before the RPC.
            raise HTTPError(401, "Supplied token does not exist")
        acl = self._acl
        token = acl.token_by_secret(secret)
        if token is None:
            raise HTTPError(403, "ACL not found")
        if token["AccessorID"] not in self.login_tokens:
            # Logout only destroys tokens that login made.
            raise HTTPError(403, "Permission denied")
        self.login_tokens.pop(token["AccessorID"])
        delete_token(acl, token["AccessorID"], self.core.next_index())
        return Reply(True)


def _check_keys(keys: Any) -> None:
    """The jwt validator parses every static key when the method is stored."""
    if keys is None:
        return
    if not isinstance(keys, list):
        raise HTTPError(400, "AuthMethod decoding failed: JWTValidationPubKeys must be a list of PEM strings")
    from cryptography.hazmat.primitives import serialization

    for i, pem in enumerate(keys):
        try:
            if not isinstance(pem, str):
                raise ValueError("not a string")
            serialization.load_pem_public_key(pem.encode("ascii"))
        except (ValueError, TypeError, UnicodeError) as e:
            raise HTTPError(
                500, f"Invalid Auth Method: error parsing public key JWTValidationPubKeys[{i}]: {e}"
            )


def _lookup(identity: dict[str, Any], path: str) -> str:
    kind, _, name = path.strip().partition(".")
    value = identity.get(kind, {}).get(name, "")
    return value if isinstance(value, str) else ""


def _dur(seconds: float) -> str:
    """Go's ``Duration.String`` for whole seconds."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
