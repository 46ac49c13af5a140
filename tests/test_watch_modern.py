"""
Tests of the watch types for Consul's agent-local and Connect views:
``agent_service`` (hash-based blocking), ``connect_roots`` and
``connect_leaf`` -- against FakeConsul in memory, on a Clock, and their
``twistd consul-watch`` options.
"""

from __future__ import annotations

from typing import Any

from twisted.python import usage

from txconsul.tap import watch as tap
from txconsul.watch import (
    WATCH_TYPES,
    Watch,
    build_watch,
    watch_agent_service,
    watch_connect_leaf,
    watch_connect_roots,
)

from .fakecase import FakeConsulCase


class Recorder:
    """A handler that records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []

    def __call__(self, index: Any, data: Any) -> None:
        self.calls.append((index, data))


class PlanTests(FakeConsulCase):
    """The plans: each type's request comes from the client's own method, parameters are checked."""

    def test_types_listed(self) -> None:
        """The new types are in WATCH_TYPES."""
        for t in ("agent_service", "connect_roots", "connect_leaf"):
            self.assertIn(t, WATCH_TYPES)

    def test_requests(self) -> None:
        """Each plan reads what agent.service.get / agent.connect.ca.roots / .leaf read."""
        self.assertEqual(build_watch("agent_service", service_id="web").query.path, "/v1/agent/service/web")
        self.assertEqual(build_watch("agent_service", service_id="web").query.kind, "hash")
        self.assertEqual(build_watch("connect_roots").query.path, "/v1/agent/connect/ca/roots")
        self.assertEqual(
            build_watch("connect_leaf", service="web").query.path, "/v1/agent/connect/ca/leaf/web"
        )

    def test_parameters_checked(self) -> None:
        """Missing IDs and parameters Consul's plans refuse (stale, filter) are errors naming them."""
        self.assertRaises(ValueError, build_watch, "agent_service")
        self.assertRaises(ValueError, build_watch, "connect_leaf")
        err = self.assertRaises(ValueError, build_watch, "connect_roots", stale=True)
        self.assertIn("stale", str(err))
        self.assertRaises(ValueError, build_watch, "agent_service", service_id="web", filter="x")
        self.assertRaises(ValueError, build_watch, "service", service="web", service_id="web")


class AgentServiceWatchTests(FakeConsulCase):
    """agent_service: blocks on ContentHash, fires on each change of the definition."""

    def setUp(self) -> None:
        super().setUp()
        self.ok(self.consul.agent.service.register("web", port=80))

    def test_initial_and_changes(self) -> None:
        """The first answer, then one call per change; index 0 as Consul's hash watches give."""
        rec = Recorder()
        w = watch_agent_service(self.consul, "web", rec, clock=self.clock)
        self.clock.advance(0)
        self.assertEqual(len(rec.calls), 1)
        index, data = rec.calls[0]
        self.assertEqual(index, 0)
        self.assertEqual(data["Port"], 80)
        # Waiting on the hash: nothing more while nothing changes.
        self.clock.advance(60)
        self.assertEqual(len(rec.calls), 1)
        self.ok(self.consul.agent.service.register("web", port=81))
        self.clock.advance(1)
        self.assertEqual(len(rec.calls), 2)
        self.assertEqual(rec.calls[1][1]["Port"], 81)
        w.stopService()

    def test_sends_hash(self) -> None:
        """After the first answer the poll sends ?hash= with the last ContentHash and a wait."""
        rec = Recorder()
        w = watch_agent_service(self.consul, "web", rec, clock=self.clock, wait="30s")
        self.clock.advance(0)
        first_hash = rec.calls[0][1]["ContentHash"]
        last = [r for r in self.fake.requests if r.path == "/v1/agent/service/web"][-1]
        self.assertEqual(last.param("hash"), first_hash)
        self.assertEqual(last.param("wait"), "30000ms")
        self.assertIsNone(last.param("index"))
        w.stopService()

    def test_quiet_wait_expiry_no_call(self) -> None:
        """When the wait runs out with the same hash the handler is not called, and polling goes on."""
        rec = Recorder()
        w = watch_agent_service(self.consul, "web", rec, clock=self.clock, wait="10s")
        self.clock.advance(0)
        before = len([r for r in self.fake.requests if r.path == "/v1/agent/service/web"])
        for _ in range(5):
            self.clock.advance(11)
        after = len([r for r in self.fake.requests if r.path == "/v1/agent/service/web"])
        self.assertEqual(len(rec.calls), 1)
        self.assertGreater(after, before)
        w.stopService()

    def test_deregistered_is_an_error_then_recovers(self) -> None:
        """A deregistered service is a failed query (on_error); registering it again recovers."""
        rec, errors = Recorder(), []
        w = Watch(
            self.consul, "agent_service", rec, clock=self.clock, service_id="web", on_error=errors.append
        )
        w.startService()
        self.clock.advance(0)
        self.ok(self.consul.agent.service.deregister("web"))
        self.clock.advance(0)
        self.assertEqual(len(errors), 1)
        self.ok(self.consul.agent.service.register("web", port=82))
        self.clock.advance(5)
        self.assertEqual(rec.calls[-1][1]["Port"], 82)
        w.stopService()


