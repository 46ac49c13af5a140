"""
Tests for FakeConsul's ACL system (txconsul.testing._acl): the rule
language, the authorizer, the ACL endpoints' errors and enforcement on KV
and sessions.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ACLDisabled, ACLPermissionDenied, BadRequest, ConsulException, NotFound
from txconsul.testing import FakeConsul
from txconsul.testing._acl_store import ANONYMOUS_ACCESSOR, GLOBAL_MANAGEMENT_ID, REDACTED
from txconsul.testing._authz import RuleError, parse_rules

ROOT = "the-root-token"


class RuleLanguageTests(SynchronousTestCase):
    """parse_rules: syntax forms and matching semantics."""

    def test_exact_beats_prefix(self) -> None:
        """An exact `key` rule wins over a longer-matching prefix rule."""
        r = parse_rules('key_prefix "a/" { policy = "write" }\nkey "a/b" { policy = "deny" }')
        self.assertEqual(r.level("key", "a/b"), "deny")
        self.assertEqual(r.level("key", "a/bc"), "write")

    def test_current_key_is_exact(self) -> None:
        """In the current syntax `key "app"` does not cover "app/x"."""
        r = parse_rules('key "app" { policy = "write" }')
        self.assertEqual(r.level("key", "app"), "write")
        self.assertIsNone(r.level("key", "app/x"))

    def test_longest_prefix_wins(self) -> None:
        """Of several prefixes the longest match decides."""
        r = parse_rules(
            'key_prefix "" { policy = "read" }\n'
            'key_prefix "foo/" { policy = "write" }\n'
            'key_prefix "foo/private/" { policy = "deny" }'
        )
        self.assertEqual(r.level("key", "bar"), "read")
        self.assertEqual(r.level("key", "foo/x"), "write")
        self.assertEqual(r.level("key", "foo/private/x"), "deny")

    def test_deny_wins_at_equal_specificity(self) -> None:
        """The same rule named twice (e.g. from two policies) keeps the most restrictive: deny."""
        a = parse_rules('key_prefix "x/" { policy = "write" }')
        a.merge(parse_rules('key_prefix "x/" { policy = "deny" }'))
        self.assertEqual(a.level("key", "x/1"), "deny")
        b = parse_rules('service "web" { policy = "read" }')
        b.merge(parse_rules('service "web" { policy = "write" }'))
        self.assertEqual(b.level("service", "web"), "write")

    def test_legacy_is_prefix(self) -> None:
        """In the legacy syntax `key "app"` is a prefix: it covers "apple" and "app/x"."""
        r = parse_rules('key "app" { policy = "write" }', legacy=True)
        self.assertEqual(r.level("key", "apple"), "write")
        self.assertEqual(r.level("key", "app/x"), "write")
        self.assertIsNone(r.level("key", "ap"))
        # hcl.Decode into parseLegacy's struct drops the unknown key_prefix
        self.assertIsNone(parse_rules('key_prefix "" { policy = "read" }', legacy=True).level("key", "x"))

    def test_top_level_and_comments(self) -> None:
        """operator/keyring/acl are top-level; #, // and /* */ comments are skipped."""
        r = parse_rules(
            '# c1\noperator = "read" // c2\n/* c3\n */ keyring = "write"\nacl = "read"\n'
            'event_prefix "" { policy = "read" }\nquery "q" { policy = "write" }'
        )
        self.assertEqual(
            (r.level("operator", ""), r.level("keyring", "x"), r.level("acl", "")), ("read", "write", "read")
        )
        self.assertEqual(r.level("event", "deploy"), "read")
        self.assertEqual(r.level("query", "q"), "write")

    def test_every_named_resource(self) -> None:
        """key, service, node, session, agent, event and query all take exact and prefix rules."""
        for res in ("key", "service", "node", "session", "agent", "event", "query"):
            r = parse_rules(f'{res} "a" {{ policy = "write" }}\n{res}_prefix "b" {{ policy = "read" }}')
            self.assertEqual(
                (r.level(res, "a"), r.level(res, "bx"), r.level(res, "c")), ("write", "read", None)
            )

    def test_json_form(self) -> None:
        """JSON rules (objects or lists of objects) parse like HCL."""
        r = parse_rules(
            '{"key_prefix": {"app/": {"policy": "write"}}, "operator": "read",'
            ' "service": [{"web": {"policy": "read"}}]}'
        )
        self.assertEqual(r.level("key", "app/x"), "write")
        self.assertEqual(r.level("operator", ""), "read")
        self.assertEqual(r.level("service", "web"), "read")

    def test_invalid_rules(self) -> None:
        """Bad values, list outside keys and syntax errors raise RuleError; unknown rule types are ignored."""
        self.assertIsNone(parse_rules('kye "x" { policy = "read" }').level("key", "x"))
        for bad in (
            'key "x" { policy = "bogus" }',
            'service "x" { policy = "list" }',
            'operator = "list"',
            'key "x" {',
            'key "x" { }',
            'operator { policy = "read" }',
            'key = "read"',
        ):
            self.assertRaises(RuleError, parse_rules, bad)
        self.assertEqual(parse_rules('key "x" { policy = "list" }').level("key", "x"), "list")


