"""
Agent, catalog and health over real loopback TCP, against FakeConsul and
(when CONSUL_HTTP_ADDR is set) a real agent, with real HTTP and TCP checks.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks, returnValue
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import deferLater
from twisted.web.resource import Resource

from txconsul import Consul, NotFound

from .base import FakeAgentCase, QuietSite, RealAgentCase


class _Health(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return b"ok"


class AgentCatalogHealthMixin:
    """The same agent/catalog/health tests for every agent."""

    consul: Consul
    fake: Any

    def unique(self, what: str) -> str:
        """A name no other test uses."""
        return f"txconsul-it-{what}-{uuid.uuid4().hex[:8]}"

    def service(self, name: str, **kw: Any) -> Any:
        """Register a service, deregistered at cleanup."""
        sid = kw.get("service_id") or name

        def cleanup() -> Any:
            d = self.consul.agent.service.deregister(sid)
            d.addErrback(lambda f: f.trap(NotFound))
            return d

        d = self.consul.agent.service.register(name, **kw)
        d.addCallback(lambda r: (self.addCleanup(cleanup), r)[1])
        return d

    @inlineCallbacks
    def wait_for(self, predicate: Callable[[], Any], timeout: float = 8.0) -> Any:
        """Poll ``predicate`` (returning a Deferred) every 50ms until it is truthy."""
        deadline = reactor.seconds() + timeout
        while True:
            value = yield predicate()
            if value:
                returnValue(value)
            if reactor.seconds() > deadline:
                self.fail("condition not reached in time; last value %r" % (value,))
            yield deferLater(reactor, 0.05, lambda: None)

    @inlineCallbacks
    def check_status(self, check_id: str) -> Any:
        """The status of a local check, or None."""
        checks = yield self.consul.agent.checks()
        check = checks.get(check_id)
        returnValue(check and check["Status"])

    @inlineCallbacks
    def test_service_ttl_round_trip(self) -> Any:
        """A service with '#' and ':' in its name goes passing through its TTL check."""
        name = self.unique("web#blue:1")
        self.assertIs((yield self.service(name, check=Consul.Check.ttl("30s"))), True)
        _, entries = yield self.consul.health.service(name, passing=True)
        self.assertEqual(entries, [])
        yield self.consul.agent.check.ttl_pass(f"service:{name}", "fine")
        _, entries = yield self.consul.health.service(name, passing=True)
        self.assertEqual([e["Service"]["Service"] for e in entries], [name])
        _, nodes = yield self.consul.catalog.service(name)
        self.assertEqual([n["ServiceName"] for n in nodes], [name])

    @inlineCallbacks
    def test_local_health(self) -> Any:
        """agent.service.health follows the TTL check: critical (503), then passing (200)."""
        name = self.unique("local")
        yield self.service(name, check=Consul.Check.ttl("30s"))
        status, info = yield self.consul.agent.service.health(name)
        self.assertEqual(
            (status, info["AggregatedStatus"], info["Service"]["ID"]), ("critical", "critical", name)
        )
        yield self.consul.agent.check.ttl_pass(f"service:{name}")
        status, infos = yield self.consul.agent.service.health_by_name(name)
        self.assertEqual((status, [i["Service"]["ID"] for i in infos]), ("passing", [name]))
        with self.assertRaises(NotFound):
            yield self.consul.agent.service.health(self.unique("nope"))

    @inlineCallbacks
    def test_node_services(self) -> Any:
        """catalog.node_services lists the agent node's services; an unknown node is all None."""
        name = self.unique("ns")
        yield self.service(name, tags=["a"])
        me = yield self.consul.agent.self()
        node = me["Config"]["NodeName"]

        def listed() -> Any:
            d = self.consul.catalog.node_services(node)
            return d.addCallback(lambda r: [s for s in r[1]["Services"] if s["ID"] == name])

        services = yield self.wait_for(listed)
        self.assertEqual(services[0]["Tags"], ["a"])
        _, data = yield self.consul.catalog.node_services(self.unique("nonode"))
        self.assertEqual(data, {"Node": None, "Services": None})

    @inlineCallbacks
    def test_http_check_goes_passing(self) -> Any:
        """A real HTTP check against a twisted.web server on 127.0.0.1 turns passing."""
        port = reactor.listenTCP(0, QuietSite(_Health()), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        url = f"http://127.0.0.1:{port.getHost().port}/health"
        name = self.unique("http")
        yield self.service(name, check=Consul.Check.http(url, "100ms", timeout="1s"))
        status = yield self.wait_for(
            lambda: self.check_status(f"service:{name}").addCallback(lambda s: s == "passing" and s)
        )
        self.assertEqual(status, "passing")
        checks = yield self.consul.agent.checks()
        self.assertIn("200", checks[f"service:{name}"]["Output"])

    @inlineCallbacks
    def test_tcp_check_to_closed_port_goes_critical(self) -> Any:
        """A real TCP check to a closed port turns critical from passing."""
        probe = reactor.listenTCP(0, Factory.forProtocol(Protocol), interface="127.0.0.1")
        closed = probe.getHost().port
        yield probe.stopListening()
        name = self.unique("tcp")
        yield self.service(name)
        cid = self.unique("tcpcheck")
        yield self.consul.agent.check.register(
            cid,
            Consul.Check.tcp("127.0.0.1", closed, "100ms", timeout="1s"),
            service_id=name,
            status="passing",
        )
        self.addCleanup(
            lambda: self.consul.agent.check.deregister(cid).addErrback(lambda f: f.trap(NotFound))
        )
        yield self.wait_for(lambda: self.check_status(cid).addCallback(lambda s: s == "critical"))
        _, entries = yield self.consul.health.service(name, passing=True)
        self.assertEqual(entries, [])

    @inlineCallbacks
    def test_catalog_register_deregister(self) -> Any:
        """An external node registered in the catalog is listed, then removed."""
        node = self.unique("node")
        svc = self.unique("ext")
        self.assertIs(
            (
                yield self.consul.catalog.register(
                    node,
                    "10.9.8.7",
                    service={"Service": svc, "Tags": ["x"], "Port": 81},
                    check={"Name": "ext", "ServiceID": svc, "Status": "passing"},
                )
            ),
            True,
        )
        self.addCleanup(self.consul.catalog.deregister, node)
        _, data = yield self.consul.catalog.node(node)
        self.assertEqual(data["Node"]["Address"], "10.9.8.7")
        _, entries = yield self.consul.health.service(svc, tag="x", passing=True)
        self.assertEqual([e["Node"]["Node"] for e in entries], [node])
        self.assertIs((yield self.consul.catalog.deregister(node)), True)
        _, data = yield self.consul.catalog.node(node)
        self.assertIsNone(data)

    @inlineCallbacks
    def test_blocking_health_state(self) -> Any:
        """A blocking health query returns after a check changes."""
        cid = self.unique("ttl")
        yield self.consul.agent.check.register(cid, Consul.Check.ttl("30s"), status="passing")
        self.addCleanup(
            lambda: self.consul.agent.check.deregister(cid).addErrback(lambda f: f.trap(NotFound))
        )
        index, _ = yield self.consul.health.state("critical")
        d = self.consul.health.state("critical", index=index, wait="5s")
        yield deferLater(reactor, 0.05, lambda: None)
        yield self.consul.agent.check.ttl_fail(cid)
        new_index, checks = yield d
        self.assertGreater(new_index, index)
        self.assertIn(cid, [c["CheckID"] for c in checks])

    @inlineCallbacks
    def test_unknown_check_deregister(self) -> Any:
        """Deregistering an unknown check is NotFound."""
        with self.assertRaises(NotFound):
            yield self.consul.agent.check.deregister(self.unique("nope"))


class AgentCatalogHealthFakeTests(AgentCatalogHealthMixin, FakeAgentCase):
    """Against FakeConsul on loopback."""

    def setUp(self) -> Any:
        result = super().setUp()
        self.addCleanup(self.fake.agent_state.stop)
        return result


class AgentCatalogHealthRealTests(AgentCatalogHealthMixin, RealAgentCase):
    """Against the real agent at CONSUL_HTTP_ADDR."""


class ScriptCheckFakeTests(FakeAgentCase):
    """Script checks really run when FakeConsul enables them."""

    fake_kwargs = {"enable_script_checks": True}

    def setUp(self) -> Any:
        result = super().setUp()
        self.addCleanup(self.fake.agent_state.stop)
        return result

    @inlineCallbacks
    def test_exit_codes(self) -> Any:
        """Exit 0 is passing, 1 warning, anything else critical; output is kept."""
        for cid, script in (("ok", "echo hi"), ("warn", "exit 1"), ("bad", "exit 3")):
            yield self.consul.agent.check.register(cid, Consul.Check.script(script, "100ms"))
        expected = {"ok": "passing", "warn": "warning", "bad": "critical"}
        deadline = reactor.seconds() + 8
        while True:
            checks = yield self.consul.agent.checks()
            got = {k: v["Status"] for k, v in checks.items()}
            if got == expected and checks["ok"]["Output"] == "hi\n":
                break
            if reactor.seconds() > deadline:
                self.fail(f"script checks did not settle: {got}")
            yield deferLater(reactor, 0.05, lambda: None)
        for cid in expected:
            yield self.consul.agent.check.deregister(cid)
