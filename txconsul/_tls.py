# -*- test-case-name: tests.test_tls -*-
"""
TLS and unix-socket connection policies for the transport.

:func:`tls_policy` reads every file the configuration names (CA bundle, CA
directory, client certificate and key) when the client is built, so a missing
or malformed file is a :class:`ValueError` naming the path at ``Consul()``
time, not a connection error later.  Private key material never appears in a
message or a ``repr``.
"""

from __future__ import annotations

import os
import re
from typing import Any, Optional, Sequence

from OpenSSL import SSL, crypto
from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.endpoints import HostnameEndpoint, UNIXClientEndpoint, wrapClientTLS
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator, IStreamClientEndpoint
from twisted.internet.ssl import (
    Certificate,
    CertificateOptions,
    KeyPair,
    PrivateCertificate,
    optionsForClientTLS,
    platformTrust,
    trustRootFromCertificates,
)
from twisted.web.iweb import IPolicyForHTTPS
from zope.interface import implementer

from ._config import ClientConfig

_CERT_BLOCK = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----",
    re.DOTALL,
)
_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----\r?\n.+?\r?\n"
    rb"-----END \1PRIVATE KEY-----",
    re.DOTALL,
)

#: File name endings read from a CA directory (``CONSUL_CAPATH``).
CA_DIR_SUFFIXES = (".pem", ".crt")


def tls_policy(config: ClientConfig) -> ConsulTLSPolicy:
    """
    Build the ``IPolicyForHTTPS`` for ``config`` (verify/cert/server name).

    - ``verify=True``: the system trust store, or every ``*.pem``/``*.crt``
      in ``config.ca_path`` when set;
    - ``verify=<path>``: exactly the certificates of that PEM bundle (a
      directory path is read like ``ca_path``);
    - ``verify=False``: TLS without any certificate verification.

    :raises ValueError: naming the file when a CA bundle, CA directory,
        client certificate or key cannot be read or parsed.
    """
    client_cert, chain = _load_client_cert(config.cert)
    if config.verify is False:
        return ConsulTLSPolicy(
            None,
            client_cert,
            config.server_name,
            verify=False,
            extra_chain=chain,
            description="verify=False",
        )
    if isinstance(config.verify, str):
        if os.path.isdir(config.verify):
            certs = _load_ca_dir(config.verify)
            description = f"ca_path={config.verify!r}"
        else:
            certs = _load_ca_file(config.verify)
            description = f"ca_file={config.verify!r}"
        trust_root = trustRootFromCertificates(certs)
    elif config.ca_path is not None:
        certs = _load_ca_dir(config.ca_path)
        trust_root = trustRootFromCertificates(certs)
        description = f"ca_path={config.ca_path!r}"
    else:
        trust_root = platformTrust()
        description = "system trust"
    return ConsulTLSPolicy(
        trust_root,
        client_cert,
        config.server_name,
        extra_chain=chain,
        description=description,
    )


@implementer(IPolicyForHTTPS)
class ConsulTLSPolicy:
    """
    Make the TLS connection creator for each agent address.

    :param trust_root: an ``IOpenSSLTrustRoot`` (ignored when ``verify`` is
        false).
    :param client_certificate: a :class:`PrivateCertificate` to present, or
        ``None``.
    :param server_name: the name to verify (and send as SNI) instead of the
        host being dialled, or ``None``.
    :param verify: ``False`` to skip certificate verification entirely.
    :param extra_chain: intermediate certificates sent after the client
        certificate.
    :param description: how ``repr`` describes the trust settings.
    """

    def __init__(
        self,
        trust_root: Any,
        client_certificate: Optional[PrivateCertificate] = None,
        server_name: Optional[str] = None,
        *,
        verify: bool = True,
        extra_chain: Sequence[Certificate] = (),
        description: str = "",
    ) -> None:
        self._trust_root = trust_root
        self._client_certificate = client_certificate
        self._server_name = server_name
        self._verify = verify
        self._extra_chain = [c.original for c in extra_chain]
        self._description = description
        self._creators: dict[tuple[str, int], Any] = {}

    def __repr__(self) -> str:
        parts = [self._description or ("verify" if self._verify else "verify=False")]
        if self._client_certificate is not None:
            subject = self._client_certificate.original.to_cryptography().subject
            parts.append(f"client_cert={subject.rfc4514_string()!r}")
        if self._server_name:
            parts.append(f"server_name={self._server_name!r}")
        return f"<ConsulTLSPolicy {' '.join(parts)}>"

    def _extra_options(self) -> dict[str, Any]:
        if self._client_certificate is not None and self._extra_chain:
            return {"extraCertChain": list(self._extra_chain)}
        return {}

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        """
        Return the ``IOpenSSLClientConnectionCreator`` for ``hostname:port``.

        The certificate is verified against ``server_name`` when it is set,
        else against ``hostname`` (a DNS name or an IP address).
        """
        host = hostname.decode("ascii") if isinstance(hostname, bytes) else hostname
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        name = self._server_name or host
        key = (name, port)
        creator = self._creators.get(key)
        if creator is not None:
            return creator
        if self._verify:
            creator = optionsForClientTLS(
                name,
                trustRoot=self._trust_root,
                clientCertificate=self._client_certificate,
                extraCertificateOptions=self._extra_options(),
            )
        else:
            kwargs: dict[str, Any] = {"verify": False}
            if self._client_certificate is not None:
                kwargs["privateKey"] = self._client_certificate.privateKey.original
                kwargs["certificate"] = self._client_certificate.original
                kwargs.update(self._extra_options())
            creator = _UnverifiedCreator(CertificateOptions(**kwargs), name)
        self._creators[key] = creator
        return creator


