# -*- test-case-name: tests.test_discovery_retry -*-
"""
Clock-driven tests of the opt-in retry policy, against a scripted agent in
memory: which errors are retried, the backoff schedule, the deadline, writes
and CAS, failover across agents, cancellation.
"""

from __future__ import annotations

import json
import random
from typing import Any, Union

from twisted.internet.defer import CancelledError, fail
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

from txconsul import (
    ACLPermissionDenied,
    ClientError,
    Consul,
    ConsulConnectionError,
    ConsulException,
    NotFound,
    Timeout,
)
from txconsul.discovery import Retrying, is_retryable
from txconsul.testing import MemoryAgent

Step = Union[int, str]


class ScriptedConsul(Resource):
    """
    Answers each request with the next status of ``script`` (200 when it is
    exhausted): a KV read gives one entry, a write ``true``.
    """

    isLeaf = True

    def __init__(self, script: list[Step]) -> None:
        super().__init__()
        self.script = script
        self.hits: list[tuple[bytes, bytes]] = []
        self.args: list[dict[bytes, list[bytes]]] = []

    def render(self, request: Any) -> bytes:
        self.hits.append((request.method, request.path))
        self.args.append(dict(request.args))
        code = self.script.pop(0) if self.script else 200
        request.setResponseCode(int(code))
        request.setHeader(b"X-Consul-Index", b"7")
        request.setHeader(b"Content-Type", b"application/json")
        if code != 200:
            return b"scripted failure"
        if request.method == b"GET":
            return json.dumps(
                [
                    {
                        "Key": "k",
                        "Value": "dg==",
                        "Flags": 0,
                        "LockIndex": 0,
                        "CreateIndex": 7,
                        "ModifyIndex": 7,
                    }
                ]
            ).encode()
        return b"true"


class ScriptedAgent:
    """An ``IAgent`` that refuses the connection when the script says ``'refuse'``."""

    def __init__(self, server: ScriptedConsul) -> None:
        self.server = server
        self.inner = MemoryAgent(server)
        self.refused = 0

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
        if self.server.script and self.server.script[0] == "refuse":
            self.server.script.pop(0)
            self.refused += 1
            return fail(ConnectionRefusedError("scripted refusal"))
        return self.inner.request(method, uri, headers, bodyProducer)


