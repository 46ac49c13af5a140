# -*- test-case-name: tests.test_watch -*-
"""
Clock-driven tests of :mod:`txconsul.watch`, against FakeConsul in memory and
against a scripted agent (a tiny twisted.web resource) for the cases a real
agent cannot be made to produce on demand.
"""

from __future__ import annotations

import gc
import json
import random
import weakref
from base64 import b64encode
from typing import Any, Optional
from urllib.parse import parse_qs

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from txconsul import Consul
from txconsul._request import describe
from txconsul.api.catalog import Catalog
from txconsul.api.event import Event
from txconsul.api.health import Health
from txconsul.api.kv import KV
from txconsul.tap.watch import go_handler
from txconsul.testing import FakeConsul, MemoryAgent
from txconsul.watch import (
    RetryPolicy,
    Watch,
    WatchHub,
    build_watch,
    event_id_to_index,
    watch_checks,
    watch_event,
    watch_key,
    watch_keyprefix,
    watch_nodes,
    watch_service,
    watch_services,
)

from .fakecase import FakeConsulCase


class ScriptedAgent(Resource):
    """
    A stand-in agent whose every answer the test gives by hand: requests
    wait in :attr:`pending` until :meth:`answer` is called.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.pending: list[Any] = []
        self.seen: list[tuple[str, dict[str, list[str]], dict[str, str]]] = []
        self.cancelled = 0
        self.agent: Optional[MemoryAgent] = None

    def render(self, request: Any) -> Any:
        query = request.uri.split(b"?", 1)[1].decode() if b"?" in request.uri else ""
        args = parse_qs(query, keep_blank_values=True)
        headers = {k.decode().lower(): v[0].decode() for k, v in request.requestHeaders.getAllRawHeaders()}
        self.seen.append((request.path.decode(), args, headers))
        self.pending.append(request)

        def gone(_: Any) -> None:
            self.cancelled += 1
            if request in self.pending:
                self.pending.remove(request)

        request.notifyFinish().addErrback(gone)
        return NOT_DONE_YET

    def answer(self, code: int = 200, index: Optional[int] = 1, body: Any = None) -> None:
        """Answer the oldest waiting request."""
        request = self.pending.pop(0)
        request.setResponseCode(code)
        if index is not None:
            request.setHeader(b"X-Consul-Index", str(index).encode())
        request.setHeader(b"Content-Type", b"application/json")
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request.write(data)
        request.finish()
        assert self.agent is not None
        self.agent.flush()

    def last_index(self) -> Optional[str]:
        """The ``index`` parameter of the latest request."""
        return self.seen[-1][1].get("index", [None])[0]


def kv_entry(key: str, value: bytes, modify: int) -> dict[str, Any]:
    """A KV entry as Consul's JSON has it."""
    return {
        "LockIndex": 0,
        "Key": key,
        "Flags": 0,
        "Value": b64encode(value).decode(),
        "CreateIndex": modify,
        "ModifyIndex": modify,
    }


class _Base(FakeConsulCase):
    def setUp(self) -> None:
        super().setUp()
        self.calls: list[tuple[int, Any]] = []

    def handler(self, index: int, data: Any) -> None:
        self.calls.append((index, data))

    def put(self, key: str, value: Any) -> None:
        self.successResultOf(self.consul.kv.put(key, value))
        self.clock.advance(0)

    def scripted(self, **kw: Any) -> tuple[ScriptedAgent, Consul]:
        server = ScriptedAgent()
        agent = MemoryAgent(server)
        server.agent = agent
        consul = Consul(http_agent=agent, reactor=self.clock, environ={}, **kw)
        return server, consul

    def stop(self, watch: Watch) -> None:
        self.addCleanup(watch.stopService)


