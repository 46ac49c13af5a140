# -*- test-case-name: tests.test_api_modern_connect -*-
"""
Certificates for FakeConsul's built-in Connect CA, made with ``cryptography``
(imported only when a root or leaf certificate is first asked for; it comes
with ``twisted[tls]``, through pyOpenSSL).

Shapes follow agent/connect/ca/provider_consul.go (an EC P-256 root valid
for ``RootCertTTL``, its SPIFFE trust-domain URI as a SAN) and
agent/connect/uri_service.go (a leaf's ``spiffe://<trust domain>/ns/default/dc/<dc>/svc/<service>``).
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any


def colon_hex(data: bytes) -> str:
    """agent/connect/ca/common.go HexString: ``'a1:b2:...'``."""
    return ":".join("%02x" % b for b in data)


def _now(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc)


def go_time(seconds: float) -> str:
    """RFC 3339 UTC, as Go's ``time.Time`` marshals whole seconds."""
    return _now(seconds).strftime("%Y-%m-%dT%H:%M:%SZ")


def _private_key(key_type: str, bits: int) -> Any:
    """A new private key of the CA configuration's ``PrivateKeyType``/``PrivateKeyBits``."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    curves: dict[int, Any] = {
        224: ec.SECP224R1(),
        256: ec.SECP256R1(),
        384: ec.SECP384R1(),
        521: ec.SECP521R1(),
    }
    return ec.generate_private_key(curves[bits])


def make_root(
    common_name: str,
    trust_domain: str,
    serial: int,
    now: float,
    ttl: float,
    key_type: str = "ec",
    bits: int = 256,
) -> dict[str, Any]:
    """
    A self-signed CA with a ``key_type``/``bits`` key: ``{'cert_pem',
    'key', 'id', 'signing_key_id', 'not_before', 'not_after'}``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = _private_key(key_type, bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    start = _now(now - 60)
    end = _now(now + ttl)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
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
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(f"spiffe://{trust_domain}")]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    der = cert.public_bytes(serialization.Encoding.DER)
    return {
        "cert_pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "key": key,
        "cert": cert,
        # connect.CalculateCertFingerprint: the SHA-1 of the DER certificate.
        "id": colon_hex(hashlib.sha1(der).digest()),
        "signing_key_id": colon_hex(ski.digest),
        "not_before": now - 60,
        "not_after": now + ttl,
    }


def make_leaf(
    root: dict[str, Any],
    uri: str,
    serial: int,
    now: float,
    ttl: float,
    key_type: str = "ec",
    bits: int = 256,
) -> dict[str, Any]:
    """
    A leaf certificate for ``uri`` with a new ``key_type``/``bits`` key,
    signed by ``root``: ``{'cert_pem', 'key_pem', 'serial', 'not_before',
    'not_after'}``.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _private_key(key_type, bits)
    ca_cert = root["cert"]
    start = now - 60
    end = now + ttl
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(_now(start))
        .not_valid_after(_now(end))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(
            # leafcert: the SPIFFE URI is the only SAN unless DNS/IP SANs are asked for.
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(uri)]),
            critical=False,
        )
        .sign(root["key"], hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode("ascii")
    return {
        "cert_pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "key_pem": key_pem,
        "serial": colon_hex(serial.to_bytes((serial.bit_length() + 7) // 8 or 1, "big")),
        "not_before": start,
        "not_after": end,
    }