class ConnectWatchTests(FakeConsulCase):
    """connect_roots and connect_leaf follow the agent's CA views by index."""

    def test_roots(self) -> None:
        """The dev agent's root is there from the start."""
        rec = Recorder()
        w = watch_connect_roots(self.consul, rec, clock=self.clock)
        self.clock.advance(0)
        ((index, roots),) = rec.calls
        self.assertGreater(index, 0)
        self.assertEqual(len(roots["Roots"]), 1)
        self.assertTrue(roots["Roots"][0]["Active"])
        w.stopService()

    def test_leaf(self) -> None:
        """The leaf of a service comes once and not again while it stays valid."""
        rec = Recorder()
        w = watch_connect_leaf(self.consul, "web", rec, clock=self.clock)
        self.clock.advance(0)
        self.assertEqual(len(rec.calls), 1)
        self.assertEqual(rec.calls[0][1]["Service"], "web")
        self.clock.advance(60)
        self.assertEqual(len(rec.calls), 1)
        w.stopService()


class TapOptionTests(FakeConsulCase):
    """twistd consul-watch: --type for the new types, --service-id, and config entries."""

    def parse(self, *argv: str) -> tap.Options:
        """Parse consul-watch arguments."""
        options = tap.Options()
        options.parseOptions(list(argv))
        return options

    def test_agent_service_option(self) -> None:
        """--service-id reaches the agent_service watch's parameters."""
        (spec,) = self.parse("--type", "agent_service", "--service-id", "web")["watches"]
        self.assertEqual(spec["params"], {"service_id": "web"})

    def test_connect_types(self) -> None:
        """connect_roots takes nothing; connect_leaf takes --service; --stale is refused for them."""
        (spec,) = self.parse("--type", "connect_leaf", "--service", "web")["watches"]
        self.assertEqual(spec["params"], {"service": "web"})
        self.parse("--type", "connect_roots")
        self.assertRaises(usage.UsageError, self.parse, "--type", "connect_roots", "--stale")
        self.assertRaises(usage.UsageError, self.parse, "--type", "agent_service")

    def test_config_entry(self) -> None:
        """A config entry may carry service_id (a string)."""
        spec = tap.check_spec(
            {"type": "agent_service", "service_id": "web"}, handler_required=False, where="w1"
        )
        self.assertEqual(spec["params"], {"service_id": "web"})
        bad = {"type": "agent_service", "service_id": 5}
        self.assertRaises(usage.UsageError, tap.check_spec, bad, handler_required=False, where="w1")