class KeyWatchTests(_Base):
    """The ``key`` watch and the rules every watch follows."""

    def test_initial_fire_existing(self) -> None:
        """The handler fires once at start with the key's current entry, Value as bytes."""
        self.put("foo", b"bar")
        self.stop(watch_key(self.consul, "foo", self.handler))
        self.clock.advance(0)
        self.assertEqual(len(self.calls), 1)
        index, data = self.calls[0]
        self.assertEqual(data["Value"], b"bar")
        self.assertEqual(index, data["ModifyIndex"])

    def test_initial_fire_missing(self) -> None:
        """A missing key fires the handler once with None."""
        self.stop(watch_key(self.consul, "nope", self.handler))
        self.clock.advance(0)
        self.assertEqual([d for _, d in self.calls], [None])

    def test_change_fires(self) -> None:
        """Each real change fires the handler with the new entry and its index."""
        self.stop(watch_key(self.consul, "foo", self.handler))
        self.put("foo", b"1")
        self.put("foo", b"2")
        self.assertEqual([d and d["Value"] for _, d in self.calls], [None, b"1", b"2"])
        self.assertEqual(self.calls[-1][0], self.fake.index)

    def test_timeout_same_index_no_call(self) -> None:
        """A blocking query that times out with the same index does not call the handler."""
        self.put("foo", b"1")
        self.stop(watch_key(self.consul, "foo", self.handler, wait="10s"))
        self.clock.advance(11)
        self.clock.advance(11)
        self.assertEqual(len(self.calls), 1)
        self.assertEqual(self.fake.pending_queries(), 1)

    def test_equal_data_new_index_no_call(self) -> None:
        """An index that moves without a data change (another prefix written) does not call."""
        self.put("a/x", b"1")
        self.stop(watch_keyprefix(self.consul, "a/", self.handler))
        self.put("b/y", b"2")
        self.put("a/x", b"1")  # identical write: Consul skips it
        self.clock.advance(5)
        self.assertEqual(len(self.calls), 1)

    def test_delete_reported(self) -> None:
        """Deleting the key is reported as data None, not swallowed."""
        self.put("foo", b"1")
        self.stop(watch_key(self.consul, "foo", self.handler))
        self.successResultOf(self.consul.kv.delete("foo"))
        self.clock.advance(0)
        self.assertEqual([d and d["Value"] for _, d in self.calls], [b"1", None])

    def test_raw_keeps_base64(self) -> None:
        """raw=True hands over Consul's JSON with Value still base64."""
        self.put("foo", b"bar")
        self.stop(watch_key(self.consul, "foo", self.handler, raw=True))
        self.assertEqual(self.calls[0][1]["Value"], "YmFy")

    def test_handler_mutation_does_not_leak(self) -> None:
        """A handler that mutates its data does not confuse change detection."""
        self.put("foo", b"1")

        def mutate(index: int, data: Any) -> None:
            self.calls.append((index, dict(data)))
            data["Value"] = b"garbage"

        self.stop(watch_key(self.consul, "foo", mutate))
        self.put("other", b"x")
        self.clock.advance(5)
        self.assertEqual(len(self.calls), 1)

    def test_handler_deferred_serialises(self) -> None:
        """The next query waits for a handler's Deferred: no overlap, no queue."""
        waits: list[Deferred] = []
        active = []

        def slow(index: int, data: Any) -> Deferred:
            self.assertEqual(active, [])
            active.append(1)
            d: Deferred = Deferred()
            d.addCallback(lambda _: active.clear())
            waits.append(d)
            return d

        self.stop(watch_key(self.consul, "foo", slow))
        self.assertEqual(len(waits), 1)
        self.put("foo", b"1")
        self.put("foo", b"2")
        self.assertEqual(self.fake.pending_queries(), 0)
        self.assertEqual(len(waits), 1)
        waits[0].callback(None)
        self.clock.advance(0)
        self.assertEqual(len(waits), 2)  # only the latest state, once
        waits[1].callback(None)
        self.clock.advance(0)
        self.assertEqual(self.fake.pending_queries(), 1)

    def test_next_query_follows_the_handler(self) -> None:
        """The loop sends the next query as soon as the handler is done: no timer in between."""
        waits: list[Deferred] = []

        def slow(index: int, data: Any) -> Deferred:
            d: Deferred = Deferred()
            waits.append(d)
            return d

        self.stop(watch_key(self.consul, "foo", slow))
        self.assertEqual(self.fake.pending_queries(), 0)
        waits[0].callback(None)
        self.assertEqual(self.fake.pending_queries(), 1)
        self.put("foo", b"1")
        waits[1].callback(None)
        self.assertEqual(self.fake.pending_queries(), 1)

    def test_handler_exception_does_not_stop(self) -> None:
        """A handler that raises is logged and the watch keeps going."""

        def boom(index: int, data: Any) -> None:
            self.calls.append((index, data))
            raise RuntimeError("boom")

        self.stop(watch_key(self.consul, "foo", boom))
        self.put("foo", b"1")
        self.assertEqual(len(self.calls), 2)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)

    def test_stop_cancels_query(self) -> None:
        """stopService cancels the blocking query in flight and returns at once."""
        w = watch_key(self.consul, "foo", self.handler)
        self.clock.advance(0)
        self.assertEqual(self.fake.pending_queries(), 1)
        self.assertIsNone(w.stopService())
        self.assertEqual(self.fake.pending_queries(), 0)
        self.put("foo", b"1")
        self.clock.advance(400)
        self.assertEqual(len(self.calls), 1)
        self.assertFalse(w.running)

    def test_stop_waits_for_running_handler(self) -> None:
        """stopService during a handler call fires when that call ends."""
        d: Deferred = Deferred()
        w = watch_key(self.consul, "foo", lambda i, x: d)
        stopped = w.stopService()
        self.assertNoResult(stopped)
        d.callback(None)
        self.successResultOf(stopped)

    def test_restart(self) -> None:
        """A stopped watch can be started again and fires with the current state."""
        w = watch_key(self.consul, "foo", self.handler)
        w.stopService()
        self.put("foo", b"1")
        w.startService()
        self.addCleanup(w.stopService)
        self.assertEqual(self.calls[-1][1]["Value"], b"1")

    def test_token_not_in_repr(self) -> None:
        """The ACL token of a watch never shows in its repr."""
        w = Watch(self.consul, "key", self.handler, key="foo", token="s3cret-token")
        self.assertNotIn("s3cret", repr(w))
        self.assertNotIn("s3cret", repr(w.query))

    def test_token_sent(self) -> None:
        """The watch's token is sent as X-Consul-Token, not in the URL."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "foo", self.handler, token="tok"))
        path, args, headers = server.seen[0]
        self.assertEqual(headers["x-consul-token"], "tok")
        self.assertNotIn("token", args)


class IndexHygieneTests(_Base):
    """Index reset, the floor of 1 and the rate limit."""

    def test_backwards_index_resets(self) -> None:
        """When the index goes backwards the next query is sent with index 0 (no index)."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler))
        server.answer(index=50, body=[kv_entry("k", b"a", 50)])
        self.clock.advance(0)
        self.assertEqual(server.last_index(), "50")
        server.answer(index=10, body=[kv_entry("k", b"b", 10)])
        self.clock.advance(0)
        self.assertIsNone(server.last_index())
        self.assertEqual([d["Value"] for _, d in self.calls], [b"a", b"b"])

    def test_index_floor_one(self) -> None:
        """An answer with index 0 makes the next query block on 1, never 0."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler))
        server.answer(code=404, index=0, body=b"")
        self.clock.advance(0)
        self.assertEqual(server.last_index(), "1")
        self.assertEqual(self.calls, [(0, None)])

    def test_rate_limit(self) -> None:
        """A loop whose index keeps moving without a data change queries at most once per min_interval."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler, min_interval=2.0))
        server.answer(index=5, body=[kv_entry("k", b"a", 5)])
        self.clock.advance(0)
        for i in range(6, 10):
            server.answer(index=i, body=[kv_entry("k", b"a", 5)])
            self.clock.advance(0)
            self.assertEqual(server.pending, [])
            self.clock.advance(1.9)
            self.assertEqual(server.pending, [])
            self.clock.advance(0.1)
            self.assertEqual(len(server.pending), 1)
        self.assertEqual(len(self.calls), 1)

    def test_change_not_rate_limited(self) -> None:
        """A real change is followed by the next query at once."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler))
        server.answer(index=5, body=[kv_entry("k", b"a", 5)])
        self.clock.advance(0)
        server.answer(index=6, body=[kv_entry("k", b"b", 6)])
        self.clock.advance(0)
        self.assertEqual(len(server.pending), 1)


class BackoffTests(_Base):
    """Errors never stop a watch."""

    def test_backoff_sequence_and_cap(self) -> None:
        """Retries wait backoff * 2**(n-1), capped (no jitter here)."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler, backoff=1, backoff_cap=10, jitter=0))
        delays = []
        for _ in range(6):
            server.answer(code=500, index=None, body=b"rpc error")
            t0 = self.clock.seconds()
            while not server.pending:
                self.clock.advance(0.5)
            delays.append(self.clock.seconds() - t0)
        self.assertEqual(delays, [1, 2, 4, 8, 10, 10])
        self.assertEqual(self.calls, [])

    def test_default_schedule(self) -> None:
        """By default retries double from 1 s to a 180 s cap, each less up to 20% jitter."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler))
        delays = []
        for _ in range(10):
            server.answer(code=500, index=None, body=b"rpc error")
            t0 = self.clock.seconds()
            while not server.pending:
                self.clock.advance(0.01)
            delays.append(self.clock.seconds() - t0)
        for n, got in enumerate(delays, 1):
            full = min(180, 2 ** (n - 1))
            self.assertTrue(full * 0.8 - 0.02 <= got <= full + 0.02, (n, got))
        self.assertGreater(len(set(round(d, 2) for d in delays[5:])), 1, "no jitter")

    def test_success_resets_failures(self) -> None:
        """After a success the next failure waits the base delay again."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler, jitter=0))
        server.answer(code=500, index=None, body=b"x")
        self.clock.advance(1)
        server.answer(code=500, index=None, body=b"x")
        self.clock.advance(2)
        server.answer(index=3, body=[kv_entry("k", b"a", 3)])
        self.clock.advance(0)
        server.answer(code=500, index=None, body=b"x")
        self.clock.advance(0.9)
        self.assertEqual(server.pending, [])
        self.clock.advance(0.1)
        self.assertEqual(len(server.pending), 1)

    def test_jitter_bounds(self) -> None:
        """With jitter j each delay lies in [d*(1-j), d] and they are not all equal."""
        policy = RetryPolicy(backoff=1, backoff_cap=60, jitter=0.5)
        rng = random.Random(4)
        got = [policy.delay(n, rng) for n in range(1, 12)]
        for n, d in enumerate(got, 1):
            full = min(60, 2 ** (n - 1))
            self.assertTrue(full * 0.5 <= d <= full, (n, d))
        self.assertNotEqual(got[9], got[10])

    def test_bad_policy(self) -> None:
        """Nonsense backoff settings are refused at construction."""
        self.assertRaises(ValueError, RetryPolicy, backoff=0)
        self.assertRaises(ValueError, RetryPolicy, backoff=5, backoff_cap=1)
        self.assertRaises(ValueError, RetryPolicy, jitter=2)

    def test_error_callbacks_and_recovery(self) -> None:
        """on_error sees each failure, on_recover the recovery, and the handler the current state."""
        server, consul = self.scripted()
        errors: list[Any] = []
        recovered: list[int] = []
        self.stop(
            watch_key(
                consul,
                "k",
                self.handler,
                on_error=errors.append,
                on_recover=lambda: recovered.append(1),
            )
        )
        server.answer(index=5, body=[kv_entry("k", b"a", 5)])
        self.clock.advance(0)
        server.answer(code=500, index=None, body=b"down")
        self.clock.advance(5)
        self.assertEqual(len(errors), 1)
        self.assertIsNone(server.last_index())  # index reset: fetch the current state
        server.answer(index=9, body=[kv_entry("k", b"z", 9)])
        self.clock.advance(0)
        self.assertEqual(recovered, [1])
        self.assertEqual(self.calls[-1][1]["Value"], b"z")

    def test_unchanged_after_error_still_fires(self) -> None:
        """The first answer after an error reaches the handler even when unchanged (plan.go: lastParamVal = nil)."""
        server, consul = self.scripted()
        self.stop(watch_key(consul, "k", self.handler))
        server.answer(index=5, body=[kv_entry("k", b"a", 5)])
        self.clock.advance(0)
        server.answer(code=500, index=None, body=b"down")
        self.clock.advance(5)
        server.answer(index=5, body=[kv_entry("k", b"a", 5)])
        self.clock.advance(0)
        self.assertEqual([(i, d["Value"]) for i, d in self.calls], [(5, b"a"), (5, b"a")])
        # ...and then the usual rules again: same index, no call.
        self.clock.advance(1)  # the rate limit: the data did not change
        server.answer(index=5, body=[kv_entry("k", b"a", 5)])
        self.clock.advance(1)
        self.assertEqual(len(self.calls), 2)

    def test_event_after_error_redelivers_buffer(self) -> None:
        """After an error an event watch gets every buffered event again, as Consul's unpruned list."""
        server, consul = self.scripted()
        self.stop(watch_event(consul, self.handler))
        e1 = {"ID": "00000000-0000-0001-0000-000000000003", "Name": "a", "LTime": 1}
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])
        self.clock.advance(0)
        server.answer(code=500, index=None, body=b"down")
        self.clock.advance(5)
        self.assertIsNone(server.last_index())
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])
        self.clock.advance(0)
        self.assertEqual([[e["LTime"] for e in d] for _, d in self.calls], [[1], [1]])

    def test_connection_loss_fake(self) -> None:
        """A connection-level failure is retried; after it the watch is back on FakeConsul."""
        self.put("foo", b"1")
        errors: list[Any] = []
        w = watch_key(self.consul, "foo", self.handler, on_error=errors.append)
        self.stop(w)
        self.clock.advance(0)
        poll = w._poll
        assert poll is not None
        # Fail the in-flight query as a dropped connection would.
        from txconsul._errors import ConsulConnectionError

        current = poll._current
        assert current is not None
        current.errback(ConsulConnectionError("GET /v1/kv/foo: connection lost"))
        self.assertEqual(len(errors), 1)
        self.put("foo", b"2")
        self.clock.advance(5)
        self.assertEqual(self.calls[-1][1]["Value"], b"2")

    def test_404_is_an_error_outside_kv(self) -> None:
        """A 404 from a non-KV endpoint is retried as an error (api requireOK), not reported as null."""
        server, consul = self.scripted()
        errors: list[Any] = []
        self.stop(watch_nodes(consul, self.handler, on_error=errors.append))
        server.answer(code=404, index=3, body=b"not found")
        self.clock.advance(0)
        self.assertEqual((self.calls, len(errors)), ([], 1))

    def test_stop_during_backoff(self) -> None:
        """stopService during a backoff pause cancels it: no more queries."""
        server, consul = self.scripted()
        w = watch_key(consul, "k", self.handler)
        server.answer(code=500, index=None, body=b"x")
        w.stopService()
        self.clock.advance(1000)
        self.assertEqual(len(server.seen), 1)


