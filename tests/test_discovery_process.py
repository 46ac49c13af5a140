# -*- test-case-name: tests.test_discovery_process -*-
"""
Process-level test of service discovery: two ``twistd web`` servers that
register themselves through the ``consul:`` server endpoint against
``twistd consul-fake``, and a treq client in this process that reaches them
as ``http://web.service.consul/`` through the discovery agent.

Real processes, the real reactor and real time on purpose: what this proves
(the endpoint plugin found by twistd, registration while listening,
deregistration on SIGTERM, traffic following health) only exists between
real processes.  Every wait is bounded, and every process is killed at
cleanup.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from typing import Any

import treq
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater

from txconsul import Consul
from txconsul.discovery import ConsulEndpointFactory, ServiceName

from .processcase import ProcessCase, free_port, listening


class DiscoveryProcessTests(ProcessCase):
    """twistd web --listen consul:..., found and balanced by a treq client."""

    logs = ("fake.log", "A.log", "B.log")

    def setUp(self) -> None:
        super().setUp()
        self.fake_port = free_port()
        self.env["CONSUL_HTTP_ADDR"] = f"127.0.0.1:{self.fake_port}"

    def web(self, name: str) -> tuple[subprocess.Popen, int]:
        """A twistd web server serving a file ``x`` that holds ``name``."""
        root = os.path.join(self.dir, name)
        os.makedirs(root)
        with open(os.path.join(root, "x"), "w") as f:
            f.write(name)
        port = free_port()
        listen = f"consul:tcp\\:{port}\\:interface\\=127.0.0.1:name=web:ttl=6s"
        proc = self.spawn(["web", "--listen", listen, "--path", root], f"{name}.log")
        return proc, port

    @inlineCallbacks
    def get_many(self, agent: Any, n: int) -> Any:
        seen: Counter = Counter()
        for _ in range(n):
            response = yield treq.get("http://web.service.consul/x", agent=agent)
            seen[(yield response.text())] += 1
        return seen

    @inlineCallbacks
    def test_balance_and_follow_health(self) -> None:
        """
        Requests spread over both servers; when one's check goes critical,
        or it is stopped, the next requests all go to the other, after one
        blocking-query answer.
        """
        self.spawn(["consul-fake", "--listen", f"tcp:{self.fake_port}:interface=127.0.0.1"], "fake.log")
        yield self.wait_for(lambda: listening(self.fake_port), "consul-fake to listen")
        a, port_a = self.web("A")
        b, port_b = self.web("B")

        consul = Consul("127.0.0.1", self.fake_port, reactor=reactor, environ={})
        self.addCleanup(consul.close)
        factory = ConsulEndpointFactory(reactor, consul)
        self.addCleanup(factory.stop)
        agent = factory.agent()
        cache = factory.cache_for(ServiceName("web"))
        cache.startService()

        def ports() -> set[int]:
            return {i.port for i in cache.value}

        yield self.wait_for(lambda: ports() == {port_a, port_b}, "both servers registered and passing")
        self.assertEqual((yield self.get_many(agent, 6)), Counter({"A": 3, "B": 3}))

        # Freeze A (so its heartbeat cannot mark it passing again) and fail
        # its check: the cache's blocking query returns with the change.
        a.send_signal(signal.SIGSTOP)
        updates = cache.updates
        yield consul.agent.check.ttl_fail(f"service:web-{port_a}", notes="test")
        yield self.wait_for(lambda: cache.updates > updates, "the cache to see A critical")
        self.assertEqual(cache.updates, updates + 1)
        self.assertEqual(ports(), {port_b})
        self.assertEqual((yield self.get_many(agent, 4)), Counter({"B": 4}))

        # A resumes: its heartbeat makes it passing, and it gets traffic again.
        a.send_signal(signal.SIGCONT)
        yield self.wait_for(lambda: ports() == {port_a, port_b}, "A passing again")
        self.assertEqual((yield self.get_many(agent, 4)), Counter({"A": 2, "B": 2}))

        # Stop B: it deregisters before closing its port.
        updates = cache.updates
        b.send_signal(signal.SIGTERM)
        yield self.wait_for(lambda: b.poll() is not None, "B to exit")
        yield self.wait_for(lambda: ports() == {port_a}, "the cache to drop B")
        self.assertEqual(cache.updates, updates + 1)
        self.assertEqual((yield self.get_many(agent, 3)), Counter({"A": 3}))
        _, entries = yield consul.health.service("web")
        self.assertEqual([e["Service"]["ID"] for e in entries], [f"web-{port_a}"])
        log_b = self.read("B.log")
        self.assertIn("registered service web-", log_b)
        self.assertIn("Server Shut Down.", log_b)
        self.assertNotIn("Traceback", log_b)

    @inlineCallbacks
    def test_server_starts_before_consul(self) -> None:
        """
        A server started while Consul is down listens at once, and registers
        itself (passing) once the agent comes up.
        """
        a, port_a = self.web("A")
        yield self.wait_for(lambda: listening(port_a), "A to listen without Consul")
        yield self.wait_for(
            lambda: "registering service web-" in self.read("A.log"), "A to report the failed registration"
        )
        self.spawn(["consul-fake", "--listen", f"tcp:{self.fake_port}:interface=127.0.0.1"], "fake.log")
        yield self.wait_for(lambda: listening(self.fake_port), "consul-fake to listen")
        consul = Consul("127.0.0.1", self.fake_port, reactor=reactor, environ={})
        self.addCleanup(consul.close)
        healthy: list[Any] = []

        @inlineCallbacks
        def poll() -> Any:
            _, entries = yield consul.health.service("web", passing=True)
            healthy[:] = entries

        end = time.monotonic() + 30
        while not healthy:
            self.assertLess(time.monotonic(), end, "A never registered:\n" + self.read("A.log"))
            yield poll()
            if not healthy:
                yield deferLater(reactor, 0.1, lambda: None)
        self.assertEqual(healthy[0]["Service"]["Port"], port_a)
        self.assertIsNone(a.poll())