class FakeACLCase(SynchronousTestCase):
    """A FakeConsul with ACLs and a management client."""

    default_policy = "deny"
    legacy_acl = False

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(
            self.clock,
            seed=7,
            acl_master_token=ROOT,
            acl_default_policy=self.default_policy,
            legacy_acl=self.legacy_acl,
        )
        self.root = self.fake.client(token=ROOT)

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)

    def token_with(self, rules: str) -> str:
        """The secret of a new token holding one policy with these rules."""
        n = len(self.fake.acl.policies)
        self.ok(self.root.acl.policy.create(f"p{n}", rules=rules))
        return self.ok(self.root.acl.token.create(policies=[f"p{n}"]))["SecretID"]

    def client(self, secret: Any = None) -> Any:
        """A client carrying ``secret`` (anonymous when None)."""
        return self.fake.client(token=secret)


class AuthorizerTests(FakeACLCase):
    """Who is allowed what."""

    def authz(self, secret: Any) -> Any:
        return self.fake.acl.authorizer_for_secret(secret)

    def test_read_write_list_levels(self) -> None:
        """write grants read/list/write; list grants read/list; read grants read; deny nothing."""
        secret = self.token_with(
            'key "w" { policy = "write" }\nkey "l" { policy = "list" }\n'
            'key "r" { policy = "read" }\nkey "d" { policy = "deny" }'
        )
        a = self.authz(secret)
        table = {
            name: tuple(a.allowed("key", name, acc) for acc in ("read", "list", "write")) for name in "wlrd"
        }
        self.assertEqual(
            table,
            {
                "w": (True, True, True),
                "l": (True, True, False),
                "r": (True, False, False),
                "d": (False, False, False),
            },
        )

    def test_management_allows_everything(self) -> None:
        """The master token may do anything, ACL management included."""
        a = self.authz(ROOT)
        for res in (
            "key",
            "service",
            "node",
            "session",
            "agent",
            "event",
            "query",
            "operator",
            "acl",
            "keyring",
        ):
            self.assertTrue(a.allowed(res, "anything", "write"), res)

    def test_default_deny_for_anonymous(self) -> None:
        """With default deny the anonymous token may do nothing."""
        a = self.authz(None)
        self.assertFalse(a.allowed("key", "x", "read"))
        self.assertFalse(a.allowed("operator", "", "read"))

    def test_unknown_token(self) -> None:
        """An unknown secret fails ACL checks with 403 'ACL not found' but not ACL-free endpoints."""
        c = self.client("no-such-secret")
        f = self.failureResultOf(c.kv.get("x"), ACLPermissionDenied)
        self.assertIn("ACL not found", str(f.value))
        self.assertEqual(self.ok(c.status.leader()), "127.0.0.1:8300")

    def test_anonymous_token_policies_apply(self) -> None:
        """Policies linked to the anonymous token apply to requests without a token."""
        anon = self.client()
        self.failureResultOf(anon.kv.put("pub/x", "1"), ACLPermissionDenied)
        self.ok(self.root.acl.policy.create("anon", rules='key_prefix "pub/" { policy = "write" }'))
        _, tok = self.ok(self.root.acl.token.read(ANONYMOUS_ACCESSOR))
        self.assertEqual(tok["Description"], "Anonymous Token")
        self.ok(
            self.root.acl.token.update(ANONYMOUS_ACCESSOR, description=tok["Description"], policies=["anon"])
        )
        self.assertIs(self.ok(anon.kv.put("pub/x", "1")), True)
        self.failureResultOf(anon.kv.put("priv/x", "1"), ACLPermissionDenied)

    def test_service_identity(self) -> None:
        """A service identity grants service write on its name and read on every service."""
        tok = self.ok(self.root.acl.token.create(service_identities=["web"]))
        a = self.authz(tok["SecretID"])
        self.assertTrue(a.allowed("service", "web", "write"))
        self.assertFalse(a.allowed("service", "db", "write"))
        self.assertTrue(a.allowed("service", "db", "read"))
        self.assertTrue(a.allowed("node", "n", "read"))

    def test_current_exact_key(self) -> None:
        """A current-syntax `key "app"` rule does not reach "app/x"."""
        c = self.client(self.token_with('key "app" { policy = "write" }'))
        self.assertIs(self.ok(c.kv.put("app", "1")), True)
        self.failureResultOf(c.kv.put("app/x", "1"), ACLPermissionDenied)

    def test_policy_change_applies_at_once(self) -> None:
        """Updating a linked policy changes what the token may do on the next request."""
        p = self.ok(self.root.acl.policy.create("mut", rules='key_prefix "" { policy = "read" }'))
        secret = self.ok(self.root.acl.token.create(policies=["mut"]))["SecretID"]
        c = self.client(secret)
        self.failureResultOf(c.kv.put("k", "1"), ACLPermissionDenied)
        self.ok(self.root.acl.policy.update(p["ID"], "mut", rules='key_prefix "" { policy = "write" }'))
        self.assertIs(self.ok(c.kv.put("k", "1")), True)