class SharingTests(_Base):
    """One long-poll per distinct query, fanned out."""

    def test_same_query_one_poll(self) -> None:
        """Two watches on the same key share one blocking query and both get changes."""
        other: list[Any] = []
        self.stop(watch_key(self.consul, "foo", self.handler))
        self.stop(watch_key(self.consul, "foo", lambda i, d: other.append(d)))
        self.clock.advance(0)
        self.assertEqual(self.fake.pending_queries(), 1)
        self.put("foo", b"1")
        self.assertEqual(self.calls[-1][1]["Value"], b"1")
        self.assertEqual(other[-1]["Value"], b"1")
        self.assertEqual(self.fake.pending_queries(), 1)

    def test_different_token_not_shared(self) -> None:
        """Watches with different tokens never share a query."""
        self.stop(watch_key(self.consul, "foo", self.handler, token="a"))
        self.stop(watch_key(self.consul, "foo", self.handler, token="b"))
        self.clock.advance(0)
        self.assertEqual(self.fake.pending_queries(), 2)

    def test_late_joiner_gets_state_without_query(self) -> None:
        """A watch joining a running poll gets the current state at once, with no new request."""
        self.put("foo", b"1")
        w = watch_key(self.consul, "foo", self.handler)
        self.stop(w)
        assert w._poll is not None
        before = w._poll.requests
        other: list[Any] = []
        self.stop(watch_key(self.consul, "foo", lambda i, d: other.append(d)))
        self.assertEqual(other[0]["Value"], b"1")
        self.assertEqual(w._poll.requests, before)

    def test_stop_one_keeps_other(self) -> None:
        """Stopping one sharer leaves the query running for the other."""
        a = watch_key(self.consul, "foo", self.handler)
        b = watch_key(self.consul, "foo", self.handler)
        self.stop(b)
        a.stopService()
        self.clock.advance(0)
        self.assertEqual(self.fake.pending_queries(), 1)
        self.put("foo", b"1")
        self.assertEqual(len(self.calls), 3)

    def test_many_keys_via_prefix(self) -> None:
        """200 key watches served by one keyprefix query; a write fires only its key's handler."""
        seen: dict[str, list[Any]] = {}
        for i in range(200):
            key = f"app/k{i}"
            seen[key] = []
            self.stop(
                watch_key(
                    self.consul,
                    key,
                    lambda idx, d, key=key: seen[key].append(d),
                    via_prefix="app/",
                )
            )
        self.clock.advance(0)
        self.assertEqual(self.fake.pending_queries(), 1)
        self.put("app/k7", b"v")
        self.assertEqual(seen["app/k7"][-1]["Value"], b"v")
        self.assertEqual(sum(len(v) for v in seen.values()), 201)
        self.successResultOf(self.consul.kv.delete("app/k7"))
        self.clock.advance(0)
        self.assertEqual(seen["app/k7"][-1], None)
        self.assertEqual(sum(len(v) for v in seen.values()), 202)

    def test_via_prefix_must_contain_key(self) -> None:
        """via_prefix must be a prefix of the key."""
        self.assertRaises(ValueError, Watch, self.consul, "key", self.handler, key="x/y", via_prefix="app/")


