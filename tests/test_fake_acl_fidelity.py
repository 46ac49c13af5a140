# -*- test-case-name: tests.test_fake_acl_fidelity -*-
"""
FakeConsul's ACL system against Consul's source, rule by rule: each test
names the Go code (hashicorp/consul) whose behaviour it pins.  The fake is
the current release by default; ``legacy_acl=True`` is Consul 1.10.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ACLPermissionDenied, BadRequest, ConsulException
from txconsul.testing import FakeConsul
from txconsul.testing._acl_store import GLOBAL_MANAGEMENT_ID, GLOBAL_READ_ONLY_ID
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
        r = parse_rules(
            'acl = "write"\nkey_prefix "" { policy = "write" }\nkey "a" { policy = "read" }', legacy=True
        )
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
        self.assertEqual(
            parse_rules('service "w" { policy = "read" intentions = "write" }').level("service", "w"), "read"
        )

    def test_validation_order(self) -> None:
        """Validate checks agents before keys whatever the order in the text."""
        with self.assertRaises(RuleError) as cm:
            parse_rules('key "k" { policy = "bad" }\nagent "a" { policy = "bad" }')
        self.assertTrue(str(cm.exception).startswith("Invalid agent policy"))


class FakeACLCase(SynchronousTestCase):
    """A FakeConsul with ACLs (default deny) and a management client."""

    legacy_acl = False

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_600_000_000)
        self.fake = FakeConsul(
            self.clock, seed=3, acl_master_token=ROOT, acl_default_policy="deny", legacy_acl=self.legacy_acl
        )
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
        self.assertTrue(
            policy["Rules"].startswith('\nacl = "write"\nagent_prefix "" {\n\tpolicy = "write"\n}')
        )
        self.assertIn('service_prefix "" {\n\tpolicy = "write"\n\tintentions = "write"\n}', policy["Rules"])

    def test_policy_datacenters_omitted(self) -> None:
        """ACLPolicy.Datacenters is omitempty (agent/structs/acl.go); the list stub's is not (null)."""
        created = self.ok(self.root.acl.policy.create("p-null", rules=""))
        self.assertNotIn("Datacenters", created)
        stubs = self.ok(self.root.acl.policy.list())[1]
        self.assertTrue(all("Datacenters" in p and "Rules" not in p for p in stubs))
        self.assertIsNone(stubs[0]["Datacenters"])
        with_dc = self.ok(self.root.acl.policy.create("p-dc", datacenters=["dc1"]))
        self.assertEqual(with_dc["Datacenters"], ["dc1"])

    def test_policy_hash_is_blake2b(self) -> None:
        """ACLPolicy.SetHash: BLAKE2b-256 of Name, Description, Rules, datacenters."""
        p = self.ok(
            self.root.acl.policy.create(
                "hp", rules='key "a" { policy = "read" }', description="d", datacenters=["dc1"]
            )
        )
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

    def test_write_decode_before_acl(self) -> None:
        """Token/policy/role writes decode the body (400) before the RPC checks acl:write (403)."""
        for path in ("/v1/acl/token", "/v1/acl/policy", "/v1/acl/role"):
            d = self.raw(self.anon, "PUT", path, b"{nope")
            self.failureResultOf(d, BadRequest)
        d = self.raw(self.anon, "PUT", "/v1/acl/policy", b'{"ID": "x", "Name": "n"}')
        self.assertIn(
            "Cannot specify the ID when creating a new policy", str(self.failureResultOf(d, BadRequest).value)
        )
        d = self.anon.acl.policy.create("n")
        self.failureResultOf(d, ACLPermissionDenied)

    def test_token_update_mismatch_before_acl(self) -> None:
        """The URL/payload AccessorID mismatch is a 400 even for a caller without acl:write."""
        d = self.raw(
            self.anon,
            "PUT",
            "/v1/acl/token/11111111-1111-1111-1111-111111111111",
            b'{"AccessorID": "22222222-2222-2222-2222-222222222222"}',
        )
        self.assertIn(
            "Token Accessor ID in URL and payload do not match",
            str(self.failureResultOf(d, BadRequest).value),
        )

    def test_global_management_rename_allowed(self) -> None:
        """PolicySet refuses Rules/Datacenters changes on global-management but allows a rename."""
        gm = self.ok(self.root.acl.policy.read(GLOBAL_MANAGEMENT_ID))[1]
        renamed = self.ok(
            self.root.acl.policy.update(
                GLOBAL_MANAGEMENT_ID, "gm", rules=gm["Rules"], description=gm["Description"]
            )
        )
        self.assertEqual(renamed["Name"], "gm")
        d = self.root.acl.policy.update(GLOBAL_MANAGEMENT_ID, "gm", rules='acl = "read"')
        self.assertIn(
            "Changing the Rules for the builtin global-management policy is not permitted", self.fails(d, 500)
        )


