# -*- test-case-name: tests.test_fake_agent_fidelity -*-
"""
FakeConsul's agent, catalog and health endpoints checked rule by rule
against what a real Consul agent does (agent/agent_endpoint.go,
agent/agent.go, agent/checks/check.go, agent/structs/check_type.go,
agent/catalog_endpoint.go, agent/health_endpoint.go).
"""

from __future__ import annotations

import json
from typing import Any, Optional

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from treq.testing import StubTreq

from txconsul.testing import FakeConsul
from txconsul.testing._checks import truncate_output
from txconsul.testing._gofmt import go_duration


class RawCase(SynchronousTestCase):
    """Raw HTTP against FakeConsul through treq.testing."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, node_name="node1", seed=7)
        self.treq = StubTreq(self.fake.resource())

    def call(self, method: str, path: str, data: Any = b"", **kw: Any) -> tuple[Any, bytes]:
        """(response, body) of one request that answers at once."""
        if not isinstance(data, bytes):
            data = json.dumps(data).encode()
        d = self.treq.request(method, "http://127.0.0.1:8500" + path, data=data or None, **kw)
        self.treq.flush()
        response = self.successResultOf(d)
        return response, self.successResultOf(response.content())

    def ok(self, method: str, path: str, data: Any = b"", **kw: Any) -> Any:
        """The decoded body of a request that must answer 200."""
        response, body = self.call(method, path, data, **kw)
        self.assertEqual(response.code, 200, body)
        return json.loads(body) if body else None

    def start(self, path: str) -> Any:
        """A GET that may block; returns its Deferred."""
        d = self.treq.request("GET", "http://127.0.0.1:8500" + path)
        self.treq.flush()
        return d

    def header(self, response: Any, name: str) -> Optional[str]:
        """One response header, or None."""
        values = response.headers.getRawHeaders(name)
        if not values:
            return None
        v = values[0]
        return v.decode() if isinstance(v, bytes) else v

    def advance(self, seconds: float) -> None:
        """Move the clock and pump the in-memory connections."""
        self.clock.advance(seconds)
        self.treq.flush()

    def register(self, body: dict[str, Any], query: str = "") -> None:
        """Register a service on the agent (must succeed)."""
        self.ok("PUT", "/v1/agent/service/register" + query, body)

    def checks(self) -> dict[str, Any]:
        """GET /v1/agent/checks."""
        return self.ok("GET", "/v1/agent/checks")

    def services(self) -> dict[str, Any]:
        """GET /v1/agent/services."""
        return self.ok("GET", "/v1/agent/services")


class EmbeddedCheckTests(RawCase):
    """agent.go addServiceInternal: the checks a service registration carries."""

    def test_single_check_id_and_name(self) -> None:
        """One embedded check is service:<id>, named "Service '<name>' check"."""
        self.register({"Name": "web", "ID": "web1", "Check": {"TTL": "10s"}})
        check = self.checks()["service:web1"]
        self.assertEqual(
            (check["Name"], check["ServiceID"], check["Status"]), ("Service 'web' check", "web1", "critical")
        )

    def test_several_checks_numbered(self) -> None:
        """With several checks the IDs get :1, :2 suffixes, Check first then Checks."""
        self.register({"Name": "web", "Check": {"TTL": "10s"}, "Checks": [{"TTL": "5s"}, {"TTL": "7s"}]})
        ids = sorted(c for c in self.checks() if c.startswith("service:"))
        self.assertEqual(ids, ["service:web:1", "service:web:2", "service:web:3"])

    def test_check_id_field_only(self) -> None:
        """An embedded check takes its ID from CheckID; "ID" is not a CheckType field."""
        self.register({"Name": "web", "Checks": [{"CheckID": "mine", "TTL": "1s"}, {"TTL": "1s"}]})
        self.assertEqual(sorted(c for c in self.checks() if c != "serfHealth"), ["mine", "service:web:2"])
        response, body = self.call(
            "PUT", "/v1/agent/service/register", {"Name": "api", "Checks": [{"ID": "x", "TTL": "1s"}]}
        )
        self.assertEqual((response.code, body), (400, b'Request decode failed: json: unknown field "ID"'))

    def test_interval_timeout_fields(self) -> None:
        """Embedded checks carry Interval/Timeout as Go durations, "" when unset."""
        self.register(
            {
                "Name": "web",
                "Checks": [
                    {"HTTP": "http://127.0.0.1:1/", "Interval": "90s", "Timeout": "1500ms"},
                    {"TTL": "10s"},
                ],
            }
        )
        checks = self.checks()
        http, ttl = checks["service:web:1"], checks["service:web:2"]
        self.assertEqual((http["Type"], http["Interval"], http["Timeout"]), ("http", "1m30s", "1.5s"))
        self.assertEqual(
            (ttl["Type"], ttl["Interval"], ttl["Timeout"], ttl["ExposedPort"]), ("ttl", "", "", 0)
        )

    def test_reregistration_keeps_status(self) -> None:
        """Re-registering a service keeps its checks' status and output (the snapshot restore)."""
        self.register({"Name": "web", "Check": {"TTL": "10s"}})
        self.ok("PUT", "/v1/agent/check/pass/service:web?note=up")
        self.register({"Name": "web", "Tags": ["v2"], "Check": {"TTL": "10s"}})
        check = self.checks()["service:web"]
        self.assertEqual((check["Status"], check["Output"], check["ServiceTags"]), ("passing", "up", ["v2"]))

    def test_invalid_check_before_bad_status(self) -> None:
        """CheckTypes() validation runs before the status test."""
        response, body = self.call(
            "PUT", "/v1/agent/service/register", {"Name": "web", "Check": {"Status": "bogus"}}
        )
        self.assertEqual((response.code, body), (400, b"Invalid check: TTL must be > 0 for TTL checks"))
        response, body = self.call(
            "PUT", "/v1/agent/service/register", {"Name": "web", "Check": {"Status": "bogus", "TTL": "1s"}}
        )
        self.assertEqual(
            (response.code, body), (400, b"Status for checks must 'passing', 'warning', 'critical'")
        )

    def test_replace_existing_checks_drops_maintenance(self) -> None:
        """?replace-existing-checks removes every other check of the service, maintenance included."""
        self.register({"Name": "web", "Check": {"TTL": "10s"}})
        self.ok("PUT", "/v1/agent/service/maintenance/web?enable=true")
        self.register({"Name": "web", "Check": {"TTL": "10s"}}, "?replace-existing-checks")
        self.assertNotIn("_service_maintenance:web", self.checks())


