"""
FakeConsul's newer endpoints answer any input with an HTTP status, never
an unhandled exception (trial fails a test whose handler logs one).
"""

from __future__ import annotations

from typing import Any

from txconsul import ACLPermissionDenied, ConsulException

from .modern_case import ROOT, ACLModernCase

#: Every newer route, with a query that reaches its body handling.
ROUTES = [
    ("PUT", "/v1/agent/reload"),
    ("GET", "/v1/agent/metrics?format=prometheus"),
    ("PUT", "/v1/agent/token/default"),
    ("GET", "/v1/agent/host"),
    ("GET", "/v1/agent/version"),
    ("GET", "/v1/agent/connect/ca/roots"),
    ("GET", "/v1/agent/connect/ca/leaf/web"),
    ("POST", "/v1/agent/connect/authorize"),
    ("GET", "/v1/connect/ca/roots?pem=x"),
    ("PUT", "/v1/connect/ca/configuration"),
    ("GET", "/v1/connect/intentions"),
    ("PUT", "/v1/connect/intentions/exact?source=a&destination=b"),
    ("GET", "/v1/connect/intentions/check?source=a&destination=b"),
    ("GET", "/v1/connect/intentions/match?by=source&name=a"),
    ("PUT", "/v1/config"),
    ("GET", "/v1/config/service-defaults"),
    ("DELETE", "/v1/config/service-defaults/x?cas=abc"),
    ("POST", "/v1/discovery-chain/web"),
    ("GET", "/v1/catalog/connect/web"),
    ("GET", "/v1/catalog/gateway-services/gw"),
    ("GET", "/v1/health/connect/web?passing=x"),
    ("GET", "/v1/health/ingress/web"),
    ("DELETE", "/v1/operator/raft/peer?id=x"),
    ("POST", "/v1/operator/raft/transfer-leader"),
    ("PUT", "/v1/operator/autopilot/configuration?cas=x"),
    ("PUT", "/v1/operator/autopilot/configuration"),
    ("GET", "/v1/operator/autopilot/state"),
    ("POST", "/v1/operator/keyring"),
    ("PUT", "/v1/operator/keyring"),
    ("DELETE", "/v1/operator/keyring"),
    ("GET", "/v1/operator/keyring?relay-factor=9"),
    ("GET", "/v1/operator/usage"),
    ("PUT", "/v1/acl/auth-method"),
    ("PUT", "/v1/acl/auth-method/x"),
    ("PUT", "/v1/acl/binding-rule"),
    ("PUT", "/v1/acl/binding-rule/x"),
    ("POST", "/v1/acl/login"),
    ("POST", "/v1/acl/logout"),
]

#: Bodies of every JSON type, and objects with fields of the wrong types.
BODIES = [
    b"",
    b"null",
    b"[]",
    b'"x"',
    b"5",
    b"{",
    b'{"Kind": 5}',
    b'{"Kind":"service-defaults","Name":5}',
    b'{"Kind":"ingress-gateway","Name":"i","Listeners":[5]}',
    b'{"Kind":"ingress-gateway","Name":"i","Listeners":[{"Services":[{"Name":5}]}]}',
    b'{"Kind":"terminating-gateway","Name":"t","Services":"x"}',
    b'{"Kind":"service-intentions","Name":"d","Sources":[5]}',
    b'{"Kind":"service-resolver","Name":"r","ConnectTimeout":[1]}',
    b'{"Kind":"proxy-defaults","Name":"global","Config":"x"}',
    b'{"Token": 5}',
    b'{"Target": 5, "ClientCertURI": 7}',
    b'{"Provider":"consul","Config":{"LeafCertTTL":5,"PrivateKeyBits":"x"}}',
    b'{"Action": 5, "Meta": "x", "Permissions": "x", "Description": 5}',
    b'{"OverrideProtocol": {}, "OverrideConnectTimeout": [1], "OverrideMeshGateway": {"Mode": 5}}',
    b'{"Key": 5}',
    b'{"Key": "!!!"}',
    b'{"MaxTrailingLogs": -1, "LastContactThreshold": 5}',
    b'{"Name":"m","Type":"jwt","Config":{"JWTValidationPubKeys":["x"]}}',
    b'{"AuthMethod":"m","BindType":"service","BindName":5,"Selector":5}',
    b'{"AuthMethod":5,"BearerToken":[]}',
]


class RobustnessTests(ACLModernCase):
    """Bad bodies on every newer route."""

    def send(self, method: str, path: str, body: Any) -> Any:
        """A raw request accepting every status."""
        route, _, query = path.partition("?")
        params = [tuple(kv.split("=", 1)) for kv in query.split("&")] if query else None
        return self.ok(self.root.http.request(method, route, params, body, expect=tuple(range(100, 600))))

    def test_bad_bodies(self) -> None:
        """Every route answers every bad body with a plain status (no traceback, nothing logged)."""
        for method, path in ROUTES:
            for body in BODIES if method != "GET" else [None]:
                response = self.send(method, path, body)
                self.assertIn(response.code, (200, 400, 401, 403, 404, 405, 415, 500), (method, path, body))
                self.assertNotIn(b"Traceback", response.body)
                self.assertNotIn(b"Processing Failed", response.body)

    def test_token_is_root(self) -> None:
        """The robustness client is the management client (so bodies are reached, not refused)."""
        self.assertEqual(self.root.token, ROOT)


class DatacenterAndTokenTests(ACLModernCase):
    """``?dc`` and unknown tokens on the newer endpoints."""

    def test_other_dc(self) -> None:
        """Server endpoints refuse another datacenter; agent endpoints ignore ?dc."""
        for d in (
            self.root.config.list("service-defaults", dc="dc9"),
            self.root.connect.intentions.list(dc="dc9"),
            self.root.connect.ca.roots(dc="dc9"),
            self.root.catalog.connect("web", dc="dc9"),
        ):
            self.assertIn("No path to datacenter", str(self.fails(d, ConsulException)))
        response = self.ok(self.root.request("GET", "/v1/agent/version", {"dc": "dc9"}))
        self.assertEqual(response.code, 200)

    def test_unknown_token(self) -> None:
        """A secret no token has is 403 ACL not found wherever an ACL is checked."""
        stranger = self.fake.client(token="no-such-secret")
        for d in (
            stranger.agent.metrics(),
            stranger.config.get("service-defaults", "web"),
            stranger.operator.autopilot_configuration(),
            stranger.agent.connect.ca.leaf("web"),
        ):
            self.assertIn("ACL not found", str(self.fails(d, ACLPermissionDenied)))