class LegacyFidelityTests(FakeACLCase):
    """FakeConsul(legacy_acl=True) against Consul 1.10's source."""

    legacy_acl = True

    def test_policy_datacenters_null(self) -> None:
        """1.10: ACLPolicy.Datacenters has no omitempty: null in reads and list stubs."""
        created = self.ok(self.root.acl.policy.create("p-null", rules=""))
        self.assertIn("Datacenters", created)
        self.assertIsNone(created["Datacenters"])
        stubs = self.ok(self.root.acl.policy.list())[1]
        self.assertTrue(all("Datacenters" in p and "Rules" not in p for p in stubs))
        with_dc = self.ok(self.root.acl.policy.create("p-dc", datacenters=["dc1"]))
        self.assertEqual(with_dc["Datacenters"], ["dc1"])

    def test_bootstrap_token_is_legacy_visible(self) -> None:
        """1.10 BootstrapTokens sets Type management: the token shows in /v1/acl/list and info."""
        self.fake.acl.reset_bootstrap()
        boot = self.ok(self.root.acl.bootstrap())
        info = self.ok(self.root.acl.info(boot["SecretID"]))
        self.assertEqual((info["Type"], info["Name"]), ("management", "Bootstrap Token (Global Management)"))
        self.assertIn(boot["SecretID"], [a["ID"] for a in self.ok(self.root.acl.list())])

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