class CheckRegisterTests(RawCase):
    """agent_endpoint.go AgentRegisterCheck and CheckDefinition.HealthCheck."""

    def test_interval_timeout_zero_durations(self) -> None:
        """A registered check's Interval/Timeout are Duration.String(): "0s" when unset."""
        self.ok("PUT", "/v1/agent/check/register", {"Name": "t", "TTL": "10s"})
        check = self.checks()["t"]
        self.assertEqual((check["Type"], check["Interval"], check["Timeout"]), ("ttl", "0s", "0s"))

    def test_output_refused(self) -> None:
        """CheckDefinition has no Output field: decodeBody refuses it (DisallowUnknownFields)."""
        response, body = self.call(
            "PUT", "/v1/agent/check/register", {"Name": "t", "TTL": "10s", "Output": "hi"}
        )
        self.assertEqual((response.code, body), (400, b'Request decode failed: json: unknown field "Output"'))
        self.assertNotIn("t", self.checks())

    def test_reregistration_keeps_status(self) -> None:
        """Re-registering a check keeps its status and output."""
        self.ok("PUT", "/v1/agent/check/register", {"Name": "t", "TTL": "10s"})
        self.ok("PUT", "/v1/agent/check/warn/t?note=slow")
        self.ok("PUT", "/v1/agent/check/register", {"Name": "t", "TTL": "20s", "Notes": "n"})
        check = self.checks()["t"]
        self.assertEqual((check["Status"], check["Output"], check["Notes"]), ("warning", "slow", "n"))

    def test_validate_messages(self) -> None:
        """CheckType.Validate's texts (Consul 1.20)."""
        cases = [
            (
                {"Name": "c", "HTTP": "http://x"},
                "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
            ),
            (
                {"Name": "c", "AliasService": "s", "TTL": "1s"},
                "Invalid check: TTL must be not be set for Alias checks",
            ),
            (
                {"Name": "c", "AliasService": "s", "TCP": "x:1", "Interval": "1s"},
                "Invalid check: Interval cannot be set for Alias checks",
            ),
            (
                {"Name": "c", "TTL": "1s", "FailuresBeforeWarning": 2},
                "Invalid check: FailuresBeforeWarning can't be higher than FailuresBeforeCritical",
            ),
            (
                {"Name": "c", "TTL": "1s", "OutputMaxSize": -1},
                "Invalid check: MaxOutputMaxSize must be positive",
            ),
        ]
        for body, text in cases:
            response, got = self.call("PUT", "/v1/agent/check/register", body)
            self.assertEqual((response.code, got.decode()), (400, text))

    def test_scripts_disabled_remote_text(self) -> None:
        """An Args check over the API is refused with the remote-calls text, 500."""
        response, body = self.call(
            "PUT", "/v1/agent/check/register", {"Name": "s", "Args": ["true"], "Interval": "10s"}
        )
        self.assertEqual(response.code, 500)
        self.assertEqual(
            body,
            b"Scripts are disabled on this agent from remote calls; to enable, "
            b"configure 'enable_script_checks' to true",
        )


