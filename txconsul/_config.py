# -*- test-case-name: tests.test_config -*-
"""
Client configuration: explicit arguments beat ``CONSUL_*`` environment
variables, which beat python-consul's defaults.
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Union

import attr

VerifyLike = Union[bool, str]
CertLike = Union[None, str, tuple[str, str]]


@attr.s(slots=True, auto_attribs=True, repr=False)
class ClientConfig:
    """Where and how to reach the agent, after arguments and environment."""

    scheme: str = "http"
    host: str = "127.0.0.1"
    port: int = 8500
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
        return f"<ClientConfig {self.base_url} token={token}>"


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
    """
    env = os.environ if environ is None else environ
    cfg = ClientConfig()
    addr = env.get("CONSUL_HTTP_ADDR")
    if addr:
        if "://" in addr:
            proto, rest = addr.split("://", 1)
        else:
            proto, rest = "", addr
        if proto == "unix":
            cfg.unix_path = rest
        else:
            if proto == "https":
                cfg.scheme = "https"
            elif proto not in ("", "http"):
                raise ValueError(f"CONSUL_HTTP_ADDR: unknown protocol scheme {proto!r}")
            hostport, _, prefix = rest.partition("/")
            if prefix:
                cfg.path_prefix = "/" + prefix.rstrip("/")
            h, p = _split_hostport(hostport)
            cfg.host = h
            if p is not None:
                cfg.port = p
    if host is not None:
        cfg.host = host
        cfg.unix_path = None
    if port is not None:
        cfg.port = int(port)
    if scheme is not None:
        if scheme not in ("http", "https"):
            raise ValueError(f"invalid scheme {scheme!r}: use 'http' or 'https'")
        cfg.scheme = scheme
    if token is not None:
        cfg.token = token
    else:
        cfg.token = env.get("CONSUL_HTTP_TOKEN") or None
    if verify is not None:
        cfg.verify = verify
    if cert is not None:
        cfg.cert = cert
    if tls_server_name is not None:
        cfg.server_name = tls_server_name
    return cfg


def _split_hostport(text: str) -> tuple[str, Optional[int]]:
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if port and not port.isdigit():
        raise ValueError(f"invalid port in address {text!r}")
    return host, (int(port) if port else None)
