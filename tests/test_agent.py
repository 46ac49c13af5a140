"""
Tests for :mod:`txconsul.api.agent` and FakeConsul's agent
(:mod:`txconsul.testing._agent`), in memory on a Clock.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul import BadRequest, ConsulException, NotFound
from txconsul.testing import FakeConsul

from .fakecase import make


class AgentRequestTests(SynchronousTestCase):
    """The requests the agent group sends."""

    def setUp(self):
        self.clock, self.fake, self.c, self.requests = make()

    def test_self(self):
        """self() GETs /v1/agent/self and returns the agent's config."""
        data = self.successResultOf(self.c.agent.self())
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/self")
        self.assertEqual(data["Config"]["NodeName"], "fake-consul")
        self.assertEqual(data["Config"]["Datacenter"], "dc1")
        self.assertEqual(data["Member"]["Name"], "fake-consul")

    def test_members_wan_and_filter(self):
        """members(wan=True) sends wan=1; filter= is passed through."""
        lan = self.successResultOf(self.c.agent.members())
        self.assertEqual(self.requests[-1].query, [])
        self.assertEqual([m["Name"] for m in lan], ["fake-consul"])
        wan = self.successResultOf(self.c.agent.members(wan=True, filter='Name != "x"'))
        self.assertEqual(self.requests[-1].query, [("wan", "1"), ("filter", 'Name != "x"')])
        self.assertEqual([m["Name"] for m in wan], ["fake-consul.dc1"])
        none = self.successResultOf(self.c.agent.members(filter='Name == "other"'))
        self.assertEqual(none, [])

    def test_agent_calls_do_not_send_dc(self):
        """Agent endpoints never carry the client's default dc."""

        c = self.fake.client(dc="dc1")
        self.successResultOf(c.agent.services())
        self.assertEqual(self.requests[-1].query, [])

    def test_service_register_body(self):
        """register() sends Consul's field names and fires True."""
        check = self.c.Check.http("http://127.0.0.1:1/h", "10s")
        result = self.successResultOf(
            self.c.agent.service.register(
                "web",
                service_id="web1",
                address="10.0.0.1",
                port=80,
                tags=["a"],
                check=check,
                meta={"v": "1"},
                enable_tag_override=True,
            )
        )
        self.assertIs(result, True)
        self.assertEqual(self.requests[-1].method, "PUT")
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/service/register")
        self.assertEqual(
            self.requests[-1].json(),
            {
                "Name": "web",
                "ID": "web1",
                "Address": "10.0.0.1",
                "Port": 80,
                "Tags": ["a"],
                "Meta": {"v": "1"},
                "EnableTagOverride": True,
                "Check": check,
            },
        )

    def test_service_register_legacy_args(self):
        """python-consul's ttl= argument builds the check."""
        self.successResultOf(self.c.agent.service.register("web", ttl="10s"))
        self.assertEqual(self.requests[-1].json()["Check"], {"TTL": "10s"})

    def test_service_register_token_header(self):
        """token= travels as X-Consul-Token, never in the URL."""
        self.successResultOf(self.c.agent.service.register("web", token="s3cret"))
        self.assertEqual(self.requests[-1].headers["x-consul-token"], "s3cret")
        self.assertNotIn("token", dict(self.requests[-1].query))

    def test_service_register_bad_arguments(self):
        """Bad arguments fail before any request."""
        n = len(self.requests)
        self.assertRaises(TypeError, self.c.agent.service.register, "web", port="80")
        self.assertRaises(TypeError, self.c.agent.service.register, "web", tags="a")
        self.assertRaises(ValueError, self.c.agent.service.register, "")
        self.assertRaises(ValueError, self.c.agent.service.register, "web", check={"TTL": "1s"}, ttl="1s")
        self.assertRaises(ValueError, self.c.agent.service.register, "web", http="http://x")
        self.assertEqual(len(self.requests), n)

    def test_paths_are_escaped(self):
        """IDs with '#', ':', '/', '?' and spaces are escaped as one segment."""
        sid = "a#b:c/d?e f"
        self.successResultOf(self.c.agent.service.register("n", service_id=sid))
        self.successResultOf(self.c.agent.service.maintenance(sid, True, reason="r"))
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/service/maintenance/a%23b%3Ac%2Fd%3Fe%20f")
        self.assertEqual(self.requests[-1].query, [("enable", "true"), ("reason", "r")])
        self.successResultOf(self.c.agent.service.deregister(sid))
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/service/deregister/a%23b%3Ac%2Fd%3Fe%20f")

    def test_check_register_body(self):
        """check.register() merges the definition with name, ID, notes and service."""
        self.successResultOf(self.c.agent.service.register("svc"))
        self.successResultOf(
            self.c.agent.check.register(
                "chk", self.c.Check.ttl("5s"), check_id="c1", notes="n", service_id="svc", status="passing"
            )
        )
        self.assertEqual(
            self.requests[-1].json(),
            {
                "Name": "chk",
                "TTL": "5s",
                "ID": "c1",
                "Notes": "n",
                "ServiceID": "svc",
                "Status": "passing",
            },
        )

    def test_check_register_needs_a_check(self):
        """check.register() without a definition is a ValueError."""
        self.assertRaises(ValueError, self.c.agent.check.register, "chk")

    def test_ttl_note(self):
        """ttl_pass sends its notes as ?note=."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("5s")))
        self.successResultOf(self.c.agent.check.ttl_pass("t", notes="all good"))
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/check/pass/t")
        self.assertEqual(self.requests[-1].query, [("note", "all good")])

    def test_maintenance_params(self):
        """maintenance() sends enable=true|false and the reason."""
        self.successResultOf(self.c.agent.maintenance(True, "patching"))
        self.assertEqual(self.requests[-1].query, [("enable", "true"), ("reason", "patching")])
        self.successResultOf(self.c.agent.maintenance("false"))
        self.assertEqual(self.requests[-1].query, [("enable", "false")])
        self.assertRaises(ValueError, self.c.agent.maintenance, "yes")

    def test_join_and_force_leave(self):
        """join() and force_leave() PUT to their paths."""
        self.assertIs(self.successResultOf(self.c.agent.join("127.0.0.1")), True)
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/join/127.0.0.1")
        self.successResultOf(self.c.agent.join("127.0.0.1", wan=True))
        self.assertEqual(self.requests[-1].query, [("wan", "1")])
        self.failureResultOf(self.c.agent.join("10.255.0.1"), ConsulException)
        self.assertIs(self.successResultOf(self.c.agent.force_leave("fake-consul")), True)
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/force-leave/fake-consul")
        self.failureResultOf(self.c.agent.force_leave("ghost"), ConsulException)


class FakeAgentServiceTests(SynchronousTestCase):
    """FakeConsul's agent services and their catalog sync."""

    def setUp(self):
        self.clock = Clock()
        self.fake = FakeConsul(self.clock)
        self.c = self.fake.client()

    def test_empty(self):
        """A fresh agent has no agent services or checks: {}."""
        self.assertEqual(self.successResultOf(self.c.agent.services()), {})
        self.assertEqual(self.successResultOf(self.c.agent.checks()), {})

    def test_register_defaults(self):
        """ID defaults to the name; Tags [], Meta {}, default Weights."""
        self.successResultOf(self.c.agent.service.register("redis"))
        svc = self.successResultOf(self.c.agent.services())["redis"]
        self.assertEqual(svc["ID"], "redis")
        self.assertEqual(svc["Tags"], [])
        self.assertEqual(svc["Meta"], {})
        self.assertEqual(svc["Weights"], {"Passing": 1, "Warning": 1})

    def test_register_syncs_catalog(self):
        """An agent service appears in the catalog immediately."""
        self.successResultOf(self.c.agent.service.register("redis", service_id="r1", port=6379, tags=["p"]))
        _, nodes = self.successResultOf(self.c.catalog.service("redis"))
        self.assertEqual(
            [(n["ServiceID"], n["ServicePort"], n["ServiceTags"]) for n in nodes], [("r1", 6379, ["p"])]
        )

    def test_special_names(self):
        """Service names and IDs with '#' and ':' work end to end."""
        name, sid = "web#blue:8080", "web:1#a"
        self.successResultOf(
            self.c.agent.service.register(name, service_id=sid, check=self.c.Check.ttl("10s"))
        )
        self.assertIn(sid, self.successResultOf(self.c.agent.services()))
        cid = f"service:{sid}"
        self.successResultOf(self.c.agent.check.ttl_pass(cid))
        _, entries = self.successResultOf(self.c.health.service(name, passing=True))
        self.assertEqual([e["Service"]["ID"] for e in entries], [sid])
        self.successResultOf(self.c.agent.service.deregister(sid))
        self.assertEqual(self.successResultOf(self.c.catalog.service(name))[1], [])

    def test_service_check_ids_and_names(self):
        """Embedded checks get service:<id>, or service:<id>:N with several."""
        self.successResultOf(self.c.agent.service.register("one", check=self.c.Check.ttl("10s")))
        self.successResultOf(
            self.c.agent.service.register("two", checks=[self.c.Check.ttl("10s"), self.c.Check.ttl("20s")])
        )
        checks = self.successResultOf(self.c.agent.checks())
        self.assertEqual(sorted(checks), ["service:one", "service:two:1", "service:two:2"])
        self.assertEqual(checks["service:one"]["Name"], "Service 'one' check")
        self.assertEqual(checks["service:one"]["Status"], "critical")
        self.assertEqual(checks["service:two:2"]["ServiceName"], "two")

    def test_missing_name(self):
        """A registration without a name is 400 Missing service name."""
        f = self.failureResultOf(
            self.c.http.request("PUT", "/v1/agent/service/register", json_body={}), BadRequest
        )
        self.assertIn("Missing service name", str(f.value))

    def test_invalid_check(self):
        """An interval without a check type is 400 Invalid check."""
        d = self.c.agent.service.register("web", check={"Interval": "10s"})
        f = self.failureResultOf(d, BadRequest)
        self.assertIn("Invalid check: TTL must be > 0 for TTL checks", str(f.value))

    def test_lowercase_keys(self):
        """Consul decodes bodies case-insensitively (python-consul sends lowercase)."""
        self.successResultOf(
            self.c.http.request(
                "PUT",
                "/v1/agent/service/register",
                json_body={"name": "low", "id": "low1", "port": 1, "check": {"ttl": "5s"}},
            )
        )
        self.assertIn("service:low1", self.successResultOf(self.c.agent.checks()))

    def test_deregister_unknown(self):
        """Deregistering an unknown service is 404 with Consul's text."""
        f = self.failureResultOf(self.c.agent.service.deregister("nope"), NotFound)
        self.assertIn('Unknown service ID "nope". Ensure that the service ID is passed', str(f.value))

    def test_deregister_removes_checks(self):
        """Deregistering a service removes its checks from agent and catalog."""
        self.successResultOf(self.c.agent.service.register("web", check=self.c.Check.ttl("10s")))
        self.successResultOf(self.c.agent.service.deregister("web"))
        self.assertEqual(self.successResultOf(self.c.agent.checks()), {})
        self.assertIsNone(self.fake.catalog.get_check("fake-consul", "service:web"))

    def test_service_maintenance(self):
        """Service maintenance adds a critical check that excludes the instance from passing."""
        self.successResultOf(self.c.agent.service.register("web"))
        self.successResultOf(self.c.agent.service.maintenance("web", True))
        checks = self.successResultOf(self.c.agent.checks())
        maint = checks["_service_maintenance:web"]
        self.assertEqual(maint["Status"], "critical")
        self.assertEqual(maint["ServiceID"], "web")
        self.assertEqual(
            maint["Notes"],
            "Maintenance mode is enabled for this service, "
            "but no reason was provided. This is a default message.",
        )
        self.assertEqual(self.successResultOf(self.c.health.service("web", passing=True))[1], [])
        self.successResultOf(self.c.agent.service.maintenance("web", False))
        self.assertEqual(len(self.successResultOf(self.c.health.service("web", passing=True))[1]), 1)

    def test_service_maintenance_unknown(self):
        """Maintenance of an unknown service is 404."""
        self.failureResultOf(self.c.agent.service.maintenance("nope", True), NotFound)

    def test_node_maintenance(self):
        """Node maintenance registers _node_maintenance, critical, with the reason as notes."""
        self.successResultOf(self.c.agent.maintenance(True, "upgrade"))
        check = self.successResultOf(self.c.agent.checks())["_node_maintenance"]
        self.assertEqual(
            (check["Status"], check["Notes"], check["Name"]), ("critical", "upgrade", "Node Maintenance Mode")
        )
        _, crit = self.successResultOf(self.c.health.state("critical"))
        self.assertEqual([c["CheckID"] for c in crit], ["_node_maintenance"])
        self.successResultOf(self.c.agent.maintenance(False))
        self.assertEqual(self.successResultOf(self.c.agent.checks()), {})

    def test_node_maintenance_default_reason(self):
        """Without a reason the notes are Consul's default message."""
        self.successResultOf(self.c.agent.maintenance(True))
        check = self.successResultOf(self.c.agent.checks())["_node_maintenance"]
        self.assertTrue(check["Notes"].startswith("Maintenance mode is enabled for this node"))

    def test_maintenance_enable_required(self):
        """The maintenance endpoint wants ?enable."""
        f = self.failureResultOf(self.c.http.request("PUT", "/v1/agent/maintenance"), BadRequest)
        self.assertIn("Missing value for enable", str(f.value))

    def test_service_get(self):
        """GET /v1/agent/service/:id returns the service and a ContentHash."""
        self.successResultOf(self.c.agent.service.register("web#1"))
        svc = self.successResultOf(self.c.agent.service.get("web#1"))
        self.assertEqual(svc["Service"], "web#1")
        self.assertTrue(svc["ContentHash"])
        self.failureResultOf(self.c.agent.service.get("nope"), NotFound)

    def test_services_filter(self):
        """agent.services(filter=) keeps the matching services."""
        self.successResultOf(self.c.agent.service.register("a", tags=["x"]))
        self.successResultOf(self.c.agent.service.register("b"))
        self.assertEqual(list(self.successResultOf(self.c.agent.services(filter='"x" in Tags'))), ["a"])
        self.assertEqual(list(self.successResultOf(self.c.agent.services(filter='Service == "b"'))), ["b"])

    def test_bad_filter(self):
        """A filter that does not parse is Consul's 500 (go-bexpr's error, not a BadRequest)."""
        f = self.failureResultOf(self.c.agent.services(filter="Service =="), ConsulException)
        self.assertNotIsInstance(f.value, BadRequest)
        self.assertEqual(f.value.status, 500)
        self.assertTrue(f.value.body.startswith(b"Failed to create boolean expression evaluator: "))

    def test_register_writes_index(self):
        """Each registration allocates a new index."""
        before = self.fake.index
        self.successResultOf(self.c.agent.service.register("a"))
        self.assertEqual(self.fake.index, before + 1)
        self.assertEqual(self.fake.catalog.services_index, before + 1)


