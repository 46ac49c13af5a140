# -*- test-case-name: tests.test_fake_fidelity10 -*-
"""
FakeConsul fidelity (issue 10): bodies decoded as Consul decodes them, no
input poisoning the state, and the smaller differences other clients hit.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from tests.test_fake_agent_fidelity import RawCase

#: The reads that answered 500 forever once a mistyped registration got in.
READS = (
    "/v1/agent/services",
    "/v1/agent/checks",
    "/v1/catalog/services",
    "/v1/catalog/nodes",
    "/v1/catalog/service/web",
    "/v1/health/service/web",
    "/v1/health/state/any",
    "/v1/catalog/node/node1",
)


class DecodeTests(RawCase):
    """Wrong types are Consul's 400s and leave the state as it was."""

    def assert_reads_fine(self) -> None:
        """Every read still answers 200 with JSON."""
        for path in READS:
            response, body = self.call("GET", path)
            self.assertEqual(response.code, 200, (path, body))
            json.loads(body)

    def refused(self, method: str, path: str, body: Any) -> bytes:
        """Send a request that must be a 400; its body."""
        before = self.fake.core.index
        response, text = self.call(method, path, body)
        self.assertEqual(response.code, 400, text)
        self.assertEqual(self.fake.core.index, before)
        self.assert_reads_fine()
        return text

    def test_service_name_number(self) -> None:
        """{"Name": 5} is Go's type error, and nothing is registered."""
        text = self.refused("PUT", "/v1/agent/service/register", {"Name": 5})
        self.assertEqual(
            text,
            b"Request decode failed: json: cannot unmarshal number into Go struct field .Name of type string",
        )
        self.assertEqual(self.ok("GET", "/v1/agent/services"), {})

    def test_service_nested_types(self) -> None:
        """Mistyped ports, tags, meta, weights, tagged addresses and checks are all refused."""
        for body in (
            {"Name": "web", "Port": "80"},
            {"Name": "web", "Port": 1.5},
            {"Name": "web", "Tags": [1]},
            {"Name": "web", "Meta": {"a": 1}},
            {"Name": "web", "Weights": {"Passing": "x"}},
            {"Name": "web", "TaggedAddresses": {"lan": {"Port": "x"}}},
            {"Name": "web", "Check": {"TTL": 5, "Name": 7}},
            {"Name": "web", "Checks": [{"TTL": "10s", "Notes": []}]},
            {"Name": "web", "EnableTagOverride": "yes"},
            {"Name": "web", "Address": {}},
            ["web"],
        ):
            self.refused("PUT", "/v1/agent/service/register", body)

    def test_case_insensitive_fields(self) -> None:
        """Go matches keys to fields ignoring case."""
        self.ok("PUT", "/v1/agent/service/register", {"name": "web", "port": 80, "TAGS": ["a"]})
        svc = self.ok("GET", "/v1/agent/services")["web"]
        self.assertEqual((svc["Service"], svc["Port"], svc["Tags"]), ("web", 80, ["a"]))

    def test_unknown_field(self) -> None:
        """decodeBody refuses unknown fields (lib.DecodeJSON's DisallowUnknownFields)."""
        text = self.refused("PUT", "/v1/agent/service/register", {"Name": "web", "Namespace": "default"})
        self.assertEqual(text, b'Request decode failed: json: unknown field "Namespace"')

    def test_check_name_number(self) -> None:
        """A check {"Name": 7} is refused and no check appears."""
        text = self.refused("PUT", "/v1/agent/check/register", {"Name": 7, "TTL": "10s"})
        self.assertIn(b"into Go struct field .Name of type string", text)

    def test_check_bad_duration(self) -> None:
        """A TTL Go cannot parse is time.ParseDuration's error."""
        text = self.refused("PUT", "/v1/agent/check/register", {"Name": "c", "TTL": "10"})
        self.assertEqual(text, b'Request decode failed: time: missing unit in duration "10"')

    def test_check_update_types(self) -> None:
        """check/update decodes into checkUpdate."""
        self.ok("PUT", "/v1/agent/check/register", {"Name": "c", "TTL": "10s"})
        text = self.refused("PUT", "/v1/agent/check/update/c", {"Status": "passing", "Output": 5})
        self.assertIn(b"Go struct field checkUpdate.Output of type string", text)

    def test_catalog_node_number(self) -> None:
        """Catalog {"Node": 5} names RegisterRequest, Go's named struct."""
        text = self.refused("PUT", "/v1/catalog/register", {"Node": 5, "Address": "10.0.0.1"})
        self.assertEqual(
            text,
            b"Request decode failed: json: cannot unmarshal number into Go struct "
            b"field RegisterRequest.Node of type string",
        )

    def test_catalog_nested(self) -> None:
        """The nested Service and Checks are typed too."""
        base = {"Node": "n2", "Address": "10.0.0.2"}
        text = self.refused(
            "PUT", "/v1/catalog/register", dict(base, Service={"Service": "web", "Port": "x"})
        )
        self.assertIn(b"Go struct field NodeService.Service.Port of type int", text)
        self.refused("PUT", "/v1/catalog/register", dict(base, Checks=[{"CheckID": 5}]))
        self.refused("PUT", "/v1/catalog/register", dict(base, NodeMeta={"a": None, "b": 1}))
        self.refused("PUT", "/v1/catalog/register", dict(base, Service={"Service": "web", "Name": "web"}))

    def test_catalog_deregister(self) -> None:
        """Deregister decodes into DeregisterRequest, accepting the obsolete Address."""
        self.refused("PUT", "/v1/catalog/deregister", {"Node": ["n"]})
        self.ok("PUT", "/v1/catalog/register", {"Node": "n2", "Address": "10.0.0.2"})
        self.ok("PUT", "/v1/catalog/deregister", {"Node": "n2", "Address": "10.0.0.2"})

    def test_session_types(self) -> None:
        """Session create: Go's types enforced, unknown fields ignored (json.Unmarshal)."""
        text = self.refused("PUT", "/v1/session/create", {"Name": 1})
        self.assertIn(b"of type string", text)
        self.refused("PUT", "/v1/session/create", {"LockDelay": "15"})
        self.assertIn("ID", self.ok("PUT", "/v1/session/create", {"Name": "s", "Whatever": 1}))

    def test_coordinate_types(self) -> None:
        """Coordinate update decodes serf's Coordinate."""
        self.refused("PUT", "/v1/coordinate/update", {"Node": "node1", "Coord": {"Vec": "x"}})

    def test_query_types(self) -> None:
        """Prepared queries refuse wrong types anywhere in the body."""
        self.refused("POST", "/v1/query", {"Name": "q", "Service": {"Service": "web", "Tags": [1]}})
        self.refused(
            "POST", "/v1/query", {"Name": "q", "Service": {"Service": "web", "Failover": {"NearestN": "3"}}}
        )