class ServiceFieldTests(RawCase):
    """Weights, Meta and TaggedAddresses as AgentRegisterService and buildAgentService treat them."""

    def test_weights(self) -> None:
        """Default {1,1}; a Weights object keeps Warning as given (missing is 0)."""
        self.register({"Name": "a"})
        self.register({"Name": "b", "Weights": {"Passing": 5}})
        services = self.services()
        self.assertEqual(services["a"]["Weights"], {"Passing": 1, "Warning": 1})
        self.assertEqual(services["b"]["Weights"], {"Passing": 5, "Warning": 0})

    def test_weights_invalid(self) -> None:
        """Passing < 1 and Warning < 0 are 400 Invalid Weights."""
        for weights, text in (
            ({"Warning": 1}, "Passing must be greater than 0"),
            ({"Passing": 1, "Warning": -1}, "Warning must be greater or equal than 0"),
        ):
            response, body = self.call("PUT", "/v1/agent/service/register", {"Name": "a", "Weights": weights})
            self.assertEqual((response.code, body.decode()), (400, "Invalid Weights: " + text))

    def test_meta_invalid(self) -> None:
        """Service meta keys are validated as validateMetaPair does."""
        response, body = self.call("PUT", "/v1/agent/service/register", {"Name": "a", "Meta": {"a b": "1"}})
        self.assertEqual(
            (response.code, body.decode()),
            (
                400,
                "Invalid Service Meta: Couldn't load metadata pair ('a b', '1'): Key contains invalid characters",
            ),
        )
        response, body = self.call(
            "PUT", "/v1/agent/service/register", {"Name": "a", "Meta": {"consul-x": "1"}}
        )
        self.assertIn(b"Key prefix 'consul-' is reserved for internal use", body)

    def test_tagged_addresses_from_ip(self) -> None:
        """An IPv4 service address adds lan_ipv4 and wan_ipv4 tagged addresses."""
        self.register(
            {
                "Name": "a",
                "Address": "10.0.0.1",
                "Port": 80,
                "TaggedAddresses": {"wan": {"Address": "1.2.3.4", "Port": 8080}},
            }
        )
        self.register({"Name": "b", "Address": "db.local"})
        services = self.services()
        self.assertEqual(
            services["a"]["TaggedAddresses"],
            {
                "wan": {"Address": "1.2.3.4", "Port": 8080},
                "lan_ipv4": {"Address": "10.0.0.1", "Port": 80},
                "wan_ipv4": {"Address": "10.0.0.1", "Port": 80},
            },
        )
        self.assertNotIn("TaggedAddresses", services["b"])
        entry = self.ok("GET", "/v1/catalog/service/a")[0]
        self.assertEqual(entry["ServiceTaggedAddresses"]["lan_ipv4"], {"Address": "10.0.0.1", "Port": 80})
        self.assertNotIn("ServiceTaggedAddresses", self.ok("GET", "/v1/catalog/service/b")[0])

    def test_agent_service_fields(self) -> None:
        """agent/services entries: Tags [] and Meta {}, Datacenter, no indexes or Kind."""
        self.register({"Name": "a"})
        svc = self.services()["a"]
        self.assertEqual((svc["Tags"], svc["Meta"], svc["Datacenter"]), ([], {}, "dc1"))
        for key in ("CreateIndex", "ModifyIndex", "Kind", "ContentHash", "TaggedAddresses"):
            self.assertNotIn(key, svc)