class BuildTests(SynchronousTestCase):
    """Query building and argument validation."""

    def test_paths(self) -> None:
        """Each type builds Consul's path and parameters."""
        cases = [
            (dict(type="key", key="a b/c"), "/v1/kv/a%20b/c", ()),
            (dict(type="keyprefix", prefix="p/"), "/v1/kv/p/", (("recurse", None),)),
            (dict(type="services"), "/v1/catalog/services", ()),
            (dict(type="nodes", filter="Node == x"), "/v1/catalog/nodes", (("filter", "Node == x"),)),
            (
                dict(type="service", service="web/1", tag=["a", "b"], passingonly=True),
                "/v1/health/service/web%2F1",
                (("tag", "a"), ("tag", "b"), ("passing", "1")),
            ),
            (dict(type="checks", service="web"), "/v1/health/checks/web", ()),
            (dict(type="checks"), "/v1/health/state/any", ()),
            (dict(type="checks", state="critical"), "/v1/health/state/critical", ()),
            (dict(type="event", name="deploy"), "/v1/event/list", (("name", "deploy"),)),
        ]
        for kw, path, params in cases:
            q = build_watch(**kw).query  # type: ignore[arg-type]
            self.assertEqual((q.path, q.params), (path, params), kw)

    def test_requests_are_the_clients(self) -> None:
        """Each plan sends the request the matching client method describes."""
        cases = [
            (dict(type="key", key="a"), describe(KV.get, "a")),
            (dict(type="key", key="p/a", via_prefix="p/"), describe(KV.get, "p/", recurse=True)),
            (dict(type="services"), describe(Catalog.services)),
            (
                dict(type="service", service="web", tag="v1", passingonly=True),
                describe(Health.service, "web", tag="v1", passing=True),
            ),
            (dict(type="checks", state="warning"), describe(Health.state, "warning")),
            (dict(type="event", name="deploy"), describe(Event.list, "deploy")),
        ]
        for kw, request in cases:
            sent = build_watch(**kw).query.request  # type: ignore[arg-type]
            self.assertEqual(sent, request._replace(params=tuple(request.params)), kw)

    def test_stale(self) -> None:
        """stale=True asks for stale reads, except for events where it is refused."""
        self.assertEqual(build_watch("key", key="a", stale=True).query.consistency, "stale")
        self.assertRaises(ValueError, build_watch, "event", stale=True)

    def test_invalid(self) -> None:
        """Missing or conflicting parameters raise ValueError naming them."""
        bad = [
            dict(type="nope"),
            dict(type="key"),
            dict(type="keyprefix"),
            dict(type="service"),
            dict(type="checks", service="a", state="passing"),
            dict(type="checks", state="sad"),
            dict(type="key", key="a", prefix="b"),
            dict(type="key", key="a", filter="x"),
            dict(type="event", tag="x"),
        ]
        for kw in bad:
            self.assertRaises(ValueError, build_watch, **kw)  # type: ignore[arg-type]
        e = self.assertRaises(ValueError, build_watch, "key")
        self.assertIn("key", str(e))

    def test_event_id_to_index(self) -> None:
        """event_id_to_index XORs the UUID's halves like Consul's api.Event.IDToIndex."""
        uid = "00000000-0000-0001-0000-000000000003"
        self.assertEqual(event_id_to_index(uid), 1 ^ 3)