class CurrentReleaseTests(FakeACLCase):
    """What the current release does differently from 1.10, source by source."""

    def test_initial_management_token(self) -> None:
        """agent/consul/leader.go initializeManagementToken: 'Initial Management Token', no legacy Type."""
        _, me = self.ok(self.root.acl.token.read_self())
        self.assertEqual(me["Description"], "Initial Management Token")
        self.assertEqual(me["Policies"], [{"ID": GLOBAL_MANAGEMENT_ID, "Name": "global-management"}])
        self.assertNotIn("Type", me)
        self.assertNotIn("Rules", me)
        _, stubs = self.ok(self.root.acl.token.list())
        self.assertTrue(all("Legacy" not in t for t in stubs))
        self.assertEqual(me["Hash"], blake("Initial Management Token", "global", GLOBAL_MANAGEMENT_ID))

    def test_builtin_rules_texts(self) -> None:
        """The Go raw strings of agent/structs/acl.go, byte for byte (1.10's without mesh and peering)."""
        from txconsul.testing._acl_store import LEGACY_GLOBAL_MANAGEMENT_RULES

        blocks = "".join(
            f'{kind}_prefix "" {{\n\tpolicy = "write"\n}}\n' for kind in ("agent", "event", "key")
        )
        legacy = (
            '\nacl = "write"\n' + blocks + 'keyring = "write"\nnode_prefix "" {\n\tpolicy = "write"\n}\n'
            'operator = "write"\nquery_prefix "" {\n\tpolicy = "write"\n}\n'
            'service_prefix "" {\n\tpolicy = "write"\n\tintentions = "write"\n}\n'
            'session_prefix "" {\n\tpolicy = "write"\n}'
        )
        self.assertEqual(LEGACY_GLOBAL_MANAGEMENT_RULES, legacy)
        current = legacy.replace(
            'operator = "write"\n', 'operator = "write"\nmesh = "write"\npeering = "write"\n'
        )
        _, gm = self.ok(self.root.acl.policy.read(GLOBAL_MANAGEMENT_ID))
        self.assertEqual(gm["Rules"], current)
        _, ro = self.ok(self.root.acl.policy.read(GLOBAL_READ_ONLY_ID))
        self.assertEqual(ro["Rules"], current.replace('"write"', '"read"'))

    def test_builtin_policies(self) -> None:
        """structs.ACLBuiltinPolicies: global-management and builtin/global-read-only."""
        _, policies = self.ok(self.root.acl.policy.list())
        self.assertEqual(
            [(p["ID"], p["Name"]) for p in policies],
            [(GLOBAL_MANAGEMENT_ID, "global-management"), (GLOBAL_READ_ONLY_ID, "builtin/global-read-only")],
        )
        _, ro = self.ok(self.root.acl.policy.read(GLOBAL_READ_ONLY_ID))
        self.assertEqual(
            ro["Description"], "Builtin Policy that grants unlimited read-only access to all components"
        )
        self.assertIn('mesh = "read"\npeering = "read"\n', ro["Rules"])
        _, gm = self.ok(self.root.acl.policy.read(GLOBAL_MANAGEMENT_ID))
        self.assertIn('mesh = "write"\npeering = "write"\n', gm["Rules"])

    def test_read_only_policy_grants_reads(self) -> None:
        """A token linked to builtin/global-read-only reads everything, writes nothing."""
        self.ok(self.root.kv.put("k", "v"))
        secret = self.ok(self.root.acl.token.create(policies=[GLOBAL_READ_ONLY_ID]))["SecretID"]
        reader = self.fake.client(token=secret)
        self.assertEqual(self.ok(reader.kv.get("k"))[1]["Value"], b"v")
        self.ok(reader.acl.token.list())
        self.failureResultOf(reader.kv.put("k", "w"), ACLPermissionDenied)

    def test_legacy_endpoints_gone(self) -> None:
        """agent/http_register.go has no /v1/acl/create... since 1.11: 404, as any unknown path."""
        for method, path in (("PUT", "/v1/acl/create"), ("GET", "/v1/acl/list"), ("GET", "/v1/acl/info/x")):
            d = self.raw(self.root, method, path)
            self.assertIn("Invalid URL path: not a recognized HTTP API endpoint", self.fails(d, 404))

    def test_anonymous_denial_text(self) -> None:
        """acl/errors.go: the anonymous token's denial names the permission and explains itself."""
        text = self.fails(self.anon.acl.token.list(), 403)
        self.assertIn(
            "Permission denied: anonymous token lacks permission 'acl:read'. The anonymous token is used "
            "implicitly when a request does not specify a token.",
            text,
        )

    def test_token_denial_text(self) -> None:
        """acl/errors.go PermissionDeniedByACL: the AccessorID, the permission and the quoted name."""
        self.ok(self.root.acl.policy.create("kv-read", rules='key_prefix "" { policy = "read" }'))
        tok = self.ok(self.root.acl.token.create(policies=["kv-read"]))
        text = self.fails(self.fake.client(token=tok["SecretID"]).kv.put("a/b", "1"), 403)
        self.assertIn(
            f"Permission denied: token with AccessorID '{tok['AccessorID']}' lacks permission 'key:write' on \"a/b\"",
            text,
        )
        self.assertNotIn(tok["SecretID"], text)

    def test_agent_service_denial_text(self) -> None:
        """agent/agent_endpoint.go AgentService: ServiceReadAllowed's error, as text."""
        self.ok(self.root.agent.service.register("web"))
        text = self.fails(self.raw(self.anon, "GET", "/v1/agent/service/web"), 403)
        self.assertIn("Permission denied: anonymous token lacks permission 'service:read' on \"web\"", text)

    def test_legacy_profile_denial_is_plain(self) -> None:
        """Consul 1.10 said only 'Permission denied'."""
        fake = FakeConsul(Clock(), acl_master_token=ROOT, acl_default_policy="deny", legacy_acl=True)
        f = self.failureResultOf(fake.client().kv.put("k", "v"), ACLPermissionDenied)
        self.assertNotIn("lacks permission", str(f.value))
        self.assertIn("Permission denied", str(f.value))

    def test_replication_status(self) -> None:
        """structs.ACLReplicationStatus now ends with LastErrorMessage; nothing replicates in a primary."""
        status = self.ok(self.raw(self.root, "GET", "/v1/acl/replication")).json()
        self.assertEqual(
            (status["Enabled"], status["Running"], status["LastErrorMessage"]), (False, False, "")
        )

    def test_missing_accessor_text(self) -> None:
        """agent/acl_endpoint.go ACLTokenCRUD: 'Missing token AccessorID' (1.10: 'Missing token ID')."""
        self.assertIn(
            "Missing token AccessorID", self.fails(self.raw(self.root, "GET", "/v1/acl/token/"), 400)
        )

    def test_token_list_filters(self) -> None:
        """?policy, ?role, ?servicename and ?authmethod each filter; two at once is a 500 (state/acl.go)."""
        self.ok(self.root.acl.policy.create("p1"))
        role = self.ok(self.root.acl.role.create("r1", policies=["p1"]))
        by_policy = self.ok(self.root.acl.token.create(description="by-policy", policies=["p1"]))
        by_role = self.ok(self.root.acl.token.create(description="by-role", roles=["r1"]))
        by_service = self.ok(self.root.acl.token.create(description="by-service", service_identities=["web"]))
        pid = by_policy["Policies"][0]["ID"]

        def listed(**query: str) -> list[str]:
            qs = "&".join(f"{k}={v}" for k, v in query.items())
            response = self.ok(self.raw(self.root, "GET", "/v1/acl/tokens?" + qs))
            return [t["Description"] for t in response.json()]

        self.assertEqual(listed(policy=pid), ["by-policy"])
        self.assertEqual(listed(role=role["ID"]), ["by-role"])
        self.assertEqual(listed(servicename="web"), ["by-service"])
        self.assertEqual(listed(servicename="db"), [])
        self.assertEqual(listed(authmethod="kubernetes"), [])
        self.assertIn(
            by_service["AccessorID"], [t["AccessorID"] for t in self.ok(self.root.acl.token.list())[1]]
        )
        d = self.raw(self.root, "GET", f"/v1/acl/tokens?policy={pid}&servicename=web")
        self.assertIn(
            "can only filter by one of policy, role, serviceName, or methodName at a time", self.fails(d, 500)
        )
        self.assertNotEqual(by_role["AccessorID"], by_policy["AccessorID"])

    def test_bootstrap_secret(self) -> None:
        """ACLBootstrap decodes an optional {"BootstrapSecret": ...} and uses it as the SecretID."""
        self.fake.acl.reset_bootstrap()
        secret = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
        response = self.ok(
            self.raw(self.root, "PUT", "/v1/acl/bootstrap", b'{"BootstrapSecret": "%s"}' % secret.encode())
        )
        body = response.json()
        self.assertEqual((body["ID"], body["SecretID"]), (secret, secret))
        self.assertNotIn("Type", body)


