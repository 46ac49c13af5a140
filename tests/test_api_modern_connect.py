"""
Tests for Connect: the CA (roots, configuration), the agent's roots, leaf
certificates and authorize, and exact-match intentions -- the client
(txconsul.api.connect, txconsul.api.agent_modern) against FakeConsul, in memory.
"""

from __future__ import annotations

from cryptography import x509

from txconsul import ACLPermissionDenied, BadRequest, ConsulException, NotFound, QueryMeta

from .modern_case import ACLModernCase, ModernCase


def _check_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    """Raise unless ``issuer`` signed ``cert`` (only names compared on cryptography < 40)."""
    verify = getattr(cert, "verify_directly_issued_by", None)
    if verify is not None:
        verify(issuer)
    elif cert.issuer != issuer.subject:
        raise AssertionError(f"{cert.issuer} is not {issuer.subject}")


class CARootsTests(ModernCase):
    """The CA roots a dev agent serves from the start."""

    def test_root_present(self) -> None:
        """There is one active root, a real self-signed CA certificate for the trust domain."""
        roots = self.ok(self.consul.connect.ca.roots())
        self.assertEqual(len(roots["Roots"]), 1)
        root = roots["Roots"][0]
        self.assertEqual(roots["ActiveRootID"], root["ID"])
        self.assertTrue(root["Active"])
        cert = x509.load_pem_x509_certificate(root["RootCert"].encode())
        self.assertEqual(cert.issuer, cert.subject)
        self.assertTrue(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(
            uris.get_values_for_type(x509.UniformResourceIdentifier), ["spiffe://" + roots["TrustDomain"]]
        )

    def test_agent_roots_same(self) -> None:
        """The agent's cached roots equal the servers' roots."""
        self.assertEqual(
            self.ok(self.consul.agent.connect.ca.roots()), self.ok(self.consul.connect.ca.roots())
        )

    def test_pem(self) -> None:
        """roots(pem=True) is the PEM text of the roots."""
        pem = self.ok(self.consul.connect.ca.roots(pem=True))
        root = self.ok(self.consul.connect.ca.roots())["Roots"][0]["RootCert"]
        self.assertEqual(pem, root)

    def test_lazy(self) -> None:
        """No root is made until someone asks."""
        self.assertEqual(self.fake.connect.roots, [])
        self.ok(self.consul.agent.connect.ca.roots())
        self.assertEqual(len(self.fake.connect.roots), 1)

    def test_rotation_wakes_blocked_roots(self) -> None:
        """A blocking agent roots read answers when the key type changes (a new root)."""
        qm, first = self.ok(self.consul.agent.connect.ca.roots(meta=True))
        self.assertIsInstance(qm, QueryMeta)
        d = self.consul.agent.connect.ca.roots(index=qm, meta=True)
        self.assertNoResult(d)
        config = self.ok(self.consul.connect.ca.configuration())["Config"]
        config["PrivateKeyBits"] = 384
        self.assertIs(self.ok(self.consul.connect.ca.set_configuration("consul", config)), True)
        qm2, second = self.ok(d)
        self.assertGreater(qm2.index, qm.index)
        self.assertNotEqual(second["ActiveRootID"], first["ActiveRootID"])
        self.assertEqual([r["Active"] for r in second["Roots"]], [False, True])
        cert = x509.load_pem_x509_certificate(second["Roots"][-1]["RootCert"].encode())
        self.assertEqual(cert.public_key().curve.name, "secp384r1")
        self.assertEqual(second["Roots"][-1]["PrivateKeyBits"], 384)


class CAConfigurationTests(ModernCase):
    """connect.ca.configuration and set_configuration."""

    def test_default(self) -> None:
        """A dev agent runs the consul provider with Consul's default TTLs."""
        config = self.ok(self.consul.connect.ca.configuration())
        self.assertEqual(config["Provider"], "consul")
        self.assertEqual(config["Config"]["LeafCertTTL"], "72h")
        self.assertEqual(config["Config"]["RootCertTTL"], "87600h")

    def test_ttl_change_keeps_root(self) -> None:
        """Changing only the leaf TTL does not rotate the root."""
        before = self.ok(self.consul.connect.ca.roots())["ActiveRootID"]
        self.ok(self.consul.connect.ca.set_configuration("consul", {"LeafCertTTL": "24h"}))
        self.assertEqual(self.ok(self.consul.connect.ca.configuration())["Config"]["LeafCertTTL"], "24h")
        self.assertEqual(self.ok(self.consul.connect.ca.roots())["ActiveRootID"], before)

    def test_invalid(self) -> None:
        """A leaf TTL under an hour and bad key sizes are refused with Consul's texts."""
        d = self.consul.connect.ca.set_configuration("consul", {"LeafCertTTL": "10m"})
        self.assertIn(
            "leaf cert TTL must be greater or equal than 1h0m0s", str(self.fails(d, ConsulException))
        )
        d = self.consul.connect.ca.set_configuration("consul", {"PrivateKeyBits": 1000})
        self.assertIn("EC key length", str(self.fails(d, ConsulException)))
        self.assertRaises(TypeError, self.consul.connect.ca.set_configuration, "consul", [])


class LeafTests(ModernCase):
    """agent.connect.ca.leaf."""

    def test_leaf_signed_by_root(self) -> None:
        """The leaf names the service's SPIFFE ID and verifies against the active root."""
        leaf = self.ok(self.consul.agent.connect.ca.leaf("web"))
        roots = self.ok(self.consul.agent.connect.ca.roots())
        self.assertEqual(leaf["Service"], "web")
        self.assertEqual(leaf["ServiceURI"], f"spiffe://{roots['TrustDomain']}/ns/default/dc/dc1/svc/web")
        cert = x509.load_pem_x509_certificate(leaf["CertPEM"].encode())
        root = x509.load_pem_x509_certificate(roots["Roots"][0]["RootCert"].encode())
        _check_issued_by(cert, root)
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(uris.get_values_for_type(x509.UniformResourceIdentifier), [leaf["ServiceURI"]])
        self.assertIn("PRIVATE KEY", leaf["PrivateKeyPEM"])

    def test_leaf_cached(self) -> None:
        """A second read returns the same certificate."""
        first = self.ok(self.consul.agent.connect.ca.leaf("web"))
        self.assertEqual(
            self.ok(self.consul.agent.connect.ca.leaf("web"))["SerialNumber"], first["SerialNumber"]
        )

    def test_leaf_blocks_until_renewal(self) -> None:
        """A blocking leaf read answers with a new certificate when renewal is due."""
        qm, first = self.ok(self.consul.agent.connect.ca.leaf("web", meta=True))
        self.clock.advance(3 * 24 * 3600 * 0.75 - 60)
        d = self.consul.agent.connect.ca.leaf("web", index=qm.index, wait="10m", meta=True)
        self.assertNoResult(d)
        self.clock.advance(120)
        qm2, second = self.ok(d)
        self.assertGreater(qm2.index, qm.index)
        self.assertNotEqual(second["SerialNumber"], first["SerialNumber"])

    def test_leaf_reissued_on_rotation(self) -> None:
        """After a root rotation the leaf is signed by the new root."""
        first = self.ok(self.consul.agent.connect.ca.leaf("web"))
        self.fake.connect.rotate()
        second = self.ok(self.consul.agent.connect.ca.leaf("web"))
        self.assertNotEqual(first["CertPEM"], second["CertPEM"])
        root = self.ok(self.consul.agent.connect.ca.roots())["Roots"][-1]["RootCert"]
        _check_issued_by(
            x509.load_pem_x509_certificate(second["CertPEM"].encode()),
            x509.load_pem_x509_certificate(root.encode()),
        )


class AuthorizeTests(ModernCase):
    """agent.connect.authorize by the intentions."""

    def uri(self, service: str) -> str:
        """The SPIFFE ID of ``service``."""
        td = self.ok(self.consul.connect.ca.roots())["TrustDomain"]
        return f"spiffe://{td}/ns/default/dc/dc1/svc/{service}"

    def test_default_allow_without_acls(self) -> None:
        """With no intention and ACLs off, everything is allowed."""
        result = self.ok(self.consul.agent.connect.authorize("db", self.uri("web"), "01"))
        self.assertEqual(
            result, {"Authorized": True, "Reason": "ACLs disabled, access is allowed by default"}
        )

    def test_deny_intention(self) -> None:
        """A deny intention from the source refuses, naming the intention."""
        self.ok(self.consul.connect.intentions.upsert("web", "db", action="deny"))
        result = self.ok(self.consul.agent.connect.authorize("db", self.uri("web"), "01"))
        self.assertFalse(result["Authorized"])
        self.assertEqual(result["Reason"], "Matched L4 intention: web => db (Precedence: 9, Action: DENY)")
        self.assertTrue(
            self.ok(self.consul.agent.connect.authorize("db", self.uri("api"), "01"))["Authorized"]
        )

    def test_exact_beats_wildcard(self) -> None:
        """An exact source intention wins over a wildcard one."""
        self.ok(self.consul.connect.intentions.upsert("*", "db", action="deny"))
        self.ok(self.consul.connect.intentions.upsert("web", "db", action="allow"))
        self.assertTrue(
            self.ok(self.consul.agent.connect.authorize("db", self.uri("web"), "01"))["Authorized"]
        )
        self.assertFalse(
            self.ok(self.consul.agent.connect.authorize("db", self.uri("api"), "01"))["Authorized"]
        )

    def test_l7_denies(self) -> None:
        """An L7 intention counts as deny for authorize."""
        self.ok(
            self.consul.connect.intentions.upsert(
                "web", "db", permissions=[{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]
            )
        )
        result = self.ok(self.consul.agent.connect.authorize("db", self.uri("web"), "01"))
        self.assertFalse(result["Authorized"])
        self.assertEqual(result["Reason"], "Matched L7 intention: web => db (Precedence: 9, Permissions: 1)")

    def test_bad_uri(self) -> None:
        """A URI that is no SPIFFE service ID is a 400 with Consul's text."""
        d = self.consul.agent.connect.authorize("db", "http://web", "01")
        self.assertIn("ClientCertURI not a valid Connect identifier", str(self.fails(d, BadRequest)))
        td = self.ok(self.consul.connect.ca.roots())["TrustDomain"]
        d = self.consul.agent.connect.authorize("db", f"spiffe://{td}/agent/client/dc/dc1/id/n1", "01")
        self.assertIn("not a valid Service identifier", str(self.fails(d, BadRequest)))
        self.assertRaises(ValueError, self.consul.agent.connect.authorize, "", "x", "01")


class IntentionTests(ModernCase):
    """Exact-match intention CRUD, list, check and match."""

    def test_crud(self) -> None:
        """upsert, read, replace and delete one intention."""
        ixns = self.consul.connect.intentions
        self.assertIs(
            self.ok(ixns.upsert("web", "db", action="allow", description="d", meta={"k": "v"})), True
        )
        ixn = self.ok(ixns.read("web", "db"))
        self.assertEqual(
            (
                ixn["SourceName"],
                ixn["DestinationName"],
                ixn["Action"],
                ixn["Description"],
                ixn["Meta"],
                ixn["Precedence"],
            ),
            ("web", "db", "allow", "d", {"k": "v"}, 9),
        )
        self.ok(ixns.upsert("web", "db", action="deny"))
        self.assertEqual(self.ok(ixns.read("web", "db"))["Action"], "deny")
        self.assertIs(self.ok(ixns.delete("web", "db")), True)
        self.assertIn("Intention not found", str(self.fails(ixns.read("web", "db"), NotFound)))

    def test_stored_as_config_entry(self) -> None:
        """Intentions are the Sources of a service-intentions config entry."""
        self.ok(self.consul.connect.intentions.upsert("web", "db", action="allow"))
        entry = self.ok(self.consul.config.get("service-intentions", "db"))
        self.assertEqual([(s["Name"], s["Action"]) for s in entry["Sources"]], [("web", "allow")])
        self.ok(self.consul.connect.intentions.delete("web", "db"))
        self.fails(self.consul.config.get("service-intentions", "db"), NotFound)

    def test_list_and_blocking(self) -> None:
        """list shows every intention and blocks until one changes."""
        ixns = self.consul.connect.intentions
        self.ok(ixns.upsert("web", "db", action="allow"))
        qm, listed = self.ok(ixns.list(meta=True))
        self.assertEqual([(i["SourceName"], i["DestinationName"]) for i in listed], [("web", "db")])
        d = ixns.list(index=qm, meta=True)
        self.assertNoResult(d)
        self.ok(ixns.upsert("api", "db", action="deny"))
        self.assertEqual(len(self.ok(d)[1]), 2)

    def test_check(self) -> None:
        """check follows the matching intention, else the default."""
        ixns = self.consul.connect.intentions
        self.ok(ixns.upsert("web", "db", action="deny"))
        self.assertIs(self.ok(ixns.check("web", "db")), False)
        self.assertIs(self.ok(ixns.check("api", "db")), True)
        self.ok(ixns.upsert("api", "db", permissions=[{"Action": "allow", "HTTP": {"PathPrefix": "/"}}]))
        self.assertIs(self.ok(ixns.check("api", "db")), False)

    def test_match_order(self) -> None:
        """match lists a destination's intentions by precedence."""
        ixns = self.consul.connect.intentions
        self.ok(ixns.upsert("*", "db", action="deny"))
        self.ok(ixns.upsert("web", "db", action="allow"))
        self.ok(ixns.upsert("web", "*", action="allow"))
        found = self.ok(ixns.match("destination", "db"))["db"]
        self.assertEqual(
            [(i["SourceName"], i["DestinationName"], i["Precedence"]) for i in found],
            [("web", "db", 9), ("*", "db", 8), ("web", "*", 6)],
        )
        by_source = self.ok(ixns.match("source", "web"))["web"]
        self.assertEqual(
            [(i["SourceName"], i["DestinationName"]) for i in by_source],
            [("web", "db"), ("*", "db"), ("web", "*")],
        )

    def test_bad_arguments(self) -> None:
        """Missing action, both action and permissions, or a bad ``by`` fail at the call."""
        ixns = self.consul.connect.intentions
        self.assertRaises(ValueError, ixns.upsert, "web", "db")
        self.assertRaises(ValueError, ixns.upsert, "web", "db", action="maybe")
        self.assertRaises(
            ValueError, ixns.upsert, "web", "db", action="allow", permissions=[{"Action": "allow"}]
        )
        self.assertRaises(ValueError, ixns.match, "sideways", "db")

    def test_fake_validates(self) -> None:
        """The fake refuses an exact request without source, and a bad action, with Consul's texts (500s)."""
        d = self.consul.request("GET", "/v1/connect/intentions/exact", {"destination": "db"})
        e = self.fails(d, ConsulException)
        self.assertEqual(e.status, 500)
        self.assertIn("required query parameter 'source' not set", str(e))
        d = self.consul.request(
            "PUT",
            "/v1/connect/intentions/exact",
            {"source": "a", "destination": "b"},
            json={"Action": "maybe"},
        )
        self.assertIn("Action must be set to 'allow' or 'deny'", str(self.fails(d, ConsulException)))
        d = self.consul.request("GET", "/v1/connect/intentions/match", {"by": "x", "name": "db"})
        e = self.fails(d, ConsulException)
        self.assertEqual(e.status, 500)
        self.assertIn("'by' parameter must be one of 'source' or 'destination'", str(e))


class ConnectACLTests(ACLModernCase):
    """ACLs of the Connect endpoints."""

    def test_leaf_needs_service_write(self) -> None:
        """A leaf needs service:write on the service; read is not enough."""
        self.fails(
            self.client('service "web" { policy = "read" }').agent.connect.ca.leaf("web"), ACLPermissionDenied
        )
        self.ok(self.client('service "web" { policy = "write" }').agent.connect.ca.leaf("web"))

    def test_roots_need_nothing(self) -> None:
        """Anyone may read the CA roots."""
        self.ok(self.client().connect.ca.roots())

    def test_ca_configuration_needs_operator(self) -> None:
        """Reading the CA configuration needs operator:read, writing operator:write."""
        self.fails(self.client().connect.ca.configuration(), ACLPermissionDenied)
        reader = self.client('operator = "read"')
        self.ok(reader.connect.ca.configuration())
        self.fails(reader.connect.ca.set_configuration("consul", {}), ACLPermissionDenied)

    def test_authorize_default_deny(self) -> None:
        """With ACLs default-deny and no intention, authorize refuses; it needs service:write on the target."""
        uri = (
            "spiffe://" + self.ok(self.root.connect.ca.roots())["TrustDomain"] + "/ns/default/dc/dc1/svc/web"
        )
        result = self.ok(self.root.agent.connect.authorize("db", uri, "01"))
        self.assertEqual(result, {"Authorized": False, "Reason": "Default behavior configured by ACLs"})
        self.fails(
            self.client('service "db" { policy = "read" }').agent.connect.authorize("db", uri, "01"),
            ACLPermissionDenied,
        )

    def test_intention_write_needs_destination_write(self) -> None:
        """Writing an intention needs write on the destination service."""
        writer = self.client('service "db" { policy = "write" }')
        self.ok(writer.connect.intentions.upsert("web", "db", action="allow"))
        self.fails(writer.connect.intentions.upsert("web", "api", action="allow"), ACLPermissionDenied)


class StopTests(ModernCase):
    """ConnectPart.stop."""

    def test_stop_cancels_renewals(self) -> None:
        """stop leaves no leaf renewal pending on the clock."""
        self.ok(self.consul.agent.connect.ca.leaf("web"))
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.fake.connect.stop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
