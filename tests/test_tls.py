"""
Tests for :mod:`txconsul._tls`: TLS policies and the unix-socket transport.

The ``*ConnectionTests`` classes are integration tests on the real reactor:
they run a real TLS (or unix-socket) listener serving
:class:`txconsul.testing.FakeConsul` on loopback and let a
:class:`txconsul.Consul` talk to it, because only a real OpenSSL handshake
proves that verification, client certificates and server names work.  They
use no timers; each test waits only for loopback I/O and closes the client
and every server connection before it ends.  The certificates are generated
for each test with ``cryptography``.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import tempfile
from typing import Any, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import crypto
from twisted.internet import reactor
from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.ssl import CertificateOptions
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.iweb import IPolicyForHTTPS
from twisted.web.server import Site

from txconsul import Consul, ConsulConnectionError
from txconsul._config import ClientConfig
from txconsul._tls import tls_policy
from txconsul.testing import FakeConsul

LEADER = "127.0.0.1:8300"


# --- a small PKI --------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    cn: str,
    key: Any,
    issuer: Optional[tuple[x509.Certificate, Any]] = None,
    *,
    ca: bool = False,
    server: bool = False,
    client: bool = False,
) -> x509.Certificate:
    """A certificate for ``key``; self-signed when ``issuer`` is None."""
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (_name(cn), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(
    key: Any, fmt: Any = serialization.PrivateFormat.PKCS8, password: Optional[bytes] = None
) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


class PKI:
    """
    A CA, a server certificate for ``localhost``/``127.0.0.1``, client
    certificates (one signed directly, one through an intermediate), and an
    unrelated CA, written as PEM files under ``base``.
    """

    def __init__(self, base: str) -> None:
        os.makedirs(base)
        self.base = base
        new = lambda: ec.generate_private_key(ec.SECP256R1())  # noqa: E731
        self.ca_key = new()
        self.ca_cert = _issue("txconsul test CA", self.ca_key, ca=True)
        ca = (self.ca_cert, self.ca_key)
        self.server_key = new()
        self.server_cert = _issue("localhost", self.server_key, ca, server=True)
        self.client_key = new()
        self.client_cert = _issue("txconsul client", self.client_key, ca, client=True)
        inter_key = new()
        inter_cert = _issue("txconsul intermediate", inter_key, ca, ca=True)
        self.leaf_key = new()
        leaf_cert = _issue("chained client", self.leaf_key, (inter_cert, inter_key), client=True)
        other_key = new()
        self.other_ca_cert = _issue("some other CA", other_key, ca=True)

        self.ca = self.write("ca.pem", _cert_pem(self.ca_cert))
        self.other_ca = self.write("other-ca.pem", _cert_pem(self.other_ca_cert))
        self.client = self.write("client.pem", _cert_pem(self.client_cert))
        self.client_key_path = self.write(
            "client-key.pem", _key_pem(self.client_key, serialization.PrivateFormat.TraditionalOpenSSL)
        )
        self.combined = self.write(
            "client-combined.pem", _cert_pem(self.client_cert) + _key_pem(self.client_key)
        )
        self.chained = self.write("chained.pem", _cert_pem(leaf_cert) + _cert_pem(inter_cert))
        self.chained_key = self.write("chained-key.pem", _key_pem(self.leaf_key))

    def write(self, name: str, data: bytes) -> str:
        path = os.path.join(self.base, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def server_options(self, require_client_cert: bool = False) -> CertificateOptions:
        """TLS options for the server; optionally demand a CA-signed client cert."""
        kwargs: dict[str, Any] = {
            "privateKey": crypto.PKey.from_cryptography_key(self.server_key),
            "certificate": crypto.X509.from_cryptography(self.server_cert),
        }
        if require_client_cert:
            kwargs.update(
                verify=True,
                caCerts=[crypto.X509.from_cryptography(self.ca_cert)],
                requireCertificate=True,
            )
        return CertificateOptions(**kwargs)


# --- a server that can be shut down cleanly -----------------------------------


class _TrackingSite(Site):
    """A quiet Site that can wait until all its connections are closed."""

    def __init__(self, resource: Any) -> None:
        super().__init__(resource)
        self._open: list[Deferred] = []

    def log(self, request: Any) -> None:
        """No access log."""

    def buildProtocol(self, addr: Any) -> Any:
        proto = super().buildProtocol(addr)
        lost: Deferred = Deferred()
        self._open.append(lost)
        original = proto.connectionLost

        def connectionLost(reason: Any) -> None:
            try:
                original(reason)
            finally:
                lost.callback(None)

        proto.connectionLost = connectionLost
        return proto

    def all_closed(self) -> Deferred:
        """Fires once every connection accepted so far has been lost."""
        return gatherResults([d for d in self._open if not d.called])


class _ServerMixin:
    """Starts listeners whose shutdown is part of the test's cleanup."""

    def _track(self, site: _TrackingSite, port: Any) -> None:
        @inlineCallbacks
        def stop() -> Any:
            yield port.stopListening()
            yield site.all_closed()

        self.addCleanup(stop)  # type: ignore[attr-defined]

    def serve_tls(self, pki: PKI, require_client_cert: bool = False) -> int:
        """Serve FakeConsul over TLS on 127.0.0.1; return the port."""
        site = _TrackingSite(FakeConsul().resource())
        port = reactor.listenSSL(0, site, pki.server_options(require_client_cert), interface="127.0.0.1")
        self._track(site, port)
        return port.getHost().port


