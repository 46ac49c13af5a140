"""
Integration tests for ACLs over real TCP: FakeConsul with ACLs on (default
deny) and, when ``CONSUL_HTTP_ADDR`` is set, a real agent whose management
token comes from ``CONSUL_HTTP_TOKEN`` (skipped if that agent has ACLs off).
"""

from __future__ import annotations

import uuid
from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SkipTest

from txconsul import ACLDisabled, ACLPermissionDenied, ConsulException, NotFound

from .base import FakeAgentCase, RealAgentCase

MASTER = "root-token"


class ACLMixin:
    """ACL tests that hold on FakeConsul and on a real ACL-enabled agent."""

    fake_kwargs = {"acl_master_token": MASTER, "acl_default_policy": "deny"}

    @inlineCallbacks
    def admin(self) -> Any:
        """A management client; skips when the agent has ACLs off."""
        if self.fake is not None:
            client = self.make_client(token=MASTER)
        else:
            client = self.make_client()
        try:
            yield client.acl.token.read_self()
        except ACLDisabled:
            raise SkipTest("the agent has ACLs disabled")
        return client

    def unique(self, what: str) -> str:
        """A name no other test run uses."""
        return f"txconsul-it-{what}-{uuid.uuid4().hex[:10]}"

    @inlineCallbacks
    def scoped_token(self, admin: Any, rules: str) -> Any:
        """A policy with ``rules`` and a token holding it, both removed at cleanup."""
        policy = yield admin.acl.policy.create(self.unique("policy"), rules=rules)
        self.addCleanup(admin.acl.policy.delete, policy["ID"])
        token = yield admin.acl.token.create(description=self.unique("token"), policies=[policy["ID"]])
        self.addCleanup(admin.acl.token.delete, token["AccessorID"])
        return token

    @inlineCallbacks
    def test_prefix_token_enforced_on_kv(self) -> None:
        """A token limited to <prefix>app/ writes there, is refused elsewhere, and sees only its keys."""
        admin = yield self.admin()
        app, other = self.prefix + "app/", self.prefix + "other/"
        rules = f'key_prefix "" {{ policy = "deny" }}\nkey_prefix "{app}" {{ policy = "write" }}'
        token = yield self.scoped_token(admin, rules)
        yield admin.kv.put(other + "x", "hidden")
        c = self.make_client(token=token["SecretID"])
        self.assertIs((yield c.kv.put(app + "x", "1")), True)
        yield self.assertFailure(c.kv.put(other + "x", "2"), ACLPermissionDenied)
        yield self.assertFailure(c.kv.get(other + "x"), ACLPermissionDenied)
        _, entries = yield c.kv.get(self.prefix, recurse=True)
        self.assertEqual([e["Key"] for e in entries], [app + "x"])
        _, nothing = yield c.kv.get(other, recurse=True)
        self.assertIsNone(nothing)

    @inlineCallbacks
    def test_token_lifecycle(self) -> None:
        """Create, read, read_self, update, list, clone and delete a token."""
        admin = yield self.admin()
        token = yield self.scoped_token(admin, 'key_prefix "" { policy = "read" }')
        accessor = token["AccessorID"]
        _, read = yield admin.acl.token.read(accessor)
        self.assertEqual(read["SecretID"], token["SecretID"])
        _, me = yield self.make_client(token=token["SecretID"]).acl.token.read_self()
        self.assertEqual(me["AccessorID"], accessor)
        new_desc = self.unique("renamed")
        updated = yield admin.acl.token.update(accessor, description=new_desc, policies=token["Policies"])
        self.assertEqual(updated["Description"], new_desc)
        _, listed = yield admin.acl.token.list()
        self.assertIn(accessor, [t["AccessorID"] for t in listed])
        copy = yield admin.acl.token.clone(accessor, description=self.unique("clone"))
        self.assertEqual(copy["Policies"], updated["Policies"])
        self.assertIs((yield admin.acl.token.delete(copy["AccessorID"])), True)
        yield self.assertFailure(admin.acl.token.read(copy["AccessorID"]), ACLPermissionDenied, NotFound)

    @inlineCallbacks
    def test_role_grants_policy(self) -> None:
        """A token linked to a role (linked to a policy by name) gets the policy's rights."""
        admin = yield self.admin()
        policy = yield admin.acl.policy.create(
            self.unique("rp"), rules=f'key_prefix "{self.prefix}" {{ policy = "write" }}'
        )
        self.addCleanup(admin.acl.policy.delete, policy["ID"])
        role = yield admin.acl.role.create(self.unique("role"), policies=[policy["Name"]])
        self.addCleanup(admin.acl.role.delete, role["ID"])
        _, by_name = yield admin.acl.role.read_by_name(role["Name"])
        self.assertEqual(by_name["ID"], role["ID"])
        token = yield admin.acl.token.create(roles=[role["ID"]])
        self.addCleanup(admin.acl.token.delete, token["AccessorID"])
        c = self.make_client(token=token["SecretID"])
        self.assertIs((yield c.kv.put(self.prefix + "r", "1")), True)

    @inlineCallbacks
    def test_token_list_blocks(self) -> None:
        """A blocking token list answers when a token is created."""
        admin = yield self.admin()
        index, _ = yield admin.acl.token.list()
        d = admin.acl.token.list(index=index, wait="20s")
        yield self.scoped_token(admin, 'key_prefix "" { policy = "read" }')
        new_index, _ = yield d
        self.assertGreater(new_index, index)

    @inlineCallbacks
    def test_bootstrap_refused(self) -> None:
        """An agent that already has a management token refuses bootstrap with 403."""
        admin = yield self.admin()
        yield self.assertFailure(admin.acl.bootstrap(), ACLPermissionDenied)

    @inlineCallbacks
    def test_legacy_api_gone(self) -> None:
        """The legacy endpoints left the router in Consul 1.11 (410, then 404 in the current release)."""
        admin = yield self.admin()
        e = yield self.assertFailure(admin.acl.list(), ConsulException)
        self.assertIn(e.status, (404, 410))

    @inlineCallbacks
    def test_anonymous_and_unknown(self) -> None:
        """Under default deny anonymous writes are refused; an unknown token is 'ACL not found'."""
        self.need_fake()
        yield self.assertFailure(self.consul.kv.put(self.prefix + "x", "1"), ACLPermissionDenied)
        e = yield self.assertFailure(
            self.make_client(token="no-such-token").kv.get(self.prefix + "x"), ACLPermissionDenied
        )
        self.assertIn("ACL not found", str(e))


