# -*- test-case-name: tests.test_fake_acl -*-
"""
FakeConsul's authorization: ACL rules and the authorizer of a request.

Rules (HCL or JSON) are parsed by :func:`parse_rules`.  In the current
syntax ``key "x"`` is an exact match and ``key_prefix "x"`` a prefix match;
in the legacy syntax (legacy tokens' ``Rules``) ``key "x"`` is a prefix match
and ``*_prefix`` forms are rejected.  An exact rule beats any prefix rule,
the longest prefix wins, and when several policies name the same resource
the most restrictive of ``deny > write > list > read`` applies.  ``write``
grants read and list, ``list`` grants read and list (keys only), ``read``
grants read.  Anything no rule covers falls to the default policy, except
``acl`` access, which only a rule (or the management policy) grants.
As in Consul (``hcl.Decode`` into a struct), unknown rule types are ignored,
and so are ``acl`` and ``*_prefix`` rules in the legacy syntax; invalid
levels fail with Consul's ``Invalid <rule> policy: <Go %#v of the rule>``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Optional

from ._core import FakeRequest, HTTPError, permission_denied
from ._gofmt import go_quote

#: The anonymous token's AccessorID (acl.AnonymousTokenID).
ANONYMOUS_ACCESSOR = "00000000-0000-0000-0000-000000000002"
#: Resources whose rules name a segment (``key "x"``, ``key_prefix "x"``).
NAMED_RESOURCES = ("key", "service", "node", "session", "agent", "event", "query")
#: Resources with one top-level level (``operator = "read"``).
SINGLE_RESOURCES = ("acl", "operator", "keyring")
#: Top-level rules of the current syntax (acl/policy.go PolicyRules in 1.10;
#: ``mesh`` is validated but not enforced, ``peering`` came in 1.13).
_CURRENT_SINGLES = ("acl", "operator", "keyring", "mesh")
#: Top-level rules of the legacy syntax (parseLegacy's LegacyPolicy: no ``acl``).
_LEGACY_SINGLES = ("operator", "keyring")
#: acl/policy.go isPolicyValid: ``list`` only for keys.
_VALID_LEVELS = ("read", "write", "deny")
#: The order PolicyRules.Validate checks the named rules in.
_VALIDATION_ORDER = ("agent", "key", "node", "service", "session", "event", "query")
#: The rule structs of acl/policy.go (Go's %#v in validation errors).
_GO_RULES = {
    "agent": ("AgentRule", "Node", False),
    "key": ("KeyRule", "Prefix", True),
    "node": ("NodeRule", "Name", True),
    "service": ("ServiceRule", "Name", True),
    "session": ("SessionRule", "Node", False),
    "event": ("EventRule", "Event", False),
    "query": ("PreparedQueryRule", "Prefix", False),
}


def _go_rule(resource: str, name: str, level: str, intentions: str = "") -> str:
    """Go's ``%#v`` of a rule struct pointer, as Consul's validation errors show it."""
    struct, key_field, enterprise = _GO_RULES[resource]
    fields = [f"{key_field}:{go_quote(name)}", f"Policy:{go_quote(level)}"]
    if resource == "service":
        fields.append(f"Intentions:{go_quote(intentions)}")
    if enterprise:
        fields.append("EnterpriseRule:acl.EnterpriseRule{}")
    return f"&acl.{struct}{{{', '.join(fields)}}}"


_LEVELS = ("read", "write", "deny", "list")
#: Which level wins when two rules name the same thing: deny > write > list > read.
_PRECEDENCE = {"deny": 4, "write": 3, "list": 2, "read": 1}


# -- the rule language ----------------------------------------------------------


class RuleError(ValueError):
    """Rules that do not parse or do not validate; the message is Consul's."""


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_\-.]*)
  | (?P<punct>[{}\[\]=,:])
    """,
    re.VERBOSE | re.DOTALL,
)


def _tokenize(text: str) -> list[tuple[str, Any, int]]:
    tokens: list[tuple[str, Any, int]] = []
    pos = 0
    line = 1
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise RuleError(f"Failed to parse ACL rules: At {line}: illegal char {text[pos]!r}")
        kind = m.lastgroup
        raw = m.group()
        if kind == "string":
            try:
                value: Any = json.loads(raw)
            except ValueError:
                value = raw[1:-1]
            tokens.append(("string", value, line))
        elif kind == "number":
            tokens.append(("number", float(raw) if "." in raw else int(raw), line))
        elif kind == "ident":
            if raw in ("true", "false"):
                tokens.append(("bool", raw == "true", line))
            else:
                tokens.append(("ident", raw, line))
        elif kind == "punct":
            tokens.append((raw, raw, line))
        line += raw.count("\n")
        pos = m.end()
    return tokens


#: A parsed item: (key, value) where value is ("attr", python value) or
#: ("block", [items]).
_Item = tuple[str, tuple[str, Any]]


class _HCLParser:
    """A small HCL1 parser for the forms ACL rules use."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def _peek(self) -> Optional[tuple[str, Any, int]]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _fail(self, what: str) -> RuleError:
        tok = self._peek()
        where = f"At {tok[2]}" if tok else "At EOF"
        return RuleError(f"Failed to parse ACL rules: {where}: {what}")

    def _next(self) -> tuple[str, Any, int]:
        tok = self._peek()
        if tok is None:
            raise self._fail("unexpected end of rules")
        self.pos += 1
        return tok

    def parse(self) -> list[_Item]:
        items = self._body(top=True)
        if self._peek() is not None:
            raise self._fail(f"unexpected {self._peek()[1]!r}")  # type: ignore[index]
        return items

    def _body(self, top: bool) -> list[_Item]:
        items: list[_Item] = []
        while True:
            tok = self._peek()
            if tok is None:
                if top:
                    return items
                raise self._fail("missing '}'")
            if tok[0] == "}":
                if top:
                    raise self._fail("unexpected '}'")
                return items
            if tok[0] == ",":
                self.pos += 1
                continue
            items.append(self._item())

    def _item(self) -> _Item:
        tok = self._next()
        if tok[0] not in ("ident", "string"):
            raise RuleError(f"Failed to parse ACL rules: At {tok[2]}: expected a key, got {tok[1]!r}")
        key = tok[1]
        labels: list[str] = []
        while True:
            nxt = self._peek()
            if nxt is None:
                raise self._fail(f"key {key!r} expected start of object ('{{') or assignment ('=')")
            if nxt[0] in ("string", "ident"):
                labels.append(self._next()[1])
                continue
            break
        nxt = self._next()
        if nxt[0] in ("=", ":"):
            if labels:
                raise RuleError(
                    f"Failed to parse ACL rules: At {nxt[2]}: nested object expected: LBRACE got: ASSIGN"
                )
            value = self._value()
        elif nxt[0] == "{":
            value = ("block", self._body(top=False))
            self._next()  # the closing brace
        else:
            raise RuleError(f"Failed to parse ACL rules: At {nxt[2]}: unexpected {nxt[1]!r}")
        # `key "a" "b" { }` is `key = { "a" = { "b" = { } } }`
        for label in reversed(labels):
            value = ("block", [(label, value)])
        return key, value

    def _value(self) -> tuple[str, Any]:
        tok = self._next()
        if tok[0] in ("string", "number", "bool"):
            return ("attr", tok[1])
        if tok[0] == "{":
            body = self._body(top=False)
            self._next()
            return ("block", body)
        if tok[0] == "[":
            values: list[tuple[str, Any]] = []
            while True:
                nxt = self._peek()
                if nxt is None:
                    raise self._fail("missing ']'")
                if nxt[0] == "]":
                    self.pos += 1
                    return ("list", values)
                if nxt[0] == ",":
                    self.pos += 1
                    continue
                values.append(self._value())
        raise RuleError(f"Failed to parse ACL rules: At {tok[2]}: unexpected {tok[1]!r}")


