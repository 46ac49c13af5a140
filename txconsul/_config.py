# -*- test-case-name: tests.test_config -*-
"""
Client configuration: explicit arguments beat ``CONSUL_*`` environment
variables, which beat python-consul's defaults.

The environment variables are read the way the official Go client
(``api/api.go``) reads them; :func:`resolve_config` documents where txconsul
is stricter.  No error message and no ``repr`` ever shows the ACL token or the
basic-auth password.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Union
from urllib.parse import quote

import attr

VerifyLike = Union[bool, str]
CertLike = Union[None, str, tuple[str, str]]

#: python-consul's defaults.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8500
DEFAULT_SCHEME = "http"

#: The port an address with an explicit ``http://``/``https://`` scheme and no
#: port uses (as in a URL, and as the Go client does).
_SCHEME_PORTS = {"http": 80, "https": 443}

# Go's strconv.ParseBool.
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})

_ADDR = "CONSUL_HTTP_ADDR"
_TOKEN = "CONSUL_HTTP_TOKEN"
_TOKEN_FILE = "CONSUL_HTTP_TOKEN_FILE"
_AUTH = "CONSUL_HTTP_AUTH"
_SSL = "CONSUL_HTTP_SSL"
_SSL_VERIFY = "CONSUL_HTTP_SSL_VERIFY"
_CACERT = "CONSUL_CACERT"
_CAPATH = "CONSUL_CAPATH"
_CLIENT_CERT = "CONSUL_CLIENT_CERT"
_CLIENT_KEY = "CONSUL_CLIENT_KEY"
_SERVER_NAME = "CONSUL_TLS_SERVER_NAME"


@attr.s(slots=True, auto_attribs=True, repr=False)
class ClientConfig:
    """
    Where and how to reach the agent, after arguments and environment.

    :ivar scheme: ``'http'`` or ``'https'``.
    :ivar host: host name or IP address (IPv6 without brackets).
    :ivar port: TCP port.
    :ivar path_prefix: a path put before every ``/v1/...`` (reverse proxies),
        ``''`` or starting with ``/``.
    :ivar unix_path: the agent's unix socket, or ``None`` for TCP.
    :ivar token: the default ACL token, or ``None``.
    :ivar verify: ``True`` (system trust store, or ``ca_path`` when set),
        ``False`` (no verification) or the path of a PEM CA bundle.
    :ivar ca_path: a directory of PEM CA certificates, or ``None``.
    :ivar cert: the client certificate: a PEM path holding certificate and
        key, a ``(certfile, keyfile)`` tuple, or ``None``.
    :ivar server_name: the name to verify the server certificate against
        (and send as SNI) instead of ``host``, or ``None``.
    :ivar basic_auth: ``(user, password)`` for HTTP basic auth, or ``None``.
    """

    scheme: str = DEFAULT_SCHEME
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    path_prefix: str = ""
    unix_path: Optional[str] = None
    token: Optional[str] = None
    verify: VerifyLike = True
    ca_path: Optional[str] = None
    cert: CertLike = None
    server_name: Optional[str] = None
    basic_auth: Optional[tuple[str, str]] = None

    @property
    def address(self) -> str:
        """``host:port`` (IPv6 hosts in brackets) or ``unix://path``."""
        if self.unix_path is not None:
            return f"unix://{self.unix_path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL every request path is appended to."""
        if self.unix_path is not None:
            return f"http://localhost{self.path_prefix}"
        return f"{self.scheme}://{self.address}{self.path_prefix}"

    def __repr__(self) -> str:
        token = "set" if self.token else "none"
        auth = " auth=set" if self.basic_auth is not None else ""
        return f"<ClientConfig {self.base_url} token={token}{auth}>"