@implementer(IOpenSSLClientConnectionCreator)
class _UnverifiedCreator:
    """
    TLS without certificate verification, still sending SNI for DNS names
    (proxies in front of an agent may route on it).
    """

    def __init__(self, options: CertificateOptions, hostname: str) -> None:
        self._options = options
        self._sni: Optional[bytes] = None
        if not (isIPAddress(hostname) or isIPv6Address(hostname)):
            try:
                self._sni = hostname.encode("idna")
            except UnicodeError:
                self._sni = None

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        # What CertificateOptions.clientConnectionForTLS does in recent
        # Twisted; Twisted 22.10's CertificateOptions has no such method.
        connection = SSL.Connection(self._options.getContext(), None)
        connection.set_app_data(tlsProtocol)
        if self._sni:
            connection.set_tlsext_host_name(self._sni)
        return connection


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ValueError(f"cannot read {what} {path!r}: {reason}") from None


def _certificates(data: bytes, path: str, what: str) -> list[Certificate]:
    """Every PEM certificate in ``data``, in order."""
    certs = []
    for n, match in enumerate(_CERT_BLOCK.finditer(data), 1):
        try:
            certs.append(Certificate.loadPEM(match.group(0)))
        except (crypto.Error, ValueError):
            raise ValueError(f"{what} {path!r}: certificate #{n} is not a valid PEM certificate") from None
    return certs


def _load_ca_file(path: str) -> list[Certificate]:
    data = _read(path, "CA bundle")
    certs = _certificates(data, path, "CA bundle")
    if not certs:
        raise ValueError(f"CA bundle {path!r} contains no PEM certificate")
    return certs


def _load_ca_dir(path: str) -> list[Certificate]:
    try:
        names = sorted(os.listdir(path))
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ValueError(f"cannot read CA directory {path!r}: {reason}") from None
    certs: list[Certificate] = []
    for name in names:
        full = os.path.join(path, name)
        if name.lower().endswith(CA_DIR_SUFFIXES) and os.path.isfile(full):
            certs.extend(_certificates(_read(full, "CA file"), full, "CA file"))
    if not certs:
        raise ValueError(f"CA directory {path!r} holds no PEM certificate in a *.pem or *.crt file")
    return certs


def _load_key(data: bytes, path: str) -> KeyPair:
    """The one private key in ``data``; errors never quote the key."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    match = _KEY_BLOCK.search(data)
    if match is None:
        raise ValueError(f"client key {path!r} contains no PEM private key")
    block = match.group(0)
    if match.group(1) == b"ENCRYPTED " or b"Proc-Type: 4,ENCRYPTED" in block:
        raise ValueError(f"client key {path!r} is encrypted; txconsul needs an unencrypted key")
    try:
        key = load_pem_private_key(block, password=None)
    except (ValueError, TypeError):
        raise ValueError(f"client key {path!r} is not a valid PEM private key") from None
    except Exception:  # cryptography raises UnsupportedAlgorithm and friends
        raise ValueError(f"client key {path!r}: unsupported private key type") from None
    return KeyPair(crypto.PKey.from_cryptography_key(key))  # type: ignore[arg-type]


def _load_client_cert(
    cert: Any,
) -> tuple[Optional[PrivateCertificate], list[Certificate]]:
    """
    Load ``cert`` (a combined PEM path or ``(certfile, keyfile)``).

    :return: the client certificate with its key, and any further
        certificates of the certificate file (intermediates to send).
    """
    if cert is None:
        return None, []
    if isinstance(cert, tuple):
        cert_path, key_path = cert
        cert_data = _read(cert_path, "client certificate")
        key_data = _read(key_path, "client key")
    else:
        cert_path = key_path = cert
        cert_data = key_data = _read(cert_path, "client certificate")
    certs = _certificates(cert_data, cert_path, "client certificate")
    if not certs:
        raise ValueError(f"client certificate {cert_path!r} contains no PEM certificate")
    key = _load_key(key_data, key_path)
    try:
        private = PrivateCertificate.fromCertificateAndKeyPair(certs[0], key)
    except Exception:
        raise ValueError(f"client key {key_path!r} does not match the certificate in {cert_path!r}") from None
    return private, certs[1:]


def client_endpoint(reactor: Any, config: ClientConfig) -> IStreamClientEndpoint:
    """
    The endpoint the connection pool dials for ``config``: a unix socket,
    plain TCP, or TLS over TCP with :func:`tls_policy`'s verification.
    """
    if config.unix_path is not None:
        return UNIXClientEndpoint(reactor, config.unix_path)
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, config.host, config.port)
    if config.scheme == "https":
        policy = tls_policy(config)
        creator = policy.creatorForNetloc(config.host.encode("idna"), config.port)
        endpoint = wrapClientTLS(creator, endpoint)
    return endpoint
