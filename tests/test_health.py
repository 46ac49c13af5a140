"""
Tests for :mod:`txconsul.api.health` and FakeConsul's health endpoints, in
memory on a Clock.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import BadRequest
from txconsul.testing import FakeConsul

from .fakecase import make


class HealthRequestTests(SynchronousTestCase):
    """The requests the health group sends."""

    def setUp(self):
        self.clock, self.fake, self.c, self.requests = make()

    def test_service_params(self):
        """service() sends passing=1 and repeated tags."""
        self.successResultOf(self.c.health.service("web", passing=True, tag=["a", "b"], node_meta={"k": "v"}))
        self.assertEqual(self.requests[-1].raw_path, "/v1/health/service/web")
        self.assertEqual(
            self.requests[-1].query, [("tag", "a"), ("tag", "b"), ("node-meta", "k:v"), ("passing", "1")]
        )

    def test_passing_false_not_sent(self):
        """passing=False sends nothing (Consul treats ?passing as true)."""
        self.successResultOf(self.c.health.service("web", passing=False))
        self.assertEqual(self.requests[-1].query, [])

    def test_state_validated(self):
        """state() refuses unknown states before any request."""
        self.assertRaises(ValueError, self.c.health.state, "broken")
        self.assertEqual(list(self.requests), [])

    def test_paths(self):
        """checks/node/state build their escaped paths."""
        self.successResultOf(self.c.health.checks("a#b"))
        self.assertEqual(self.requests[-1].raw_path, "/v1/health/checks/a%23b")
        self.successResultOf(self.c.health.node("n:1"))
        self.assertEqual(self.requests[-1].raw_path, "/v1/health/node/n%3A1")
        self.successResultOf(self.c.health.state("any"))
        self.assertEqual(self.requests[-1].raw_path, "/v1/health/state/any")

    def test_meta(self):
        """meta=True gives the QueryMeta."""
        qm, _ = self.successResultOf(self.c.health.state("any", meta=True))
        self.assertTrue(qm.known_leader)
        self.assertGreaterEqual(qm.index, 1)


class FakeHealthTests(SynchronousTestCase):
    """FakeConsul's health rules."""

    def setUp(self):
        self.clock = Clock()
        self.fake = FakeConsul(self.clock)
        self.c = self.fake.client()

    def register(self, sid, status, tags=()):
        self.successResultOf(
            self.c.agent.service.register(
                "web", service_id=sid, tags=list(tags), check=self.c.Check.ttl("60s")
            )
        )
        if status == "passing":
            self.successResultOf(self.c.agent.check.ttl_pass(f"service:{sid}"))
        elif status == "warning":
            self.successResultOf(self.c.agent.check.ttl_warn(f"service:{sid}"))

    def ids(self, **kw):
        return [e["Service"]["ID"] for e in self.successResultOf(self.c.health.service("web", **kw))[1]]

    def test_service_includes_node_checks(self):
        """Each entry has Node, Service and Checks with the node's serfHealth."""
        self.register("w1", "passing")
        _, entries = self.successResultOf(self.c.health.service("web"))
        self.assertEqual(len(entries), 1)
        self.assertEqual(sorted(c["CheckID"] for c in entries[0]["Checks"]), ["serfHealth", "service:w1"])
        self.assertEqual(entries[0]["Node"]["Node"], "fake-consul")

    def test_passing_excludes_warning(self):
        """passing=True keeps only instances whose checks all pass; warning excludes."""
        self.register("w1", "passing")
        self.register("w2", "warning")
        self.register("w3", "critical")
        self.assertEqual(self.ids(), ["w1", "w2", "w3"])
        self.assertEqual(self.ids(passing=True), ["w1"])

    def test_passing_false_value(self):
        """?passing=false is parsed as false; garbage is 400."""
        self.register("w1", "critical")
        r = self.successResultOf(self.c.http.request("GET", "/v1/health/service/web", [("passing", "false")]))
        self.assertEqual(len(r.json()), 1)
        self.failureResultOf(
            self.c.http.request("GET", "/v1/health/service/web", [("passing", "maybe")]), BadRequest
        )

    def test_node_maintenance_fails_every_instance(self):
        """Node maintenance makes every instance on the node non-passing."""
        self.register("w1", "passing")
        self.successResultOf(self.c.agent.maintenance(True))
        self.assertEqual(self.ids(passing=True), [])

    def test_tags(self):
        """tag filtering: a list means AND."""
        self.register("w1", "passing", ["a", "b"])
        self.register("w2", "passing", ["a"])
        self.assertEqual(self.ids(tag="a"), ["w1", "w2"])
        self.assertEqual(self.ids(tag=["a", "b"]), ["w1"])
        self.assertEqual(self.ids(tag="z"), [])

    def test_state_any(self):
        """state('any') lists every check; states filter by status."""
        self.register("w1", "passing")
        self.register("w2", "critical")
        _, every = self.successResultOf(self.c.health.state("any"))
        self.assertEqual(sorted(c["CheckID"] for c in every), ["serfHealth", "service:w1", "service:w2"])
        _, crit = self.successResultOf(self.c.health.state("critical"))
        self.assertEqual([c["CheckID"] for c in crit], ["service:w2"])
        _, warn = self.successResultOf(self.c.health.state("warning"))
        self.assertEqual(warn, [])

    def test_unknown_state_is_empty(self):
        """An unknown state is [] (the fake does not validate it, as Consul)."""
        r = self.successResultOf(self.c.http.request("GET", "/v1/health/state/bogus"))
        self.assertEqual(r.json(), [])
        self.assertEqual(self.successResultOf(self.c.health.state("unknown"))[1], [])

    def test_unknowns_are_empty(self):
        """Unknown services and nodes give []."""
        self.assertEqual(self.successResultOf(self.c.health.service("ghost"))[1], [])
        self.assertEqual(self.successResultOf(self.c.health.checks("ghost"))[1], [])
        self.assertEqual(self.successResultOf(self.c.health.node("ghost"))[1], [])

    def test_checks_of_service(self):
        """health.checks() lists the service's checks only."""
        self.register("w1", "passing")
        _, checks = self.successResultOf(self.c.health.checks("web"))
        self.assertEqual([c["CheckID"] for c in checks], ["service:w1"])

    def test_health_node(self):
        """health.node() lists node and service checks of the node."""
        self.register("w1", "passing")
        _, checks = self.successResultOf(self.c.health.node("fake-consul"))
        self.assertEqual(sorted(c["CheckID"] for c in checks), ["serfHealth", "service:w1"])

    def test_blocking_service_wakes_on_status_change(self):
        """A blocking health.service returns when an instance's check changes."""
        self.register("w1", "critical")
        index, _ = self.successResultOf(self.c.health.service("web", passing=True))
        d = self.c.health.service("web", passing=True, index=index, wait="1m")
        self.assertNoResult(d)
        self.successResultOf(self.c.agent.check.ttl_pass("service:w1"))
        new_index, entries = self.successResultOf(d)
        self.assertGreater(new_index, index)
        self.assertEqual([e["Service"]["ID"] for e in entries], ["w1"])

    def test_identical_pass_does_not_bump_index(self):
        """Passing an already-passing check with the same output writes nothing."""
        self.register("w1", "passing")
        before = self.fake.catalog.checks_index
        self.successResultOf(self.c.agent.check.ttl_pass("service:w1"))
        self.assertEqual(self.fake.catalog.checks_index, before)

    def test_health_filter(self):
        """filter= applies to health entries."""
        self.register("w1", "passing", ["a"])
        self.register("w2", "passing")
        self.assertEqual(self.ids(filter='"a" in Service.Tags'), ["w1"])