class OtherTypesTests(_Base):
    """Catalog, health and event watches, against a scripted agent."""

    def test_services(self) -> None:
        """A services watch fires with the map and then on change only."""
        server, consul = self.scripted()
        self.stop(watch_services(consul, self.handler))
        self.assertEqual(server.seen[0][0], "/v1/catalog/services")
        server.answer(index=3, body={"consul": []})
        self.clock.advance(0)
        server.answer(index=4, body={"consul": []})
        self.clock.advance(1)
        server.answer(index=5, body={"consul": [], "web": ["a"]})
        self.clock.advance(0)
        self.assertEqual([d for _, d in self.calls], [{"consul": []}, {"consul": [], "web": ["a"]}])

    def test_nodes_service_checks_requests(self) -> None:
        """nodes/service/checks watches send the documented requests."""
        server, consul = self.scripted()
        self.stop(watch_nodes(consul, self.handler, dc="dc2", stale=True))
        self.stop(watch_service(consul, "web", self.handler, tag=["x", "y"], passingonly=True))
        self.stop(watch_checks(consul, self.handler, state="critical"))
        paths = {p: a for p, a, _ in server.seen}
        self.assertEqual(paths["/v1/catalog/nodes"], {"dc": ["dc2"], "stale": [""], "wait": ["300000ms"]})
        self.assertEqual(
            paths["/v1/health/service/web"], {"tag": ["x", "y"], "passing": ["1"], "wait": ["300000ms"]}
        )
        self.assertIn("/v1/health/state/critical", paths)

    def test_event_new_only(self) -> None:
        """An event watch gives every buffered event first, then only the new ones, Payload as bytes."""
        server, consul = self.scripted()
        self.stop(watch_event(consul, self.handler, name="deploy"))
        e1 = {
            "ID": "00000000-0000-0001-0000-000000000003",
            "Name": "deploy",
            "Payload": b64encode(b"one").decode(),
            "LTime": 1,
        }
        e2 = {"ID": "00000000-0000-0002-0000-000000000009", "Name": "deploy", "Payload": None, "LTime": 2}
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])
        self.clock.advance(0)
        self.assertEqual(server.last_index(), str(1 ^ 3))
        server.answer(index=event_id_to_index(e2["ID"]), body=[e1, e2])
        self.clock.advance(0)
        self.assertEqual([[e["LTime"] for e in d] for _, d in self.calls], [[1], [2]])
        self.assertEqual(self.calls[0][1][0]["Payload"], b"one")
        # A hashed index that "goes backwards" is not a reset for events.
        self.assertEqual(server.last_index(), str(2 ^ 9))

    def test_event_empty_blocks_on_one(self) -> None:
        """With no events (index 0) the next event query blocks on index 1."""
        server, consul = self.scripted()
        self.stop(watch_event(consul, self.handler))
        server.answer(index=0, body=None)
        self.clock.advance(0)
        self.assertEqual(server.last_index(), "1")
        self.assertEqual(self.calls, [(0, [])])