class RetryTests(SynchronousTestCase):
    """Retrying: reads, writes, deadline, failover."""

    def setUp(self) -> None:
        self.clock = Clock()

    def agent(self, *script: Step) -> tuple[ScriptedConsul, ScriptedAgent, Consul]:
        server = ScriptedConsul(list(script))
        agent = ScriptedAgent(server)
        return server, agent, Consul(http_agent=agent, reactor=self.clock, environ={})

    def retrying(self, clients: Any, **kw: Any) -> Retrying:
        kw.setdefault("jitter", 0)
        return Retrying(clients, clock=self.clock, rng=random.Random(1), **kw)

    def test_read_retried_on_5xx_429_and_refusal(self) -> None:
        """A read is retried after 500, 429 and a refused connection, waiting 0.1, 0.2, 0.4 s."""
        server, agent, c = self.agent(500, 429, "refuse")
        d = self.retrying(c).read(lambda c: c.kv.get("k"))
        self.assertEqual(len(server.hits), 1)
        self.clock.advance(0.099)
        self.assertEqual(len(server.hits), 1)
        self.clock.advance(0.001)
        self.assertEqual(len(server.hits), 2)
        self.clock.advance(0.2)
        self.assertEqual(agent.refused, 1)
        self.assertNoResult(d)
        self.clock.advance(0.4)
        index, entry = self.successResultOf(d)
        self.assertEqual((index, entry["Value"]), (7, b"v"))
        self.assertEqual(len(server.hits), 3)

    def test_not_retried_on_client_errors(self) -> None:
        """403 and 400 are not retried: the error comes at once."""
        server, _, c = self.agent(403)
        d = self.retrying(c).read(lambda c: c.kv.get("k"))
        self.failureResultOf(d, ACLPermissionDenied)
        self.assertEqual(len(server.hits), 1)

    def test_deadline(self) -> None:
        """No try starts after the deadline; the last error is raised."""
        server, _, c = self.agent(*([503] * 100))
        d = self.retrying(c, deadline=1.0, attempts=None, backoff_cap=0.4).read(lambda c: c.kv.get("k"))
        self.clock.pump([0.1] * 20)
        f = self.failureResultOf(d, ConsulException)
        self.assertEqual(f.value.status, 503)
        # tries at 0, 0.1, 0.3, 0.7; the next wait (0.4) would start at 1.1.
        self.assertEqual(len(server.hits), 4)

    def test_attempts(self) -> None:
        """At most `attempts` tries."""
        server, _, c = self.agent(*([500] * 10))
        d = self.retrying(c, attempts=3).read(lambda c: c.kv.get("k"))
        self.clock.pump([1] * 10)
        self.failureResultOf(d, ConsulException)
        self.assertEqual(len(server.hits), 3)

    def test_jitter_shortens_waits(self) -> None:
        """With jitter each wait is a random part of the backoff, within bounds."""
        _, _, c = self.agent()
        r = Retrying(c, clock=self.clock, jitter=0.5, backoff=1, backoff_cap=8, rng=random.Random(5))
        for n, full in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
            for _ in range(20):
                self.assertTrue(full * 0.5 <= r.delay(n) <= full)

    def test_write_not_retried_unless_asked(self) -> None:
        """A write is tried once; with idempotent=True it is retried."""
        server, _, c = self.agent(500, 500)
        d = self.retrying(c).write(lambda c: c.kv.put("k", "v"))
        self.failureResultOf(d, ConsulException)
        self.assertEqual(len(server.hits), 1)
        d = self.retrying(c).write(lambda c: c.kv.put("k", "v"), idempotent=True)
        self.clock.advance(1)
        self.assertIs(self.successResultOf(d), True)
        self.assertEqual(len(server.hits), 3)

    def test_cas_put_and_delete_retried(self) -> None:
        """cas_put and cas_delete retry, sending the cas index each time."""
        server, _, c = self.agent(502, 500)
        r = self.retrying(c)
        d = r.cas_put("k", "v", 7)
        self.clock.pump([0.5] * 4)
        self.assertIs(self.successResultOf(d), True)
        self.assertEqual([m for m, _ in server.hits], [b"PUT", b"PUT", b"PUT"])
        d = r.cas_delete("k", 7)
        self.clock.advance(1)
        self.assertIs(self.successResultOf(d), True)
        self.assertEqual(server.hits[-1][0], b"DELETE")
        self.assertEqual({tuple(a[b"cas"]) for a in server.args}, {(b"7",)})

    def test_cas_must_be_an_index(self) -> None:
        """cas_put refuses a cas that is not an index, before any request."""
        server, _, c = self.agent()
        r = self.retrying(c)
        self.assertRaisesRegex(ValueError, "cas", r.cas_put, "k", "v", None)
        self.assertRaisesRegex(ValueError, "cas", r.cas_delete, "k", -1)
        self.assertEqual(server.hits, [])

    def test_failover_across_agents(self) -> None:
        """A refused connection moves to the next agent at once; later calls start there."""
        s1, a1, c1 = self.agent("refuse", "refuse")
        s2, _, c2 = self.agent()
        r = self.retrying([c1, c2])
        _, entry = self.successResultOf(r.read(lambda c: c.kv.get("k")))
        self.assertEqual(entry["Value"], b"v")
        self.assertEqual((a1.refused, len(s2.hits)), (1, 1))
        self.successResultOf(r.read(lambda c: c.kv.get("k")))
        self.assertEqual((a1.refused, len(s2.hits)), (1, 2))

    def test_all_agents_down_backs_off(self) -> None:
        """When every agent refused, the next round waits for the backoff."""
        _, a1, c1 = self.agent("refuse", "refuse")
        _, a2, c2 = self.agent("refuse")
        d = self.retrying([c1, c2]).read(lambda c: c.kv.get("k"))
        self.assertEqual((a1.refused, a2.refused), (1, 1))
        self.clock.advance(0.099)
        self.assertEqual(a1.refused, 1)
        self.clock.advance(0.001)
        self.assertEqual(a1.refused, 2)
        self.successResultOf(d)  # then agent 2 answers

    def test_cancel_during_backoff(self) -> None:
        """Cancelling while waiting stops retrying: CancelledError, no further request."""
        server, _, c = self.agent(500, 500)
        d = self.retrying(c).read(lambda c: c.kv.get("k"))
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.clock.advance(10)
        self.assertEqual(len(server.hits), 1)

    def test_is_retryable(self) -> None:
        """Connection errors, timeouts, 5xx and 429 are retryable; other errors are not."""
        self.assertTrue(is_retryable(ConsulConnectionError("x")))
        self.assertTrue(is_retryable(Timeout("x")))
        self.assertTrue(is_retryable(ConsulException("x", status=503)))
        self.assertTrue(is_retryable(ClientError("x", status=429)))
        self.assertFalse(is_retryable(ClientError("x", status=409)))
        self.assertFalse(is_retryable(NotFound("x", status=404)))
        self.assertFalse(is_retryable(ValueError("x")))

    def test_bad_arguments(self) -> None:
        """Bad policy arguments are refused, naming them."""
        _, _, c = self.agent()
        for kw, what in [
            ({"backoff": 0}, "backoff"),
            ({"jitter": 2}, "jitter"),
            ({"deadline": -1}, "deadline"),
            ({"attempts": 0}, "attempts"),
            ({"deadline": None, "attempts": None}, "deadline"),
        ]:
            self.assertRaisesRegex(ValueError, what, Retrying, c, clock=self.clock, **kw)
        self.assertRaises(ValueError, Retrying, [], clock=self.clock)