class DefaultAllowTests(FakeACLCase):
    """default_policy='allow'."""

    default_policy = "allow"

    def test_allow_everything_but_acl(self) -> None:
        """Anonymous requests may use KV and operator, but not manage ACLs."""
        anon = self.client()
        self.assertIs(self.ok(anon.kv.put("x", "1")), True)
        a = self.fake.acl.authorizer_for_secret(None)
        self.assertTrue(a.allowed("operator", "", "write"))
        self.failureResultOf(anon.acl.token.list(), ACLPermissionDenied)
        self.failureResultOf(anon.acl.policy.create("p"), ACLPermissionDenied)

    def test_deny_rule_beats_default_allow(self) -> None:
        """An explicit deny applies even when the default is allow."""
        c = self.client(self.token_with('key_prefix "secret/" { policy = "deny" }'))
        self.assertIs(self.ok(c.kv.put("open", "1")), True)
        self.failureResultOf(c.kv.put("secret/x", "1"), ACLPermissionDenied)

    def test_header(self) -> None:
        """Responses carry X-Consul-Default-ACL-Policy: allow (deny under default deny)."""
        response = self.ok(self.root.http.request("GET", "/v1/status/leader"))
        self.assertEqual(response.headers.getRawHeaders(b"x-consul-default-acl-policy"), [b"allow"])
        deny = FakeConsul(Clock(), acl_master_token=ROOT, acl_default_policy="deny").client()
        response = self.ok(deny.http.request("GET", "/v1/status/leader"))
        self.assertEqual(response.headers.getRawHeaders(b"x-consul-default-acl-policy"), [b"deny"])