class FakeCatalogTests(_Base):
    """services/nodes/service/checks/event watches against FakeConsul."""

    def register(self, node: str, service: str, tags: list[str], status: str) -> None:
        self.successResultOf(
            self.consul.catalog.register(
                node,
                "10.0.0.1",
                service={"Service": service, "ID": f"{service}-{node}", "Tags": tags, "Port": 80},
                check={
                    "CheckID": f"c-{service}-{node}",
                    "Name": "c",
                    "Status": status,
                    "ServiceID": f"{service}-{node}",
                },
            )
        )
        self.clock.advance(0)

    def test_services(self) -> None:
        """A services watch sees the consul service, then each new service once."""
        self.stop(watch_services(self.consul, self.handler))
        self.clock.advance(0)
        self.assertEqual(self.calls[0][1], {"consul": []})
        self.register("n1", "web", ["a"], "passing")
        self.assertEqual(self.calls[-1][1], {"consul": [], "web": ["a"]})
        self.assertEqual(len(self.calls), 2)

    def test_nodes(self) -> None:
        """A nodes watch reports a newly registered node."""
        self.stop(watch_nodes(self.consul, self.handler))
        self.clock.advance(0)
        self.register("n2", "db", [], "passing")
        self.assertEqual(sorted(n["Node"] for n in self.calls[-1][1]), ["fake-consul", "n2"])

    def test_service_passing_tags(self) -> None:
        """A service watch with tags and passingonly follows health changes."""
        self.stop(watch_service(self.consul, "web", self.handler, tag=["a"], passingonly=True))
        self.clock.advance(0)
        self.assertEqual(self.calls, [(self.calls[0][0], [])])
        self.register("n1", "web", ["a", "b"], "passing")
        self.register("n2", "web", ["b"], "passing")  # wrong tag
        self.register("n3", "web", ["a"], "critical")  # not passing
        nodes = [e["Node"]["Node"] for e in self.calls[-1][1]]
        self.assertEqual(nodes, ["n1"])
        self.clock.advance(2)
        self.assertEqual(len(self.calls), 2)

    def test_checks_by_state_and_service(self) -> None:
        """checks watches by state and by service see the checks that match."""
        crit: list[Any] = []
        self.stop(watch_checks(self.consul, lambda i, d: crit.append(d), state="critical"))
        self.stop(watch_checks(self.consul, self.handler, service="web"))
        self.clock.advance(0)
        self.register("n1", "web", [], "critical")
        self.assertEqual([c["CheckID"] for c in crit[-1]], ["c-web-n1"])
        self.assertEqual([c["CheckID"] for c in self.calls[-1][1]], ["c-web-n1"])

    def test_event(self) -> None:
        """An event watch gets only the new events, Payload as bytes, filtered by name."""
        self.successResultOf(self.consul.event.fire("deploy", b"v1"))
        self.stop(watch_event(self.consul, self.handler, name="deploy"))
        self.clock.advance(0)
        self.assertEqual([e["Payload"] for e in self.calls[0][1]], [b"v1"])
        self.successResultOf(self.consul.event.fire("other", b"x"))
        self.successResultOf(self.consul.event.fire("deploy", b"v2"))
        self.clock.advance(0)
        self.successResultOf(self.consul.event.fire("deploy", b"v3"))
        self.clock.advance(0)
        self.assertEqual([[e["Payload"] for e in d] for _, d in self.calls], [[b"v1"], [b"v2"], [b"v3"]])