class TTLTests(RawCase):
    """checks.CheckTTL: output cut, expiry text."""

    def test_output_truncated_with_suffix(self) -> None:
        """Output over 4096 bytes becomes '<4096> ... (captured 4096 of N bytes)'."""
        self.ok("PUT", "/v1/agent/check/register", {"Name": "t", "TTL": "10s"})
        self.ok("PUT", "/v1/agent/check/update/t", {"Status": "passing", "Output": "x" * 5000})
        self.assertEqual(self.checks()["t"]["Output"], "x" * 4096 + " ... (captured 4096 of 5000 bytes)")

    def test_output_max_size(self) -> None:
        """A smaller OutputMaxSize cuts there."""
        self.ok("PUT", "/v1/agent/check/register", {"Name": "t", "TTL": "10s", "OutputMaxSize": 10})
        self.ok("PUT", "/v1/agent/check/pass/t?note=" + "y" * 12)
        self.assertEqual(self.checks()["t"]["Output"], "y" * 10 + " ... (captured 10 of 12 bytes)")

    def test_expiry_text(self) -> None:
        """TTL expired, then with the last update's output once one was set."""
        self.ok("PUT", "/v1/agent/check/register", {"Name": "t", "TTL": "10s", "Status": "passing"})
        self.advance(11)
        self.assertEqual(self.checks()["t"]["Output"], "TTL expired")
        self.ok("PUT", "/v1/agent/check/pass/t?note=fine")
        self.advance(11)
        check = self.checks()["t"]
        self.assertEqual(
            (check["Status"], check["Output"]),
            ("critical", "TTL expired (last output before timeout follows): fine"),
        )

    def test_helpers(self) -> None:
        """go_duration matches Go's Duration.String and truncate_output leaves short output."""
        self.assertEqual(
            [go_duration(x) for x in (0, 0.1, 1, 60, 3600, 5.5, 1e-6)],
            ["0s", "100ms", "1s", "1m0s", "1h0m0s", "5.5s", "1\u00b5s"],
        )
        self.assertEqual(truncate_output("abc"), "abc")


class IntervalTests(SynchronousTestCase):
    """agent.go addCheck raises intervals below checks.MinInterval."""

    def make(self) -> Any:
        """A FakeConsul whose reactor is a Clock that is never advanced (no probe runs)."""
        clock = Clock()
        fake = FakeConsul(clock, reactor=clock)
        self.addCleanup(fake.agent_state.stop)
        return fake

    def test_raised_to_one_second(self) -> None:
        """A 100ms HTTP check runs every second, but the check still shows Interval 100ms."""
        fake = self.make()
        c = fake.client()
        self.successResultOf(
            c.agent.check.register("h", {"HTTP": "http://127.0.0.1:1/", "Interval": "100ms"})
        )
        self.assertEqual(fake.agent_state.runner_interval("h"), 1.0)
        self.assertEqual(self.successResultOf(c.agent.checks())["h"]["Interval"], "100ms")

    def test_knob(self) -> None:
        """core.min_check_interval lowers the floor for fast tests."""
        fake = self.make()
        fake.core.min_check_interval = 0.05
        self.successResultOf(
            fake.client().agent.check.register("h", {"TCP": "127.0.0.1:1", "Interval": "100ms"})
        )
        self.assertEqual(fake.agent_state.runner_interval("h"), 0.1)