class ACLFakeTests(ACLMixin, FakeAgentCase):
    """ACL tests against FakeConsul over TCP."""


class ACLRealTests(ACLMixin, RealAgentCase):
    """ACL tests against a real agent."""


class ACLLegacyFakeTests(ACLMixin, FakeAgentCase):
    """FakeConsul(legacy_acl=True) over TCP: Consul 1.10 with the legacy ACL API."""

    fake_kwargs = {"acl_master_token": MASTER, "acl_default_policy": "deny", "legacy_acl": True}

    def test_legacy_api_gone(self) -> None:
        """Not so on 1.10 (test_legacy_api covers the legacy API there)."""
        raise SkipTest("Consul 1.10 still has the legacy ACL API")

    @inlineCallbacks
    def test_legacy_api(self) -> None:
        """Legacy create/info/list/clone/destroy, with legacy prefix rules, on the Consul 1.10 profile."""
        self.need_fake()
        admin = yield self.admin()
        acl_id = yield admin.acl.create(name="legacy", rules=f'key "{self.prefix}ap" {{ policy = "write" }}')
        info = yield admin.acl.info(acl_id)
        self.assertEqual(info["Name"], "legacy")
        self.assertIn(acl_id, [a["ID"] for a in (yield admin.acl.list())])
        c = self.make_client(token=acl_id)
        self.assertIs((yield c.kv.put(self.prefix + "apple", "1")), True)
        copy = yield admin.acl.clone(acl_id)
        self.assertIs((yield admin.acl.destroy(copy)), True)
        self.assertIs((yield admin.acl.destroy(acl_id)), True)
        self.assertIsNone((yield admin.acl.info(acl_id)))