def _from_json(obj: Any) -> list[_Item]:
    """The JSON form of rules as parsed items (HCL reads JSON the same way)."""
    items: list[_Item] = []
    if isinstance(obj, list):
        for element in obj:
            items.extend(_from_json(element))
        return items
    if not isinstance(obj, dict):
        raise RuleError("Failed to parse ACL rules: JSON rules must be an object")
    for key, value in obj.items():
        for single in value if isinstance(value, list) else [value]:
            if isinstance(single, dict):
                items.append((key, ("block", _from_json(single))))
            else:
                items.append((key, ("attr", single)))
    return items


class Rules:
    """
    Compiled rules: exact and prefix levels per named resource, one level per
    singleton resource.  ``merge`` combines policies, the most restrictive
    level winning where two name the same thing.
    """

    def __init__(self) -> None:
        self.exact: dict[str, dict[str, str]] = {r: {} for r in NAMED_RESOURCES}
        self.prefix: dict[str, dict[str, str]] = {r: {} for r in NAMED_RESOURCES}
        self.single: dict[str, str] = {}

    @staticmethod
    def _stronger(old: Optional[str], new: str) -> str:
        if old is None or _PRECEDENCE[new] > _PRECEDENCE[old]:
            return new
        return old

    def add(self, resource: str, name: str, level: str, prefix: bool) -> None:
        """Add one rule for a named resource."""
        table = (self.prefix if prefix else self.exact)[resource]
        table[name] = self._stronger(table.get(name), level)

    def set_single(self, resource: str, level: str) -> None:
        """Add a top-level rule (``operator = "read"``)."""
        self.single[resource] = self._stronger(self.single.get(resource), level)

    def merge(self, other: "Rules") -> None:
        """Fold ``other`` into these rules."""
        for resource in NAMED_RESOURCES:
            for name, level in other.exact[resource].items():
                self.add(resource, name, level, False)
            for name, level in other.prefix[resource].items():
                self.add(resource, name, level, True)
        for resource, level in other.single.items():
            self.set_single(resource, level)

    def level(self, resource: str, name: str) -> Optional[str]:
        """The level that governs ``resource`` ``name``, or ``None``."""
        if resource in SINGLE_RESOURCES:
            return self.single.get(resource)
        if resource not in self.exact:
            raise ValueError(f"unknown ACL resource {resource!r}")
        exact = self.exact[resource].get(name)
        if exact is not None:
            return exact
        best: Optional[str] = None
        best_len = -1
        for pfx, level in self.prefix[resource].items():
            if name.startswith(pfx) and len(pfx) > best_len:
                best, best_len = level, len(pfx)
        return best


