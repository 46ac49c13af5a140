# -*- test-case-name: tests.test_discovery_cache -*-
"""
Service discovery for Twisted: caches kept fresh by blocking queries,
``consul:`` client and server endpoints, an endpoint factory for
twisted.web/treq agents, and an opt-in retry policy for one-off calls.
"""

from ._agent import ConsulEndpointFactory, ServiceName, service_name_resolver
from ._cache import CacheStopped, CatalogCache, Diff, HealthCache, Instance, KVCache
from ._endpoints import (
    ConsulClientEndpoint,
    ConsulServerEndpoint,
    RegisteredPort,
    ServiceUnavailable,
    consul_from_environment,
)
from ._parsers import close_shared
from ._pick import PICKERS, RandomPicker, RoundRobinPicker, WeightedPicker, make_picker
from ._retry import Retrying, is_retryable, retry_clients

__all__ = [
    "PICKERS",
    "CacheStopped",
    "CatalogCache",
    "ConsulClientEndpoint",
    "ConsulEndpointFactory",
    "ConsulServerEndpoint",
    "Diff",
    "HealthCache",
    "Instance",
    "KVCache",
    "RandomPicker",
    "RegisteredPort",
    "Retrying",
    "RoundRobinPicker",
    "ServiceName",
    "ServiceUnavailable",
    "WeightedPicker",
    "close_shared",
    "consul_from_environment",
    "is_retryable",
    "make_picker",
    "retry_clients",
    "service_name_resolver",
]
