"""
Tests for :mod:`txconsul._observe`: one structured log event per request
and the metrics hook, against FakeConsul in memory.
"""

from __future__ import annotations

from typing import Any

from twisted.logger import globalLogPublisher

from tests.fakecase import FakeConsulCase
from txconsul import NotFound, Timeout
from txconsul.observe import (
    NAMESPACE,
    RequestEvent,
    endpoint_of,
    request_events,
    request_observer,
    set_request_events,
)


class EndpointTests(FakeConsulCase):
    """endpoint_of gives low-cardinality templates."""

    def test_templates(self) -> None:
        """Keys, names and IDs become {}; operations stay."""
        cases = {
            "/v1/kv/app/config/deep": "/v1/kv/{}",
            "/v1/kv/": "/v1/kv/{}",
            "/v1/health/service/web": "/v1/health/service/{}",
            "/v1/agent/service/register": "/v1/agent/service/register",
            "/v1/agent/service/deregister/web-1": "/v1/agent/service/deregister/{}",
            "/v1/agent/self": "/v1/agent/self",
            "/v1/query/abc-123/execute": "/v1/query/{}/execute",
            "/v1/session/info/0f3e": "/v1/session/info/{}",
            "/v1/txn": "/v1/txn",
            "/v1/status/leader?dc=x": "/v1/status/leader",
            "/v1/unknown/thing/x": "/v1/unknown/{}",
        }
        for path, template in cases.items():
            self.assertEqual(endpoint_of(path), template, path)


class RequestEventTests(FakeConsulCase):
    """Every request emits one event; the observer hook sees them."""

    def setUp(self) -> None:
        super().setUp()
        self.events: list[dict[str, Any]] = []
        self.requests: list[RequestEvent] = []

        def keep(event: dict[str, Any]) -> None:
            if event.get("log_namespace") == NAMESPACE:
                self.events.append(event)

        globalLogPublisher.addObserver(keep)
        self.addCleanup(globalLogPublisher.removeObserver, keep)
        observer = request_observer(self.requests.append)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def test_one_event_per_request(self) -> None:
        """A put and a get give two debug events with method, path, status and size."""
        consul = self.fake.client(token="s3cr3t-token")
        self.ok(consul.kv.put("app/config", b"hello"))
        self.ok(consul.kv.get("app/config"))
        self.assertEqual([e["log_level"].name for e in self.events], ["debug", "debug"])
        put, get = self.requests
        self.assertEqual(
            (put.method, put.path, put.status, put.blocking), ("PUT", "/v1/kv/app/config", 200, False)
        )
        self.assertEqual((get.method, get.endpoint, get.error), ("GET", "/v1/kv/{}", None))
        self.assertIn(put.bytes, (len(b"true"), len(b"true\n")))
        self.assertGreater(get.bytes, len(b"hello"))
        for event in self.events:
            self.assertNotIn("s3cr3t-token", repr(event))

    def test_no_query_in_path(self) -> None:
        """The path has no query string, even with dc, index and wait."""
        self.ok(self.consul.kv.put("k", "v"))
        index, _ = self.ok(self.consul.kv.get("k", dc="dc1"))
        d = self.consul.kv.get("k", index=index, wait="1s")
        self.clock.advance(2)
        self.ok(d)
        blocking = self.requests[-1]
        self.assertEqual(blocking.path, "/v1/kv/k")
        self.assertTrue(blocking.blocking)
        self.assertFalse(self.requests[-2].blocking)
        self.assertGreaterEqual(blocking.duration, 1.0)

    def test_errors(self) -> None:
        """A failed request names its error and its status."""
        self.failureResultOf(self.consul.agent.service.deregister("nope"), NotFound)
        failed = self.requests[-1]
        self.assertEqual((failed.status, failed.error), (404, "NotFound"))
        self.assertEqual(failed.endpoint, "/v1/agent/service/deregister/{}")

    def test_timeout_has_no_status(self) -> None:
        """A request that times out reports Timeout and no status."""
        from twisted.internet.defer import Deferred

        from txconsul._http import HTTPTransport

        class Silent:
            """An IAgent that never answers."""

            def request(self, *args: Any, **kw: Any) -> Deferred:
                return Deferred()

        transport = HTTPTransport("http://127.0.0.1:8500", reactor=self.clock, agent=Silent(), timeout=2.0)
        d = transport.request("GET", "/v1/agent/self")
        self.clock.advance(1)
        self.assertNoResult(d)
        self.clock.advance(1)
        self.failureResultOf(d, Timeout)
        event = self.requests[-1]
        self.assertEqual((event.status, event.error, event.bytes), (None, "Timeout", 0))
        self.assertEqual(event.duration, 2.0)

    def test_observer_failure_contained(self) -> None:
        """A failing metrics callback does not break the request."""

        def boom(event: RequestEvent) -> None:
            raise RuntimeError("metrics backend down")

        observer = request_observer(boom)
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.assertIs(self.ok(self.consul.kv.put("k", "v")), True)
        self.flushLoggedErrors(RuntimeError)

    def test_switched_off(self) -> None:
        """set_request_events(False) stops the events (and the hook's calls); True restores them."""
        self.assertTrue(request_events())
        set_request_events(False)
        self.addCleanup(set_request_events, True)
        self.ok(self.consul.kv.put("k", "v"))
        self.assertEqual((self.events, self.requests), ([], []))
        set_request_events(True)
        self.ok(self.consul.kv.get("k"))
        self.assertEqual(len(self.requests), 1)