# --- unit tests of the policy -------------------------------------------------


class PolicyTests(SynchronousTestCase):
    """tls_policy() builds the right policy and rejects bad files up front."""

    def setUp(self) -> None:
        self.pki = PKI(self.mktemp())

    def policy(self, **kwargs: Any) -> Any:
        return tls_policy(ClientConfig(scheme="https", **kwargs))

    def test_provides_interface(self) -> None:
        """Every variant provides IPolicyForHTTPS and makes a creator."""
        for kwargs in (
            {},
            {"verify": self.pki.ca},
            {"verify": False},
            {"verify": False, "cert": self.pki.combined},
            {"ca_path": self.pki.base},
            {"verify": self.pki.base},
            {"verify": self.pki.ca, "cert": (self.pki.client, self.pki.client_key_path)},
            {"verify": self.pki.ca, "cert": (self.pki.chained, self.pki.chained_key)},
        ):
            policy = self.policy(**kwargs)
            self.assertTrue(IPolicyForHTTPS.providedBy(policy), kwargs)
            self.assertIsNotNone(policy.creatorForNetloc(b"127.0.0.1", 8501))

    def test_creators_are_cached(self) -> None:
        """The same netloc gets the same creator (the CA file is parsed once)."""
        policy = self.policy(verify=self.pki.ca)
        self.assertIs(policy.creatorForNetloc(b"localhost", 1), policy.creatorForNetloc(b"localhost", 1))

    def test_missing_ca_file(self) -> None:
        """A missing CA bundle is a ValueError naming the path."""
        path = os.path.join(self.pki.base, "nope.pem")
        e = self.assertRaises(ValueError, self.policy, verify=path)
        self.assertIn(path, str(e))

    def test_ca_file_without_certificate(self) -> None:
        """A CA bundle without any certificate is a ValueError naming the path."""
        path = self.pki.write("empty.pem", b"not a certificate\n")
        e = self.assertRaises(ValueError, self.policy, verify=path)
        self.assertIn(path, str(e))

    def test_ca_file_with_broken_certificate(self) -> None:
        """A corrupt PEM block is a ValueError naming the path."""
        pem = _cert_pem(self.pki.ca_cert).replace(b"MII", b"XXX", 1)
        path = self.pki.write("broken.pem", _cert_pem(self.pki.other_ca_cert) + pem)
        e = self.assertRaises(ValueError, self.policy, verify=path)
        self.assertIn(path, str(e))
        self.assertIn("#2", str(e))

    def test_empty_ca_dir(self) -> None:
        """A CA directory without *.pem/*.crt is a ValueError naming it."""
        path = self.mktemp()
        os.mkdir(path)
        with open(os.path.join(path, "README"), "w") as f:
            f.write("-----BEGIN CERTIFICATE-----")
        e = self.assertRaises(ValueError, self.policy, ca_path=path)
        self.assertIn(path, str(e))

    def test_missing_ca_dir(self) -> None:
        """A missing CA directory is a ValueError naming it."""
        path = self.mktemp()
        e = self.assertRaises(ValueError, self.policy, ca_path=path)
        self.assertIn(path, str(e))

    def test_missing_client_key(self) -> None:
        """A missing client key is a ValueError naming the key path."""
        path = os.path.join(self.pki.base, "nokey.pem")
        e = self.assertRaises(ValueError, self.policy, cert=(self.pki.client, path))
        self.assertIn(path, str(e))

    def test_missing_client_cert(self) -> None:
        """A missing client certificate is a ValueError naming its path."""
        path = os.path.join(self.pki.base, "nocert.pem")
        e = self.assertRaises(ValueError, self.policy, cert=path)
        self.assertIn(path, str(e))

    def test_combined_file_without_key(self) -> None:
        """A single cert= file lacking a key is a ValueError naming it."""
        e = self.assertRaises(ValueError, self.policy, cert=self.pki.client)
        self.assertIn(self.pki.client, str(e))
        self.assertIn("private key", str(e))

    def test_key_without_certificate(self) -> None:
        """A certificate file holding only a key is a ValueError."""
        e = self.assertRaises(
            ValueError, self.policy, cert=(self.pki.client_key_path, self.pki.client_key_path)
        )
        self.assertIn("no PEM certificate", str(e))

    def test_mismatched_key(self) -> None:
        """A key that does not belong to the certificate is a ValueError naming both."""
        e = self.assertRaises(ValueError, self.policy, cert=(self.pki.client, self.pki.chained_key))
        self.assertIn(self.pki.chained_key, str(e))
        self.assertIn("does not match", str(e))

    def test_corrupt_key_not_echoed(self) -> None:
        """A corrupt key is a ValueError that quotes no key material."""
        good = _key_pem(self.pki.client_key)
        body = good.splitlines()[1]
        bad = good.replace(body, body[:10] + b"!!" + body[12:])
        path = self.pki.write("bad-key.pem", bad)
        e = self.assertRaises(ValueError, self.policy, cert=(self.pki.client, path))
        self.assertIn(path, str(e))
        for line in bad.splitlines()[1:-1]:
            self.assertNotIn(line.decode(), str(e))

    def test_encrypted_key(self) -> None:
        """An encrypted key is refused with a clear ValueError (no passphrase prompt)."""
        for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL):
            path = self.pki.write("enc.pem", _key_pem(self.pki.client_key, fmt, b"pass"))
            e = self.assertRaises(ValueError, self.policy, cert=(self.pki.client, path))
            self.assertIn("encrypted", str(e))

    def test_repr_has_no_key_material(self) -> None:
        """The policy's repr names trust and subject but shows no key bytes."""
        policy = self.policy(verify=self.pki.ca, cert=self.pki.combined, server_name="x.example")
        text = repr(policy)
        self.assertIn("txconsul client", text)
        self.assertIn("x.example", text)
        for line in _key_pem(self.pki.client_key).splitlines()[1:-1]:
            self.assertNotIn(line.decode(), text)

    def test_consul_construction_fails_early(self) -> None:
        """Consul() raises the ValueError itself, before any request."""
        path = os.path.join(self.pki.base, "nope.pem")
        e = self.assertRaises(ValueError, Consul, scheme="https", verify=path, environ={})
        self.assertIn(path, str(e))

    def test_env_files_checked_at_construction(self) -> None:
        """A bad CONSUL_CLIENT_KEY from the environment also fails at Consul()."""
        path = os.path.join(self.pki.base, "nope-key.pem")
        env = {
            "CONSUL_HTTP_SSL": "true",
            "CONSUL_CLIENT_CERT": self.pki.client,
            "CONSUL_CLIENT_KEY": path,
        }
        e = self.assertRaises(ValueError, Consul, environ=env)
        self.assertIn(path, str(e))


