# -*- test-case-name: tests.test_discovery_agent -*-
"""
Tests of the endpoint factory for twisted.web/treq agents: the naming
scheme in memory, and real HTTP over loopback to two web servers found
through a FakeConsul.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.endpoints import HostnameEndpoint
from twisted.internet.task import Clock, deferLater
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import URI
from twisted.web.resource import Resource
from twisted.web.server import Site

from txconsul.discovery import (
    ConsulClientEndpoint,
    ConsulEndpointFactory,
    RandomPicker,
    ServiceName,
    service_name_resolver,
)
from txconsul.testing import FakeConsul


class ResolverTests(SynchronousTestCase):
    """The default naming scheme: Consul's DNS names for services."""

    def test_names(self) -> None:
        """service, tag.service, and either with a datacenter, under the domain."""
        resolve = service_name_resolver()
        self.assertEqual(resolve("web.service.consul"), ServiceName("web"))
        self.assertEqual(resolve("Web.Service.Consul."), ServiceName("web"))
        self.assertEqual(resolve("primary.web.service.consul"), ServiceName("web", "primary"))
        self.assertEqual(resolve("web.service.dc2.consul"), ServiceName("web", None, "dc2"))
        self.assertEqual(resolve("v1.web.service.dc2.consul"), ServiceName("web", "v1", "dc2"))

    def test_other_hosts(self) -> None:
        """Hosts outside the scheme resolve to None."""
        resolve = service_name_resolver()
        for host in (
            "example.com",
            "consul",
            "service.consul",
            "web.node.consul",
            "a.b.web.service.consul",
            "web.service.consul.example.com",
            "127.0.0.1",
        ):
            self.assertIsNone(resolve(host), host)

    def test_custom_domain(self) -> None:
        """The domain is configurable, several labels included."""
        resolve = service_name_resolver("sd.example.org")
        self.assertEqual(resolve("api.service.sd.example.org"), ServiceName("api"))
        self.assertIsNone(resolve("api.service.consul"))


class FactoryTests(SynchronousTestCase):
    """endpointForURI in memory."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.consul = FakeConsul(self.clock).client()

    def test_service_host(self) -> None:
        """A service host gets a Consul endpoint; the same service shares one cache and picker."""
        factory = ConsulEndpointFactory(self.clock, self.consul)
        a = factory.endpointForURI(URI.fromBytes(b"http://web.service.consul/x"))
        b = factory.endpointForURI(URI.fromBytes(b"http://web.service.consul/y"))
        c = factory.endpointForURI(URI.fromBytes(b"http://v2.web.service.consul/y"))
        self.assertIsInstance(a, ConsulClientEndpoint)
        self.assertIs(a.cache, b.cache)
        self.assertIs(a.picker, b.picker)
        self.assertIsNot(a.cache, c.cache)
        self.assertEqual(c.cache.tags, ("v2",))

    def test_other_hosts(self) -> None:
        """Other hosts are connected to directly, or refused with others=False."""
        factory = ConsulEndpointFactory(self.clock, self.consul)
        ep = factory.endpointForURI(URI.fromBytes(b"http://example.com/"))
        self.assertIsInstance(ep, HostnameEndpoint)
        strict = ConsulEndpointFactory(self.clock, self.consul, others=False)
        refused = strict.endpointForURI(URI.fromBytes(b"http://example.com/"))
        f = self.failureResultOf(refused.connect(None), ValueError)
        self.assertIn("example.com", str(f.value))

    def test_refused_host_fails_the_request(self) -> None:
        """Through an Agent, a refused host or scheme is a failed request, not an exception."""
        strict = ConsulEndpointFactory(self.clock, self.consul, others=False)
        agent = strict.agent()
        self.failureResultOf(agent.request(b"GET", b"http://example.com/"), ValueError)
        from twisted.web.error import SchemeNotSupported

        self.assertRaises(
            SchemeNotSupported, strict.endpointForURI, URI.fromBytes(b"ftp://web.service.consul/")
        )

    def test_custom_resolver_and_picker(self) -> None:
        """A custom resolver maps hosts to services; a picker factory gives each service its picker."""
        factory = ConsulEndpointFactory(
            self.clock,
            self.consul,
            resolve=lambda host: ServiceName(host.split(".")[0]) if host.endswith(".internal") else None,
            picker=RandomPicker,
        )
        ep = factory.endpointForURI(URI.fromBytes(b"http://billing.internal/"))
        self.assertEqual(ep.cache.service, "billing")
        self.assertIsInstance(ep.picker, RandomPicker)

    def test_bad_picker(self) -> None:
        """An unknown picker name is refused at construction."""
        self.assertRaises(ValueError, ConsulEndpointFactory, self.clock, self.consul, picker="best")

    def test_stop_stops_caches(self) -> None:
        """stop() stops every cache it started."""
        factory = ConsulEndpointFactory(self.clock, self.consul)
        ep = factory.endpointForURI(URI.fromBytes(b"http://web.service.consul/"))
        ep.cache.startService()
        self.successResultOf(factory.stop())
        self.assertFalse(ep.cache.running)


class Named(Resource):
    """Answers every GET with its name."""

    isLeaf = True

    def __init__(self, name: bytes) -> None:
        super().__init__()
        self.name = name

    def render_GET(self, request: Any) -> bytes:
        return self.name


class LoopbackTests(TestCase):
    """
    Real HTTP through an Agent over loopback to two twisted.web servers
    found through an in-memory FakeConsul on the real reactor.  Real time on
    purpose: the connections are real; every wait is bounded by trial's
    timeout.
    """

    timeout = 30

    def setUp(self) -> None:
        self.fake = FakeConsul(reactor)
        self.addCleanup(self.fake.agent_state.stop)
        self.consul = self.fake.client(reactor=reactor)
        self.addCleanup(self.consul.close)
        self.ports = {}
        for name in (b"A", b"B"):
            port = reactor.listenTCP(0, Site(Named(name)), interface="127.0.0.1")
            self.addCleanup(port.stopListening)
            self.ports[name] = port.getHost().port
        self.factory = ConsulEndpointFactory(reactor, self.consul)
        self.addCleanup(self.factory.stop)

    @inlineCallbacks
    def register(self, name: bytes) -> Any:
        yield self.consul.agent.service.register(
            "web",
            service_id=f"web-{name.decode()}",
            address="127.0.0.1",
            port=self.ports[name],
            check={"TTL": "1h", "Status": "passing"},
        )

    @inlineCallbacks
    def get_many(self, agent: Any, n: int) -> Any:
        seen = Counter()
        for _ in range(n):
            response = yield treq.get("http://web.service.consul/x", agent=agent)
            seen[(yield response.content())] += 1
        return seen

    @inlineCallbacks
    def test_spreads_and_moves(self) -> None:
        """Requests alternate over both instances, and all go to B once A is critical."""
        yield self.register(b"A")
        yield self.register(b"B")
        agent = self.factory.agent()
        self.assertEqual((yield self.get_many(agent, 6)), Counter({b"A": 3, b"B": 3}))
        cache = self.factory.cache_for(ServiceName("web"))
        updates = cache.updates
        yield self.consul.agent.check.ttl_fail("service:web-A")
        # The blocking query returns at once with the change: one round trip.
        while cache.updates == updates:
            yield deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(cache.updates, updates + 1)
        self.assertEqual((yield self.get_many(agent, 4)), Counter({b"B": 4}))
