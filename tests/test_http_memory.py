"""
FakeConsul's in-memory client runs the production request path: the client's
own pool, request encoding and response parsing, over an in-memory endpoint
that pumps by itself.  The ``http_agent=`` adapter is tested as such.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import ResponseTooLarge, Timeout
from txconsul.testing import FakeConsul


class MemoryPathTests(SynchronousTestCase):
    """What a unit test's client goes through."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock)

    def test_pool_and_keep_alive(self) -> None:
        """Calls go through the pool and reuse one kept-alive connection."""
        c = self.fake.client()
        self.assertIsNotNone(c.http.pool)
        self.successResultOf(c.kv.put("k", "v"))
        self.assertEqual(self.successResultOf(c.kv.get("k"))[1]["Value"], b"v")
        self.assertEqual(c.http.pool._endpoint.connections, 1)
        self.assertEqual(c.http.pool.connections, 1)

    def test_limits_apply(self) -> None:
        """The response limits apply to the in-memory client: the bytes are parsed for real."""
        c = self.fake.client(max_response_body=100)
        self.successResultOf(c.kv.put("big", "x" * 200))
        f = self.failureResultOf(c.kv.get("big"), ResponseTooLarge)
        self.assertIn("GET /v1/kv/big", str(f.value))
        # the dropped connection is replaced for the next call
        self.successResultOf(c.kv.put("small", "y"))

    def test_blocking_reads_cannot_starve_short_calls(self) -> None:
        """With every non-reserved connection held by long polls, a write still goes through at once."""
        c = self.fake.client(max_connections=3, reserved_connections=1)
        self.successResultOf(c.kv.put("w", "0"))
        index, _ = self.successResultOf(c.kv.get("w"))
        polls = [c.kv.get("w", index=index, wait="5m") for _ in range(5)]
        self.assertEqual(self.fake.pending_queries(), 2)
        self.assertEqual(c.http.pool.queued, 3)
        self.assertEqual(self.successResultOf(c.status.leader()), "127.0.0.1:8300")
        for d in polls:
            self.assertNoResult(d)
        # a write to the watched key wakes the polls, and the queued ones run
        self.successResultOf(c.kv.put("w", "1"))
        for d in polls:
            self.assertEqual(self.successResultOf(d)[1]["Value"], b"1")
        self.assertEqual(c.http.pool.queued, 0)

    def test_cancel_blocking_frees_agent(self) -> None:
        """Cancelling a blocking read closes its connection; the fake stops waiting."""
        c = self.fake.client()
        self.successResultOf(c.kv.put("k", "v"))
        index, _ = self.successResultOf(c.kv.get("k"))
        d = c.kv.get("k", index=index, wait="1m")
        self.assertEqual(self.fake.pending_queries(), 1)
        d.cancel()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.fake.pending_queries(), 0)

    def test_blocking_timeout(self) -> None:
        """A blocking read past wait + wait/16 + 5s fails with Timeout on the fake's clock."""
        c = self.fake.client()
        self.successResultOf(c.kv.put("k", "v"))
        index, _ = self.successResultOf(c.kv.get("k"))
        # the fake answers at wait (+ jitter) itself; make it never answer
        d = c.http.request("GET", "/v1/kv/k", index=index, wait=16.0, timeout=1.0)
        self.clock.advance(1.0)
        self.failureResultOf(d, Timeout)

    def test_close(self) -> None:
        """close() closes the pooled connections, and the server side sees it."""
        c = self.fake.client()
        self.successResultOf(c.kv.put("k", "v"))
        endpoint = c.http.pool._endpoint
        self.assertEqual(endpoint.open_connections, 1)
        self.successResultOf(c.close())
        self.assertEqual(endpoint.open_connections, 0)
        self.assertEqual(c.http.pool.connections, 0)


class AgentAdapterTests(SynchronousTestCase):
    """``http_agent=`` stays a small adapter over any IAgent."""

    def test_adapter(self) -> None:
        """A client given an IAgent has no pool and still works end to end."""
        fake = FakeConsul(Clock())
        c = fake.client(http_agent=fake.agent())
        self.assertIsNone(c.http.pool)
        self.assertTrue(self.successResultOf(c.kv.put("k", "v")))
        self.assertEqual(self.successResultOf(c.kv.get("k"))[1]["Value"], b"v")
        self.successResultOf(c.close())

    def test_not_both(self) -> None:
        """An agent and an endpoint together are refused."""
        from txconsul import Consul

        fake = FakeConsul(Clock())
        self.assertRaises(
            TypeError, Consul, http_agent=fake.agent(), endpoint=fake.endpoint(), reactor=Clock(), environ={}
        )


class ThenTests(SynchronousTestCase):
    """``request(then=...)``: the caller's function of the checked response, on both paths."""

    def both(self) -> list[Any]:
        """A client on the pool path and one on the IAgent path, of one fake."""
        fake = FakeConsul(Clock())
        return [fake.client(), fake.client(http_agent=fake.agent())]

    def test_applied(self) -> None:
        """The Deferred fires with then(response, *then_args), on the pool and the IAgent path."""
        for c in self.both():
            d = c.http.request(
                "GET", "/v1/status/leader", then=lambda r, tag: (tag, r.code), then_args=("x",)
            )
            self.assertEqual(self.successResultOf(d), ("x", 200))

    def test_errors_not_mapped(self) -> None:
        """An exception of then's is the caller's own, never turned into a connection error."""

        def boom(response: object) -> None:
            raise ZeroDivisionError("decoder bug")

        for c in self.both():
            self.failureResultOf(c.http.request("GET", "/v1/status/leader", then=boom), ZeroDivisionError)

    def test_not_applied_to_refusals(self) -> None:
        """A refused answer fails as before; then is not called."""
        from txconsul import NotFound

        called: list[object] = []
        for c in self.both():
            d = c.http.request("PUT", "/v1/agent/service/deregister/nope", then=called.append)
            self.failureResultOf(d, NotFound)
        self.assertEqual(called, [])
