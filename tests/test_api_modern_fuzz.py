"""
Fuzzing FakeConsul's newer endpoints (issue 11) with the generators of
tests.test_fake_fuzz, plus their own query parameters and valid bodies to
mutate: a valid status, no Python exception, a refused request changes nothing.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SkipTest

from . import test_fake_fuzz
from .test_fake_fuzz import BODIES, METHODS, TEXT, mutated

#: The newer routes.

MINE = [
    "/v1/agent/reload",
    "/v1/agent/metrics",
    "/v1/agent/token/",
    "/v1/agent/host",
    "/v1/agent/version",
    "/v1/agent/connect/ca/roots",
    "/v1/agent/connect/ca/leaf/",
    "/v1/agent/connect/authorize",
    "/v1/connect/ca/roots",
    "/v1/connect/ca/configuration",
    "/v1/connect/intentions",
    "/v1/connect/intentions/exact",
    "/v1/connect/intentions/check",
    "/v1/connect/intentions/match",
    "/v1/config",
    "/v1/config/",
    "/v1/discovery-chain/",
    "/v1/catalog/connect/",
    "/v1/catalog/gateway-services/",
    "/v1/health/connect/",
    "/v1/health/ingress/",
    "/v1/operator/raft/peer",
    "/v1/operator/raft/transfer-leader",
    "/v1/operator/autopilot/configuration",
    "/v1/operator/autopilot/health",
    "/v1/operator/autopilot/state",
    "/v1/operator/keyring",
    "/v1/operator/usage",
    "/v1/acl/auth-method",
    "/v1/acl/auth-method/",
    "/v1/acl/auth-methods",
    "/v1/acl/binding-rule",
    "/v1/acl/binding-rule/",
    "/v1/acl/binding-rules",
    "/v1/acl/login",
    "/v1/acl/logout",
]
#: Their query parameters.
NAMES = [
    "source",
    "destination",
    "by",
    "name",
    "pem",
    "cas",
    "id",
    "address",
    "relay-factor",
    "local-only",
    "compile-dc",
    "format",
    "authmethod",
    "index",
    "wait",
    "dc",
]
QUERIES = st.lists(
    st.tuples(
        st.sampled_from(NAMES),
        st.one_of(TEXT, st.sampled_from(["web", "source", "destination", "true", "1", "0", "x"])),
    ),
    max_size=4,
)
#: Valid bodies of their writes.
SHAPES = st.sampled_from(
    [
        {
            "Kind": "ingress-gateway",
            "Name": "i",
            "Listeners": [{"Port": 1, "Protocol": "http", "Services": [{"Name": "web", "Hosts": ["h"]}]}],
        },
        {"Kind": "terminating-gateway", "Name": "t", "Services": [{"Name": "db", "SNI": "s"}]},
        {"Kind": "service-intentions", "Name": "d", "Sources": [{"Name": "web", "Action": "allow"}]},
        {"Kind": "service-resolver", "Name": "web", "ConnectTimeout": "3s"},
        {"Kind": "proxy-defaults", "Name": "global", "Config": {"protocol": "http"}},
        {
            "Provider": "consul",
            "Config": {"LeafCertTTL": "24h", "PrivateKeyType": "ec", "PrivateKeyBits": 384},
        },
        {
            "Target": "web",
            "ClientCertURI": "spiffe://x.consul/ns/default/dc/dc1/svc/api",
            "ClientCertSerial": "01",
        },
        {"Name": "m", "Type": "jwt", "Config": {"JWTValidationPubKeys": []}},
        {"AuthMethod": "m", "BindType": "service", "BindName": "${value.x}", "Selector": "value.x == y"},
        {"AuthMethod": "m", "BearerToken": "a.b.c"},
        {"Key": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s="},
        {"CleanupDeadServers": True, "LastContactThreshold": "1s"},
        {"Action": "deny"},
        {"Token": "t"},
        {
            "OverrideProtocol": "http",
            "OverrideConnectTimeout": "1s",
            "OverrideMeshGateway": {"Mode": "local"},
        },
    ]
)


@st.composite
def mine(draw: Any) -> str:
    """One of the newer routes (a prefix gets a generated tail)."""
    p = draw(st.sampled_from(MINE))
    if p.endswith("/"):
        p += quote(
            draw(
                st.one_of(
                    st.sampled_from(
                        [
                            "web",
                            "service-defaults",
                            "service-defaults/web",
                            "ingress-gateway/i",
                            "service-intentions",
                            "i",
                            "t",
                            "m",
                            "default",
                            "agent",
                            "",
                        ]
                    ),
                    TEXT,
                )
            ),
            safe="/",
        )
    return p


class ModernFuzzTests(test_fake_fuzz.FuzzTests):
    """Generated requests against the newer routes."""

    def test_any_request(self) -> None:  # type: ignore[override]
        """Inherited; run by tests.test_fake_fuzz."""
        raise SkipTest("run by tests.test_fake_fuzz")

    test_mistyped_bodies = test_any_request  # type: ignore[assignment]

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        METHODS,
        mine(),
        QUERIES,
        st.one_of(
            BODIES,
            SHAPES.map(lambda v: json.dumps(v).encode()),
            SHAPES.flatmap(lambda v: st.just(json.dumps(v).encode()[: len(json.dumps(v)) // 2])),
            mutated().map(lambda v: json.dumps(v).encode()),
        ),
    )
    def test_newer_routes(self, method: str, path: str, query: Any, body: bytes) -> None:
        """Any request to a newer route gets a valid answer and no Python error."""
        self.check(method, path, query, body, "fuzz-master-token" if self.acl else None)


class ModernACLFuzzTests(ModernFuzzTests):
    """The same with ACLs enabled (default deny), as the management token."""

    acl = True
