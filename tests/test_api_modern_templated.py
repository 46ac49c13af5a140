"""
Tests for ACL templated policies: ``acl.templated_policy`` list, read and
preview, and ``templated_policies`` on tokens and roles -- the client
against FakeConsul, in memory.
"""

from __future__ import annotations

from txconsul import ACLDisabled, ACLPermissionDenied, BadRequest, ConsulException
from txconsul.api.acl_templated import ACLTemplatedPolicy

from .modern_case import ACLModernCase, ModernCase
from .test_api_modern_acl_auth import AuthCase

BUILTINS = [
    "builtin/api-gateway",
    "builtin/dns",
    "builtin/node",
    "builtin/nomad-client",
    "builtin/nomad-server",
    "builtin/service",
]


class TemplatedPolicyEndpointTests(ACLModernCase):
    """list, read and preview against the fake's builtin templates."""

    def test_list(self) -> None:
        """list answers every builtin template by name, each with its schema, template and description."""
        templates = self.ok(self.root.acl.templated_policy.list())
        self.assertEqual(sorted(templates), BUILTINS)
        service = templates["builtin/service"]
        self.assertEqual(set(service), {"TemplateName", "Schema", "Template", "Description"})
        self.assertIn('service "{{.Name}}-sidecar-proxy"', service["Template"])
        self.assertIn('"required": ["name"]', service["Schema"])
        self.assertEqual(templates["builtin/dns"]["Schema"], "")

    def test_read(self) -> None:
        """read answers one template; the slash in its name reaches the fake as a path."""
        node = self.ok(self.root.acl.templated_policy.read("builtin/node"))
        self.assertEqual(node["TemplateName"], "builtin/node")
        self.assertIn('node "{{.Name}}"', node["Template"])

    def test_read_unknown(self) -> None:
        """An unknown template is a 400 naming it."""
        err = self.fails(self.root.acl.templated_policy.read("builtin/teleporter"), BadRequest)
        self.assertIn("Invalid templated policy Name: builtin/teleporter", str(err))

    def test_preview(self) -> None:
        """preview renders the rules with the variable, and the ID is the rules' FNV-128a Sum."""
        policy = self.ok(self.root.acl.templated_policy.preview("builtin/service", {"Name": "api"}))
        self.assertIn('service "api" {', policy["Rules"])
        self.assertIn('service "api-sidecar-proxy" {', policy["Rules"])
        self.assertEqual(
            policy["Description"], "synthetic policy generated from templated policy: builtin/service"
        )
        self.assertTrue(policy["ID"].startswith(policy["Rules"].encode().hex()))
        self.assertEqual(policy["Name"], "synthetic-policy-" + policy["ID"])

    def test_preview_without_variables(self) -> None:
        """A template without a schema previews without variables; one with a schema needs Name."""
        dns = self.ok(self.root.acl.templated_policy.preview("builtin/dns"))
        self.assertIn('query_prefix "" {', dns["Rules"])
        err = self.fails(self.root.acl.templated_policy.preview("builtin/api-gateway"), BadRequest)
        self.assertIn("validation error for templated policy: builtin/api-gateway", str(err))
        self.assertIn("name is required", str(err))

    def test_preview_bad_service_name(self) -> None:
        """builtin/service refuses a name that is not a valid service identity."""
        err = self.fails(
            self.root.acl.templated_policy.preview("builtin/service", {"Name": "Web!"}), BadRequest
        )
        self.assertIn("has an invalid name", str(err))

    def test_needs_acl_read(self) -> None:
        """The endpoints need acl:read: an anonymous token is refused, an acl:read one is not."""
        anonymous = self.client()
        self.fails(anonymous.acl.templated_policy.list(), ACLPermissionDenied)
        reader = self.client('acl = "read"')
        self.assertEqual(len(self.ok(reader.acl.templated_policy.list())), len(BUILTINS))

    def test_client_validation(self) -> None:
        """Bad arguments are refused before any request."""
        self.assertRaises(
            ValueError, ACLTemplatedPolicy.preview.describe, None, "builtin/service", {"Zone": "x"}
        )
        self.assertRaises(TypeError, ACLTemplatedPolicy.preview.describe, None, "builtin/service", "web")
        self.assertRaises(ValueError, ACLTemplatedPolicy.read.describe, None, "")
        self.assertEqual(
            ACLTemplatedPolicy.read.describe(None, "builtin/service").path,
            "/v1/acl/templated-policy/name/builtin/service",
        )


class TemplatedPolicyDisabledTests(ModernCase):
    """Without ACLs the endpoints answer 401 ACL support disabled."""

    def test_disabled(self) -> None:
        """list fails with ACLDisabled."""
        self.fails(self.consul.acl.templated_policy.list(), ACLDisabled)


