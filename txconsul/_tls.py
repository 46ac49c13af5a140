# -*- test-case-name: tests.test_tls -*-
"""
TLS and unix-socket connection policies for the transport.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.endpoints import UNIXClientEndpoint
from twisted.web.client import BrowserLikePolicyForHTTPS
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from ._config import ClientConfig


def tls_policy(config: ClientConfig) -> Any:
    """Build the ``IPolicyForHTTPS`` for ``config`` (verify/cert/server name)."""
    return BrowserLikePolicyForHTTPS()


@implementer(IAgentEndpointFactory)
class _UnixEndpointFactory:
    def __init__(self, reactor: Any, path: str) -> None:
        self._reactor = reactor
        self._path = path

    def endpointForURI(self, uri: Any) -> UNIXClientEndpoint:
        return UNIXClientEndpoint(self._reactor, self._path)


def unix_endpoint_factory(reactor: Any, path: str) -> Any:
    """An endpoint factory that dials the agent's unix socket at ``path``."""
    return _UnixEndpointFactory(reactor, path)
