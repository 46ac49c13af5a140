"""
Tests for ACL auth methods, binding rules, login and logout: the client
(txconsul.api.acl_auth) against FakeConsul, in memory, with JWTs signed here.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from txconsul import ACLDisabled, ACLPermissionDenied, ConsulException

from .modern_case import ACLModernCase, ModernCase


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Signer:
    """An ES256 key that signs JWTs, and its public key in PEM."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.pem = (
            self.key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
        )

    def jwt(self, claims: dict[str, Any]) -> str:
        """A compact ES256 JWT of ``claims``."""
        head = _b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims).encode())
        der = self.key.sign(f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        return f"{head}.{body}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class AuthCase(ACLModernCase):
    """A jwt auth method trusting ``self.signer``."""

    def setUp(self) -> None:
        super().setUp()
        self.signer = Signer()
        self.method = self.ok(
            self.root.acl.auth_method.create(
                "jwt",
                "jwt",
                config={
                    "JWTValidationPubKeys": [self.signer.pem],
                    "BoundIssuer": "https://issuer",
                    "ClaimMappings": {"sub": "name", "role": "role"},
                    "ListClaimMappings": {"groups": "groups"},
                },
                max_token_ttl="1h",
            )
        )

    def login(self, **claims: Any) -> Any:
        """A login Deferred with a JWT of these claims (issuer filled in)."""
        claims.setdefault("iss", "https://issuer")
        return self.client().acl.login("jwt", self.signer.jwt(claims))


class AuthMethodTests(AuthCase):
    """Auth method CRUD."""

    def test_crud(self) -> None:
        """create, read, list (without Config), update and delete."""
        self.assertEqual(
            (self.method["Name"], self.method["Type"], self.method["MaxTokenTTL"]), ("jwt", "jwt", "1h0m0s")
        )
        read = self.ok(self.root.acl.auth_method.read("jwt"))
        self.assertEqual(read["Config"]["BoundIssuer"], "https://issuer")
        listed = self.ok(self.root.acl.auth_methods.list())
        self.assertEqual([m["Name"] for m in listed], ["jwt"])
        self.assertNotIn("Config", listed[0])
        updated = self.ok(
            self.root.acl.auth_method.update(
                "jwt", "jwt", description="d", config={"JWTValidationPubKeys": [self.signer.pem]}
            )
        )
        self.assertEqual((updated["Description"], updated["CreateIndex"]), ("d", self.method["CreateIndex"]))
        self.assertIs(self.ok(self.root.acl.auth_method.delete("jwt")), True)
        self.assertIn("ACL not found", str(self.failureResultOf(self.root.acl.auth_method.read("jwt")).value))

    def test_validation(self) -> None:
        """An unknown type, a jwt without keys and a bad locality are refused."""
        self.fails(self.root.acl.auth_method.create("x", "magic"), ConsulException)
        err = self.fails(self.root.acl.auth_method.create("x", "jwt", config={}), ConsulException)
        self.assertIn("exactly one of 'JWTValidationPubKeys'", str(err))
        self.assertRaises(ValueError, self.root.acl.auth_method.create, "x", "jwt", token_locality="near")

    def test_needs_acl_write(self) -> None:
        """Auth method writes need acl:write; reads acl:read."""
        self.fails(self.client('acl = "read"').acl.auth_method.create("x", "jwt"), ACLPermissionDenied)
        self.ok(self.client('acl = "read"').acl.auth_method.list())
        self.fails(self.client().acl.auth_method.list(), ACLPermissionDenied)


class BindingRuleTests(AuthCase):
    """Binding rule CRUD."""

    def test_crud(self) -> None:
        """create, read, list by method, update and delete."""
        rules = self.root.acl.binding_rule
        rule = self.ok(rules.create("jwt", "service", "${value.name}", selector="value.role == web"))
        self.assertEqual(
            (rule["AuthMethod"], rule["BindType"], rule["BindName"]), ("jwt", "service", "${value.name}")
        )
        self.assertEqual(self.ok(rules.read(rule["ID"]))["Selector"], "value.role == web")
        self.assertEqual([r["ID"] for r in self.ok(rules.list("jwt"))], [rule["ID"]])
        self.assertEqual(self.ok(rules.list("other")), [])
        updated = self.ok(rules.update(rule["ID"], "jwt", "node", "n-${value.name}"))
        self.assertEqual(updated["BindType"], "node")
        self.assertIs(self.ok(rules.delete(rule["ID"])), True)
        self.assertIn("ACL not found", str(self.failureResultOf(rules.read(rule["ID"])).value))

    def test_validation(self) -> None:
        """An unknown auth method or bind type is refused."""
        err = self.fails(self.root.acl.binding_rule.create("nope", "service", "x"), ConsulException)
        self.assertIn('unknown auth method "nope"', str(err))
        self.assertRaises(ValueError, self.root.acl.binding_rule.create, "jwt", "group", "x")


class LoginTests(AuthCase):
    """login and logout."""

    def setUp(self) -> None:
        super().setUp()
        self.ok(
            self.root.acl.binding_rule.create("jwt", "service", "${value.name}", selector="value.role == web")
        )

    def test_login_binds_service_identity(self) -> None:
        """A matching login gets a token with the service identity the rule names, usable at once."""
        token = self.ok(self.login(sub="billing", role="web"))
        self.assertEqual(token["ServiceIdentities"], [{"ServiceName": "billing"}])
        self.assertEqual(token["AuthMethod"], "jwt")
        self.assertTrue(token["Local"])
        self.assertIn("ExpirationTime", token)
        c = self.fake.client(token=token["SecretID"])
        self.ok(c.agent.service.register("billing"))
        self.fails(c.agent.service.register("other"), ACLPermissionDenied)

    def test_token_list_by_auth_method(self) -> None:
        """acl.token.list(authmethod=...) finds the tokens a login made, and only those."""
        token = self.ok(self.login(sub="billing", role="web"))
        _, listed = self.ok(self.root.acl.token.list(authmethod="jwt"))
        self.assertEqual([t["AccessorID"] for t in listed], [token["AccessorID"]])
        self.assertEqual(self.ok(self.root.acl.token.list(authmethod="other"))[1], [])

    def test_no_rule_matches(self) -> None:
        """A login no rule binds anything for is refused."""
        self.fails(self.login(sub="billing", role="db"), ACLPermissionDenied)

    def test_bad_signature_and_issuer(self) -> None:
        """A JWT signed by another key, or from another issuer, is refused."""
        other = Signer().jwt({"iss": "https://issuer", "sub": "x", "role": "web"})
        err = self.fails(self.client().acl.login("jwt", other), ACLPermissionDenied)
        self.assertIn("no known key successfully validated the token signature", str(err))
        self.fails(self.login(iss="https://elsewhere", sub="x", role="web"), ACLPermissionDenied)

    def test_expired(self) -> None:
        """An expired JWT is refused (60 s of leeway, on the fake's clock)."""
        self.clock.advance(1000)
        self.fails(self.login(sub="x", role="web", exp=900), ACLPermissionDenied)
        self.ok(self.login(sub="x", role="web", exp=950))

    def test_list_claims_and_roles(self) -> None:
        """A rule can select on a list claim and bind a role by name."""
        self.ok(self.root.acl.policy.create("ops-policy", rules='key_prefix "" { policy = "write" }'))
        self.ok(self.root.acl.role.create("ops", policies=[{"Name": "ops-policy"}]))
        self.ok(self.root.acl.binding_rule.create("jwt", "role", "ops", selector='"ops" in list.groups'))
        token = self.ok(self.login(sub="x", groups=["ops", "dev"]))
        self.assertEqual([r["Name"] for r in token["Roles"]], ["ops"])
        self.ok(self.fake.client(token=token["SecretID"]).kv.put("k", b"v"))

    def test_logout(self) -> None:
        """logout destroys a login token; it refuses other tokens."""
        token = self.ok(self.login(sub="billing", role="web"))
        self.assertIs(self.ok(self.client().acl.logout(token["SecretID"])), True)
        self.fails(self.fake.client(token=token["SecretID"]).kv.get("k"), ACLPermissionDenied)
        self.fails(
            self.client().acl.logout(self.token_with('key "" { policy = "read" }')), ACLPermissionDenied
        )

    def test_delete_method_revokes(self) -> None:
        """Deleting the auth method deletes its rules and the tokens it made."""
        token = self.ok(self.login(sub="billing", role="web"))
        self.ok(self.root.acl.auth_method.delete("jwt"))
        self.assertEqual(self.ok(self.root.acl.binding_rules.list()), [])
        self.fails(self.fake.client(token=token["SecretID"]).kv.get("k"), ACLPermissionDenied)


class DisabledTests(ModernCase):
    """With ACLs off."""

    def test_disabled(self) -> None:
        """Every auth call is ACLDisabled."""
        self.fails(self.consul.acl.auth_method.list(), ACLDisabled)
        self.fails(self.consul.acl.login("jwt", "x.y.z"), ACLDisabled)
        self.fails(self.consul.acl.logout("secret"), ACLDisabled)