class ReaperTests(RawCase):
    """DeregisterCriticalServiceAfter: 1m minimum, reaper every 30s from agent start."""

    def test_minimum_and_period(self) -> None:
        """A 10s value acts as 60s; the 90s reaper pass (critical 90s > 60s) removes the service."""
        self.register({"Name": "web", "Check": {"TTL": "1h", "DeregisterCriticalServiceAfter": "10s"}})
        self.advance(89)
        self.assertIn("web", self.services())
        self.advance(1)
        self.assertNotIn("web", self.services())
        self.assertNotIn("service:web", self.checks())
        self.assertEqual(self.ok("GET", "/v1/catalog/service/web"), [])

    def test_strictly_longer(self) -> None:
        """At exactly the timeout the service stays (CriticalFor() > timeout)."""
        self.register({"Name": "web", "Check": {"TTL": "1h", "DeregisterCriticalServiceAfter": "2m"}})
        self.advance(120)
        self.assertIn("web", self.services())
        self.advance(30)
        self.assertNotIn("web", self.services())

    def test_passing_not_reaped(self) -> None:
        """A passing check never reaps, and the critical clock restarts when it goes critical."""
        self.register(
            {
                "Name": "web",
                "Check": {"TTL": "1h", "Status": "passing", "DeregisterCriticalServiceAfter": "1m"},
            }
        )
        self.advance(200)
        self.assertIn("web", self.services())
        self.ok("PUT", "/v1/agent/check/fail/service:web")  # critical since t=200
        self.advance(40)  # pass at 240: critical 40s
        self.assertIn("web", self.services())
        self.advance(30)  # pass at 270: critical 70s > 60s
        self.assertNotIn("web", self.services())

    def test_knobs(self) -> None:
        """core.check_deregister_interval_min / check_reap_interval shorten it for tests."""
        self.fake.core.check_deregister_interval_min = 1.0
        self.fake.core.check_reap_interval = 1.0
        self.register({"Name": "web", "Check": {"TTL": "1h", "DeregisterCriticalServiceAfter": "1s"}})
        self.advance(2)
        self.assertNotIn("web", self.services())


class ServiceHashTests(RawCase):
    """GET /v1/agent/service/:id with hash-based blocking."""

    def test_content_hash(self) -> None:
        """The body's ContentHash equals X-Consul-ContentHash; no X-Consul-Index."""
        self.register({"Name": "web"})
        response, body = self.call("GET", "/v1/agent/service/web")
        data = json.loads(body)
        self.assertEqual(data["ContentHash"], self.header(response, "X-Consul-ContentHash"))
        self.assertIsNone(self.header(response, "X-Consul-Index"))
        self.assertEqual((data["ID"], data["Service"], data["Datacenter"]), ("web", "web", "dc1"))

    def test_blocks_until_change(self) -> None:
        """?hash=<current> blocks; a re-registration with new tags answers with a new hash."""
        self.register({"Name": "web"})
        h = self.ok("GET", "/v1/agent/service/web")["ContentHash"]
        d = self.start(f"/v1/agent/service/web?hash={h}&wait=60s")
        self.assertNoResult(d)
        self.register({"Name": "web", "Tags": ["v2"]})
        self.treq.flush()
        response = self.successResultOf(d)
        data = json.loads(self.successResultOf(response.content()))
        self.assertEqual(data["Tags"], ["v2"])
        self.assertNotEqual(data["ContentHash"], h)

    def test_timeout_and_other_hash(self) -> None:
        """An unchanged service answers after wait (+ jitter); another hash answers at once."""
        self.register({"Name": "web"})
        h = self.ok("GET", "/v1/agent/service/web")["ContentHash"]
        self.ok("GET", "/v1/agent/service/web?hash=abc&wait=60s")
        d = self.start(f"/v1/agent/service/web?hash={h}&wait=10s")
        self.advance(9.9)
        self.assertNoResult(d)
        self.advance(1)
        self.assertEqual(self.successResultOf(d).code, 200)

    def test_unknown(self) -> None:
        """An unknown ID is 404 'unknown service ID: <id>'."""
        response, body = self.call("GET", "/v1/agent/service/nope")
        self.assertEqual((response.code, body), (404, b"unknown service ID: nope"))