class ConsulWatchShapeTests(_Base):
    """raw=True through go_handler gives the JSON consul watch gives: Go api structs re-encoded."""

    def test_key_go_shape(self) -> None:
        """A key entry comes in api.KVPair field order with "Session": "" added."""
        self.put("foo", b"bar")
        self.stop(watch_key(self.consul, "foo", go_handler("key", self.handler), raw=True))
        self.clock.advance(0)
        data = self.calls[0][1]
        self.assertEqual(
            list(data), ["Key", "CreateIndex", "ModifyIndex", "LockIndex", "Flags", "Value", "Session"]
        )
        self.assertEqual((data["Value"], data["Session"]), ("YmFy", ""))

    def test_keyprefix_go_shape_and_null(self) -> None:
        """A prefix with keys is a list of api.KVPair; an empty prefix is null."""
        self.stop(watch_keyprefix(self.consul, "p/", go_handler("keyprefix", self.handler), raw=True))
        self.clock.advance(0)
        self.put("p/a", b"1")
        self.assertEqual(self.calls[0][1], None)
        self.assertEqual(
            [(e["Key"], e["Value"], e["Session"]) for e in self.calls[1][1]], [("p/a", "MQ==", "")]
        )

    def test_event_go_shape(self) -> None:
        """Events carry every api.UserEvent field in order, zero values filled in."""
        server, consul = self.scripted()
        self.stop(watch_event(consul, go_handler("event", self.handler), raw=True))
        e1 = {"ID": "00000000-0000-0001-0000-000000000003", "Name": "deploy", "LTime": 4}
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])
        self.clock.advance(0)
        self.assertEqual(
            self.calls[0][1],
            [
                {
                    "ID": e1["ID"],
                    "Name": "deploy",
                    "Payload": None,
                    "NodeFilter": "",
                    "ServiceFilter": "",
                    "TagFilter": "",
                    "Version": 0,
                    "LTime": 4,
                }
            ],
        )


class ChecksTagTests(_Base):
    """checks watches filtered by tag (the StateTags / ChecksTags variant)."""

    def register(self, node: str, service: str, tags: list[str], status: str) -> None:
        self.successResultOf(
            self.consul.catalog.register(
                node,
                "10.0.0.1",
                service={"Service": service, "ID": f"{service}-{node}", "Tags": tags, "Port": 80},
                check={
                    "CheckID": f"c-{service}-{node}",
                    "Name": "c",
                    "Status": status,
                    "ServiceID": f"{service}-{node}",
                },
            )
        )
        self.clock.advance(0)

    def test_state_with_tags(self) -> None:
        """By state, only checks whose ServiceTags hold every tag are given."""
        self.stop(watch_checks(self.consul, self.handler, state="critical", tag=["a", "b"]))
        self.clock.advance(0)
        self.register("n1", "web", ["a", "b"], "critical")
        self.register("n2", "web", ["a"], "critical")
        self.register("n3", "db", ["a", "b", "c"], "passing")
        self.assertEqual([[c["CheckID"] for c in d] for _, d in self.calls], [[], ["c-web-n1"]])

    def test_service_with_tag(self) -> None:
        """By service, a single tag string filters too; other changes do not call."""
        self.stop(watch_checks(self.consul, self.handler, service="web", tag="a"))
        self.clock.advance(0)
        self.register("n1", "web", ["b"], "critical")
        self.register("n2", "web", ["a"], "passing")
        self.assertEqual([[c["CheckID"] for c in d] for _, d in self.calls], [[], ["c-web-n2"]])

    def test_tags_share_the_poll(self) -> None:
        """A tag filter runs on the shared answer: no extra long-poll."""
        w1 = watch_checks(self.consul, self.handler, state="any", tag="a")
        w2 = watch_checks(self.consul, self.handler, state="any")
        self.stop(w1)
        self.stop(w2)
        self.assertIs(w1._poll, w2._poll)

    def test_tag_not_for_other_types(self) -> None:
        """tag stays refused where Consul refuses it (nodes, key...)."""
        self.assertRaises(ValueError, build_watch, "nodes", tag="a")
        self.assertRaises(ValueError, build_watch, "key", key="k", tag="a")


class WaitTests(_Base):
    """Every query carries an explicit wait, so client timeouts match the agent's blocking."""

    def test_wait_always_sent(self) -> None:
        """The poll sends the policy's wait, else 10 minutes for events and 5 for the rest."""
        server, consul = self.scripted()
        self.stop(watch_event(consul, self.handler))
        self.stop(watch_nodes(consul, self.handler))
        self.stop(watch_key(consul, "k", self.handler, wait="30s"))
        waits = {p: a.get("wait") for p, a, _ in server.seen}
        self.assertEqual(
            waits,
            {
                "/v1/event/list": ["600000ms"],
                "/v1/catalog/nodes": ["300000ms"],
                "/v1/kv/k": ["30000ms"],
            },
        )

    def test_default_wait_shares_the_poll(self) -> None:
        """A watch without wait= shares the poll of one asking for the default outright."""
        a = watch_nodes(self.consul, self.handler)
        b = watch_nodes(self.consul, self.handler, wait="5m")
        c = watch_event(self.consul, self.handler)
        d = watch_event(self.consul, self.handler, wait="10m")
        for w in (a, b, c, d):
            self.stop(w)
        self.assertIs(a._poll, b._poll)
        self.assertIs(c._poll, d._poll)
        self.assertEqual((a.policy.wait, c.policy.wait), (300.0, 600.0))

    def test_event_watch_blocks_without_timeout(self) -> None:
        """A blocked event list is not timed out client-side before Consul's 600 s answer."""
        server, consul = self.scripted()
        errors: list[Any] = []
        self.stop(watch_event(consul, self.handler, on_error=errors.append))
        e1 = {"ID": "00000000-0000-0001-0000-000000000003", "Name": "a", "LTime": 1}
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])
        self.clock.advance(0)
        self.assertEqual(server.seen[-1][1]["wait"], ["600000ms"])
        self.clock.advance(600)
        self.assertEqual((errors, server.cancelled), ([], 0))
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])  # Consul's 600 s answer
        self.clock.advance(0)
        self.assertEqual([[e["LTime"] for e in d] for _, d in self.calls], [[1]])
        self.assertEqual(len(server.pending), 1)

    def test_idle_event_watch_on_fake(self) -> None:
        """An idle event watch on FakeConsul sees no errors and no re-delivered events for 20 minutes."""
        errors: list[Any] = []
        self.stop(watch_event(self.consul, self.handler, on_error=errors.append))
        self.successResultOf(self.consul.event.fire("deploy", "v1"))
        self.clock.advance(1)
        self.successResultOf(self.consul.event.fire("deploy", "v2"))
        self.clock.advance(1)
        before = list(self.calls)
        for _ in range(40):
            self.clock.advance(30)
        self.assertEqual(errors, [])
        self.assertEqual(self.calls, before)
        self.assertEqual([len(d) for _, d in self.calls], [0, 1, 1])
        self.assertEqual(self.fake.pending_queries(), 1)