class CatalogFidelityTests(RawCase):
    """Catalog and health reads as the state store answers them."""

    def register(self, node: str, sid: str, name: str, tags: list[str], **extra: Any) -> None:
        """Register one instance through the catalog."""
        service = dict({"ID": sid, "Service": name, "Tags": tags}, **extra)
        self.ok("PUT", "/v1/catalog/register", {"Node": node, "Address": "10.0.0.9", "Service": service})

    def test_skip_node_update_creates_missing_node(self) -> None:
        """SkipNodeUpdate on a node that does not exist yet still creates it."""
        self.ok(
            "PUT",
            "/v1/catalog/register",
            {"Node": "fresh", "Address": "10.1.1.1", "SkipNodeUpdate": True, "Service": {"Service": "web"}},
        )
        node = self.ok("GET", "/v1/catalog/node/fresh")
        self.assertEqual(node["Node"]["Address"], "10.1.1.1")
        self.assertIn("web", node["Services"])

    def test_skip_node_update_keeps_existing_node(self) -> None:
        """On an existing node SkipNodeUpdate leaves the node record alone."""
        self.ok("PUT", "/v1/catalog/register", {"Node": "n", "Address": "10.1.1.1"})
        self.ok("PUT", "/v1/catalog/register", {"Node": "n", "Address": "10.9.9.9", "SkipNodeUpdate": True})
        self.assertEqual(self.ok("GET", "/v1/catalog/node/n")["Node"]["Address"], "10.1.1.1")

    def test_services_filter_collects_matching_tags(self) -> None:
        """?filter= keeps instances, and a service's tags come only from matching ones."""
        self.register("a", "web1", "web", ["v1", "blue"], Port=80)
        self.register("b", "web2", "web", ["v2", "green"], Port=81)
        self.register("c", "db1", "db", ["primary"], Port=5432)
        got = self.ok("GET", "/v1/catalog/services?filter=ServicePort%20%3D%3D%2080")
        self.assertEqual(got, {"web": ["blue", "v1"]})
        everything = self.ok("GET", "/v1/catalog/services")
        self.assertEqual(everything["web"], ["blue", "green", "v1", "v2"])

    def test_unknown_peer_is_empty(self) -> None:
        """?peer= names a peer the agent has no imports from: empty answers, not local data."""
        self.register("a", "web1", "web", [])
        self.ok(
            "PUT",
            "/v1/catalog/register",
            {
                "Node": "a",
                "Address": "10.0.0.9",
                "Check": {"CheckID": "c", "Name": "c", "ServiceID": "web1", "Status": "passing"},
            },
        )
        for path, empty in (
            ("/v1/catalog/nodes", []),
            ("/v1/catalog/services", {}),
            ("/v1/catalog/service/web", []),
            ("/v1/health/service/web", []),
            ("/v1/health/checks/web", []),
            ("/v1/health/state/any", []),
            ("/v1/health/node/node1", []),
            ("/v1/catalog/node/a", None),
        ):
            self.assertEqual(self.ok("GET", path + "?peer=other"), empty, path)
            self.assertNotEqual(self.ok("GET", path), empty, path)