# --- real TLS connections on loopback -----------------------------------------


class TLSConnectionTests(_ServerMixin, TestCase):
    """A Consul client against a real TLS listener on 127.0.0.1 (real reactor)."""

    timeout = 30

    def setUp(self) -> None:
        self.pki = PKI(self.mktemp())

    def client(self, port: int, **kwargs: Any) -> Consul:
        kwargs.setdefault("environ", {})
        c = Consul(host="127.0.0.1", port=port, scheme="https", **kwargs)
        self.addCleanup(c.close)
        return c

    @inlineCallbacks
    def assert_leader(self, c: Consul) -> Any:
        response = yield c.http.request("GET", "/v1/status/leader")
        self.assertEqual(response.json(), LEADER)

    @inlineCallbacks
    def assert_fails(self, c: Consul) -> Any:
        e = yield self.assertFailure(c.http.request("GET", "/v1/status/leader"), ConsulConnectionError)
        return e

    @inlineCallbacks
    def test_server_auth_with_ca_file(self) -> Any:
        """verify=<CA bundle> trusts a server certificate signed by that CA."""
        port = self.serve_tls(self.pki)
        yield self.assert_leader(self.client(port, verify=self.pki.ca))

    @inlineCallbacks
    def test_ca_bundle_with_several_certificates(self) -> Any:
        """A bundle holding an unrelated CA first still trusts the right one."""
        port = self.serve_tls(self.pki)
        bundle = self.pki.write("bundle.pem", _cert_pem(self.pki.other_ca_cert) + _cert_pem(self.pki.ca_cert))
        yield self.assert_leader(self.client(port, verify=bundle))

    @inlineCallbacks
    def test_wrong_ca(self) -> Any:
        """A server certificate from another CA fails with a TLS connection error."""
        port = self.serve_tls(self.pki)
        e = yield self.assert_fails(self.client(port, verify=self.pki.other_ca))
        self.assertIn("TLS", str(e))

    @inlineCallbacks
    def test_system_trust_rejects_private_ca(self) -> Any:
        """The default (system trust store) does not trust a private CA."""
        port = self.serve_tls(self.pki)
        yield self.assert_fails(self.client(port))

    @inlineCallbacks
    def test_wrong_server_name(self) -> Any:
        """tls_server_name that the certificate does not name fails."""
        port = self.serve_tls(self.pki)
        c = self.client(port, verify=self.pki.ca, tls_server_name="other.example")
        yield self.assert_fails(c)

    @inlineCallbacks
    def test_server_name_override(self) -> Any:
        """tls_server_name='localhost' verifies DNS:localhost while dialing 127.0.0.1."""
        port = self.serve_tls(self.pki)
        c = self.client(port, verify=self.pki.ca, tls_server_name="localhost")
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_verify_false(self) -> Any:
        """verify=False talks TLS to a server nobody trusts."""
        port = self.serve_tls(self.pki)
        c = self.client(port, verify=False, tls_server_name="other.example")
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_mutual_tls_cert_and_key(self) -> Any:
        """cert=(certfile, keyfile) satisfies a server that requires a client cert."""
        port = self.serve_tls(self.pki, require_client_cert=True)
        c = self.client(port, verify=self.pki.ca, cert=(self.pki.client, self.pki.client_key_path))
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_mutual_tls_combined_pem(self) -> Any:
        """cert=<one PEM with certificate and key> also works."""
        port = self.serve_tls(self.pki, require_client_cert=True)
        c = self.client(port, verify=self.pki.ca, cert=self.pki.combined)
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_mutual_tls_intermediate_chain(self) -> Any:
        """Intermediates after the leaf in the certificate file are sent too."""
        port = self.serve_tls(self.pki, require_client_cert=True)
        c = self.client(port, verify=self.pki.ca, cert=(self.pki.chained, self.pki.chained_key))
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_mutual_tls_with_verify_false(self) -> Any:
        """verify=False still presents the client certificate."""
        port = self.serve_tls(self.pki, require_client_cert=True)
        c = self.client(port, verify=False, cert=self.pki.combined)
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_mutual_tls_without_client_cert(self) -> Any:
        """Without a client certificate the server refuses: ConsulConnectionError."""
        port = self.serve_tls(self.pki, require_client_cert=True)
        yield self.assert_fails(self.client(port, verify=self.pki.ca))

    @inlineCallbacks
    def test_environment_reaches_policy(self) -> Any:
        """CONSUL_HTTP_ADDR/CACERT/CLIENT_CERT/CLIENT_KEY/TLS_SERVER_NAME configure mutual TLS."""
        port = self.serve_tls(self.pki, require_client_cert=True)
        env = {
            "CONSUL_HTTP_ADDR": f"https://127.0.0.1:{port}",
            "CONSUL_CACERT": self.pki.ca,
            "CONSUL_CLIENT_CERT": self.pki.client,
            "CONSUL_CLIENT_KEY": self.pki.client_key_path,
            "CONSUL_TLS_SERVER_NAME": "localhost:8501",
        }
        c = Consul(environ=env)
        self.addCleanup(c.close)
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_environment_capath(self) -> Any:
        """CONSUL_HTTP_SSL + CONSUL_CAPATH trust the CAs of a directory."""
        port = self.serve_tls(self.pki)
        cadir = os.path.join(self.pki.base, "cas")
        os.mkdir(cadir)
        shutil.copy(self.pki.other_ca, os.path.join(cadir, "a-other.pem"))
        shutil.copy(self.pki.ca, os.path.join(cadir, "b-ca.crt"))
        env = {
            "CONSUL_HTTP_ADDR": f"127.0.0.1:{port}",
            "CONSUL_HTTP_SSL": "true",
            "CONSUL_CAPATH": cadir,
        }
        c = Consul(environ=env)
        self.addCleanup(c.close)
        yield self.assert_leader(c)

    @inlineCallbacks
    def test_environment_wrong_cacert(self) -> Any:
        """CONSUL_CACERT naming another CA makes the connection fail."""
        port = self.serve_tls(self.pki)
        env = {"CONSUL_HTTP_ADDR": f"https://127.0.0.1:{port}", "CONSUL_CACERT": self.pki.other_ca}
        c = Consul(environ=env)
        self.addCleanup(c.close)
        yield self.assert_fails(c)

    @inlineCallbacks
    def test_environment_ssl_verify_false(self) -> Any:
        """CONSUL_HTTP_SSL_VERIFY=false talks to an untrusted server."""
        port = self.serve_tls(self.pki)
        env = {
            "CONSUL_HTTP_ADDR": f"https://127.0.0.1:{port}",
            "CONSUL_HTTP_SSL_VERIFY": "false",
        }
        c = Consul(environ=env)
        self.addCleanup(c.close)
        yield self.assert_leader(c)


