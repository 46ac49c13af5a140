# -*- test-case-name: tests.test_discovery_agent -*-
"""
An endpoint factory for :meth:`twisted.web.client.Agent.usingEndpointFactory`:
``http://web.service.consul/...`` goes to a healthy instance of ``web``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import attr
from twisted.internet.defer import Deferred, DeferredList, fail
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.web.client import Agent, BrowserLikePolicyForHTTPS, HTTPConnectionPool
from twisted.web.error import SchemeNotSupported
from twisted.web.iweb import IAgentEndpointFactory
from zope.interface import implementer

from ._cache import HealthCache
from ._endpoints import DEFAULT_ATTEMPTS, DEFAULT_CONNECT_TIMEOUT, DEFAULT_READY_TIMEOUT, ConsulClientEndpoint
from ._pick import make_picker

__all__ = ["ConsulEndpointFactory", "ServiceName", "service_name_resolver"]


@attr.s(frozen=True, slots=True, auto_attribs=True)
class ServiceName:
    """
    What a host name names: a service, with an optional tag and datacenter.
    """

    service: str
    tag: Optional[str] = None
    dc: Optional[str] = None


def service_name_resolver(domain: str = "consul") -> Callable[[str], Optional[ServiceName]]:
    """
    The names Consul's DNS interface answers for services, under
    ``domain``: ``<service>.service.<domain>``,
    ``<tag>.<service>.service.<domain>`` and either with ``.<dc>`` before
    the domain.  Any other host gives ``None``.
    """
    suffix = [label for label in domain.lower().strip(".").split(".") if label]
    if not suffix:
        raise ValueError(f"invalid domain {domain!r}")

    def resolve(host: str) -> Optional[ServiceName]:
        labels = host.lower().rstrip(".").split(".")
        if len(labels) <= len(suffix) or labels[-len(suffix) :] != suffix:
            return None
        labels = labels[: -len(suffix)]
        dc = None
        if len(labels) >= 3 and labels[-2] == "service":
            dc = labels.pop()
        if len(labels) < 2 or labels[-1] != "service":
            return None
        labels.pop()
        if len(labels) == 1:
            return ServiceName(labels[0], None, dc) if labels[0] else None
        if len(labels) == 2 and all(labels):
            return ServiceName(labels[1], labels[0], dc)
        return None

    return resolve


@implementer(IStreamClientEndpoint)
class _Refused:
    """An endpoint whose every connection attempt fails with ``ValueError``."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def connect(self, protocolFactory: Any) -> Deferred:
        return fail(ValueError(self.reason))


@implementer(IAgentEndpointFactory)
class ConsulEndpointFactory:
    """
    Endpoints for a twisted.web ``Agent``: a URI whose host names a service
    (``web.service.consul`` by default) connects to a healthy instance of it
    through a :class:`ConsulClientEndpoint`; any other host is connected to
    as ``Agent`` would (or refused, with ``others=False``).

    Each service gets one :class:`HealthCache` and one picker, shared by
    every request, so a round-robin picker spreads requests.  ``https``
    URIs of a service are verified against the URI's host name (the
    certificate must name ``web.service.consul``) by ``tls_policy``.

    :param reactor: the reactor.
    :param consul: a :class:`txconsul.Consul` for the caches.
    :param resolve: ``host -> ServiceName | None``; by default
        :func:`service_name_resolver` for ``domain``.
    :param domain: the Consul domain of the default naming (``'consul'``).
    :param picker: a picker name (``'round-robin'`` by default) or a
        callable returning a new picker for each service.
    :param passing: only instances whose checks all pass (default), else
        passing or warning.
    :param attempts: as for :class:`ConsulClientEndpoint`.
    :param connect_timeout: as for :class:`ConsulClientEndpoint`.
    :param ready_timeout: as for :class:`ConsulClientEndpoint`.
    :param tls_policy: an ``IPolicyForHTTPS`` (``BrowserLikePolicyForHTTPS()``).
    :param others: connect to hosts that name no service (default ``True``;
        with ``False`` requests to them fail with ``ValueError``).
    """

    def __init__(
        self,
        reactor: Any,
        consul: Any,
        *,
        resolve: Optional[Callable[[str], Optional[ServiceName]]] = None,
        domain: str = "consul",
        picker: Any = "round-robin",
        passing: bool = True,
        attempts: int = DEFAULT_ATTEMPTS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        ready_timeout: Optional[float] = DEFAULT_READY_TIMEOUT,
        tls_policy: Any = None,
        others: bool = True,
    ) -> None:
        self._reactor = reactor
        self._consul = consul
        self._resolve = resolve if resolve is not None else service_name_resolver(domain)
        if isinstance(picker, str):
            make_picker(picker)  # check the name now
            name = picker
            self._new_picker: Callable[[], Any] = lambda: make_picker(name)
        elif callable(picker):
            self._new_picker = picker
        else:
            raise TypeError("picker must be a picker name or a callable returning a picker")
        self._passing = passing
        self._attempts = attempts
        self._connect_timeout = connect_timeout
        self._ready_timeout = ready_timeout
        self._policy = tls_policy if tls_policy is not None else BrowserLikePolicyForHTTPS()
        self._others = others
        self._services: dict[ServiceName, tuple[HealthCache, Any]] = {}

    def cache_for(self, name: ServiceName) -> HealthCache:
        """The cache of a service name (made, not started, on first use)."""
        held = self._services.get(name)
        if held is None:
            cache = HealthCache(self._consul, name.service, tag=name.tag, dc=name.dc, passing=self._passing)
            held = self._services[name] = (cache, self._new_picker())
        return held[0]

    def endpointForURI(self, uri: Any) -> Any:
        """The endpoint for ``uri`` (a ``twisted.web.client.URI``)."""
        host = uri.host.decode("ascii") if isinstance(uri.host, bytes) else uri.host
        scheme = uri.scheme.decode("ascii") if isinstance(uri.scheme, bytes) else uri.scheme
        if scheme not in ("http", "https"):
            # What Agent's own factory raises; Agent turns it into a failed request.
            raise SchemeNotSupported(f"unsupported scheme: {scheme!r}")
        name = self._resolve(host)
        creator = None
        if scheme == "https":
            creator = self._policy.creatorForNetloc(uri.host, uri.port)
        if name is None:
            if not self._others:
                return _Refused(f"{host!r} names no Consul service (others=False)")
            endpoint: Any = HostnameEndpoint(self._reactor, host, uri.port, timeout=self._connect_timeout)
            return wrapClientTLS(creator, endpoint) if creator is not None else endpoint
        cache = self.cache_for(name)
        picker = self._services[name][1]
        return ConsulClientEndpoint(
            self._reactor,
            cache,
            picker=picker,
            attempts=self._attempts,
            connect_timeout=self._connect_timeout,
            ready_timeout=self._ready_timeout,
            tls=creator,
        )

    def agent(self, pool: Optional[HTTPConnectionPool] = None) -> Agent:
        """
        An ``Agent`` using this factory.  The default pool is not
        persistent: a persistent pool keeps reusing one instance's
        connection for a service host, which defeats the balancing (and
        keeps talking to an instance that became unhealthy).
        """
        if pool is None:
            pool = HTTPConnectionPool(self._reactor, persistent=False)
        return Agent.usingEndpointFactory(self._reactor, self, pool=pool)

    def stop(self) -> Any:
        """Stop every cache; a Deferred that fires when they are stopped."""
        services, self._services = self._services, {}
        ds = []
        for cache, _ in services.values():
            d = cache.stopService()
            if d is not None:
                ds.append(d)
        return DeferredList(ds)
