# -*- test-case-name: tests.test_fake_acl_fidelity -*-
"""
FakeConsul's ACL system against Consul 1.10's source, rule by rule: each
test names the Go code (hashicorp/consul) whose behaviour it pins.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ACLPermissionDenied, BadRequest, ConsulException
from txconsul.testing import FakeConsul
from txconsul.testing._acl_store import GLOBAL_MANAGEMENT_ID
from txconsul.testing._authz import RuleError, parse_rules

ROOT = "the-root-token"


def blake(*parts: str) -> str:
    """BLAKE2b-256 over the parts written in order, base64 (Go's SetHash)."""
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        h.update(part.encode())
    return base64.b64encode(h.digest()).decode()


class RuleFidelityTests(SynchronousTestCase):
    """acl/policy.go: what parses, what is ignored, and the error texts."""

    def test_unknown_rule_types_ignored(self) -> None:
        """hcl.Decode drops keys PolicyRules lacks: an unknown rule type is no error and grants nothing."""
        r = parse_rules('kye "x" { policy = "write" }\npeering = "read"\nkey "k" { policy = "read" }')
        self.assertIsNone(r.level("key", "x"))
        self.assertEqual(r.level("key", "k"), "read")

    def test_legacy_ignores_acl_and_prefix_rules(self) -> None:
        """parseLegacy's LegacyPolicy has no acl field and no *_prefix rules: both are dropped."""
        r = parse_rules('acl = "write"\nkey_prefix "" { policy = "write" }\nkey "a" { policy = "read" }', legacy=True)
        self.assertIsNone(r.level("acl", ""))
        self.assertIsNone(r.level("key", "zzz"))
        self.assertEqual(r.level("key", "ab"), "read")

    def test_acl_list_invalid(self) -> None:
        """isPolicyValid(pr.ACL, false): `acl = "list"` is rejected with Go's %#v of the string."""
        with self.assertRaises(RuleError) as cm:
            parse_rules('acl = "list"')
        self.assertEqual(str(cm.exception), 'Invalid acl policy: "list"')

    def test_single_error_text(self) -> None:
        """Top-level rules report `Invalid <name> policy: "<value>"`."""
        for key in ("operator", "keyring", "mesh"):
            with self.assertRaises(RuleError) as cm:
                parse_rules(f'{key} = "bogus"')
            self.assertEqual(str(cm.exception), f'Invalid {key} policy: "bogus"')

    def test_named_error_text_is_go_struct(self) -> None:
        """Named rules report Go's %#v of the rule struct pointer."""
        cases = {
            'key "a" { policy = "nope" }': 'Invalid key policy: &acl.KeyRule{Prefix:"a", Policy:"nope", EnterpriseRule:acl.EnterpriseRule{}}',
            'key_prefix "a" { policy = "nope" }': 'Invalid key_prefix policy: &acl.KeyRule{Prefix:"a", Policy:"nope", EnterpriseRule:acl.EnterpriseRule{}}',
            'service "w" { policy = "list" }': 'Invalid service policy: &acl.ServiceRule{Name:"w", Policy:"list", Intentions:"", EnterpriseRule:acl.EnterpriseRule{}}',
            'agent_prefix "n" { policy = "x" }': 'Invalid agent_prefix policy: &acl.AgentRule{Node:"n", Policy:"x"}',
            'query "q" { }': 'Invalid query policy: &acl.PreparedQueryRule{Prefix:"q", Policy:""}',
        }
        for rules, text in cases.items():
            with self.assertRaises(RuleError) as cm:
                parse_rules(rules)
            self.assertEqual(str(cm.exception), text)

    def test_intentions_validated(self) -> None:
        """A service rule's intentions level is checked: `Invalid service intentions policy`."""
        with self.assertRaises(RuleError) as cm:
            parse_rules('service "w" { policy = "read" intentions = "list" }')
        self.assertIn("Invalid service intentions policy: &acl.ServiceRule{", str(cm.exception))
        self.assertEqual(parse_rules('service "w" { policy = "read" intentions = "write" }').level("service", "w"), "read")

    def test_validation_order(self) -> None:
        """Validate checks agents before keys whatever the order in the text."""
        with self.assertRaises(RuleError) as cm:
            parse_rules('key "k" { policy = "bad" }\nagent "a" { policy = "bad" }')
        self.assertTrue(str(cm.exception).startswith("Invalid agent policy"))


class FakeACLCase(SynchronousTestCase):
    """A FakeConsul with ACLs (default deny) and a management client."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_600_000_000)
        self.fake = FakeConsul(self.clock, seed=3, acl_master_token=ROOT, acl_default_policy="deny")
        self.root = self.fake.client(token=ROOT)
        self.anon = self.fake.client()

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)

    def raw(self, client: Any, method: str, path: str, body: bytes = b"") -> Any:
        """A raw request through ``client``'s transport, expecting any status."""
        return client.acl._transport.request(method, path, body=body or None, expect=(200,))

    def fails(self, d: Any, status: int) -> str:
        """The message of a failed request with ``status``."""
        f = self.failureResultOf(d, ConsulException)
        self.assertEqual(f.value.status, status)
        return str(f.value)


class EndpointFidelityTests(FakeACLCase):
    """agent/acl_endpoint*.go and agent/consul/acl_endpoint*.go behaviour."""

    def test_global_management_rules_text(self) -> None:
        """ACLPolicyGlobalManagementRules is a Go raw string: leading newline, tab indents."""
        policy = self.ok(self.root.acl.policy.read(GLOBAL_MANAGEMENT_ID))[1]
        self.assertTrue(policy["Rules"].startswith('\nacl = "write"\nagent_prefix "" {\n\tpolicy = "write"\n}'))
        self.assertIn('service_prefix "" {\n\tpolicy = "write"\n\tintentions = "write"\n}', policy["Rules"])

    def test_policy_datacenters_null(self) -> None:
        """ACLPolicy.Datacenters has no omitempty: null in reads and list stubs."""
        created = self.ok(self.root.acl.policy.create("p-null", rules=""))
        self.assertIn("Datacenters", created)
        self.assertIsNone(created["Datacenters"])
        stubs = self.ok(self.root.acl.policy.list())[1]
        self.assertTrue(all("Datacenters" in p and "Rules" not in p for p in stubs))
        with_dc = self.ok(self.root.acl.policy.create("p-dc", datacenters=["dc1"]))
        self.assertEqual(with_dc["Datacenters"], ["dc1"])

    def test_policy_hash_is_blake2b(self) -> None:
        """ACLPolicy.SetHash: BLAKE2b-256 of Name, Description, Rules, datacenters."""
        p = self.ok(self.root.acl.policy.create("hp", rules='key "a" { policy = "read" }', description="d", datacenters=["dc1"]))
        self.assertEqual(p["Hash"], blake("hp", "d", 'key "a" { policy = "read" }', "dc1"))

    def test_token_hash_is_blake2b(self) -> None:
        """ACLToken.SetHash (1.10): Description, Type, Rules, local/global, link IDs, identities."""
        self.ok(self.root.acl.policy.create("tp"))
        pid = self.ok(self.root.acl.policy.read_by_name("tp"))[1]["ID"]
        t = self.ok(self.root.acl.token.create(description="x", policies=[pid], service_identities=["web"]))
        self.assertEqual(t["Hash"], blake("x", "", "", "global", pid, "web"))

    def test_role_hash_is_blake2b(self) -> None:
        """ACLRole.SetHash: Name, Description, policy IDs, identities."""
        r = self.ok(self.root.acl.role.create("r1", description="d", node_identities=[("n1", "dc1")]))
        self.assertEqual(r["Hash"], blake("r1", "d", "n1", "dc1"))

    def test_bootstrap_token_is_legacy_visible(self) -> None:
        """1.10 BootstrapTokens sets Type management: the token shows in /v1/acl/list and info."""
        self.fake.acl.reset_bootstrap()
        boot = self.ok(self.root.acl.bootstrap())
        info = self.ok(self.root.acl.info(boot["SecretID"]))
        self.assertEqual((info["Type"], info["Name"]), ("management", "Bootstrap Token (Global Management)"))
        self.assertIn(boot["SecretID"], [a["ID"] for a in self.ok(self.root.acl.list())])

    def test_bootstrap_refused_text(self) -> None:
        """A second bootstrap: 403 `Permission denied: ACL bootstrap no longer allowed (reset index: N)`."""
        text = self.fails(self.root.acl.bootstrap(), 403)
        self.assertIn("Permission denied: ACL bootstrap no longer allowed (reset index: ", text)

    def test_token_ttl_bounds(self) -> None:
        """tokenSetInternal: an expiry outside [1m, 24h] is a 500 with Go durations."""
        text = self.fails(self.root.acl.token.create(expiration_ttl="48h"), 500)
        self.assertIn("ExpirationTime cannot be more than 24h0m0s in the future (was 48h0m0s)", text)
        text = self.fails(self.root.acl.token.create(expiration_ttl="30s"), 500)
        self.assertIn("ExpirationTime cannot be less than 1m0s in the future (was 30s)", text)
        self.ok(self.root.acl.token.create(expiration_ttl="1h"))

    def test_clone_checks_expiry_bounds(self) -> None:
        """A clone takes the source's ExpirationTime through the create checks."""
        t = self.ok(self.root.acl.token.create(expiration_ttl="2m"))
        self.clock.advance(90)
        text = self.fails(self.root.acl.token.clone(t["AccessorID"]), 500)
        self.assertIn("ExpirationTime cannot be less than 1m0s in the future (was 30s)", text)

    def test_legacy_decode_error_text(self) -> None:
        """aclSet: a bad body is 400 `Request decode failed: ...`."""
        d = self.raw(self.root, "PUT", "/v1/acl/create", b"{nope")
        f = self.failureResultOf(d, BadRequest)
        self.assertIn("Request decode failed:", str(f.value))

    def test_legacy_empty_type_invalid(self) -> None:
        """aclSet defaults Type to client before decoding, so an explicit "" is `Invalid ACL Type`."""
        d = self.raw(self.root, "PUT", "/v1/acl/create", b'{"Name": "x", "Type": ""}')
        self.assertIn("Invalid ACL Type", self.fails(d, 500))

    def test_legacy_update_missing_id_before_acl(self) -> None:
        """aclSet answers 400 `ACL ID must be set` before the RPC checks the token."""
        d = self.raw(self.anon, "PUT", "/v1/acl/update", b'{"Name": "x"}')
        self.assertIn("ACL ID must be set", str(self.failureResultOf(d, BadRequest).value))

    def test_legacy_update_refuses_non_legacy_tokens(self) -> None:
        """UsesNonLegacyFields: the anonymous token (no Type) and the master token (policies) are refused."""
        for secret in ("anonymous", ROOT):
            d = self.root.acl.update(secret, name="x")
            self.assertIn("Cannot use legacy endpoint to modify a non-legacy token", self.fails(d, 500))
        acl_id = self.ok(self.root.acl.create(name="legacy"))
        self.assertEqual(self.ok(self.root.acl.update(acl_id, name="renamed")), acl_id)

    def test_write_decode_before_acl(self) -> None:
        """Token/policy/role writes decode the body (400) before the RPC checks acl:write (403)."""
        for path in ("/v1/acl/token", "/v1/acl/policy", "/v1/acl/role"):
            d = self.raw(self.anon, "PUT", path, b"{nope")
            self.failureResultOf(d, BadRequest)
        d = self.raw(self.anon, "PUT", "/v1/acl/policy", b'{"ID": "x", "Name": "n"}')
        self.assertIn("Cannot specify the ID when creating a new policy", str(self.failureResultOf(d, BadRequest).value))
        d = self.anon.acl.policy.create("n")
        self.failureResultOf(d, ACLPermissionDenied)

    def test_token_update_mismatch_before_acl(self) -> None:
        """The URL/payload AccessorID mismatch is a 400 even for a caller without acl:write."""
        d = self.raw(
            self.anon, "PUT", "/v1/acl/token/11111111-1111-1111-1111-111111111111",
            b'{"AccessorID": "22222222-2222-2222-2222-222222222222"}',
        )
        self.assertIn("Token Accessor ID in URL and payload do not match", str(self.failureResultOf(d, BadRequest).value))

    def test_global_management_rename_allowed(self) -> None:
        """PolicySet refuses Rules/Datacenters changes on global-management but allows a rename."""
        gm = self.ok(self.root.acl.policy.read(GLOBAL_MANAGEMENT_ID))[1]
        renamed = self.ok(self.root.acl.policy.update(GLOBAL_MANAGEMENT_ID, "gm", rules=gm["Rules"], description=gm["Description"]))
        self.assertEqual(renamed["Name"], "gm")
        d = self.root.acl.policy.update(GLOBAL_MANAGEMENT_ID, "gm", rules='acl = "read"')
        self.assertIn("Changing the Rules for the builtin global-management policy is not permitted", self.fails(d, 500))