class LocalHealthTests(RawCase):
    """/v1/agent/health/service/id/:id and /name/:name."""

    def health(self, path: str, **kw: Any) -> tuple[int, Optional[str], Any]:
        """(code, X-Consul-Reason, body) of one local-health request."""
        response, body = self.call("GET", "/v1/agent/health/service/" + path, **kw)
        ctype = self.header(response, "Content-Type") or ""
        data = json.loads(body) if ctype.startswith("application/json") else body.decode()
        return response.code, self.header(response, "X-Consul-Reason"), data

    def test_codes(self) -> None:
        """passing 200, warning 429, critical 503, maintenance 503."""
        self.register({"Name": "web", "Check": {"TTL": "1h", "Status": "passing"}})
        self.assertEqual(self.health("id/web")[:2], (200, "passing"))
        self.ok("PUT", "/v1/agent/check/warn/service:web")
        self.assertEqual(self.health("id/web")[:2], (429, "warning"))
        self.ok("PUT", "/v1/agent/check/fail/service:web")
        self.assertEqual(self.health("id/web")[:2], (503, "critical"))
        self.ok("PUT", "/v1/agent/check/pass/service:web")
        self.ok("PUT", "/v1/agent/maintenance?enable=true")
        code, reason, data = self.health("id/web")
        self.assertEqual((code, reason, data["AggregatedStatus"]), (503, "maintenance", "maintenance"))

    def test_body(self) -> None:
        """JSON: AggregatedStatus, Service (agent view), Checks from local state with node checks (null tags)."""
        self.register({"Name": "web", "Check": {"TTL": "1h", "Status": "passing"}})
        self.ok("PUT", "/v1/agent/check/register", {"Name": "disk", "TTL": "1h", "Status": "passing"})
        code, _, data = self.health("id/web")
        self.assertEqual(data["Service"]["ID"], "web")
        by_id = {c["CheckID"]: c for c in data["Checks"]}
        # serfHealth lives in the catalog only, not in the agent's local state.
        self.assertEqual(sorted(by_id), ["disk", "service:web"])
        self.assertIsNone(by_id["disk"]["ServiceTags"])
        self.assertIsNone(by_id["service:web"]["ServiceTags"])
        self.assertEqual(by_id["service:web"]["Type"], "")

    def test_no_checks_passing(self) -> None:
        """A service with no checks of its own, on a healthy node, is passing."""
        self.register({"Name": "web"})
        self.assertEqual(self.health("id/web")[:2], (200, "passing"))

    def test_text(self) -> None:
        """?format=text and Accept: text/plain answer the status as text."""
        self.register({"Name": "web", "Check": {"TTL": "1h"}})
        self.assertEqual(self.health("id/web?format=text"), (503, "critical", "critical"))
        self.assertEqual(
            self.health("id/web", headers={"Accept": "text/plain"}), (503, "critical", "critical")
        )

    def test_unknown_and_missing(self) -> None:
        """Unknown ID 404 (JSON stub or text); missing ID 400."""
        self.assertEqual(
            self.health("id/nope"),
            (
                404,
                "ServiceId nope not found",
                {"AggregatedStatus": "critical", "Service": None, "Checks": None},
            ),
        )
        self.assertEqual(self.health("id/nope?format=text")[2], "ServiceId nope not found")
        response, body = self.call("GET", "/v1/agent/health/service/id/")
        self.assertEqual((response.code, body), (400, b"Missing serviceID"))
        response, body = self.call("GET", "/v1/agent/health/service/name/")
        self.assertEqual((response.code, body), (400, b"Missing service Name"))

    def test_by_name_worst(self) -> None:
        """By name: a list of every instance, status code of the worst."""
        self.register({"Name": "web", "ID": "w1", "Check": {"TTL": "1h", "Status": "passing"}})
        self.register({"Name": "web", "ID": "w2", "Check": {"TTL": "1h", "Status": "warning"}})
        code, reason, data = self.health("name/web")
        self.assertEqual((code, reason), (429, "warning"))
        self.assertEqual(sorted(e["Service"]["ID"] for e in data), ["w1", "w2"])
        self.assertEqual(self.health("name/nope"), (404, "ServiceName nope Not Found", []))