def _grants(level: str, access: str) -> bool:
    """Whether a rule ``level`` grants ``access`` (Consul's ``enforce``)."""
    if level == "write":
        return True
    if level == "list":
        return access in ("list", "read")
    if level == "read":
        return access == "read"
    return False


def parse_rules(text: Any, legacy: bool = False) -> Rules:
    """
    Parse ACL rules (HCL or JSON) into :class:`Rules`.

    :param legacy: the legacy syntax: ``key "x"`` (and every other named
        resource) is a prefix rule and ``*_prefix`` forms are unknown.
    :raises RuleError: with Consul's message when the rules are invalid.
    """
    rules = Rules()
    if text is None:
        return rules
    if not isinstance(text, str):
        raise RuleError("Failed to parse ACL rules: rules must be a string")
    stripped = text.strip()
    if not stripped:
        return rules
    if stripped.startswith("{"):
        try:
            items = _from_json(json.loads(stripped))
        except ValueError as e:
            if isinstance(e, RuleError):
                raise
            items = _HCLParser(text).parse()
    else:
        items = _HCLParser(text).parse()
    # hcl.Decode fills acl/policy.go's PolicyRules (or parseLegacy's
    # LegacyPolicy) and silently drops keys the struct lacks: an unknown rule
    # type, a *_prefix rule or ``acl`` in legacy rules, ``peering`` in 1.10.
    singles = _LEGACY_SINGLES if legacy else _CURRENT_SINGLES
    named: dict[tuple[str, bool], list[tuple[str, dict[str, Any]]]] = {}
    single_values: dict[str, str] = {}
    for key, (kind, value) in items:
        if key in singles:
            if kind != "attr" or not isinstance(value, str):
                raise RuleError(f"Failed to parse ACL rules: {key} must be a string")
            single_values[key] = value
            continue
        resource, is_prefix = key, False
        if key.endswith("_prefix"):
            resource, is_prefix = key[: -len("_prefix")], True
        if resource not in NAMED_RESOURCES or (legacy and is_prefix):
            continue
        if kind != "block":
            raise RuleError(
                f'Failed to parse ACL rules: {key} rules must be blocks like {key} "name" {{ policy = "read" }}'
            )
        for name, (inner_kind, body) in value:
            if inner_kind != "block":
                raise RuleError(f"Failed to parse ACL rules: {key} {name!r} must be a block")
            attrs = {k: v[1] for k, v in body if v[0] == "attr"}
            named.setdefault((resource, is_prefix), []).append((name, attrs))
    # PolicyRules.Validate / parseLegacy check in this order and report the
    # first bad rule as Go's %#v of the rule struct.
    if not legacy and single_values.get("acl", "") and single_values["acl"] not in _VALID_LEVELS:
        raise RuleError(f"Invalid acl policy: {go_quote(single_values['acl'])}")
    for resource in _VALIDATION_ORDER:
        for is_prefix in (False,) if legacy else (False, True):
            label = f"{resource}_prefix" if is_prefix else resource
            for name, attrs in named.get((resource, is_prefix), []):
                level = attrs.get("policy", "")
                level = level if isinstance(level, str) else ""
                intentions = attrs.get("intentions", "")
                intentions = intentions if isinstance(intentions, str) else ""
                if level not in _VALID_LEVELS and not (resource == "key" and level == "list"):
                    raise RuleError(f"Invalid {label} policy: {_go_rule(resource, name, level, intentions)}")
                if resource == "service" and intentions and intentions not in _VALID_LEVELS:
                    raise RuleError(
                        f"Invalid {label} intentions policy: {_go_rule(resource, name, level, intentions)}"
                    )
                # legacy rules are prefix rules (parseLegacy appends them to
                # the *Prefixes lists)
                rules.add(resource, name, level, is_prefix or legacy)
    for key in ("keyring", "operator", "mesh"):
        value = single_values.get(key, "")
        if key not in singles or not value:
            continue
        if value not in _VALID_LEVELS:
            raise RuleError(f"Invalid {key} policy: {go_quote(value)}")
    for key, value in single_values.items():
        if key in SINGLE_RESOURCES and value:
            rules.set_single(key, value)
    return rules