class FakeAgentCheckTests(SynchronousTestCase):
    """FakeConsul's agent checks: registration rules and TTLs."""

    def setUp(self):
        self.clock = Clock()
        self.fake = FakeConsul(self.clock)
        self.c = self.fake.client()

    def checks(self):
        return self.successResultOf(self.c.agent.checks())

    def test_check_against_unknown_service(self):
        """A check for an unknown service is 404 ServiceID "x" does not exist."""
        d = self.c.agent.check.register("c", self.c.Check.ttl("5s"), service_id="ghost")
        f = self.failureResultOf(d, NotFound)
        self.assertIn('ServiceID "ghost" does not exist', str(f.value))

    def test_initial_status(self):
        """Checks start critical unless Status is given."""
        self.successResultOf(self.c.agent.check.register("a", self.c.Check.ttl("5s")))
        self.successResultOf(self.c.agent.check.register("b", self.c.Check.ttl("5s"), status="passing"))
        self.assertEqual(self.checks()["a"]["Status"], "critical")
        self.assertEqual(self.checks()["b"]["Status"], "passing")

    def test_ttl_pass_warn_fail(self):
        """pass/warn/fail set status and output."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("5s")))
        self.successResultOf(self.c.agent.check.ttl_warn("t", "slow"))
        self.assertEqual((self.checks()["t"]["Status"], self.checks()["t"]["Output"]), ("warning", "slow"))
        self.successResultOf(self.c.agent.check.ttl_pass("t"))
        self.assertEqual(self.checks()["t"]["Status"], "passing")
        self.successResultOf(self.c.agent.check.ttl_fail("t", "down"))
        self.assertEqual(self.checks()["t"]["Status"], "critical")

    def test_update(self):
        """check.update() sets status and output; a bad status is refused."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("5s")))
        self.successResultOf(self.c.agent.check.update("t", "warning", "meh"))
        self.assertEqual(self.checks()["t"]["Output"], "meh")
        f = self.failureResultOf(
            self.c.http.request("PUT", "/v1/agent/check/update/t", json_body={"Status": "bogus"}), BadRequest
        )
        self.assertIn("Invalid check status: 'bogus'", str(f.value))

    def test_ttl_expires_on_clock(self):
        """A TTL check goes critical with 'TTL expired' once its TTL passes without update."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("10s"), status="passing"))
        self.clock.advance(9)
        self.successResultOf(self.c.agent.check.ttl_pass("t"))
        self.clock.advance(9)
        self.assertEqual(self.checks()["t"]["Status"], "passing")
        self.clock.advance(1.5)
        self.assertEqual(self.checks()["t"]["Status"], "critical")
        self.assertEqual(self.checks()["t"]["Output"], "TTL expired")
        self.assertEqual(self.fake.catalog.get_check("fake-consul", "t")["Status"], "critical")

    def test_ttl_expiry_keeps_last_output(self):
        """The expired output carries the last output."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("1s")))
        self.successResultOf(self.c.agent.check.ttl_pass("t", "fine"))
        self.clock.advance(2)
        self.assertEqual(
            self.checks()["t"]["Output"], "TTL expired (last output before timeout follows): fine"
        )

    def test_ttl_expiry_wakes_blocking_query(self):
        """A blocking health query returns when a TTL expires."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("10s"), status="passing"))
        index, _ = self.successResultOf(self.c.health.state("critical"))
        d = self.c.health.state("critical", index=index, wait="60s")
        self.assertNoResult(d)
        self.clock.advance(10)
        new_index, checks = self.successResultOf(d)
        self.assertGreater(new_index, index)
        self.assertEqual([c["CheckID"] for c in checks], ["t"])

    def test_deregister_stops_ttl(self):
        """Removing a check stops its timer."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("10s")))
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.successResultOf(self.c.agent.check.deregister("t"))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertIsNone(self.fake.catalog.get_check("fake-consul", "t"))

    def test_unknown_check(self):
        """Unknown check IDs on deregister and pass are 404 with Consul's text."""
        f = self.failureResultOf(self.c.agent.check.deregister("nope"), NotFound)
        self.assertIn('Unknown check ID "nope". Ensure that the check ID is passed', str(f.value))
        self.failureResultOf(self.c.agent.check.ttl_pass("nope"), NotFound)

    def test_pass_non_ttl(self):
        """Passing a non-TTL check is 500 'does not have associated TTL'."""
        self.successResultOf(
            self.c.agent.check.register("h", self.c.Check.http("http://127.0.0.1:1/", "10s"))
        )
        f = self.failureResultOf(self.c.agent.check.ttl_pass("h"), ConsulException)
        self.assertIn('CheckID "h" does not have associated TTL', str(f.value))

    def test_http_check_idle_without_reactor(self):
        """Without a reactor an HTTP check keeps its initial status and schedules nothing."""
        self.successResultOf(self.c.agent.check.register("h", self.c.Check.http("http://127.0.0.1:1/", "1s")))
        self.clock.advance(5)
        self.assertEqual(self.checks()["h"]["Status"], "critical")
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_script_checks_disabled(self):
        """Script checks are refused with Consul's 500 unless enabled."""
        d = self.c.agent.check.register("s", self.c.Check.script(["true"], "10s"))
        f = self.failureResultOf(d, ConsulException)
        self.assertIn("Scripts are disabled on this agent", str(f.value))
        d = self.c.agent.service.register("w", check=self.c.Check.script("true", "10s"))
        self.failureResultOf(d, ConsulException)
        self.assertEqual(self.successResultOf(self.c.agent.services()), {})

    def test_script_checks_enabled(self):
        """With enable_script_checks a script check registers (it runs only with a reactor)."""
        fake = FakeConsul(Clock(), enable_script_checks=True)
        c = fake.client()
        self.successResultOf(c.agent.check.register("s", c.Check.script(["true"], "10s")))
        self.assertEqual(self.successResultOf(c.agent.checks())["s"]["Type"], "script")

    def test_missing_check_name(self):
        """A check without a name is 400 Missing check name."""
        f = self.failureResultOf(
            self.c.http.request("PUT", "/v1/agent/check/register", json_body={"TTL": "5s"}), BadRequest
        )
        self.assertIn("Missing check name", str(f.value))

    def test_check_changes_reach_sessions(self):
        """A linked check going critical invalidates the session."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("10s"), status="passing"))
        sid = self.successResultOf(self.c.session.create(checks=["serfHealth", "t"]))
        self.clock.advance(11)
        self.assertIsNone(self.fake.sessions.get(sid))

    def test_check_deregister_reaches_sessions(self):
        """Deregistering a linked check invalidates the session."""
        self.successResultOf(self.c.agent.check.register("t", self.c.Check.ttl("10s"), status="passing"))
        sid = self.successResultOf(self.c.session.create(checks=["t"]))
        self.successResultOf(self.c.agent.check.deregister("t"))
        self.assertIsNone(self.fake.sessions.get(sid))


class AgentNewEndpointTests(SynchronousTestCase):
    """agent.service.health / health_by_name and agent.leave against FakeConsul."""

    def setUp(self) -> None:
        self.clock, self.fake, self.c, self.requests = make()

    def test_health_statuses(self) -> None:
        """health() fires (status, info) for 200, 429 and 503 alike."""
        from txconsul import Consul

        self.successResultOf(self.c.agent.service.register("web", check=Consul.Check.ttl("1h")))
        status, info = self.successResultOf(self.c.agent.service.health("web"))
        self.assertEqual(
            (status, info["AggregatedStatus"], info["Service"]["ID"]), ("critical", "critical", "web")
        )
        self.successResultOf(self.c.agent.check.ttl_warn("service:web"))
        self.assertEqual(self.successResultOf(self.c.agent.service.health("web"))[0], "warning")
        self.successResultOf(self.c.agent.check.ttl_pass("service:web"))
        self.assertEqual(self.successResultOf(self.c.agent.service.health("web"))[0], "passing")
        self.successResultOf(self.c.agent.service.maintenance("web", True))
        self.assertEqual(self.successResultOf(self.c.agent.service.health("web"))[0], "maintenance")
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/health/service/id/web")

    def test_health_unknown(self) -> None:
        """An unknown ID or name fails with NotFound."""
        self.failureResultOf(self.c.agent.service.health("nope"), NotFound)
        self.failureResultOf(self.c.agent.service.health_by_name("nope"), NotFound)

    def test_health_by_name(self) -> None:
        """health_by_name() lists every instance; the path segment is escaped."""
        self.successResultOf(self.c.agent.service.register("a b", service_id="x"))
        status, infos = self.successResultOf(self.c.agent.service.health_by_name("a b"))
        self.assertEqual((status, [i["Service"]["ID"] for i in infos]), ("passing", ["x"]))
        self.assertEqual(self.requests[-1].raw_path, "/v1/agent/health/service/name/a%20b")

    def test_health_bad_argument(self) -> None:
        """An empty service ID is a ValueError before any request."""
        self.assertRaises(ValueError, self.c.agent.service.health, "")
        self.assertEqual(list(self.requests), [])

    def test_leave(self) -> None:
        """leave() PUTs /v1/agent/leave and fires True."""
        self.assertIs(self.successResultOf(self.c.agent.leave()), True)
        self.assertEqual((self.requests[-1].method, self.requests[-1].raw_path), ("PUT", "/v1/agent/leave"))
        self.assertTrue(self.fake.agent_state.left)