class TxnServiceTests(RawCase):
    """Catalog services written through /v1/txn."""

    def txn(self, service: dict[str, Any]) -> dict[str, Any]:
        """Register node n and one service on it in a txn; the service result."""
        ops = [
            {"Node": {"Verb": "set", "Node": {"Node": "n", "Address": "10.0.0.5"}}},
            {"Service": {"Verb": "set", "Node": "n", "Service": service}},
        ]
        return self.ok("PUT", "/v1/txn", ops)["Results"][1]["Service"]

    def test_defaults_and_tagged_addresses(self) -> None:
        """TaggedAddresses are kept, weights default to 1/1, Proxy/Connect are objects."""
        svc = self.txn(
            {"ID": "web", "Service": "web", "TaggedAddresses": {"lan": {"Address": "10.0.0.5", "Port": 80}}}
        )
        self.assertEqual(svc["Weights"], {"Passing": 1, "Warning": 1})
        self.assertEqual(svc["TaggedAddresses"], {"lan": {"Address": "10.0.0.5", "Port": 80}})
        self.assertIsInstance(svc["Proxy"], dict)
        self.assertEqual(svc["Connect"], {})
        entry = self.ok("GET", "/v1/catalog/service/web")[0]
        self.assertEqual(entry["ServiceWeights"], {"Passing": 1, "Warning": 1})
        self.assertEqual(entry["ServiceTaggedAddresses"], {"lan": {"Address": "10.0.0.5", "Port": 80}})

    def test_given_weights_kept(self) -> None:
        """Valid weights are stored as given."""
        svc = self.txn({"ID": "web", "Service": "web", "Weights": {"Passing": 3, "Warning": 2}})
        self.assertEqual(svc["Weights"], {"Passing": 3, "Warning": 2})

    def test_mistyped_nested_field_refused(self) -> None:
        """A nested field of the wrong type is a 400 and nothing is applied."""
        before = self.fake.core.index
        ops = [
            {"Node": {"Verb": "set", "Node": {"Node": "n", "Address": "10.0.0.5"}}},
            {"Service": {"Verb": "set", "Node": "n", "Service": {"Service": "web", "Tags": [5]}}},
        ]
        response, body = self.call("PUT", "/v1/txn", ops)
        self.assertEqual(response.code, 400, body)
        self.assertTrue(body.startswith(b"Failed to parse body: json: cannot unmarshal number"), body)
        self.assertEqual(self.fake.core.index, before)
        self.assertEqual(self.ok("GET", "/v1/catalog/services"), {"consul": []})