class BodyDecodingTests(FakeACLCase):
    """ACL bodies decode as lib.DecodeJSON does: encoding/json into structs.ACL*, unknown fields refused."""

    def test_field_names_fold_case(self) -> None:
        """{"name": ...} is the policy's Name; {"description": ...} is the token's Description."""
        policy = self.ok(
            self.raw(self.root, "PUT", "/v1/acl/policy", b'{"name": "lower", "RULES": ""}')
        ).json()
        self.assertEqual(policy["Name"], "lower")
        token = self.ok(self.raw(self.root, "PUT", "/v1/acl/token", b'{"description": "kept"}')).json()
        self.assertEqual(token["Description"], "kept")
        role = self.ok(
            self.raw(self.root, "PUT", "/v1/acl/role", b'{"nAmE": "r", "policies": [{"name": "lower"}]}')
        ).json()
        self.assertEqual((role["Name"], role["Policies"][0]["Name"]), ("r", "lower"))

    def test_wrong_types_are_400(self) -> None:
        """A value of the wrong JSON type is Go's UnmarshalTypeError, with the endpoint's prefix."""
        d = self.raw(self.root, "PUT", "/v1/acl/policy", b'{"Name": 5}')
        self.assertIn(
            "Policy decoding failed: json: cannot unmarshal number into Go struct field .Name of type string",
            self.fails(d, 400),
        )
        d = self.raw(self.root, "PUT", "/v1/acl/token", b'{"Local": "yes"}')
        self.assertIn(
            "Token decoding failed: json: cannot unmarshal string into Go struct field .Local of type bool",
            self.fails(d, 400),
        )
        d = self.raw(self.root, "PUT", "/v1/acl/token", b'{"Policies": [{"ID": 7}]}')
        self.assertIn(
            "json: cannot unmarshal number into Go struct field ACLTokenPolicyLink.Policies.ID of type string",
            self.fails(d, 400),
        )
        d = self.raw(self.root, "PUT", "/v1/acl/role", b'{"Name": "r", "ServiceIdentities": {}}')
        self.assertIn(
            "Role decoding failed: json: cannot unmarshal object into Go struct field .ServiceIdentities",
            self.fails(d, 400),
        )
        d = self.raw(self.root, "PUT", "/v1/acl/token", b'{"ExpirationTTL": "soon"}')
        self.assertIn('Token decoding failed: time: invalid duration "soon"', self.fails(d, 400))
        _, policies = self.ok(self.root.acl.policy.list())
        self.assertEqual(len(policies), 2)  # nothing was written

    def test_unknown_fields_are_400(self) -> None:
        """DisallowUnknownFields: the legacy Rules/Type are unknown now; Namespace is reworded (CE)."""
        d = self.raw(self.root, "PUT", "/v1/acl/token", b'{"Rules": "key \\"\\" {}"}')
        self.assertIn('Token decoding failed: json: unknown field "Rules"', self.fails(d, 400))
        d = self.raw(self.root, "PUT", "/v1/acl/policy", b'{"Name": "n", "Namespace": "ns1"}')
        self.assertIn(
            'Policy decoding failed: json: unknown field "Namespace" - Namespaces are a Consul Enterprise feature',
            self.fails(d, 400),
        )

    def test_templated_policies(self) -> None:
        """TemplatedPolicies (1.17+) decode; an empty list is none, one missing its variables is refused."""
        token = self.ok(self.raw(self.root, "PUT", "/v1/acl/token", b'{"TemplatedPolicies": []}')).json()
        self.assertNotIn("TemplatedPolicies", token)
        d = self.raw(
            self.root,
            "PUT",
            "/v1/acl/role",
            b'{"Name": "r", "TemplatedPolicies": [{"TemplateName": "builtin/service"}]}',
        )
        self.assertIn("Invalid type. Expected: object, given: null", self.fails(d, 500))

    def test_empty_body_is_eof(self) -> None:
        """lib.DecodeJSON on an empty body: 400 '<What> decoding failed: EOF'."""
        self.assertIn(
            "Token decoding failed: EOF", self.fails(self.raw(self.root, "PUT", "/v1/acl/token"), 400)
        )

    def test_null_links_are_zero_values(self) -> None:
        """A null link is Go's zero value, an empty name no policy has (500), not a crash."""
        d = self.raw(self.root, "PUT", "/v1/acl/token", b'{"Policies": [null]}')
        self.assertIn('No such ACL policy with name ""', self.fails(d, 500))


