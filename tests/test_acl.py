"""
Tests for the ACL endpoint group (txconsul.api.acl): request and response
shapes of every method, against FakeConsul in memory.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import (
    ACLDisabled,
    ACLPermissionDenied,
    ConsulException,
    NotFound,
    QueryMeta,
)
from txconsul.api.acl import encode_rules, links, node_identities, service_identities
from txconsul.testing import FakeConsul

ROOT = "root-secret-token"


class ACLTestCase(SynchronousTestCase):
    """A FakeConsul with ACLs on (default deny) and a management client."""

    default_policy = "deny"
    legacy_acl = False

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(
            self.clock,
            seed=3,
            acl_master_token=ROOT,
            acl_default_policy=self.default_policy,
            legacy_acl=self.legacy_acl,
        )
        self.consul = self.fake.client(token=ROOT)

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)

    def last(self) -> tuple[str, str, dict[str, Any], Any]:
        """The last request as (method, path as sent, query dict, JSON body or None)."""
        last = self.fake.requests[-1]
        return last.method, last.raw_path, last.params(), last.json()


class LegacyTests(ACLTestCase):
    """python-consul's legacy acl.* methods, against the Consul 1.10 profile that still has them."""

    legacy_acl = True

    def test_create_returns_id_and_sends_body(self) -> None:
        """create() sends Name/Type/Rules as JSON and fires with the new ID string."""
        rules = 'key "" { policy = "read" }'
        acl_id = self.ok(self.consul.acl.create(name="n", rules=rules))
        self.assertIsInstance(acl_id, str)
        method, path, params, body = self.last()
        self.assertEqual((method, path), ("PUT", "/v1/acl/create"))
        self.assertEqual(body, {"Name": "n", "Type": "client", "Rules": rules})
        self.assertNotIn("token", params)

    def test_create_with_id(self) -> None:
        """acl_id chooses the legacy ID."""
        self.assertEqual(self.ok(self.consul.acl.create(acl_id="my-legacy-id")), "my-legacy-id")
        self.assertEqual(self.ok(self.consul.acl.info("my-legacy-id"))["ID"], "my-legacy-id")

    def test_dict_rules_are_sent_as_json(self) -> None:
        """Rules given as a dict are JSON-encoded, and Consul (the fake) enforces them."""
        rules = {"key": {"pub/": {"policy": "write"}}}
        acl_id = self.ok(self.consul.acl.create(rules=rules))
        self.assertEqual(json.loads(self.last()[3]["Rules"]), rules)
        self.assertIs(self.ok(self.consul.kv.put("pub/x", "1", token=acl_id)), True)

    def test_info_shape_and_unknown(self) -> None:
        """info() gives the ACL dict, and None for an unknown ID."""
        acl_id = self.ok(self.consul.acl.create(name="x", type="management"))
        info = self.ok(self.consul.acl.info(acl_id))
        self.assertEqual(set(info), {"CreateIndex", "ModifyIndex", "ID", "Name", "Type", "Rules"})
        self.assertEqual((info["ID"], info["Name"], info["Type"]), (acl_id, "x", "management"))
        self.assertIsNone(self.ok(self.consul.acl.info("no-such-acl")))

    def test_list(self) -> None:
        """list() gives the legacy tokens, the master token included."""
        acl_id = self.ok(self.consul.acl.create(name="listed"))
        ids = {a["ID"]: a for a in self.ok(self.consul.acl.list())}
        self.assertIn(acl_id, ids)
        self.assertEqual(ids[ROOT]["Type"], "management")
        self.assertEqual(self.last()[:2], ("GET", "/v1/acl/list"))

    def test_update_replaces(self) -> None:
        """update() sends ID plus given fields and fires with the ID; the rules change."""
        acl_id = self.ok(self.consul.acl.create(name="a", rules='key "" { policy = "read" }'))
        new_rules = 'key "" { policy = "write" }'
        self.assertEqual(self.ok(self.consul.acl.update(acl_id, name="b", rules=new_rules)), acl_id)
        self.assertEqual(self.last()[3], {"ID": acl_id, "Name": "b", "Rules": new_rules})
        info = self.ok(self.consul.acl.info(acl_id))
        self.assertEqual((info["Name"], info["Rules"]), ("b", new_rules))

    def test_clone(self) -> None:
        """clone() fires with a new ID carrying the same rules."""
        rules = 'key "c/" { policy = "write" }'
        acl_id = self.ok(self.consul.acl.create(name="orig", rules=rules))
        copy = self.ok(self.consul.acl.clone(acl_id))
        self.assertNotEqual(copy, acl_id)
        self.assertEqual(self.ok(self.consul.acl.info(copy))["Rules"], rules)

    def test_destroy(self) -> None:
        """destroy() fires with True and the ACL is gone."""
        acl_id = self.ok(self.consul.acl.create())
        self.assertIs(self.ok(self.consul.acl.destroy(acl_id)), True)
        self.assertEqual(self.last()[:2], ("PUT", f"/v1/acl/destroy/{acl_id}"))
        self.assertIsNone(self.ok(self.consul.acl.info(acl_id)))

    def test_legacy_id_escaped(self) -> None:
        """A legacy ID with '/', '?' and '#' travels as one escaped path segment."""
        weird = "a/b?c#d e"
        self.ok(self.consul.acl.create(acl_id=weird))
        self.assertEqual(self.ok(self.consul.acl.info(weird))["ID"], weird)
        self.assertEqual(self.fake.requests[-1].raw_path, "/v1/acl/info/a%2Fb%3Fc%23d%20e")

    def test_secret_not_in_errors(self) -> None:
        """Errors of info/clone/destroy name '<acl-id>', never the ID (a secret)."""
        acl_id = self.ok(self.consul.acl.create(name="secret"))
        for call in (self.consul.acl.destroy, self.consul.acl.clone):
            f = self.failureResultOf(call(acl_id, token="anonymous"), ACLPermissionDenied)
            self.assertNotIn(acl_id, str(f.value))
            self.assertNotIn(acl_id, f.value.path)
            self.assertIn("<acl-id>", str(f.value))
        f = self.failureResultOf(self.consul.acl.info(acl_id, dc="elsewhere"), ConsulException)
        self.assertNotIn(acl_id, str(f.value))

    def test_permission_denied_without_management(self) -> None:
        """A client token cannot create ACLs: ACLPermissionDenied."""
        acl_id = self.ok(self.consul.acl.create())
        self.failureResultOf(self.consul.acl.create(token=acl_id), ACLPermissionDenied)
        self.failureResultOf(self.consul.acl.list(token=acl_id), ACLPermissionDenied)

    def test_bad_arguments(self) -> None:
        """A bad type or rules, or an empty ID, raise before any request."""
        before = len(self.fake.requests)
        self.assertRaises(ValueError, self.consul.acl.create, type="admin")
        self.assertRaises(TypeError, self.consul.acl.create, rules=42)
        self.assertRaises(ValueError, self.consul.acl.update, "")
        self.assertRaises(ValueError, self.consul.acl.info, "")
        self.assertRaises(TypeError, self.consul.acl.destroy, None)
        self.assertEqual(len(self.fake.requests), before)

    def test_token_travels_in_header(self) -> None:
        """The token goes in X-Consul-Token, never in the URL."""
        self.failureResultOf(self.consul.acl.list(token="explicit-token-value"), ACLPermissionDenied)
        last = self.fake.requests[-1]
        self.assertNotIn("explicit", last.raw_path)
        self.assertNotIn("token", last.params())
        self.assertEqual(last.headers["x-consul-token"], "explicit-token-value")