def service_identity_rules(name: str) -> Rules:
    """The rules a service identity grants (agent/structs/acl.go ``ACLServiceIdentity.SyntheticPolicy``)."""
    rules = Rules()
    rules.add("service", name, "write", False)
    rules.add("service", "", "read", True)
    rules.add("node", "", "read", True)
    return rules


def node_identity_rules(name: str) -> Rules:
    """The rules a node identity grants (agent/structs/acl.go ``ACLNodeIdentity.SyntheticPolicy``)."""
    rules = Rules()
    rules.add("node", name, "write", False)
    rules.add("service", "", "read", True)
    return rules


# -- authorizers ----------------------------------------------------------------


class AllowAll:
    """The authorizer used while ACLs are disabled: everything is allowed."""

    def allowed(self, resource: str, name: str, access: str) -> bool:
        """``True``: ACLs are off."""
        return True

    def require(self, resource: str, name: str, access: str) -> None:
        """Never raises: ACLs are off."""


class Authorizer:
    """
    The permissions of one resolved token: its rules, then the default
    policy.  ``acl`` access is never granted by the default policy.

    :param rules: a callable returning the token's merged :class:`Rules`
        (compiled on first use).
    :param default_allow: whether the agent's default policy is ``allow``.
    :param accessor_id: the token's AccessorID (never its secret).
    :param detailed: denials name the token and the permission, as Consul
        does since 1.11 (:func:`denial`); Consul 1.10 said only
        ``Permission denied``.
    """

    def __init__(self, rules: Any, default_allow: bool, accessor_id: str, detailed: bool = True) -> None:
        self._rules_source = rules
        self._rules: Optional[Rules] = None
        self.default_allow = default_allow
        self.accessor_id = accessor_id
        self.detailed = detailed

    def __repr__(self) -> str:
        return f"<Authorizer accessor={self.accessor_id}>"

    @property
    def rules(self) -> Rules:
        """The token's merged rules."""
        if self._rules is None:
            self._rules = self._rules_source()
        return self._rules

    def allowed(self, resource: str, name: str, access: str) -> bool:
        """Whether the token may ``access`` (read/write/list) ``resource`` ``name``."""
        if access not in ("read", "write", "list"):
            raise ValueError(f"unknown ACL access {access!r}")
        level = self.rules.level(resource, name or "")
        if level is not None:
            return _grants(level, access)
        if resource == "acl":
            return False
        return self.default_allow

    def require(self, resource: str, name: str, access: str) -> None:
        """Raise the 403 of :func:`denial` unless allowed."""
        if not self.allowed(resource, name, access):
            raise denial(self, resource, name, access)