class LifecycleTests(_Base):
    """Starting twice, stopping, and what a stopped watch leaves behind."""

    def test_started_twice_subscribes_once(self) -> None:
        """A started watch given to a parent that starts it again delivers each change once."""
        app = MultiService()
        w = watch_key(self.consul, "k", self.handler)
        w.setServiceParent(app)
        app.startService()
        self.addCleanup(app.stopService)
        self.assertEqual(len(w.hub.polls), 1)
        (poll,) = w.hub.polls.values()
        self.assertEqual(len(poll.subs), 1)
        self.put("k", b"v1")
        self.assertEqual([d and d["Value"] for _, d in self.calls], [None, b"v1"])

    def test_started_twice_stops_fully(self) -> None:
        """After a double start one stop unsubscribes: no poll, no query, no more calls."""
        app = MultiService()
        app.startService()
        w = watch_key(self.consul, "k", self.handler)
        w.setServiceParent(app)  # a running parent starts it again
        self.clock.advance(0)
        app.stopService()
        self.clock.advance(0)
        self.assertFalse(w.running)
        self.assertEqual((len(w.hub.polls), self.fake.pending_queries()), (0, 0))
        self.put("k", b"v2")
        self.clock.advance(400)
        self.assertEqual(self.calls, [(self.calls[0][0], None)])

    def test_client_collected_after_stop(self) -> None:
        """A client whose watches stopped is garbage once dropped: its hub does not keep it alive."""
        clock = Clock()
        fake = FakeConsul(clock)
        consul = fake.client()
        watch = watch_key(consul, "k", lambda i, d: None)
        clock.advance(0)
        self.assertIs(WatchHub.for_client(consul), watch.hub)
        watch.stopService()
        ref = weakref.ref(consul)
        del consul, watch, fake
        gc.collect()
        self.assertIsNone(ref())


class UnreadableAnswerTests(_Base):
    """An answer a view cannot read is a failed query: reported, backed off, retried."""

    def test_event_without_id(self) -> None:
        """An event list entry without ID calls on_error, and the watch retries and recovers."""
        server, consul = self.scripted()
        errors: list[Any] = []
        w = watch_event(consul, self.handler, on_error=errors.append, jitter=0)
        self.stop(w)
        e1 = {"ID": "00000000-0000-0001-0000-000000000003", "Name": "a", "LTime": 1}
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])
        self.clock.advance(0)
        server.answer(index=7, body=[{"Name": "x"}])
        self.clock.advance(0)
        self.assertEqual(len(errors), 1)
        self.assertEqual(server.pending, [])  # backing off
        self.clock.advance(1)
        self.assertEqual(len(server.pending), 1)
        self.assertIsNone(server.last_index())
        assert w._poll is not None
        self.assertTrue(w._poll.running)
        server.answer(index=event_id_to_index(e1["ID"]), body=[e1])
        self.clock.advance(0)
        self.assertEqual([[e["LTime"] for e in d] for _, d in self.calls], [[1], [1]])

    def test_wrong_shape_reaches_no_handler(self) -> None:
        """When one sharer's view cannot read an answer, no sharer's handler gets it; all get on_error."""
        server, consul = self.scripted()
        errors: list[Any] = []
        other: list[Any] = []
        self.stop(watch_checks(consul, self.handler, on_error=errors.append, tag="a"))
        self.stop(watch_checks(consul, lambda i, d: other.append(d), on_error=errors.append))
        self.assertEqual(len(server.seen), 1)
        server.answer(index=3, body=["not a check"])
        self.clock.advance(0)
        self.assertEqual((self.calls, other, len(errors)), ([], [], 2))
        self.assertTrue(all(isinstance(f.value, AttributeError) for f in errors))
        self.clock.advance(1)
        server.answer(index=4, body=[])
        self.clock.advance(0)
        self.assertEqual(([d for _, d in self.calls], other), ([[]], [[]]))

    def test_late_joiner_unreadable(self) -> None:
        """A watch joining a poll whose answer its view cannot read gets on_error, not an exception."""
        server, consul = self.scripted()
        self.stop(watch_checks(consul, self.handler))
        server.answer(index=3, body=["not a check"])
        self.clock.advance(0)
        errors: list[Any] = []
        late: list[Any] = []
        self.stop(watch_checks(consul, lambda i, d: late.append(d), tag="a", on_error=errors.append))
        self.assertEqual((late, len(errors)), ([], 1))
        server.answer(index=4, body=[])
        self.clock.advance(0)
        self.assertEqual(late, [[]])
