# -*- test-case-name: tests.test_discovery_cache -*-
"""
Clock-driven tests of the discovery caches against FakeConsul in memory:
readiness, diffs, stale-while-erroring, stop and restart.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import fail
from twisted.internet.error import ConnectionRefusedError

from txconsul import Consul
from txconsul.discovery import (
    CacheStopped,
    CatalogCache,
    Diff,
    HealthCache,
    Instance,
    KVCache,
)

from .fakecase import FakeConsulCase


class FlakyAgent:
    """An ``IAgent`` in front of FakeConsul's that refuses connections while ``down``."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = False
        self.requests = 0

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
        self.requests += 1
        if self.down:
            return fail(ConnectionRefusedError("agent down"))
        return self.inner.request(method, uri, headers, bodyProducer)


class _Base(FakeConsulCase):
    def register(self, sid: str, port: int, name: str = "web", **kw: Any) -> None:
        self.ok(
            self.consul.agent.service.register(
                name, service_id=sid, port=port, check=Consul.Check.ttl("1000h"), **kw
            )
        )
        self.set(sid, "passing")

    def set(self, sid: str, status: str) -> None:
        """
        Set a check's status; then let a second pass, so that a watch
        paused by its rate limit (an answer that changed nothing it sees
        came back at once) has asked again.
        """
        self.fake.agent_state.set_status(f"service:{sid}", status, "")
        self.fake.core.changed()
        self.clock.advance(0)
        self.clock.advance(1)

    def started(self, cache: Any) -> Any:
        cache.startService()
        self.addCleanup(cache.stopService)
        self.clock.advance(0)
        return cache

    def diffs(self, cache: Any) -> list[Diff]:
        seen: list[Diff] = []
        cache.on_change(seen.append)
        return seen