class LeaveTests(RawCase):
    """PUT /v1/agent/leave."""

    def test_leave(self) -> None:
        """200 with an empty body; GET is 405."""
        response, body = self.call("PUT", "/v1/agent/leave")
        self.assertEqual((response.code, body), (200, b""))
        self.assertTrue(self.fake.agent_state.left)
        self.assertEqual(self.call("GET", "/v1/agent/leave")[0].code, 405)


class CatalogHealthViewTests(RawCase):
    """Catalog and health reads: node-services, passing order, headers, fields."""

    def test_node_services(self) -> None:
        """node-services lists the services; an unknown node is {Node: null, Services: null}."""
        self.register({"Name": "web"})
        response, body = self.call("GET", "/v1/catalog/node-services/node1")
        data = json.loads(body)
        self.assertEqual(sorted(s["ID"] for s in data["Services"]), ["consul", "web"])
        self.assertEqual(data["Node"]["Node"], "node1")
        self.assertIsNotNone(self.header(response, "X-Consul-Index"))
        self.assertEqual(self.header(response, "X-Consul-Effective-Consistency"), "leader")
        self.assertEqual(self.ok("GET", "/v1/catalog/node-services/nope"), {"Node": None, "Services": None})
        response, body = self.call("GET", "/v1/catalog/node-services/")
        self.assertEqual((response.code, body), (400, b"Missing node name"))

    def test_passing_swaps_order(self) -> None:
        """?passing drops failing entries by swapping the last one into their place."""
        for n in ("a", "b", "c"):
            self.ok(
                "PUT",
                "/v1/catalog/register",
                {
                    "Node": n,
                    "Address": "10.0.0.1",
                    "Service": {"Service": "s"},
                    "Check": {
                        "CheckID": "c",
                        "Name": "c",
                        "ServiceID": "s",
                        "Status": "critical" if n == "a" else "passing",
                    },
                },
            )
        nodes = [e["Node"]["Node"] for e in self.ok("GET", "/v1/health/service/s?passing")]
        self.assertEqual(nodes, ["c", "b"])
        self.assertEqual([e["Node"]["Node"] for e in self.ok("GET", "/v1/health/service/s")], ["a", "b", "c"])

    def test_consistency_header(self) -> None:
        """Catalog/health reads say which consistency answered; agent lists carry no index."""
        response, _ = self.call("GET", "/v1/health/node/node1?stale")
        self.assertEqual(self.header(response, "X-Consul-Effective-Consistency"), "stale")
        response, _ = self.call("GET", "/v1/catalog/nodes?consistent")
        self.assertEqual(self.header(response, "X-Consul-Effective-Consistency"), "consistent")
        response, _ = self.call("GET", "/v1/agent/checks")
        self.assertIsNone(self.header(response, "X-Consul-Index"))

    def test_check_fields(self) -> None:
        """Health checks carry Type, Interval, Timeout, ExposedPort and Definition."""
        for check in self.ok("GET", "/v1/health/node/node1"):
            for key in ("Type", "Interval", "Timeout", "ExposedPort", "Definition", "ServiceTags"):
                self.assertIn(key, check)