class NotBootstrappedTests(SynchronousTestCase):
    """FakeConsul(acl_enabled=True): ACLs on, nothing bootstrapped, as a fresh cluster."""

    def setUp(self) -> None:
        self.fake = FakeConsul(Clock(), seed=5, acl_enabled=True, acl_default_policy="deny")

    def test_errors_until_bootstrap(self) -> None:
        """The anonymous token still works (synthesized); any other secret gets the bootstrap hint."""
        # api/acl_test.go TestAPI_ACLBootstrap; agent/consul/acl_server.go ResolveIdentityFromToken
        anon = self.fake.client()
        f = self.failureResultOf(anon.acl.token.list(), ACLPermissionDenied)
        self.assertIn("Permission denied: anonymous token lacks permission 'acl:read'.", str(f.value))
        f = self.failureResultOf(self.fake.client(token="root").acl.token.list(), ACLPermissionDenied)
        self.assertIn(
            "ACL system must be bootstrapped before making any requests that require authorization: ACL not found",
            str(f.value),
        )
        boot = self.successResultOf(anon.acl.bootstrap())
        mgmt = self.fake.client(token=boot["SecretID"])
        _, tokens = self.successResultOf(mgmt.acl.token.list())
        self.assertEqual(
            sorted(t["Description"] for t in tokens),
            ["Anonymous Token", "Bootstrap Token (Global Management)"],
        )
        f = self.failureResultOf(self.fake.client(token="root").acl.token.list(), ACLPermissionDenied)
        self.assertEqual(str(f.value).count("ACL system must be bootstrapped"), 0)
        self.failureResultOf(anon.acl.bootstrap(), ACLPermissionDenied)

    def test_builtins_exist_before_bootstrap(self) -> None:
        """initializeACLs writes the builtin policies and the anonymous token before any bootstrap."""
        self.assertEqual(sorted(self.fake.acl.policies), [GLOBAL_MANAGEMENT_ID, GLOBAL_READ_ONLY_ID])
        self.assertIsNotNone(self.fake.acl.token_by_secret("anonymous"))
        self.assertTrue(self.fake.acl.enabled)

    def test_disabled_with_token_is_refused(self) -> None:
        """acl_enabled=False with a management token is a contradiction, refused at construction."""
        self.assertRaises(ValueError, FakeConsul, Clock(), acl_enabled=False, acl_master_token="t")