class AgentSelfTests(RawCase):
    """/v1/agent/self as a dev agent fills it."""

    def test_stats_sections(self) -> None:
        """Stats has the consul, raft, serf_lan, runtime, agent and build sections, all strings."""
        stats = self.ok("GET", "/v1/agent/self")["Stats"]
        for section in ("consul", "raft", "serf_lan", "serf_wan", "runtime", "agent", "build"):
            self.assertIn(section, stats)
            self.assertTrue(all(isinstance(v, str) for v in stats[section].values()), section)
        consul = stats["consul"]
        self.assertEqual(
            (consul["server"], consul["leader"], consul["bootstrap"], consul["acl"]),
            ("true", "true", "true", "disabled"),
        )
        self.assertEqual(stats["raft"]["state"], "Leader")

    def test_leader_addr_is_status_leader(self) -> None:
        """/v1/status/leader equals Stats.consul.leader_addr."""
        stats = self.ok("GET", "/v1/agent/self")["Stats"]
        self.assertEqual(self.ok("GET", "/v1/status/leader"), stats["consul"]["leader_addr"])

    def test_xds_and_debug_config(self) -> None:
        """The xDS block and the DebugConfig fields clients read are there."""
        me = self.ok("GET", "/v1/agent/self")
        self.assertEqual(me["xDS"]["Ports"], {"Plaintext": 8502, "TLS": 8503})
        self.assertIn("envoy", me["xDS"]["SupportedProxies"])
        debug = me["DebugConfig"]
        self.assertEqual(debug["SerfAdvertiseAddrLAN"], "tcp://127.0.0.1:8301")
        self.assertEqual((debug["NodeName"], debug["Datacenter"]), ("node1", "dc1"))
        self.assertEqual(debug["NodeID"], me["Config"]["NodeID"])

    def test_node_meta_has_consul_version(self) -> None:
        """The agent's node meta carries consul-version, in self and in the catalog."""
        me = self.ok("GET", "/v1/agent/self")
        version = me["Config"]["Version"]
        self.assertEqual(me["Meta"]["consul-version"], version)
        node = self.ok("GET", "/v1/catalog/node/node1")["Node"]
        self.assertEqual(node["Meta"]["consul-version"], version)

    def test_acl_enabled_in_stats(self) -> None:
        """With ACLs on, Stats.consul.acl is "enabled"."""
        from txconsul.testing import FakeConsul
        from treq.testing import StubTreq

        self.fake = FakeConsul(self.clock, node_name="node1", acl_master_token="root", seed=7)
        self.treq = StubTreq(self.fake.resource())
        stats = self.ok("GET", "/v1/agent/self", headers={"X-Consul-Token": "root"})["Stats"]
        self.assertEqual(stats["consul"]["acl"], "enabled")


class ConfigurationTests(RawCase):
    """Constructor options a real agent's configuration sets."""

    def use(self, **kwargs: Any) -> None:
        """Replace the fake with one built with ``kwargs``."""
        from txconsul.testing import FakeConsul
        from treq.testing import StubTreq

        self.fake = FakeConsul(self.clock, node_name="node1", seed=7, **kwargs)
        self.treq = StubTreq(self.fake.resource())

    def test_node_id_and_meta(self) -> None:
        """node_id and node_meta show in the catalog and /v1/agent/self."""
        node_id = "0b3b2a4e-6c1f-4c43-9d43-6a4f1b3c2d10"
        self.use(node_id=node_id, node_meta={"rack": "r1"})
        node = self.ok("GET", "/v1/catalog/node/node1")["Node"]
        self.assertEqual(node["ID"], node_id)
        self.assertEqual(node["Meta"]["rack"], "r1")
        self.assertEqual(node["Meta"]["consul-network-segment"], "")
        me = self.ok("GET", "/v1/agent/self")
        self.assertEqual((me["Config"]["NodeID"], me["Meta"]["rack"]), (node_id, "r1"))

    def test_session_ttl_min(self) -> None:
        """session_ttl_min lowers (or raises) the smallest TTL the server accepts."""
        self.use(session_ttl_min=1.0)
        self.assertIn("ID", self.ok("PUT", "/v1/session/create", {"TTL": "2s"}))
        response, body = self.call("PUT", "/v1/session/create", {"TTL": "500ms"})
        self.assertEqual(
            (response.code, body), (500, b"Invalid Session TTL '500000000', must be between [1s=24h0m0s]")
        )

    def test_session_ttl_min_default(self) -> None:
        """By default the minimum is Consul's 10s."""
        response, body = self.call("PUT", "/v1/session/create", {"TTL": "5s"})
        self.assertEqual(
            (response.code, body), (500, b"Invalid Session TTL '5000000000', must be between [10s=24h0m0s]")
        )


class EventSizeTests(RawCase):
    """User events are limited by serf's 512-byte user event size."""

    def test_small_payload_fires(self) -> None:
        """A payload well under the limit is kept and listed."""
        self.ok("PUT", "/v1/event/fire/deploy", b"x" * 300)
        self.assertEqual(len(self.ok("GET", "/v1/event/list")), 1)

    def test_large_payload_refused(self) -> None:
        """A 10 MB payload is serf's error (an RPC error: 500) and is not kept."""
        response, body = self.call("PUT", "/v1/event/fire/deploy", b"x" * (10 * 1024 * 1024))
        self.assertEqual(
            (response.code, body), (500, b"user event exceeds configured limit of 512 bytes before encoding")
        )
        self.assertEqual(self.ok("GET", "/v1/event/list"), [])

    def test_limit_counts_name_and_filters(self) -> None:
        """The name and filters count too: a payload that fits alone fails with a long name."""
        self.ok("PUT", "/v1/event/fire/e", b"x" * 380)
        response, body = self.call("PUT", "/v1/event/fire/" + "n" * 200, b"x" * 380)
        self.assertEqual(response.code, 500)
        self.assertIn(b"exceeds configured limit of 512 bytes", body)


