# -*- test-case-name: tests.test_discovery_tls -*-
"""
The TLS variant of the ``consul:`` client endpoint over loopback: a server
listening with ``ssl:`` inside a ``consul:`` server endpoint, found and
reached with ``tls=yes``, its certificate checked.

Real reactor and loopback sockets on purpose: a TLS handshake is what is
tested.  Every wait is bounded by trial's timeout.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.endpoints import clientFromString, serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import TestCase

from txconsul.discovery import close_shared

from .processcase import fake_as_agent


def self_signed(base: str) -> tuple[str, str]:
    """A self-signed certificate for web.example and 127.0.0.1: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "web.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("web.example"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    os.makedirs(base)
    cert_path, key_path = os.path.join(base, "cert.pem"), os.path.join(base, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)  # type: ignore[union-attr]


class Ask(Protocol):
    """Sends ``ping``; ``answer`` fires with the reply, or fails when the connection is lost first."""

    def connectionMade(self) -> None:
        self.answer: Deferred = Deferred()
        self.transport.write(b"ping")  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        if not self.answer.called:
            self.answer.callback(data)
            self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Any) -> None:
        if not self.answer.called:
            self.answer.errback(reason)


class TLSEndpointTests(TestCase):
    """consul:...:tls=yes against an ssl: server registered through consul:."""

    timeout = 30

    @inlineCallbacks
    def setUp(self) -> Any:
        fake_as_agent(self)
        self.cert, key = self_signed(os.path.abspath(self.mktemp()))
        wrapped = f"ssl\\:0\\:interface\\=127.0.0.1\\:privateKey\\={key}\\:certKey\\={self.cert}"
        server = serverFromString(reactor, f"consul:{wrapped}:name=secure")
        port = yield server.listen(Factory.forProtocol(Echo))
        self.addCleanup(close_shared)
        self.addCleanup(port.stopListening)

    @inlineCallbacks
    def ask(self, description: str) -> Any:
        ask = yield clientFromString(reactor, description).connect(Factory.forProtocol(Ask))
        answer = yield ask.answer
        return answer

    @inlineCallbacks
    def test_verified_by_hostname(self) -> None:
        """tls=yes with hostname= and trustRoots= talks TLS to the instance found."""
        answer = yield self.ask(f"consul:secure:tls=yes:hostname=web.example:trustRoots={self.cert}")
        self.assertEqual(answer, b"ping")

    @inlineCallbacks
    def test_verified_by_instance_address(self) -> None:
        """Without hostname= the certificate is checked against the instance's address."""
        answer = yield self.ask(f"consul:secure:tls=yes:trustRoots={self.cert}")
        self.assertEqual(answer, b"ping")

    @inlineCallbacks
    def test_wrong_name_refused(self) -> None:
        """A certificate that does not name the host asked for fails the handshake: no data flows."""
        from service_identity.exceptions import VerificationError

        with self.assertRaises(VerificationError):
            yield self.ask(f"consul:secure:tls=yes:hostname=other.example:trustRoots={self.cert}")