def resolve_config(
    host: Optional[str] = None,
    port: Optional[int] = None,
    token: Optional[str] = None,
    scheme: Optional[str] = None,
    verify: Optional[VerifyLike] = None,
    cert: CertLike = None,
    tls_server_name: Optional[str] = None,
    environ: Optional[Mapping[str, str]] = None,
) -> ClientConfig:
    """
    Combine explicit arguments (``None`` = not given) with the environment.

    Each setting comes from its argument when that is not ``None``, else from
    its environment variable when that is set and not empty, else from
    python-consul's default (``http://127.0.0.1:8500``, ``verify=True``).

    - ``host`` / ``port``: ``CONSUL_HTTP_ADDR`` (``host``, ``host:port``,
      ``[v6]:port``, ``http://...``, ``https://...`` with an optional path
      prefix, or ``unix:///path``).  An explicit ``host`` replaces the whole
      address of ``CONSUL_HTTP_ADDR`` (host, port, path prefix, unix
      socket); an explicit ``port`` replaces its port and discards a unix
      socket.
    - ``scheme``: ``https`` when ``CONSUL_HTTP_SSL`` is true or
      ``CONSUL_HTTP_ADDR`` starts with ``https://``; an ``http://`` address
      never downgrades ``CONSUL_HTTP_SSL=true``.
    - ``token``: ``CONSUL_HTTP_TOKEN_FILE`` (the stripped file content), then
      ``CONSUL_HTTP_TOKEN``.  ``token=''`` means "no token".
    - ``verify``: ``CONSUL_HTTP_SSL_VERIFY=false`` gives ``False``, else
      ``CONSUL_CACERT`` gives its path, else ``CONSUL_CAPATH`` sets
      ``ca_path``.  An explicit ``verify`` ignores all three.
    - ``cert``: ``CONSUL_CLIENT_CERT`` and ``CONSUL_CLIENT_KEY`` (both or
      neither).
    - ``tls_server_name``: ``CONSUL_TLS_SERVER_NAME`` (a port is stripped).
    - basic auth: ``CONSUL_HTTP_AUTH`` (``user:password`` or ``user``).

    Unlike the Go client, which logs a warning and carries on, a value that
    cannot be parsed raises.

    :raises ValueError: for a malformed argument or environment variable (the
        message names the variable); for an unreadable token file.
    :raises TypeError: for an argument of the wrong type.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ

    def getenv(name: str) -> Optional[str]:
        value = env.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    cfg = ClientConfig()

    # Scheme from the environment: CONSUL_HTTP_SSL first, then the address
    # may upgrade (never downgrade) it.
    env_scheme = DEFAULT_SCHEME
    ssl = getenv(_SSL)
    if ssl is not None and _parse_bool(_SSL, ssl):
        env_scheme = "https"

    # Address.
    addr = getenv(_ADDR)
    scheme_port = False
    if addr is not None and host is None:
        parsed = _parse_address(addr)
        if parsed.scheme == "https":
            env_scheme = "https"
        cfg.host = parsed.host
        cfg.unix_path = parsed.unix_path
        cfg.path_prefix = parsed.path_prefix
        if parsed.port is not None:
            cfg.port = parsed.port
        elif parsed.scheme in _SCHEME_PORTS:
            # A URL without a port means the scheme's port, as in Go.
            scheme_port = True
    elif addr is not None:
        # The address is replaced by the explicit host, but an https:// in
        # it still asks for TLS (never silently downgrade).
        if _parse_address(addr).scheme == "https":
            env_scheme = "https"
    cfg.scheme = env_scheme

    if host is not None:
        cfg.host = _check_host(host)
        cfg.unix_path = None
    if port is not None:
        cfg.port = _check_port(port)
        cfg.unix_path = None
    if scheme is not None:
        if not isinstance(scheme, str) or scheme not in ("http", "https"):
            raise ValueError(f"invalid scheme {scheme!r}: use 'http' or 'https'")
        cfg.scheme = scheme
    if scheme_port and port is None:
        cfg.port = _SCHEME_PORTS[cfg.scheme]
    if cfg.unix_path is not None and cfg.scheme == "https":
        raise ValueError(
            f"{_ADDR}: TLS over a unix socket is not supported "
            f"(https was asked for by {_SSL} or the scheme argument)"
        )

    # Token: explicit > CONSUL_HTTP_TOKEN_FILE > CONSUL_HTTP_TOKEN.
    if token is not None:
        cfg.token = _check_token(token, "token") or None
    else:
        file_token = None
        token_file = getenv(_TOKEN_FILE)
        if token_file is not None:
            file_token = _read_token_file(token_file)
        if file_token:
            cfg.token = _check_token(file_token, f"{_TOKEN_FILE} ({token_file})")
        else:
            env_token = getenv(_TOKEN)
            if env_token is not None:
                cfg.token = _check_token(env_token, _TOKEN)

    # Basic auth.
    auth = env.get(_AUTH)
    if auth:
        user, _, password = auth.partition(":")
        cfg.basic_auth = (user, password)

    # What to trust.
    if verify is not None:
        cfg.verify = _check_verify(verify)
    else:
        ssl_verify = getenv(_SSL_VERIFY)
        cacert = getenv(_CACERT)
        capath = getenv(_CAPATH)
        if ssl_verify is not None and not _parse_bool(_SSL_VERIFY, ssl_verify):
            cfg.verify = False
        elif cacert is not None:
            cfg.verify = cacert
        elif capath is not None:
            cfg.ca_path = capath

    # Client certificate.
    if cert is not None:
        cfg.cert = _check_cert(cert)
    else:
        env_cert = getenv(_CLIENT_CERT)
        env_key = getenv(_CLIENT_KEY)
        if (env_cert is None) != (env_key is None):
            raise ValueError(
                f"{_CLIENT_CERT}/{_CLIENT_KEY}: both client cert and client key must be provided"
            )
        if env_cert is not None and env_key is not None:
            cfg.cert = (env_cert, env_key)

    # Server name.
    if tls_server_name is not None:
        if not isinstance(tls_server_name, str):
            raise TypeError(f"tls_server_name must be a str, not {type(tls_server_name).__name__}")
        cfg.server_name = _strip_port(tls_server_name) or None
    else:
        env_name = getenv(_SERVER_NAME)
        if env_name is not None:
            cfg.server_name = _strip_port(env_name) or None
    return cfg


@attr.s(slots=True, frozen=True, auto_attribs=True)
class _Address:
    scheme: Optional[str]
    host: str
    port: Optional[int]
    path_prefix: str
    unix_path: Optional[str]


def _parse_address(text: str) -> _Address:
    """
    Parse ``CONSUL_HTTP_ADDR`` like the Go client's ``NewClient``.

    Error messages quote the address only after rejecting the parts that may
    hold secrets (``user:password@``, a query string).
    """
    if "://" in text:
        proto, rest = text.split("://", 1)
        proto = proto.lower()
    else:
        proto, rest = None, text
    if proto == "unix":
        if not rest:
            raise ValueError(f"{_ADDR}: unix:// address without a socket path")
        return _Address("unix", DEFAULT_HOST, None, "", rest)
    if proto not in (None, "http", "https"):
        raise ValueError(f"{_ADDR}: unknown protocol scheme {proto!r} (use http://, https:// or unix://)")
    if "@" in rest:
        raise ValueError(f"{_ADDR}: credentials in the address are not supported; use {_AUTH} or {_TOKEN}")
    if "?" in rest or "#" in rest:
        raise ValueError(f"{_ADDR}: the address must not have a query or fragment")
    hostport, slash, prefix = rest.partition("/")
    path_prefix = ""
    if slash and prefix.strip("/"):
        path_prefix = quote("/" + prefix.strip("/"), safe="/-._~!$&'()*+,;=:@%")
    host, port = _split_hostport(hostport)
    return _Address(proto, host, port, path_prefix, None)


def _split_hostport(text: str) -> tuple[str, Optional[int]]:
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{_ADDR}: malformed IPv6 address {text!r}")
        port = rest[1:] if rest else None
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        # No port, or a bare IPv6 address such as ``::1``.
        host, port = text, None
    if not host:
        raise ValueError(f"{_ADDR}: missing host in address {text!r}")
    if port is None:
        return _ascii_host(host, _ADDR), None
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"{_ADDR}: invalid port {port!r} in address {text!r} (must be 1..65535)")
    return _ascii_host(host, _ADDR), int(port)


def _ascii_host(host: str, what: str) -> str:
    """Return ``host`` as ASCII (IDNA for international names)."""
    if host.isascii():
        if any(c.isspace() or c in "/?#@" for c in host):
            raise ValueError(f"{what}: invalid host {host!r}")
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{what}: invalid host name {host!r}") from None


def _strip_port(name: str) -> str:
    """``host:port`` → ``host``, ``[v6]:port`` → ``v6`` (like the Go client)."""
    name = name.strip()
    if name.startswith("["):
        return name[1:].partition("]")[0]
    if name.count(":") == 1:
        return name.partition(":")[0]
    return name


def _parse_bool(name: str, value: str) -> bool:
    """Go's ``strconv.ParseBool``; other values raise naming ``name``."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{name}: invalid boolean {value!r} (use 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False)"
    )