class HealthCacheTests(_Base):
    """HealthCache: healthy instances, kept fresh."""

    def test_ready_fires_with_instances(self) -> None:
        """ready() fires with the passing instances once the first answer came."""
        self.register("web-1", 8001)
        cache = HealthCache(self.consul, "web")
        d = cache.ready()
        self.assertNoResult(d)
        self.started(cache)
        value = self.ok(d)
        self.assertEqual([(i.service_id, i.port, i.address) for i in value], [("web-1", 8001, "127.0.0.1")])
        self.assertTrue(cache.is_ready)
        self.assertEqual(cache.value, value)
        self.assertEqual(self.ok(cache.ready()), value)

    def test_critical_instance_left_out(self) -> None:
        """An instance whose check turns critical leaves the value, and comes back when passing."""
        self.register("web-1", 8001)
        self.register("web-2", 8002)
        cache = self.started(HealthCache(self.consul, "web"))
        diffs = self.diffs(cache)
        self.assertEqual(sorted(i.service_id for i in cache.value), ["web-1", "web-2"])
        self.set("web-2", "critical")
        self.assertEqual([i.service_id for i in cache.value], ["web-1"])
        self.assertEqual(list(diffs[-1].removed), [("fake-consul", "web-2")])
        self.assertEqual((diffs[-1].added, diffs[-1].changed), ({}, {}))
        self.set("web-2", "passing")
        self.assertEqual(list(diffs[-1].added), [("fake-consul", "web-2")])
        self.assertEqual(len(diffs), 2)

    def test_warning_kept_without_passing(self) -> None:
        """With passing=False a warning instance stays (status 'warning'), a critical one goes."""
        self.register("web-1", 8001)
        cache = self.started(HealthCache(self.consul, "web", passing=False))
        diffs = self.diffs(cache)
        self.set("web-1", "warning")
        self.assertEqual([i.status for i in cache.value], ["warning"])
        self.assertEqual(list(diffs[-1].changed), [("fake-consul", "web-1")])
        self.set("web-1", "critical")
        self.assertEqual(cache.value, ())

    def test_first_diff_adds_everything(self) -> None:
        """A callback registered before the first answer gets every instance as added."""
        self.register("web-1", 8001)
        cache = HealthCache(self.consul, "web")
        diffs = self.diffs(cache)
        self.started(cache)
        self.assertEqual(len(diffs), 1)
        self.assertEqual(list(diffs[0].added), [("fake-consul", "web-1")])
        self.assertIsInstance(diffs[0].added[("fake-consul", "web-1")], Instance)

    def test_callback_added_on_ready_gets_later_changes_only(self) -> None:
        """A callback added when ready() fires gets the next change, not the first answer again."""
        self.register("web-1", 8001)
        cache = HealthCache(self.consul, "web")
        seen: list[Diff] = []
        cache.ready().addCallback(lambda _: cache.on_change(seen.append))
        self.started(cache)
        self.assertEqual(seen, [])
        self.register("web-2", 8002)
        self.assertEqual([list(d.added) for d in seen], [[("fake-consul", "web-2")]])

    def test_changed_port_is_a_change(self) -> None:
        """Re-registering an instance on another port gives a 'changed' diff with the new instance."""
        self.register("web-1", 8001)
        cache = self.started(HealthCache(self.consul, "web"))
        diffs = self.diffs(cache)
        self.register("web-1", 9001)
        self.assertEqual(diffs[-1].changed[("fake-consul", "web-1")].port, 9001)
        self.assertFalse(diffs[-1].added or diffs[-1].removed)

    def test_tag_filter(self) -> None:
        """Only instances with every tag asked for are in the value."""
        self.register("web-1", 8001, tags=["primary"])
        self.register("web-2", 8002, tags=["secondary"])
        cache = self.started(HealthCache(self.consul, "web", tag="primary"))
        self.assertEqual([i.service_id for i in cache.value], ["web-1"])

    def test_weights_and_meta_read(self) -> None:
        """Instances carry Consul's Weights, tags and meta."""
        self.ok(
            self.consul.catalog.register(
                "n1",
                "10.0.0.1",
                service={
                    "Service": "web",
                    "ID": "w",
                    "Port": 1,
                    "Tags": ["a"],
                    "Meta": {"v": "2"},
                    "Weights": {"Passing": 5, "Warning": 2},
                },
            )
        )
        cache = self.started(HealthCache(self.consul, "web"))
        (inst,) = cache.value
        self.assertEqual(
            (inst.weights, inst.weight, inst.tags, dict(inst.meta), inst.address),
            ((5, 2), 5, ("a",), {"v": "2"}, "10.0.0.1"),
        )

    def test_near_follows_with_blocking_reads(self) -> None:
        """With near= the cache follows the service too (its own blocking reads), sending near."""
        self.register("web-1", 8001)
        cache = self.started(HealthCache(self.consul, "web", near="_agent"))
        self.assertEqual([i.service_id for i in cache.value], ["web-1"])
        self.register("web-2", 8002)
        self.assertEqual(sorted(i.service_id for i in cache.value), ["web-1", "web-2"])
        self.set("web-1", "critical")
        self.assertEqual([i.service_id for i in cache.value], ["web-2"])

    def test_stale_while_erroring(self) -> None:
        """While the agent is unreachable the last value stays, with the error and its age."""
        flaky = FlakyAgent(self.fake.agent())
        consul = Consul(http_agent=flaky, reactor=self.clock, environ={})
        self.register("web-1", 8001)
        cache = self.started(HealthCache(consul, "web"))
        self.assertFalse(cache.stale)
        self.assertEqual(cache.age, 0)
        flaky.down = True
        self.register("web-2", 8002)  # wakes the blocking query, which retries: refused
        self.clock.advance(2)
        self.assertTrue(cache.stale)
        self.assertIsInstance(cache.error.value, Exception)
        self.assertIn("refused", cache.error.getErrorMessage().lower())
        self.assertEqual([i.service_id for i in cache.value], ["web-1"])
        self.clock.advance(10)
        self.assertGreaterEqual(cache.age, 12)
        self.assertGreaterEqual(cache.error_age, 10)
        flaky.down = False
        self.clock.advance(200)  # the next retry gets through
        self.assertFalse(cache.stale)
        self.assertIsNone(cache.error_age)
        self.assertEqual(sorted(i.service_id for i in cache.value), ["web-1", "web-2"])

    def test_near_stale_and_recovery(self) -> None:
        """The near= follower keeps its value through errors, backs off, and recovers."""
        flaky = FlakyAgent(self.fake.agent())
        consul = Consul(http_agent=flaky, reactor=self.clock, environ={})
        self.register("web-1", 8001)
        cache = self.started(HealthCache(consul, "web", near="_agent"))
        flaky.down = True
        self.register("web-2", 8002)
        self.assertTrue(cache.stale)
        self.assertEqual([i.service_id for i in cache.value], ["web-1"])
        requests = flaky.requests
        self.clock.advance(0.7)  # the first retry waits 0.8 to 1 s
        self.assertEqual(flaky.requests, requests)
        self.clock.advance(0.3)
        self.assertEqual(flaky.requests, requests + 1)
        flaky.down = False
        self.clock.advance(2)
        self.assertFalse(cache.stale)
        self.assertEqual(sorted(i.service_id for i in cache.value), ["web-1", "web-2"])

    def test_ready_waits_through_errors(self) -> None:
        """ready() does not fail while the agent is down; it fires on the first answer."""
        flaky = FlakyAgent(self.fake.agent())
        flaky.down = True
        consul = Consul(http_agent=flaky, reactor=self.clock, environ={})
        cache = self.started(HealthCache(consul, "web"))
        d = cache.ready()
        self.clock.advance(5)
        self.assertNoResult(d)
        self.assertTrue(cache.stale)
        flaky.down = False
        self.clock.advance(200)
        self.assertEqual(self.ok(d), ())

    def test_stop_fails_waiting_ready_and_cancels_query(self) -> None:
        """stopService fails pending ready() with CacheStopped and leaves no query waiting."""
        flaky = FlakyAgent(self.fake.agent())
        flaky.down = True
        consul = Consul(http_agent=flaky, reactor=self.clock, environ={})
        cache = HealthCache(consul, "web")
        cache.startService()
        d = cache.ready()
        cache.stopService()
        self.failureResultOf(d, CacheStopped)
        self.assertFalse(cache.running)
        requests = flaky.requests
        self.clock.advance(1000)
        self.assertEqual(flaky.requests, requests)

    def test_stop_keeps_value_and_restart_diffs(self) -> None:
        """A stopped cache keeps its value; restarted, it reports only what changed meanwhile."""
        self.register("web-1", 8001)
        cache = self.started(HealthCache(self.consul, "web"))
        cache.stopService()
        self.assertEqual(self.fake.pending_queries(), 0)
        self.register("web-2", 8002)
        self.assertEqual(len(cache.value), 1)
        diffs = self.diffs(cache)
        cache.startService()
        self.clock.advance(0)
        self.assertEqual(list(diffs[-1].added), [("fake-consul", "web-2")])
        self.assertEqual(len(diffs), 1)

    def test_new_order_updates_value_without_diff(self) -> None:
        """An answer with the same instances in a new order (near=) updates the value, with no callback."""

        def entry(sid: str) -> dict[str, Any]:
            return {
                "Node": {"Node": "n", "Address": "10.0.0.1"},
                "Service": {"ID": sid, "Service": "web", "Port": 1},
                "Checks": [],
            }

        cache = HealthCache(self.consul, "web", near="_agent")
        diffs = self.diffs(cache)
        cache._handle(5, [entry("a"), entry("b")])
        cache._handle(6, [entry("b"), entry("a")])
        self.assertEqual([i.service_id for i in cache.value], ["b", "a"])
        self.assertEqual((len(diffs), cache.updates, cache.index), (1, 1, 6))

    def test_unreadable_answer_is_an_error(self) -> None:
        """An answer the cache cannot read marks it stale and keeps the value."""
        self.register("web-1", 8001)
        cache = self.started(HealthCache(self.consul, "web"))
        cache._handle(99, [{"Service": {"Port": "not a number"}}])
        self.assertTrue(cache.stale)
        self.assertEqual([i.service_id for i in cache.value], ["web-1"])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    def test_callback_removal_and_failure(self) -> None:
        """A removed callback is not called; a failing one does not stop the others."""
        self.register("web-1", 8001)
        cache = self.started(HealthCache(self.consul, "web"))
        seen: list[Diff] = []

        def broken(diff: Diff) -> None:
            raise RuntimeError("boom")

        cache.on_change(broken)
        remove = cache.on_change(seen.append)
        self.register("web-2", 8002)
        self.assertEqual(len(seen), 1)
        remove()
        self.register("web-3", 8003)
        self.assertEqual(len(seen), 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 2)

    def test_shares_long_poll(self) -> None:
        """Two caches of the same service share one blocking query."""
        self.register("web-1", 8001)
        self.started(HealthCache(self.consul, "web"))
        self.started(HealthCache(self.consul, "web"))
        self.assertEqual(self.fake.pending_queries(), 1)

    def test_bad_arguments(self) -> None:
        """Bad arguments fail at construction, naming the argument."""
        self.assertRaisesRegex(ValueError, "service", HealthCache, self.consul, "")
        self.assertRaisesRegex(ValueError, "near", HealthCache, self.consul, "web", near="")
        self.assertRaises(TypeError, HealthCache, self.consul, "web", tag=[1])
        self.assertRaisesRegex(ValueError, "wait", HealthCache, self.consul, "web", wait="forever")