class DisabledTests(SynchronousTestCase):
    """ACLs off."""

    def test_everything_allowed_and_acl_endpoints_401(self) -> None:
        """With ACLs disabled every token works and every /v1/acl/* endpoint is 401."""
        fake = FakeConsul(Clock())
        c = fake.client(token="whatever")
        self.assertIs(self.successResultOf(c.kv.put("x", "1")), True)
        for d in (c.acl.token.read_self(), c.acl.policy.list(), c.acl.role.list(), c.acl.bootstrap()):
            self.failureResultOf(d, ACLDisabled)
        # no such endpoint since 1.11, ACLs or not; the 1.10 profile has it
        self.failureResultOf(c.acl.list(), NotFound)
        self.failureResultOf(FakeConsul(Clock(), legacy_acl=True).client().acl.list(), ACLDisabled)
        self.assertFalse(fake.acl.enabled)
        self.assertEqual(fake.acl.default_policy, "allow")

    def test_bad_default_policy(self) -> None:
        """An unknown default policy is refused at construction."""
        self.assertRaises(ValueError, FakeConsul, Clock(), acl_master_token="t", acl_default_policy="maybe")


class KVEnforcementTests(FakeACLCase):
    """KV honours the token's key rules."""

    def setUp(self) -> None:
        super().setUp()
        for key in ("app/a", "app/b", "other/x"):
            self.ok(self.root.kv.put(key, "v"))
        self.app = self.client(self.token_with('key_prefix "app/" { policy = "write" }'))

    def test_put(self) -> None:
        """A token limited to app/ can write app/x but not other/x."""
        self.assertIs(self.ok(self.app.kv.put("app/x", "1")), True)
        self.failureResultOf(self.app.kv.put("other/x", "1"), ACLPermissionDenied)

    def test_single_read_denied(self) -> None:
        """A single-key read outside the rules is 403."""
        self.assertEqual(self.ok(self.app.kv.get("app/a"))[1]["Value"], b"v")
        self.failureResultOf(self.app.kv.get("other/x"), ACLPermissionDenied)

    def test_recursive_read_filtered(self) -> None:
        """A recursive read returns only readable keys, and None when all are filtered."""
        _, entries = self.ok(self.app.kv.get("", recurse=True))
        self.assertEqual([e["Key"] for e in entries], ["app/a", "app/b"])
        _, nothing = self.ok(self.app.kv.get("other/", recurse=True))
        self.assertIsNone(nothing)
        _, keys = self.ok(self.app.kv.get("", keys=True))
        self.assertEqual(keys, ["app/a", "app/b"])

    def test_delete(self) -> None:
        """Deleting outside the rules is 403."""
        self.assertIs(self.ok(self.app.kv.delete("app/a")), True)
        self.failureResultOf(self.app.kv.delete("other/x"), ACLPermissionDenied)


class SessionEnforcementTests(FakeACLCase):
    """Sessions honour the token's session rules."""

    def test_create_needs_session_write(self) -> None:
        """session.create needs session write on the node; list filters by session read."""
        node = self.fake.core.node_name
        writer = self.client(self.token_with(f'session "{node}" {{ policy = "write" }}'))
        sid = self.ok(writer.session.create(token=None))
        self.assertIsInstance(sid, str)
        reader = self.client(self.token_with('key_prefix "" { policy = "read" }'))
        self.failureResultOf(reader.session.create(), ACLPermissionDenied)
        _, visible = self.ok(reader.session.list())
        self.assertEqual(visible, [])
        _, all_sessions = self.ok(self.root.session.list())
        self.assertEqual([s["ID"] for s in all_sessions], [sid])