class DisabledTests(SynchronousTestCase):
    """ACL calls against an agent with ACLs off."""

    def test_every_group_raises_acl_disabled(self) -> None:
        """Token, policy, role and bootstrap calls (and legacy ones on 1.10) all fail with ACLDisabled."""
        consul = FakeConsul(Clock()).client()
        legacy = FakeConsul(Clock(), legacy_acl=True).client()
        for d in (
            legacy.acl.list(),
            legacy.acl.create(),
            legacy.acl.info("x"),
            legacy.acl.token.list(),
            consul.acl.token.read_self(),
            consul.acl.token.list(),
            consul.acl.policy.create("p"),
            consul.acl.role.list(),
            consul.acl.bootstrap(),
        ):
            f = self.failureResultOf(d, ACLDisabled)
            self.assertIn("ACL support disabled", str(f.value))


class TokenTests(ACLTestCase):
    """acl.token.*"""

    def setUp(self) -> None:
        super().setUp()
        self.policy = self.ok(
            self.consul.acl.policy.create("kv-read", rules='key_prefix "" { policy = "read" }')
        )

    def test_create_shape(self) -> None:
        """create() sends links by name or ID and fires with the token dict."""
        tok = self.ok(
            self.consul.acl.token.create(
                description="d",
                policies=["kv-read"],
                service_identities=["web"],
                node_identities=[("n1", "dc1")],
            )
        )
        method, path, _, body = self.last()
        self.assertEqual((method, path), ("PUT", "/v1/acl/token"))
        self.assertEqual(body["Policies"], [{"Name": "kv-read"}])
        self.assertEqual(body["ServiceIdentities"], [{"ServiceName": "web"}])
        self.assertEqual(body["NodeIdentities"], [{"NodeName": "n1", "Datacenter": "dc1"}])
        self.assertEqual(tok["Policies"], [{"ID": self.policy["ID"], "Name": "kv-read"}])
        self.assertEqual(tok["Description"], "d")
        for field in ("AccessorID", "SecretID", "Local", "CreateTime", "Hash", "CreateIndex", "ModifyIndex"):
            self.assertIn(field, tok)

    def test_link_by_uuid_is_id(self) -> None:
        """A UUID string links by ID."""
        self.ok(self.consul.acl.token.create(policies=[self.policy["ID"]]))
        self.assertEqual(self.last()[3]["Policies"], [{"ID": self.policy["ID"]}])

    def test_read_and_meta(self) -> None:
        """read() fires with (index, token); meta=True with a QueryMeta."""
        tok = self.ok(self.consul.acl.token.create(description="r"))
        index, data = self.ok(self.consul.acl.token.read(tok["AccessorID"]))
        self.assertEqual(data["SecretID"], tok["SecretID"])
        self.assertEqual(index, tok["ModifyIndex"])
        meta, _ = self.ok(self.consul.acl.token.read(tok["AccessorID"], meta=True))
        self.assertIsInstance(meta, QueryMeta)

    def test_read_missing(self) -> None:
        """A missing token is NotFound: 404 'Requested token does not exist: ACL not found'."""
        f = self.failureResultOf(self.consul.acl.token.read("11111111-2222-3333-4444-555555555555"), NotFound)
        self.assertIn("Requested token does not exist: ACL not found", str(f.value))

    def test_read_self(self) -> None:
        """read_self() reads the token the request carries."""
        tok = self.ok(self.consul.acl.token.create(description="me"))
        _, data = self.ok(self.consul.acl.token.read_self(token=tok["SecretID"]))
        self.assertEqual(data["AccessorID"], tok["AccessorID"])
        self.assertEqual(self.last()[:2], ("GET", "/v1/acl/token/self"))

    def test_update(self) -> None:
        """update() replaces description and links, sending the AccessorID in the body."""
        tok = self.ok(self.consul.acl.token.create(description="old", policies=["kv-read"]))
        new = self.ok(self.consul.acl.token.update(tok["AccessorID"], description="new"))
        self.assertEqual(self.last()[3], {"AccessorID": tok["AccessorID"], "Description": "new"})
        self.assertEqual(new["Description"], "new")
        self.assertNotIn("Policies", new)
        self.assertEqual(new["SecretID"], tok["SecretID"])

    def test_clone(self) -> None:
        """clone() copies links under new IDs, with an optional description."""
        tok = self.ok(self.consul.acl.token.create(description="src", policies=["kv-read"]))
        copy = self.ok(self.consul.acl.token.clone(tok["AccessorID"], description="copy"))
        self.assertEqual(self.last()[:2], ("PUT", f"/v1/acl/token/{tok['AccessorID']}/clone"))
        self.assertNotEqual(copy["AccessorID"], tok["AccessorID"])
        self.assertEqual(copy["Description"], "copy")
        self.assertEqual(copy["Policies"], tok["Policies"])

    def test_delete(self) -> None:
        """delete() fires with True and the token is gone."""
        tok = self.ok(self.consul.acl.token.create())
        self.assertIs(self.ok(self.consul.acl.token.delete(tok["AccessorID"])), True)
        self.assertEqual(self.last()[0], "DELETE")
        self.failureResultOf(self.consul.acl.token.read(tok["AccessorID"]), NotFound)

    def test_list_and_filter(self) -> None:
        """list() gives stubs; policy= filters to tokens linked to that policy."""
        linked = self.ok(self.consul.acl.token.create(policies=["kv-read"]))
        self.ok(self.consul.acl.token.create())
        _, all_tokens = self.ok(self.consul.acl.token.list())
        self.assertEqual(len(all_tokens), 4)  # master, anonymous and ours
        index, only = self.ok(self.consul.acl.token.list(policy=self.policy["ID"]))
        self.assertEqual([t["AccessorID"] for t in only], [linked["AccessorID"]])
        self.assertEqual(self.last()[2], {"policy": self.policy["ID"]})
        self.assertNotIn("Legacy", only[0])  # a 1.10 field

    def test_list_blocks_until_change(self) -> None:
        """list(index=i) waits until a token is created."""
        index, _ = self.ok(self.consul.acl.token.list())
        d = self.consul.acl.token.list(index=index, wait="30s")
        self.assertNoResult(d)
        self.ok(self.consul.acl.token.create(description="wake"))
        new_index, tokens = self.ok(d)
        self.assertGreater(new_index, index)
        self.assertIn("wake", [t["Description"] for t in tokens])

    def test_accessor_escaped(self) -> None:
        """An accessor ID with '/' stays one path segment."""
        self.failureResultOf(self.consul.acl.token.read("a/b"), NotFound)
        self.assertIn("/v1/acl/token/a%2Fb", self.fake.requests[-1].raw_path)

    def test_expiration_ttl(self) -> None:
        """expiration_ttl is sent as a Go duration and the token expires on the clock."""
        tok = self.ok(self.consul.acl.token.create(expiration_ttl=60))
        self.assertEqual(self.last()[3]["ExpirationTTL"], "60000ms")
        self.assertIn("ExpirationTime", tok)
        self.clock.advance(61)
        self.failureResultOf(self.consul.acl.token.read(tok["AccessorID"]), NotFound)

    def test_bad_arguments(self) -> None:
        """Bad links, identities and TTLs raise before any request."""
        before = len(self.fake.requests)
        self.assertRaises(TypeError, self.consul.acl.token.create, policies="kv-read")
        self.assertRaises(ValueError, self.consul.acl.token.create, policies=[{}])
        self.assertRaises(ValueError, self.consul.acl.token.create, expiration_ttl=0)
        self.assertRaises(TypeError, self.consul.acl.token.create, node_identities=["n1"])
        self.assertRaises(TypeError, self.consul.acl.token.create, local="yes")
        self.assertRaises(ValueError, self.consul.acl.token.read, "")
        self.assertRaises(ValueError, self.consul.acl.token.list, index=-1)
        self.assertEqual(len(self.fake.requests), before)

    def test_dc(self) -> None:
        """dc= is sent; an unknown datacenter is Consul's 500."""
        f = self.failureResultOf(self.consul.acl.token.list(dc="mars"), ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertEqual(self.last()[2].get("dc"), "mars")

    def test_list_role_and_authmethod_params(self) -> None:
        """role= and authmethod= are sent as query parameters and filter the list."""
        role = self.ok(self.consul.acl.role.create("tr", policies=["kv-read"]))
        linked = self.ok(self.consul.acl.token.create(roles=[role["ID"]]))
        _, tokens = self.ok(self.consul.acl.token.list(role=role["ID"]))
        self.assertEqual([t["AccessorID"] for t in tokens], [linked["AccessorID"]])
        _, none = self.ok(self.consul.acl.token.list(authmethod="kube"))
        self.assertEqual(self.last()[2], {"authmethod": "kube"})
        self.assertEqual(none, [])


class ReplicationTests(ACLTestCase):
    """acl.replication()"""

    def test_status_shape(self) -> None:
        """replication() GETs /v1/acl/replication and fires with the status dict."""
        status = self.ok(self.consul.acl.replication())
        self.assertEqual(self.last()[:2], ("GET", "/v1/acl/replication"))
        self.assertIs(status["Enabled"], False)
        self.assertIn("SourceDatacenter", status)


class PolicyTests(ACLTestCase):
    """acl.policy.*"""

    def test_create_read_by_id_and_name(self) -> None:
        """create() sends Name/Rules/Description/Datacenters; read/read_by_name find it."""
        p = self.ok(
            self.consul.acl.policy.create(
                "p1", rules='key "k" { policy = "read" }', description="d", datacenters=["dc1"]
            )
        )
        self.assertEqual(
            self.last()[3],
            {
                "Name": "p1",
                "Rules": 'key "k" { policy = "read" }',
                "Description": "d",
                "Datacenters": ["dc1"],
            },
        )
        _, by_id = self.ok(self.consul.acl.policy.read(p["ID"]))
        _, by_name = self.ok(self.consul.acl.policy.read_by_name("p1"))
        self.assertEqual(by_id, p)
        self.assertEqual(by_name, p)
        self.assertEqual(self.last()[1], "/v1/acl/policy/name/p1")

    def test_dict_rules(self) -> None:
        """Rules given as a dict are sent as JSON."""
        p = self.ok(self.consul.acl.policy.create("j", rules={"operator": "read"}))
        self.assertEqual(json.loads(p["Rules"]), {"operator": "read"})

    def test_update(self) -> None:
        """update() sends ID and the full policy; the rules change."""
        p = self.ok(self.consul.acl.policy.create("u", rules='operator = "read"'))
        new = self.ok(self.consul.acl.policy.update(p["ID"], "u2", rules='operator = "write"'))
        self.assertEqual(self.last()[3], {"ID": p["ID"], "Name": "u2", "Rules": 'operator = "write"'})
        self.assertEqual((new["Name"], new["Rules"]), ("u2", 'operator = "write"'))
        self.assertGreater(new["ModifyIndex"], p["ModifyIndex"])
        self.assertEqual(new["CreateIndex"], p["CreateIndex"])

    def test_delete_and_list(self) -> None:
        """delete() fires with True; list() gives stubs without Rules."""
        p = self.ok(self.consul.acl.policy.create("gone"))
        _, listed = self.ok(self.consul.acl.policy.list())
        names = {x["Name"]: x for x in listed}
        self.assertIn("global-management", names)
        self.assertNotIn("Rules", names["gone"])
        self.assertIs(self.ok(self.consul.acl.policy.delete(p["ID"])), True)
        _, listed = self.ok(self.consul.acl.policy.list())
        self.assertNotIn("gone", [x["Name"] for x in listed])

    def test_missing(self) -> None:
        """A missing policy is NotFound (404 'Requested policy does not exist: ACL not found')."""
        self.failureResultOf(self.consul.acl.policy.read_by_name("nope"), NotFound)

    def test_name_required(self) -> None:
        """update() and create() need a name, checked before any request."""
        self.assertRaises(ValueError, self.consul.acl.policy.create, "")
        self.assertRaises(TypeError, self.consul.acl.policy.create, "x", datacenters="dc1")


class RoleTests(ACLTestCase):
    """acl.role.*"""

    def setUp(self) -> None:
        super().setUp()
        self.policy = self.ok(
            self.consul.acl.policy.create("rp", rules='key_prefix "r/" { policy = "write" }')
        )

    def test_crud(self) -> None:
        """Roles link policies by name or ID; read, read_by_name, update, delete, list."""
        role = self.ok(self.consul.acl.role.create("r1", description="d", policies=["rp"]))
        self.assertEqual(self.last()[3], {"Name": "r1", "Description": "d", "Policies": [{"Name": "rp"}]})
        self.assertEqual(role["Policies"], [{"ID": self.policy["ID"], "Name": "rp"}])
        _, by_id = self.ok(self.consul.acl.role.read(role["ID"]))
        _, by_name = self.ok(self.consul.acl.role.read_by_name("r1"))
        self.assertEqual(by_id, by_name)
        updated = self.ok(self.consul.acl.role.update(role["ID"], "r1", service_identities=["api"]))
        self.assertEqual(updated["ServiceIdentities"], [{"ServiceName": "api"}])
        self.assertNotIn("Policies", updated)
        _, roles = self.ok(self.consul.acl.role.list())
        self.assertEqual([r["Name"] for r in roles], ["r1"])
        self.assertIs(self.ok(self.consul.acl.role.delete(role["ID"])), True)
        self.failureResultOf(self.consul.acl.role.read(role["ID"]), NotFound)

    def test_list_by_policy(self) -> None:
        """role.list(policy=) filters to roles linked to that policy."""
        self.ok(self.consul.acl.role.create("with", policies=[self.policy["ID"]]))
        self.ok(self.consul.acl.role.create("without"))
        _, roles = self.ok(self.consul.acl.role.list(policy=self.policy["ID"]))
        self.assertEqual([r["Name"] for r in roles], ["with"])

    def test_token_through_role(self) -> None:
        """A token linked to a role gets the role's policies."""
        self.ok(self.consul.acl.role.create("writer", policies=["rp"]))
        tok = self.ok(self.consul.acl.token.create(roles=["writer"]))
        self.assertIs(self.ok(self.consul.kv.put("r/x", "1", token=tok["SecretID"])), True)
        self.failureResultOf(self.consul.kv.put("s/x", "1", token=tok["SecretID"]), ACLPermissionDenied)


class BootstrapTests(ACLTestCase):
    """acl.bootstrap()"""

    def test_master_token_counts_as_bootstrap(self) -> None:
        """With a configured master token, bootstrap is refused with the reset index."""
        f = self.failureResultOf(self.consul.acl.bootstrap(), ACLPermissionDenied)
        self.assertIn("ACL bootstrap no longer allowed (reset index:", str(f.value))

    def test_bootstrap_after_reset_then_refused(self) -> None:
        """After a reset, bootstrap gives a management token once; the second is 403."""
        self.fake.acl.reset_bootstrap()
        tok = self.ok(self.consul.acl.bootstrap(token="anonymous"))
        self.assertEqual(tok["ID"], tok["SecretID"])
        self.assertEqual(tok["Policies"][0]["Name"], "global-management")
        self.ok(self.consul.acl.policy.create("by-bootstrap", token=tok["SecretID"]))
        self.failureResultOf(self.consul.acl.bootstrap(), ACLPermissionDenied)


class HelperTests(SynchronousTestCase):
    """The pure argument helpers."""

    def test_links(self) -> None:
        """UUIDs link by ID, other strings by Name, dicts pass through."""
        uid = "00000000-0000-0000-0000-000000000001"
        self.assertEqual(
            links([uid, "name", {"Name": "n2"}], "policies"),
            [{"ID": uid}, {"Name": "name"}, {"Name": "n2"}],
        )

    def test_identities(self) -> None:
        """Service identities from names or dicts; node identities from pairs or dicts."""
        self.assertEqual(
            service_identities(["a", {"ServiceName": "b", "Datacenters": ["dc1"]}]),
            [{"ServiceName": "a"}, {"ServiceName": "b", "Datacenters": ["dc1"]}],
        )
        self.assertEqual(
            node_identities([("n", "dc1"), {"NodeName": "m", "Datacenter": "dc2"}]),
            [{"NodeName": "n", "Datacenter": "dc1"}, {"NodeName": "m", "Datacenter": "dc2"}],
        )
        self.assertRaises(ValueError, service_identities, [{}])

    def test_encode_rules(self) -> None:
        """Strings pass through, dicts become JSON, anything else is a TypeError."""
        self.assertEqual(encode_rules('operator = "read"'), 'operator = "read"')
        self.assertEqual(json.loads(encode_rules({"acl": "read"})), {"acl": "read"})
        self.assertRaises(TypeError, encode_rules, ["x"])