class KVCacheTests(_Base):
    """KVCache: one key or a prefix."""

    def put(self, key: str, value: bytes) -> None:
        self.ok(self.consul.kv.put(key, value))
        self.clock.advance(1)

    def test_key(self) -> None:
        """A key cache holds the entry (bytes Value) or None, and diffs by key."""
        cache = self.started(KVCache(self.consul, "app/config"))
        self.assertIsNone(self.ok(cache.ready()))
        diffs = self.diffs(cache)
        self.put("app/config", b"v1")
        self.assertEqual(cache.value["Value"], b"v1")
        self.assertEqual(list(diffs[-1].added), ["app/config"])
        self.ok(self.consul.kv.delete("app/config"))
        self.clock.advance(1)
        self.assertIsNone(cache.value)
        self.assertEqual(list(diffs[-1].removed), ["app/config"])

    def test_prefix_diff(self) -> None:
        """A prefix cache reports only the keys added, changed and removed."""
        self.put("app/a", b"1")
        self.put("app/b", b"2")
        cache = self.started(KVCache(self.consul, prefix="app/"))
        self.assertEqual(list(cache.value), ["app/a", "app/b"])
        diffs = self.diffs(cache)
        self.put("app/b", b"3")
        self.assertEqual((list(diffs[-1].changed), diffs[-1].added, diffs[-1].removed), (["app/b"], {}, {}))
        self.assertEqual(diffs[-1].changed["app/b"]["Value"], b"3")
        self.put("app/c", b"4")
        self.assertEqual(list(diffs[-1].added), ["app/c"])
        self.ok(self.consul.kv.delete("app/a"))
        self.clock.advance(1)
        self.assertEqual(diffs[-1].removed["app/a"]["Value"], b"1")
        self.assertEqual(cache.get("app/c")["Value"], b"4")
        self.assertEqual(len(diffs), 3)

    def test_needs_one_of_key_or_prefix(self) -> None:
        """KVCache with both or neither of key and prefix is a ValueError."""
        self.assertRaises(ValueError, KVCache, self.consul)
        self.assertRaises(ValueError, KVCache, self.consul, "a", prefix="b")