class UnixSocketConnectionTests(_ServerMixin, TestCase):
    """A Consul client on a real unix socket (real reactor)."""

    timeout = 30

    def setUp(self) -> None:
        # A short directory: unix socket paths are limited to about 100 bytes.
        self.dir = tempfile.mkdtemp(prefix="txc-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def serve_unix(self) -> str:
        path = os.path.join(self.dir, "consul.sock")
        site = _TrackingSite(FakeConsul().resource())
        port = reactor.listenUNIX(path, site)
        self._track(site, port)
        return path

    @inlineCallbacks
    def test_unix_socket_from_environment(self) -> Any:
        """CONSUL_HTTP_ADDR=unix://<path> talks HTTP over that socket."""
        path = self.serve_unix()
        c = Consul(environ={"CONSUL_HTTP_ADDR": f"unix://{path}"})
        self.addCleanup(c.close)
        self.assertEqual(c.config.unix_path, path)
        response = yield c.http.request("GET", "/v1/status/leader")
        self.assertEqual(response.json(), LEADER)

    @inlineCallbacks
    def test_unix_socket_missing(self) -> Any:
        """A unix socket nobody listens on gives ConsulConnectionError naming it."""
        path = os.path.join(self.dir, "missing.sock")
        c = Consul(environ={"CONSUL_HTTP_ADDR": f"unix://{path}"})
        self.addCleanup(c.close)
        e = yield self.assertFailure(c.http.request("GET", "/v1/status/leader"), ConsulConnectionError)
        self.assertIn(path, str(e))


class SchemeMismatchTests(_ServerMixin, TestCase):
    """TLS against plain HTTP and plain HTTP against TLS, on the real reactor."""

    timeout = 30

    def setUp(self) -> None:
        self.pki = PKI(self.mktemp())

    @inlineCallbacks
    def test_http_against_tls_port(self) -> Any:
        """
        scheme 'http' against a TLS listener that hangs up (as Twisted's does)
        is a one-line error suggesting 'https'.  (Consul's Go server answers a
        400 instead, which is TLSMismatch: see test_http_hostile.)
        """
        port = self.serve_tls(self.pki)
        c = Consul(host="127.0.0.1", port=port, environ={})
        self.addCleanup(c.close)
        e = yield self.assertFailure(c.http.request("GET", "/v1/status/leader"), ConsulConnectionError)
        self.assertIn("use scheme 'https'", str(e))
        self.assertNotIn("\n", str(e))

    @inlineCallbacks
    def test_https_against_plain_port(self) -> Any:
        """
        scheme 'https' against a plain-HTTP listener is a one-line TLSMismatch
        naming 'http', long before the call's own timeout.  Sleeps on the real
        clock for up to the 0.5 s handshake timeout: the listener may wait
        silently for the rest of a "request", as Consul's does.
        """
        from txconsul import TLSMismatch

        site = _TrackingSite(FakeConsul().resource())
        listening = reactor.listenTCP(0, site, interface="127.0.0.1")
        self._track(site, listening)
        c = Consul(
            host="127.0.0.1",
            port=listening.getHost().port,
            scheme="https",
            verify=self.pki.ca,
            environ={},
            tls_handshake_timeout=0.5,
            timeout=20,
        )
        self.addCleanup(c.close)
        e = yield self.assertFailure(c.http.request("GET", "/v1/status/leader"), TLSMismatch)
        self.assertIn("use scheme 'http'", str(e))
        self.assertNotIn("\n", str(e))

    @inlineCallbacks
    def test_real_handshake_is_seen(self) -> Any:
        """A completed TLS handshake reaches the connection, so the stall check never fires on it."""
        port = self.serve_tls(self.pki)
        c = Consul(host="127.0.0.1", port=port, scheme="https", verify=self.pki.ca, environ={})
        self.addCleanup(c.close)
        response = yield c.http.request("GET", "/v1/status/leader")
        self.assertEqual(response.json(), LEADER)
        pool = c.http.pool
        assert pool is not None
        self.assertTrue(pool.tls)
        self.assertTrue(pool._all)
        self.assertTrue(all(conn.handshake_done for conn in pool._all))