def _read_token_file(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise ValueError(f"{_TOKEN_FILE}: cannot read token file {path!r}: {reason}") from None
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{_TOKEN_FILE}: token file {path!r} is not UTF-8 text") from None


def _check_token(token: object, what: str) -> str:
    if not isinstance(token, str):
        raise TypeError(f"{what} must be a str, not {type(token).__name__}")
    if "\r" in token or "\n" in token or "\0" in token:
        raise ValueError(f"{what} contains a line break or NUL character")
    return token


def _check_host(host: object) -> str:
    if not isinstance(host, str):
        raise TypeError(f"host must be a str, not {type(host).__name__}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("host must not be empty")
    return _ascii_host(host, "host")


def _check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, (int, str)):
        raise TypeError(f"port must be an int, not {type(port).__name__}")
    if isinstance(port, str):
        if not (port.isascii() and port.isdigit()):
            raise ValueError(f"invalid port {port!r}: must be an int in 1..65535")
        port = int(port)
    if not 1 <= port <= 65535:
        raise ValueError(f"invalid port {port!r}: must be in 1..65535")
    return port


def _check_path(value: object, what: str) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str path, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be an empty path")
    return value


def _check_verify(verify: object) -> VerifyLike:
    if isinstance(verify, bool):
        return verify
    if isinstance(verify, (str, os.PathLike)):
        return _check_path(verify, "verify")
    raise TypeError(f"verify must be True, False or the path of a CA bundle, not {type(verify).__name__}")


def _check_cert(cert: object) -> CertLike:
    if isinstance(cert, (str, os.PathLike)):
        return _check_path(cert, "cert")
    if isinstance(cert, tuple) and len(cert) == 2:
        return (_check_path(cert[0], "cert[0]"), _check_path(cert[1], "cert[1]"))
    raise TypeError(f"cert must be a PEM path or a (certfile, keyfile) tuple, not {type(cert).__name__}")