class CatalogCacheTests(_Base):
    """CatalogCache: services or nodes."""

    def test_services(self) -> None:
        """The services cache maps names to tags, and diffs by service name."""
        cache = self.started(CatalogCache(self.consul))
        self.assertEqual(cache.value, {"consul": []})
        diffs = self.diffs(cache)
        self.register("web-1", 8001, tags=["x"])
        self.assertEqual(cache.value["web"], ["x"])
        self.assertEqual(diffs[-1].added, {"web": ["x"]})
        self.ok(self.consul.agent.service.deregister("web-1"))
        self.clock.advance(0)
        self.assertEqual(list(diffs[-1].removed), ["web"])

    def test_nodes(self) -> None:
        """The nodes cache maps node names to nodes."""
        cache = self.started(CatalogCache(self.consul, "nodes"))
        self.assertEqual(list(cache.value), ["fake-consul"])
        diffs = self.diffs(cache)
        self.ok(self.consul.catalog.register("other", "10.0.0.2"))
        self.clock.advance(0)
        self.assertEqual(diffs[-1].added["other"]["Address"], "10.0.0.2")

    def test_bad_what(self) -> None:
        """An unknown catalog view is a ValueError naming it."""
        self.assertRaisesRegex(ValueError, "checks", CatalogCache, self.consul, "checks")
