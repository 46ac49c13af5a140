# -*- test-case-name: tests.test_discovery_endpoints -*-
"""
In-memory tests of the ``consul:`` endpoints: FakeConsul and a
``MemoryReactorClock`` whose connection attempts the test completes or
fails by hand.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.endpoints import TCP4ServerEndpoint, clientFromString, serverFromString
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.address import IPv4Address
from twisted.internet.interfaces import IHostnameResolver, IReactorPluggableNameResolver
from twisted.internet._resolver import HostResolution
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer

from txconsul import Consul
from txconsul.discovery import (
    ConsulClientEndpoint,
    ConsulServerEndpoint,
    HealthCache,
    RandomPicker,
    RoundRobinPicker,
    ServiceUnavailable,
    WeightedPicker,
    close_shared,
)
from txconsul.discovery import _parsers
from txconsul.testing import FakeConsul


@implementer(IHostnameResolver)
class LiteralResolver:
    """Resolves an IPv4 literal to itself, at once (MemoryReactor's resolver gives 127.0.0.1)."""

    def resolveHostName(
        self,
        receiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Any = None,
        transportSemantics: str = "TCP",
    ) -> Any:
        receiver.resolutionBegan(HostResolution(hostName))
        receiver.addressResolved(IPv4Address("TCP", hostName, portNumber))
        receiver.resolutionComplete()


@implementer(IReactorPluggableNameResolver)
class _Reactor(MemoryReactorClock):
    """A MemoryReactorClock whose name resolver can be set (Twisted 22.10's cannot)."""

    def __init__(self) -> None:
        super().__init__()
        self.nameResolver: Any = None

    def installNameResolver(self, resolver: Any) -> Any:
        """Use ``resolver``; return the previous one."""
        previous, self.nameResolver = self.nameResolver, resolver
        return previous


class _Base(SynchronousTestCase):
    def setUp(self) -> None:
        self.reactor = _Reactor()
        self.reactor.installNameResolver(LiteralResolver())
        self.fake = FakeConsul(self.reactor, seed=1)
        self.consul = self.fake.client()
        self.factory = Factory.forProtocol(Protocol)

    def register(self, sid: str, port: int, address: str = "10.0.0.1") -> None:
        self.successResultOf(
            self.consul.agent.service.register(
                "web",
                service_id=sid,
                address=address,
                port=port,
            )
        )
        self.reactor.advance(1)

    def endpoint(self, **kw: Any) -> ConsulClientEndpoint:
        cache = HealthCache(self.consul, "web")
        self.addCleanup(cache.stopService)
        kw.setdefault("picker", "round-robin")
        return ConsulClientEndpoint(self.reactor, cache, **kw)

    def attempt(self, n: int) -> tuple[str, int, Any]:
        """The ``n``-th connection attempt: (host, port, factory)."""
        host, port, factory, _, _ = self.reactor.tcpClients[n]
        return host, port, factory

    def succeed_attempt(self, n: int) -> Protocol:
        _, _, factory = self.attempt(n)
        proto = factory.buildProtocol(None)
        proto.makeConnection(StringTransport())
        return proto

    def fail_attempt(self, n: int) -> None:
        _, _, factory = self.attempt(n)
        factory.clientConnectionFailed(self.reactor.connectors[n], Failure(ConnectionRefusedError()))
        # HostnameEndpoint reports the failure from its attempt loop, on the clock.
        self.reactor.advance(1)


class ClientEndpointTests(_Base):
    """ConsulClientEndpoint: resolve, pick, connect, fail over."""

    def test_connects_to_instance(self) -> None:
        """connect() starts the cache, waits for its answer and connects to the instance."""
        self.register("web-1", 8001)
        d = self.endpoint().connect(self.factory)
        self.assertEqual(self.attempt(0)[:2], ("10.0.0.1", 8001))
        proto = self.succeed_attempt(0)
        self.assertIsInstance(self.successResultOf(d), Protocol)
        self.assertTrue(proto.connected)

    def test_for_service(self) -> None:
        """for_service builds the cache from the service arguments and connects through it."""
        self.register("web-1", 8001)
        ep = ConsulClientEndpoint.for_service(
            self.reactor, self.consul, "web", tag=None, passing=False, attempts=2
        )
        self.addCleanup(ep.cache.stopService)
        self.assertEqual((ep.cache.service, ep.cache.passing, ep.attempts), ("web", False, 2))
        ep.connect(self.factory)
        self.assertEqual(self.attempt(0)[:2], ("10.0.0.1", 8001))

    def test_round_robin_spreads(self) -> None:
        """Successive connections go to successive instances."""
        self.register("web-1", 8001)
        self.register("web-2", 8002)
        ep = self.endpoint()
        ports = []
        for n in range(4):
            ep.connect(self.factory)
            ports.append(self.attempt(n)[1])
            self.succeed_attempt(n)
        self.assertEqual(ports, [8001, 8002, 8001, 8002])

    def test_failover_to_next_instance(self) -> None:
        """A refused connection is retried on the next instance."""
        self.register("web-1", 8001)
        self.register("web-2", 8002)
        d = self.endpoint().connect(self.factory)
        self.fail_attempt(0)
        self.assertEqual(self.attempt(1)[1], 8002)
        self.succeed_attempt(1)
        self.successResultOf(d)

    def test_failover_is_bounded(self) -> None:
        """After `attempts` failures connect fails with ServiceUnavailable, listing what was tried."""
        for n in range(4):
            self.register(f"web-{n}", 8000 + n)
        d = self.endpoint(attempts=2).connect(self.factory)
        self.fail_attempt(0)
        self.fail_attempt(1)
        self.assertEqual(len(self.reactor.tcpClients), 2)
        f = self.failureResultOf(d, ServiceUnavailable)
        self.assertIn("2 instance(s)", str(f.value))
        self.assertEqual(f.value.service, "web")
        self.assertEqual(len(f.value.failures), 2)

    def test_no_healthy_instance(self) -> None:
        """With no healthy instance connect fails at once with ServiceUnavailable."""
        d = self.endpoint().connect(self.factory)
        f = self.failureResultOf(d, ServiceUnavailable)
        self.assertIn("no healthy instance", str(f.value))
        self.assertEqual(self.reactor.tcpClients, [])

    def test_ready_timeout(self) -> None:
        """When Consul does not answer, connect fails after ready_timeout."""
        never = Consul("10.255.255.1", 1, reactor=self.reactor, environ={})
        cache = HealthCache(never, "web")
        self.addCleanup(cache.stopService)
        d = ConsulClientEndpoint(self.reactor, cache, ready_timeout=5).connect(self.factory)
        self.reactor.advance(4)
        self.assertNoResult(d)
        self.reactor.advance(1)
        f = self.failureResultOf(d, ServiceUnavailable)
        self.assertIn("within 5", str(f.value))

    def test_ready_timeout_names_last_error(self) -> None:
        """When Consul refuses, the ready timeout's message carries the cache's last error."""
        from txconsul.testing import MemoryAgent

        class Refusing(MemoryAgent):
            def request(self, *args: Any, **kw: Any) -> Any:
                from twisted.internet.defer import fail

                return fail(ConnectionRefusedError("agent down"))

        down = Consul(http_agent=Refusing(self.fake.resource()), reactor=self.reactor, environ={})
        cache = HealthCache(down, "web")
        self.addCleanup(cache.stopService)
        d = ConsulClientEndpoint(self.reactor, cache, ready_timeout=5).connect(self.factory)
        self.reactor.advance(5)
        f = self.failureResultOf(d, ServiceUnavailable)
        self.assertIn("last error", str(f.value))
        self.assertIn("refused", str(f.value).lower())

    def test_cancel_while_connecting(self) -> None:
        """Cancelling connect() aborts the attempt in flight and fails with CancelledError."""
        self.register("web-1", 8001)
        d = self.endpoint().connect(self.factory)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertTrue(self.reactor.connectors[0].stoppedConnecting)

    def test_tls_wraps(self) -> None:
        """With tls=True the connection is TLS, checked against tls_hostname."""
        self.register("web-1", 8001)
        ep = self.endpoint(tls=True, tls_hostname="web.example")
        ep.connect(self.factory)
        _, _, factory = self.attempt(0)
        proto = factory.buildProtocol(None)
        # The protocol built for the connection is a TLS one, for that name.
        names = []
        while proto is not None:
            names.append(type(proto).__name__)
            proto = getattr(proto, "_wrappedProtocol", None) or getattr(proto, "wrappedProtocol", None)
        self.assertTrue([n for n in names if "TLS" in n], names)
        self.assertEqual(ep._creator(ep.cache.value[0])._hostnameASCII, "web.example")

    def test_bad_arguments(self) -> None:
        """Bad endpoint arguments are refused at construction, naming them."""
        cache = HealthCache(self.consul, "web")
        self.assertRaisesRegex(ValueError, "attempts", ConsulClientEndpoint, self.reactor, cache, attempts=0)
        self.assertRaisesRegex(
            ValueError, "connect_timeout", ConsulClientEndpoint, self.reactor, cache, connect_timeout=0
        )
        self.assertRaisesRegex(ValueError, "picker", ConsulClientEndpoint, self.reactor, cache, picker="best")


class ServerEndpointTests(_Base):
    """ConsulServerEndpoint: register while listening."""

    def listen(self, **kw: Any) -> Any:
        wrapped = TCP4ServerEndpoint(self.reactor, 8080)
        ep = ConsulServerEndpoint(wrapped, self.consul, "web", clock=self.reactor, **kw)
        port = self.successResultOf(ep.listen(self.factory))
        self.reactor.advance(0)
        return port

    def test_registers_while_listening(self) -> None:
        """Listening registers name-port with the address and tags given, and a passing TTL check."""
        port = self.listen(tags=["v1"], address="10.0.0.7")
        services = self.fake.agent_state.services
        self.assertIn("web-8080", services)
        _, healthy = self.successResultOf(self.consul.health.service("web", passing=True))
        (entry,) = healthy
        self.assertEqual(
            (entry["Service"]["Port"], entry["Service"]["Address"], entry["Service"]["Tags"]),
            (8080, "10.0.0.7", ["v1"]),
        )
        self.assertEqual(port.getHost().port, 8080)

    def test_heartbeat_keeps_passing(self) -> None:
        """The TTL check stays passing over many TTLs while the port listens."""
        self.listen(ttl="3s")
        self.reactor.advance(1)
        for _ in range(10):
            self.reactor.advance(1)
        _, healthy = self.successResultOf(self.consul.health.service("web", passing=True))
        self.assertEqual(len(healthy), 1)

    def test_stop_deregisters_then_closes(self) -> None:
        """stopListening deregisters the service before the port closes."""
        port = self.listen()
        order = []
        inner_stop = port.port.stopListening

        def stop() -> Any:
            order.append(("closed", "web-8080" in self.fake.agent_state.services))
            return inner_stop()

        port.port.stopListening = stop
        self.successResultOf(port.stopListening())
        self.assertEqual(order, [("closed", False)])

    def test_listen_fires_once_passing(self) -> None:
        """listen() fires once the service is registered and its check passing."""
        wrapped = TCP4ServerEndpoint(self.reactor, 8080)
        ep = ConsulServerEndpoint(wrapped, self.consul, "web", clock=self.reactor)
        self.successResultOf(ep.listen(self.factory))
        _, healthy = self.successResultOf(self.consul.health.service("web", passing=True))
        self.assertEqual([e["Service"]["ID"] for e in healthy], ["web-8080"])

    def test_listen_does_not_wait_forever(self) -> None:
        """With the agent unreachable, listen() fires after registration_timeout; heartbeats go on."""
        never = Consul("10.255.255.1", 1, reactor=self.reactor, environ={})
        wrapped = TCP4ServerEndpoint(self.reactor, 8080)
        ep = ConsulServerEndpoint(wrapped, never, "web", registration_timeout=3)
        d = ep.listen(self.factory)
        self.reactor.advance(2.9)
        self.assertNoResult(d)
        self.reactor.advance(0.1)
        port = self.successResultOf(d)
        self.assertTrue(port.registration.running)
        self.assertFalse(port.registration.registered)

    def test_stop_during_slow_first_registration(self) -> None:
        """Stopping while the first registration is still in flight deregisters after it: nothing is left behind."""
        from twisted.internet.defer import Deferred

        inner = self.fake.agent()

        class Gate:
            held: list[Any] = []

            def request(self, *args: Any) -> Any:
                # Only the very first request (the first registration) is held.
                if self.held:
                    return inner.request(*args)
                d: Deferred = Deferred()
                self.held.append((args, d))
                return d

            def release(self) -> None:
                for args, d in self.held:
                    inner.request(*args).chainDeferred(d)

        gate = Gate()
        slow = Consul(http_agent=gate, reactor=self.reactor, environ={})
        wrapped = TCP4ServerEndpoint(self.reactor, 8080)
        ep = ConsulServerEndpoint(wrapped, slow, "web", registration_timeout=3)
        d = ep.listen(self.factory)
        self.reactor.advance(3)  # listen() stops waiting; the heartbeats register meanwhile
        port = self.successResultOf(d)
        self.assertIn("web-8080", self.fake.agent_state.services)
        stopped = port.stopListening()
        self.assertNoResult(stopped)
        gate.release()
        self.reactor.advance(0)
        self.successResultOf(stopped)
        self.assertNotIn("web-8080", self.fake.agent_state.services)

    def test_bad_name(self) -> None:
        """A server endpoint needs a service name."""
        wrapped = TCP4ServerEndpoint(self.reactor, 8080)
        self.assertRaises(ValueError, ConsulServerEndpoint, wrapped, self.consul, "")


class ParserTests(SynchronousTestCase):
    """The consul: strings, through Twisted's plugin lookup."""

    def setUp(self) -> None:
        self.reactor = MemoryReactorClock()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        env["CONSUL_HTTP_ADDR"] = "10.1.2.3:8501"
        env["CONSUL_HTTP_TOKEN"] = "secret-token"
        self.patch(os, "environ", env)
        self.addCleanup(_parsers._shared.clear)

    def test_client_string(self) -> None:
        """clientFromString reads the service, tags, options and the CONSUL_* agent."""
        ep = clientFromString(
            self.reactor, "consul:web:tag=primary,v2:pick=round-robin:attempts=5:passing=no"
        )
        self.assertIsInstance(ep, ConsulClientEndpoint)
        self.assertEqual(
            (ep.cache.service, ep.cache.tags, ep.cache.passing), ("web", ("primary", "v2"), False)
        )
        self.assertIsInstance(ep.picker, RoundRobinPicker)
        self.assertEqual(ep.attempts, 5)
        self.assertEqual(ep.cache.consul.config.address, "10.1.2.3:8501")
        self.assertEqual(ep.cache.consul.token, "secret-token")
        self.assertNotIn("secret-token", repr(ep) + repr(ep.cache))

    def test_client_defaults_and_sharing(self) -> None:
        """Defaults: random picker, 3 attempts; two strings for one service share a cache."""
        a = clientFromString(self.reactor, "consul:web")
        b = clientFromString(self.reactor, "consul:web:pick=weighted")
        self.assertIsInstance(a.picker, RandomPicker)
        self.assertIsInstance(b.picker, WeightedPicker)
        self.assertEqual(a.attempts, 3)
        self.assertIs(a.cache, b.cache)

    def test_environment_change_gives_new_client(self) -> None:
        """A string parsed after CONSUL_HTTP_ADDR changed uses the new address."""
        a = clientFromString(self.reactor, "consul:web")
        os.environ["CONSUL_HTTP_ADDR"] = "10.4.4.4:8500"
        b = clientFromString(self.reactor, "consul:web")
        self.assertEqual(b.cache.consul.config.address, "10.4.4.4:8500")
        self.assertIsNot(a.cache, b.cache)

    def test_close_shared(self) -> None:
        """close_shared stops the caches the strings made and forgets their clients."""
        ep = clientFromString(self.reactor, "consul:web")
        ep.cache.startService()
        self.successResultOf(close_shared(self.reactor))
        self.assertFalse(ep.cache.running)
        self.assertIsNot(clientFromString(self.reactor, "consul:web").cache, ep.cache)

    def test_shutdown_stops_caches_keeps_client(self) -> None:
        """At reactor shutdown the shared caches stop; the client stays usable for deregistering."""
        ep = clientFromString(self.reactor, "consul:web")
        ep.cache.startService()
        (trigger,) = self.reactor.triggers["before"]["shutdown"]
        callable_, args, kwargs = trigger
        self.successResultOf(callable_(*args, **kwargs))
        self.assertFalse(ep.cache.running)
        self.assertEqual(_parsers._shared, {})

    def test_agent_option(self) -> None:
        """agent= replaces CONSUL_HTTP_ADDR (any of its forms)."""
        ep = clientFromString(self.reactor, r"consul:web:agent=https\://10.9.9.9\:8443")
        self.assertEqual(ep.cache.consul.config.base_url, "https://10.9.9.9:8443")

    def test_client_errors(self) -> None:
        """Bad client strings are ValueErrors naming the problem."""
        for text, what in [
            ("consul:", "service"),
            ("consul:web:colour=red", "colour"),
            ("consul:web:attempts=zero", "attempts"),
            ("consul:web:pick=best", "best"),
            ("consul:web:passing=maybe", "passing"),
            ("consul:web:hostname=x", "tls=yes"),
        ]:
            e = self.assertRaises(ValueError, clientFromString, self.reactor, text)
            self.assertIn(what, str(e), text)

    def test_tls_client_string(self) -> None:
        """tls=yes with trustRoots loads the PEM and wraps connections in TLS."""
        from twisted.test import __file__ as twisted_test

        pem = os.path.join(os.path.dirname(twisted_test), "server.pem")
        ep = clientFromString(self.reactor, f"consul:web:tls=yes:hostname=web.example:trustRoots={pem}")
        self.assertTrue(ep._tls)
        missing = self.assertRaises(
            ValueError, clientFromString, self.reactor, "consul:web:tls=yes:trustRoots=/nonexistent.pem"
        )
        self.assertIn("trustRoots", str(missing))

    def test_server_string(self) -> None:
        """serverFromString wraps the escaped endpoint and reads name, tags, ttl, id."""
        ep = serverFromString(
            self.reactor, r"consul:tcp\:8080\:interface=127.0.0.1:name=web:tags=a,b:ttl=6s:id=w1"
        )
        self.assertIsInstance(ep, ConsulServerEndpoint)
        self.assertIsInstance(ep.wrapped, TCP4ServerEndpoint)
        self.assertEqual((ep.name, ep.tags, ep.ttl, ep.service_id), ("web", ["a", "b"], "6s", "w1"))
        self.assertEqual(ep.consul.config.address, "10.1.2.3:8501")

    def test_server_errors(self) -> None:
        """Bad server strings are ValueErrors naming the problem."""
        for text, what in [
            (r"consul:tcp\:8080", "name="),
            (r"consul:tcp\:8080:name=web:ttl=soon", "ttl"),
            (r"consul:tcp\:8080:name=web:colour=red", "colour"),
            (r"consul:consul\:tcp\\\:80:name=web", "another consul"),
        ]:
            e = self.assertRaises(ValueError, serverFromString, self.reactor, text)
            self.assertIn(what, str(e), text)
