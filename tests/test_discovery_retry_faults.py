# -*- test-case-name: tests.test_discovery_retry_faults -*-
"""
The retry policy against real network faults: a FakeConsul on a loopback
port behind two fault-injecting proxies (tests/faultproxy.py), one per
"agent address".

Real reactor and real sockets on purpose: refused, reset and stalled
connections only exist there.  Backoffs are a few milliseconds; no
assertion depends on how long anything took.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from twisted.web.server import Site

from txconsul import Consul, ConsulConnectionError, Timeout
from txconsul.discovery import Retrying
from txconsul.testing import FakeConsul

from .faultproxy import FaultProxy


class RetryFaultTests(TestCase):
    """Retrying across two proxied agent addresses."""

    timeout = 60

    def setUp(self) -> None:
        self.fake = FakeConsul(reactor)
        self.addCleanup(self.fake.agent_state.stop)
        site = reactor.listenTCP(0, Site(self.fake.resource()), interface="127.0.0.1")
        self.addCleanup(site.stopListening)
        target = ("127.0.0.1", site.getHost().port)
        self.proxies = []
        self.clients = []
        for _ in range(2):
            proxy = FaultProxy(reactor, target)
            proxy.start()
            self.addCleanup(proxy.stop)
            self.proxies.append(proxy)
            client = Consul("127.0.0.1", proxy.port, reactor=reactor, environ={}, timeout=1.0)
            self.addCleanup(client.close)
            self.clients.append(client)
        self.direct = Consul(*target, reactor=reactor, environ={})
        self.addCleanup(self.direct.close)

    def retrying(self, **kw: Any) -> Retrying:
        kw.setdefault("backoff", 0.01)
        kw.setdefault("backoff_cap", 0.05)
        return Retrying(self.clients, clock=reactor, **kw)

    @inlineCallbacks
    def test_refused_agent_fails_over(self) -> None:
        """With the first agent refusing connections, a read is answered by the second."""
        yield self.direct.kv.put("k", b"v")
        yield self.proxies[0].refuse()
        _, entry = yield self.retrying().read(lambda c: c.kv.get("k"))
        self.assertEqual(entry["Value"], b"v")
        self.assertEqual(self.proxies[0].accepted, 0)
        self.assertEqual(self.proxies[1].accepted, 1)

    @inlineCallbacks
    def test_reset_everywhere_then_heal(self) -> None:
        """While both agents reset connections the read keeps retrying; it succeeds once one heals."""
        yield self.direct.kv.put("k", b"v")
        for proxy in self.proxies:
            proxy.reset()
        reads = []

        def read(c: Consul) -> Any:
            reads.append(c)
            return c.kv.get("k")

        d = self.retrying(deadline=20, attempts=None).read(read)
        # Heal once several tries have failed on both agents.
        while len(reads) < 4:
            yield deferLater(reactor, 0.01, lambda: None)
        self.proxies[1].heal()
        _, entry = yield d
        self.assertEqual(entry["Value"], b"v")
        self.assertEqual(set(map(id, reads)), set(map(id, self.clients)))

    @inlineCallbacks
    def test_stalled_agent_times_out_and_fails_over(self) -> None:
        """A blackholed agent makes the read time out, and the retry goes to the other agent."""
        yield self.direct.kv.put("k", b"v")
        self.proxies[0].blackhole(deliver_on_heal=False)
        _, entry = yield self.retrying().read(lambda c: c.kv.get("k"))
        self.assertEqual(entry["Value"], b"v")
        self.assertEqual(self.proxies[1].accepted, 1)

    @inlineCallbacks
    def test_plain_write_not_retried(self) -> None:
        """A plain write through a resetting agent fails once and is not tried again."""
        self.proxies[0].reset()
        with self.assertRaises((ConsulConnectionError, Timeout)):
            yield self.retrying().write(lambda c: c.kv.put("k", b"w"))
        self.assertEqual(self.proxies[1].accepted, 0)
        _, entry = yield self.direct.kv.get("k")
        self.assertIsNone(entry)

    @inlineCallbacks
    def test_cas_write_retried_and_applied_once(self) -> None:
        """A CAS write through a resetting agent is retried on the other and applied once."""
        yield self.direct.kv.put("k", b"old")
        _, entry = yield self.direct.kv.get("k")
        self.proxies[0].reset()
        ok = yield self.retrying().cas_put("k", b"new", entry["ModifyIndex"])
        self.assertIs(ok, True)
        _, entry2 = yield self.direct.kv.get("k")
        self.assertEqual(entry2["Value"], b"new")