class EndpointErrorTests(FakeACLCase):
    """The current release's statuses and texts on the ACL endpoints."""

    def test_missing_reads(self) -> None:
        """Missing token/policy/role reads are 404 'Requested <kind> does not exist: ACL not found'."""
        # agent/acl_endpoint.go ACLTokenGet / ACLPolicyRead / ACLRoleRead
        uid = "11111111-2222-3333-4444-555555555555"
        for d, kind in (
            (self.root.acl.token.read(uid), "token"),
            (self.root.acl.policy.read(uid), "policy"),
            (self.root.acl.role.read(uid), "role"),
        ):
            f = self.failureResultOf(d, NotFound)
            self.assertIn(f"Requested {kind} does not exist: ACL not found", str(f.value))
        # token/self looks the secret up without resolving it (ACL.TokenRead)
        f = self.failureResultOf(self.client("bogus").acl.token.read_self(), NotFound)
        self.assertIn("Supplied token does not exist", str(f.value))

    def test_deletes_of_missing_are_true(self) -> None:
        """Deleting a missing token, policy or role is true."""
        uid = "11111111-2222-3333-4444-555555555555"
        self.assertIs(self.ok(self.root.acl.token.delete(uid)), True)
        self.assertIs(self.ok(self.root.acl.policy.delete(uid)), True)
        self.assertIs(self.ok(self.root.acl.role.delete(uid)), True)

    def assert500(self, d: Any, text: str) -> None:
        f = self.failureResultOf(d, ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertIn(text, str(f.value))

    def test_protected_objects(self) -> None:
        """Anonymous token, own token and global-management cannot be deleted."""
        self.assert500(
            self.root.acl.token.delete(ANONYMOUS_ACCESSOR),
            "Delete operation not permitted on the anonymous token",
        )
        me = self.ok(self.root.acl.token.read_self())[1]
        self.assert500(
            self.root.acl.token.delete(me["AccessorID"]), "Deletion of the request's authorization token"
        )
        self.assert500(self.root.acl.policy.delete(GLOBAL_MANAGEMENT_ID), "builtin global-management policy")
        self.assert500(
            self.root.acl.policy.update(GLOBAL_MANAGEMENT_ID, "global-management", rules='acl = "read"'),
            "Changing the Rules for the builtin global-management policy is not permitted",
        )

    def test_policy_validation(self) -> None:
        """Duplicate names, bad names and bad rules are 500s with Consul's texts."""
        self.ok(self.root.acl.policy.create("dup"))
        self.assert500(self.root.acl.policy.create("dup"), 'A Policy with Name "dup" already exists')
        self.assert500(self.root.acl.policy.create("bad name"), "invalid Name")
        self.assert500(
            self.root.acl.policy.create("r", rules='key "x" { policy = "nope" }'), "Invalid key policy"
        )

    def test_bad_links(self) -> None:
        """Linking an unknown policy is a 500."""
        self.assert500(self.root.acl.token.create(policies=["ghost"]), 'No such ACL policy with name "ghost"')

    def test_raw_request_errors(self) -> None:
        """ID on policy create and mismatched IDs are 400s."""
        http = self.root.http
        f = self.failureResultOf(
            http.request("PUT", "/v1/acl/policy", json_body={"ID": "x", "Name": "n"}), BadRequest
        )
        self.assertIn("Cannot specify the ID when creating a new policy", str(f.value))
        tok = self.ok(self.root.acl.token.create())
        f = self.failureResultOf(
            http.request("PUT", "/v1/acl/token/" + tok["AccessorID"], json_body={"AccessorID": "other"}),
            BadRequest,
        )
        self.assertIn("Token Accessor ID in URL and payload do not match", str(f.value))
        f = self.failureResultOf(http.request("PUT", "/v1/acl/token", body=b"{nope"), BadRequest)
        self.assertIn("Token decoding failed", str(f.value))

    def test_redacted_secret(self) -> None:
        """A token with only acl:read sees other tokens' secrets as '<hidden>'."""
        reader = self.client(self.token_with('acl = "read"'))
        _, tokens = self.ok(reader.acl.token.list())
        self.assertTrue(tokens)
        self.assertEqual({t["SecretID"] for t in tokens}, {REDACTED})
        _, one = self.ok(reader.acl.token.read(ANONYMOUS_ACCESSOR))
        self.assertEqual(one["SecretID"], REDACTED)
        self.failureResultOf(reader.acl.token.create(), ACLPermissionDenied)

    def test_writes_take_the_shared_index(self) -> None:
        """Every ACL write allocates the next Raft-like index."""
        before = self.fake.index
        p = self.ok(self.root.acl.policy.create("idx"))
        self.assertEqual(p["CreateIndex"], before + 1)
        tok = self.ok(self.root.acl.token.create())
        self.assertEqual(tok["CreateIndex"], before + 2)
        self.assertEqual(self.fake.index, before + 2)

    def test_policy_list_blocks(self) -> None:
        """policy.list(index=) waits for a policy write and times out on the clock."""
        index, _ = self.ok(self.root.acl.policy.list())
        d = self.root.acl.policy.list(index=index, wait="10s")
        self.assertNoResult(d)
        self.clock.advance(11)
        self.assertEqual(self.ok(d)[0], index)
        d = self.root.acl.policy.list(index=index, wait="10s")
        self.ok(self.root.acl.policy.create("later"))
        self.assertGreater(self.ok(d)[0], index)

    def test_deleted_token_wakes_blocked_read(self) -> None:
        """A blocked token read answers 404 when the token is deleted."""
        tok = self.ok(self.root.acl.token.create())
        index, _ = self.ok(self.root.acl.token.read(tok["AccessorID"]))
        d = self.root.acl.token.read(tok["AccessorID"], index=index, wait="1m")
        self.assertNoResult(d)
        self.ok(self.root.acl.token.delete(tok["AccessorID"]))
        self.failureResultOf(d, NotFound)

    def test_secret_not_in_repr(self) -> None:
        """Neither the ACL system's nor an authorizer's repr shows a secret."""
        self.assertNotIn(ROOT, repr(self.fake.acl))
        self.assertNotIn(ROOT, repr(self.fake.acl.authorizer_for_secret(ROOT)))


class LegacyProfileTests(FakeACLCase):
    """FakeConsul(legacy_acl=True): Consul 1.10's ACL system, legacy API included."""

    legacy_acl = True

    def test_missing_reads(self) -> None:
        """1.10: missing token/policy reads are 403 'ACL not found', a missing role an empty 404."""
        uid = "11111111-2222-3333-4444-555555555555"
        f = self.failureResultOf(self.root.acl.token.read(uid), ACLPermissionDenied)
        self.assertIn("ACL not found", str(f.value))
        self.failureResultOf(self.root.acl.policy.read(uid), ACLPermissionDenied)
        self.failureResultOf(self.root.acl.role.read(uid), NotFound)
        self.failureResultOf(self.client("bogus").acl.token.read_self(), ACLPermissionDenied)

    def test_update_needs_id(self) -> None:
        """The legacy update refuses a body without ID: 400 'ACL ID must be set'."""
        f = self.failureResultOf(
            self.root.http.request("PUT", "/v1/acl/update", json_body={"Name": "n"}), BadRequest
        )
        self.assertIn("ACL ID must be set", str(f.value))

    def assert500(self, d: Any, text: str) -> None:
        """``d`` failed with a 500 whose text contains ``text``."""
        f = self.failureResultOf(d, ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertIn(text, str(f.value))

    def test_legacy_token_rules(self) -> None:
        """A legacy token's rules use prefix semantics: key "app" covers "apple"."""
        secret = self.ok(self.root.acl.create(rules='key "app" { policy = "write" }'))
        c = self.client(secret)
        self.assertIs(self.ok(c.kv.put("apple", "1")), True)
        self.failureResultOf(c.kv.put("banana", "1"), ACLPermissionDenied)

    def test_legacy_management_token(self) -> None:
        """A legacy management token may manage ACLs."""
        secret = self.ok(self.root.acl.create(type="management"))
        self.ok(self.client(secret).acl.policy.create("by-legacy"))

    def test_generations_do_not_mix(self) -> None:
        """Legacy endpoints refuse new tokens; the new clone refuses legacy tokens."""
        tok = self.ok(self.root.acl.token.create(policies=[GLOBAL_MANAGEMENT_ID]))
        self.assert500(
            self.root.acl.update(tok["SecretID"], name="x"),
            "Cannot use legacy endpoint to modify a non-legacy token",
        )
        self.assertIsNone(self.ok(self.root.acl.info(tok["SecretID"])))
        secret = self.ok(self.root.acl.create(rules='key "" { policy = "read" }'))
        accessor = self.fake.acl.token_by_secret(secret)["AccessorID"]
        self.assert500(self.root.acl.token.clone(accessor), "Cannot clone a legacy ACL with this endpoint")
        f = self.failureResultOf(self.root.acl.clone(tok["SecretID"]), ACLPermissionDenied)
        self.assertIn("Permission denied", str(f.value))

    def test_legacy_rule_compilation(self) -> None:
        """Legacy rules that do not compile are a 500."""
        self.assert500(
            self.root.acl.create(rules='key "" { policy = "maybe" }'), "ACL rule compilation failed"
        )
