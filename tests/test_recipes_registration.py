"""
Tests for txconsul.recipes.ServiceRegistration, in memory against FakeConsul
on a Clock.
"""

from __future__ import annotations

from typing import Any


from txconsul.recipes import ServiceRegistration
from .fakecase import FakeConsulCase

from .test_recipes_lock import Gate


class ServiceRegistrationTests(FakeConsulCase):
    """ServiceRegistration registers, heartbeats, re-registers and deregisters."""

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the clock in steps so timers chain as on a real reactor."""
        while seconds > 0:
            self.clock.advance(min(step, seconds))
            seconds -= step

    def status(self, check_id: str = "service:web-1") -> Any:
        """The status of a local check, or None when unknown."""
        check = self.ok(self.consul.agent.checks()).get(check_id)
        return check and check["Status"]

    def test_register_on_start(self) -> None:
        """Starting registers the service with its settings and a passing TTL check."""
        reg = ServiceRegistration(self.consul, "web", service_id="web-1", port=8080, tags=["a"], ttl="10s")
        reg.startService()
        service = self.ok(self.consul.agent.services())["web-1"]
        self.assertEqual((service["Service"], service["Port"], service["Tags"]), ("web", 8080, ["a"]))
        self.assertEqual(self.status(), "passing")
        self.assertTrue(reg.registered)
        self.ok(reg.stopService())

    def test_heartbeat_keeps_passing(self) -> None:
        """Across many TTLs the check stays passing while the service runs."""
        reg = ServiceRegistration(self.consul, "web", service_id="web-1", ttl="10s")
        reg.startService()
        for _ in range(30):
            self.advance(5)
            self.assertEqual(self.status(), "passing")
        self.ok(reg.stopService())

    def test_without_heartbeat_goes_critical(self) -> None:
        """Control: the same check without heartbeats goes critical after its TTL."""
        self.ok(self.consul.agent.service.register("web", service_id="web-1", check={"TTL": "10s"}))
        self.ok(self.consul.agent.check.ttl_pass("service:web-1"))
        self.advance(11)
        self.assertEqual(self.status(), "critical")

    def test_deregister_on_stop(self) -> None:
        """Stopping deregisters the service and stops heartbeats."""
        reg = ServiceRegistration(self.consul, "web", service_id="web-1")
        reg.startService()
        self.advance(5)
        self.ok(reg.stopService())
        self.assertNotIn("web-1", self.ok(self.consul.agent.services()))
        self.advance(60)
        self.assertNotIn("web-1", self.ok(self.consul.agent.services()))

    def test_reregister_after_forgotten(self) -> None:
        """When the agent forgot the service, the next beat registers it again."""
        reg = ServiceRegistration(self.consul, "web", service_id="web-1", ttl="9s")
        reg.startService()
        self.ok(self.consul.agent.service.deregister("web-1"))
        self.assertNotIn("web-1", self.ok(self.consul.agent.services()))
        self.advance(3)
        self.assertIn("web-1", self.ok(self.consul.agent.services()))
        self.assertEqual(self.status(), "passing")
        self.ok(reg.stopService())

    def test_default_id_and_notes(self) -> None:
        """The ID defaults to the name; notes become the check output."""
        reg = ServiceRegistration(self.consul, "api", notes="alive")
        reg.startService()
        check = self.ok(self.consul.agent.checks())["service:api"]
        self.assertEqual((check["Status"], check["Output"]), ("passing", "alive"))
        self.ok(reg.stopService())

    def test_stop_without_start(self) -> None:
        """Stopping a never-started registration sends nothing and succeeds."""
        reg = ServiceRegistration(self.consul, "web")
        self.assertIsNone(self.ok(reg.stopService()))

    def test_bad_arguments(self) -> None:
        """A bad name or TTL is refused at construction."""
        self.assertRaises(ValueError, ServiceRegistration, self.consul, "")
        self.assertRaises(ValueError, ServiceRegistration, self.consul, "web", ttl=0)
        self.assertRaises(ValueError, ServiceRegistration, self.consul, "web", ttl="soon")

    def test_stop_with_registration_in_flight(self) -> None:
        """A registration the agent applies after stop began is still deregistered."""
        gate = Gate(self.consul.agent.service, "register")
        reg = ServiceRegistration(self.consul, "web", service_id="web-1")
        reg.startService()
        self.assertEqual(len(gate.held), 1)
        stopped = reg.stopService()
        gate.deliver()
        self.ok(stopped)
        self.assertNotIn("web-1", self.ok(self.consul.agent.services()))
        self.assertFalse(reg.registered)
        self.advance(60)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_stop_with_heartbeat_in_flight(self) -> None:
        """Stopping during a slow ttl_pass deregisters once it answered; nothing stays on the clock."""
        reg = ServiceRegistration(self.consul, "web", service_id="web-1", ttl="9s")
        reg.startService()
        gate = Gate(self.consul.agent.check, "ttl_pass")
        self.advance(3)
        self.assertEqual(len(gate.held), 1)
        stopped = reg.stopService()
        self.assertNoResult(stopped)
        gate.deliver()
        self.ok(stopped)
        self.assertNotIn("web-1", self.ok(self.consul.agent.services()))
        self.advance(60)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_slow_heartbeat_does_not_overlap(self) -> None:
        """While a ttl_pass is unanswered no second one is sent; beats resume after it answers."""
        reg = ServiceRegistration(self.consul, "web", service_id="web-1", ttl="9s")
        reg.startService()
        gate = Gate(self.consul.agent.check, "ttl_pass")
        self.advance(3)
        self.assertEqual(len(gate.held), 1)
        self.advance(20)
        self.assertEqual(len(gate.held), 1)
        gate.deliver()
        self.assertEqual(self.status(), "passing")
        self.advance(3)
        self.assertEqual(len(gate.held), 1)
        gate.deliver()
        self.consul.agent.check.ttl_pass = gate.real
        self.ok(reg.stopService())
        self.advance(60)
        self.assertEqual(self.clock.getDelayedCalls(), [])