class CatalogWeightsTests(RawCase):
    """Catalog-registered weights as the state store keeps them."""

    def weights(self, service: dict[str, Any]) -> Any:
        """Register a service through the catalog; its ServiceWeights."""
        self.ok("PUT", "/v1/catalog/register", {"Node": "n", "Address": "10.0.0.1", "Service": service})
        return self.ok("GET", "/v1/catalog/service/" + service["Service"])[0]["ServiceWeights"]

    def test_valid_kept_any_case(self) -> None:
        """Valid weights are kept, whatever the case of their keys."""
        self.assertEqual(
            self.weights({"Service": "a", "Weights": {"passing": 5, "WARNING": 2}}),
            {"Passing": 5, "Warning": 2},
        )

    def test_invalid_or_missing_become_one(self) -> None:
        """Missing weights and weights failing ValidateWeights read back as {1, 1}."""
        self.assertEqual(self.weights({"Service": "b"}), {"Passing": 1, "Warning": 1})
        self.assertEqual(
            self.weights({"Service": "c", "Weights": {"Passing": 0, "Warning": 3}}),
            {"Passing": 1, "Warning": 1},
        )
        self.assertEqual(
            self.weights({"Service": "d", "Weights": {"Passing": 70000}}), {"Passing": 1, "Warning": 1}
        )


class AgentWeightsTests(RawCase):
    """The agent validates weights with ValidateWeights' three rules."""

    def test_weight_above_65535(self) -> None:
        """A weight above 65535 is a 400 naming the DNS weight range."""
        response, body = self.call(
            "PUT", "/v1/agent/service/register", {"Name": "w", "Weights": {"Passing": 70000, "Warning": 1}}
        )
        self.assertEqual(
            (response.code, body), (400, b"Invalid Weights: DNS Weight must be between 0 and 65535")
        )


class DeepNestingTests(RawCase):
    """Deeply nested JSON is Go's "exceeded max depth" 400, never a crash."""

    def test_deep_arrays(self) -> None:
        """Every decoding endpoint answers 400 to 100000 nested arrays (Go: depth > 10000)."""
        body = b"[" * 100000 + b"]" * 100000
        for method, path, prefix in (
            ("PUT", "/v1/agent/service/register", b"Request decode failed: "),
            ("PUT", "/v1/agent/check/register", b"Request decode failed: "),
            ("PUT", "/v1/agent/check/update/c", b"Request decode failed: "),
            ("PUT", "/v1/catalog/register", b"Request decode failed: "),
            ("PUT", "/v1/catalog/deregister", b"Request decode failed: "),
            ("PUT", "/v1/session/create", b"Request decode failed: "),
            ("PUT", "/v1/coordinate/update", b"Request decode failed: "),
            ("POST", "/v1/query", b"Request decode failed: "),
            ("PUT", "/v1/txn", b"Failed to parse body: "),
        ):
            response, text = self.call(method, path, body)
            self.assertEqual((response.code, text), (400, prefix + b"exceeded max depth"), path)

    def test_nesting_python_can_walk(self) -> None:
        """Moderate nesting decodes normally: here a type error for the top-level array."""
        body = b"[" * 200 + b"]" * 200
        response, text = self.call("PUT", "/v1/agent/service/register", body)
        self.assertEqual(response.code, 400)
        self.assertIn(b"cannot unmarshal array into Go value", text)


class DeepExpressionTests(RawCase):
    """Filters and regular expressions nested too deeply are refused, not crashes."""

    def test_filter(self) -> None:
        """A filter nested past what the fake's parser follows is a 500, as other bad filters."""
        deep = quote("(" * 1500 + 'Node == "a"' + ")" * 1500)
        for path in (
            "/v1/catalog/services",
            "/v1/catalog/nodes",
            "/v1/agent/services",
            "/v1/health/state/any",
        ):
            response, body = self.call("GET", f"{path}?filter={deep}")
            self.assertEqual(
                (response.code, body),
                (500, b"Failed to create boolean expression evaluator: expression nests too deeply"),
            )

    def test_event_filter_regexp(self) -> None:
        """An event node filter nesting too deeply is Go's regexp error (a 500, as other bad filters)."""
        response, body = self.call("PUT", "/v1/event/fire/x?node=" + quote("(" * 3000))
        self.assertEqual(response.code, 500)
        self.assertTrue(
            body.startswith(b"Invalid node filter: error parsing regexp: expression nests too deeply")
        )
        self.assertEqual(self.ok("GET", "/v1/event/list"), [])