class UnknownToken:
    """
    The authorizer of a request carrying a secret no token has: every ACL
    check fails with 403 ``message`` (``ACL not found``), while endpoints
    that check nothing (status, legacy ``info``) still answer.
    """

    def __init__(self, message: str = "ACL not found") -> None:
        self.message = message

    def allowed(self, resource: str, name: str, access: str) -> bool:
        """Raise 403 with the message."""
        raise HTTPError(403, self.message)

    def require(self, resource: str, name: str, access: str) -> None:
        """Raise 403 with the message."""
        raise HTTPError(403, self.message)


#: Resources whose denial names no object (acl/errors.go ``PermissionDeniedByACLUnnamed``).
_UNNAMED = ("acl", "operator", "keyring", "mesh")


def denial(authz: Any, resource: str, name: str, access: str) -> HTTPError:
    """
    The 403 for a denied ``access`` to ``resource`` ``name``.  For a
    :class:`Authorizer` with ``detailed`` texts, acl/errors.go
    ``PermissionDeniedError.Error``: ``Permission denied: token with
    AccessorID '<id>' lacks permission 'key:write' on "a/b"``, and for the
    anonymous token ``Permission denied: anonymous token lacks permission
    ...`` plus a sentence on how it got used.  Otherwise ``Permission
    denied``.
    """
    if not (isinstance(authz, Authorizer) and authz.detailed):
        return permission_denied()
    if authz.accessor_id == ANONYMOUS_ACCESSOR:
        text = "Permission denied: anonymous token"
    else:
        text = f"Permission denied: token with AccessorID '{authz.accessor_id}'"
    text += f" lacks permission '{resource}:{access}'"
    if name and resource not in _UNNAMED:
        text += f' on "{name}"'
    if authz.accessor_id == ANONYMOUS_ACCESSOR:
        text += ". The anonymous token is used implicitly when a request does not specify a token."
    return HTTPError(403, text)


def require(req: FakeRequest, resource: str, name: str, access: str) -> None:
    """Raise the 403 Consul answers (:func:`denial`) unless ``req``'s token grants access."""
    if not req.authz.allowed(resource, name, access):
        raise denial(req.authz, resource, name, access)


def check_resolved(authz: Any) -> None:
    """
    Raise 403 ``ACL not found`` if ``authz`` belongs to an unknown secret.

    Consul's RPC endpoints call ``ResolveToken`` before they look at the
    data (agent/consul/prepared_query_endpoint.go ``Apply``, ``filterACL``;
    agent/event_endpoint.go ``EventList``), so an unknown secret fails even
    where no rule would have been consulted.
    """
    if isinstance(authz, UnknownToken):
        raise HTTPError(403, "ACL not found")


def resolve(req: FakeRequest) -> None:
    """:func:`check_resolved` for the token ``req`` carries."""
    check_resolved(req.authz)