class TokenTemplatedPolicyTests(ACLModernCase):
    """Tokens and roles keep their templated policies, and the rules they render are enforced."""

    def test_token_keeps_and_enforces(self) -> None:
        """A builtin/service token for web may register web and its sidecar, not another service."""
        tok = self.ok(self.root.acl.token.create(templated_policies=[("builtin/service", "web")]))
        self.assertEqual(tok["TemplatedPolicies"][0]["TemplateName"], "builtin/service")
        self.assertEqual(tok["TemplatedPolicies"][0]["TemplateVariables"], {"name": "web"})
        _, read = self.ok(self.root.acl.token.read(tok["AccessorID"]))
        self.assertEqual(read["TemplatedPolicies"], tok["TemplatedPolicies"])
        c = self.fake.client(token=tok["SecretID"])
        self.ok(c.agent.service.register("web", port=80, connect={"SidecarService": {}}))
        self.fails(c.agent.service.register("db", port=5432), ACLPermissionDenied)
        # service_prefix "" read: it may read the catalog.
        self.assertIn("web", self.ok(c.catalog.services())[1])

    def test_dns_and_dedupe(self) -> None:
        """A template without variables needs none; duplicates are kept once."""
        tok = self.ok(self.root.acl.token.create(templated_policies=["builtin/dns", "builtin/dns"]))
        self.assertEqual([t["TemplateName"] for t in tok["TemplatedPolicies"]], ["builtin/dns"])
        c = self.fake.client(token=tok["SecretID"])
        self.ok(c.catalog.nodes())
        self.fails(c.kv.put("k", b"v"), ACLPermissionDenied)

    def test_hash_changes(self) -> None:
        """The templated policies are part of the token's Hash."""
        tok = self.ok(self.root.acl.token.create(templated_policies=[("builtin/node", "n1")]))
        updated = self.ok(
            self.root.acl.token.update(tok["AccessorID"], templated_policies=[("builtin/node", "n2")])
        )
        self.assertNotEqual(tok["Hash"], updated["Hash"])
        self.assertEqual(updated["TemplatedPolicies"][0]["TemplateVariables"], {"name": "n2"})

    def test_unknown_template_refused(self) -> None:
        """An unknown template name is refused by the server, naming it."""
        err = self.fails(self.root.acl.token.create(templated_policies=["builtin/nope"]), ConsulException)
        self.assertIn("builtin/nope", str(err))

    def test_missing_variable_refused(self) -> None:
        """builtin/service without its Name is refused."""
        d = self.root.acl.token.create(templated_policies=[{"TemplateName": "builtin/service"}])
        self.assertIn("validation error", str(self.fails(d, ConsulException)))

    def test_role_grants(self) -> None:
        """A role's templated policy reaches the tokens linking the role."""
        role = self.ok(self.root.acl.role.create("svc-web", templated_policies=[("builtin/service", "web")]))
        self.assertEqual(role["TemplatedPolicies"][0]["TemplateName"], "builtin/service")
        tok = self.ok(self.root.acl.token.create(roles=["svc-web"]))
        c = self.fake.client(token=tok["SecretID"])
        self.ok(c.agent.service.register("web", port=80))
        self.fails(c.agent.service.register("db", port=1), ACLPermissionDenied)

    def test_client_shapes(self) -> None:
        """Names, pairs and dicts become Consul's objects; other shapes are refused before any request."""
        body = self.root.acl.token.create.describe(
            self.root.acl.token,
            templated_policies=[
                "builtin/dns",
                ("builtin/node", "n1"),
                {
                    "TemplateName": "builtin/service",
                    "TemplateVariables": {"name": "w"},
                    "Datacenters": ["dc1"],
                },
            ],
        ).json_body["TemplatedPolicies"]
        self.assertEqual(body[0], {"TemplateName": "builtin/dns"})
        self.assertEqual(body[1], {"TemplateName": "builtin/node", "TemplateVariables": {"Name": "n1"}})
        self.assertEqual(body[2]["TemplateVariables"], {"Name": "w"})
        self.assertRaises(
            TypeError,
            self.root.acl.token.create.describe,
            self.root.acl.token,
            templated_policies="builtin/dns",
        )
        self.assertRaises(
            ValueError,
            self.root.acl.token.create.describe,
            self.root.acl.token,
            templated_policies=[{"Name": "x"}],
        )
        self.assertRaises(
            TypeError, self.root.acl.token.create.describe, self.root.acl.token, templated_policies=[5]
        )


class LoginTemplatedBindingTests(AuthCase):
    """A templated-policy binding rule gives login tokens the template, its variable filled in."""

    def test_login_binds_templated_policy(self) -> None:
        """BindVars' ${value.name} is interpolated, and the token may register that service only."""
        self.ok(
            self.root.acl.binding_rule.create(
                "jwt",
                "templated-policy",
                "builtin/service",
                bind_vars={"Name": "${value.name}"},
            )
        )
        token = self.ok(self.login(sub="billing", role="web"))
        self.assertEqual(token["TemplatedPolicies"][0]["TemplateName"], "builtin/service")
        self.assertEqual(token["TemplatedPolicies"][0]["TemplateVariables"], {"name": "billing"})
        c = self.fake.client(token=token["SecretID"])
        self.ok(c.agent.service.register("billing"))
        self.fails(c.agent.service.register("other"), ACLPermissionDenied)

    def test_unknown_template_fails_login(self) -> None:
        """A rule naming no template makes the login fail, naming it."""
        self.ok(self.root.acl.binding_rule.create("jwt", "templated-policy", "builtin/nope"))
        err = self.fails(self.login(sub="billing"), ConsulException)
        self.assertIn("builtin/nope", str(err))
