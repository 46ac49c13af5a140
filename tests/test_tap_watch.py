# -*- test-case-name: tests.test_tap_watch -*-
"""
Tests of ``twistd consul-watch`` (:mod:`txconsul.tap.watch`) in memory: option
parsing, ``--config``, the handlers and the service against FakeConsul.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any, Optional

from treq.testing import StubTreq
from twisted.application.service import IServiceMaker
from twisted.internet.task import Clock
from twisted.plugin import getPlugins
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource

from txconsul.tap import watch as tap
from txconsul.testing import FakeConsul


def parse(*argv: str) -> tap.Options:
    """Parse ``consul-watch`` arguments."""
    options = tap.Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    """Command-line parsing and validation, before anything starts."""

    def test_key_command(self) -> None:
        """The arguments after '--' are the handler command, run without a shell."""
        o = parse("--type", "key", "--key", "foo", "--", "sh", "-c", "cat >> seen.log")
        (spec,) = o["watches"]
        self.assertEqual(spec["args"], ["sh", "-c", "cat >> seen.log"])
        self.assertEqual(spec["handler_type"], "script")
        self.assertEqual(spec["params"], {"key": "foo"})

    def test_shell(self) -> None:
        """--shell joins the command and runs it through the shell."""
        o = parse("--type", "nodes", "--shell", "--", "echo", "hi")
        self.assertEqual(o["watches"][0]["handler"], "echo hi")

    def test_tags_repeat(self) -> None:
        """--tag is repeatable and --passingonly/--stale are flags."""
        o = parse("--type", "service", "--service", "web", "--tag", "a", "--tag", "b",
                  "--passingonly", "--stale", "--datacenter", "dc2")
        self.assertEqual(o["watches"][0]["params"], {
            "service": "web", "tag": ["a", "b"], "passingonly": True, "stale": True,
            "dc": "dc2",
        })
        self.assertIsNone(o["watches"][0]["handler_type"])

    def test_invalid_combinations(self) -> None:
        """Invalid combinations fail with a UsageError."""
        bad = [
            [],
            ["--type", "key"],
            ["--type", "keyprefix"],
            ["--type", "service"],
            ["--type", "bogus"],
            ["--type", "services", "--key", "x"],
            ["--type", "checks", "--service", "a", "--state", "passing"],
            ["--type", "checks", "--state", "sad"],
            ["--type", "event", "--stale"],
            ["--type", "key", "--key", "a", "--filter", "x"],
            ["--type", "nodes", "--token", "a", "--token-file", "/x"],
            ["--type", "nodes", "--client-cert", "c"],
            ["--type", "nodes", "--http-handler", "http://x/", "--", "true"],
            ["--type", "nodes", "--max-output", "-1"],
            ["--type", "nodes", "--http-handler-timeout", "soon"],
            ["--config", "/nonexistent.json"],
        ]
        for argv in bad:
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_http_handler(self) -> None:
        """--http-handler makes an http handler with the timeout."""
        o = parse("--type", "nodes", "--http-handler", "http://h/x",
                  "--http-handler-timeout", "3s")
        spec = o["watches"][0]
        self.assertEqual(spec["handler_type"], "http")
        self.assertEqual(spec["http_handler_config"], {"path": "http://h/x", "timeout": 3.0})

    def test_plugin_listed(self) -> None:
        """twistd finds the consul-watch plugin."""
        names = [p.tapname for p in getPlugins(IServiceMaker)]
        self.assertIn("consul-watch", names)

    def test_client_environ(self) -> None:
        """Explicit options override the CONSUL_* environment variables."""
        o = parse("--type", "nodes", "--http-addr", "127.0.0.1:9", "--ca-file", "/ca")
        env = tap.client_environ(o, {"CONSUL_HTTP_ADDR": "other:1", "X": "y"})
        self.assertEqual(env["CONSUL_HTTP_ADDR"], "127.0.0.1:9")
        self.assertEqual(env["CONSUL_CACERT"], "/ca")
        self.assertEqual(env["X"], "y")

    def test_environment_defaults(self) -> None:
        """Without options the client takes CONSUL_HTTP_ADDR and CONSUL_HTTP_TOKEN."""
        o = parse("--type", "nodes")
        svc = tap.build_service(o, Clock(), environ={
            "CONSUL_HTTP_ADDR": "10.1.2.3:8501", "CONSUL_HTTP_TOKEN": "s3cr3t-tok",
        })
        self.assertEqual(svc.consul.config.address, "10.1.2.3:8501")
        self.assertEqual(svc.consul.token, "s3cr3t-tok")
        self.assertNotIn("s3cr3t", repr(svc.watches[0]))


class ConfigTests(SynchronousTestCase):
    """--config in the shape of the agent's watches stanza."""

    def write(self, doc: Any) -> str:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(doc if isinstance(doc, str) else json.dumps(doc))
        return path

    def test_several(self) -> None:
        """Several watches with script and http handlers load."""
        path = self.write({"watches": [
            {"type": "key", "key": "a", "args": ["true"]},
            {"type": "keyprefix", "prefix": "p/", "handler_type": "script", "handler": "echo"},
            {"type": "service", "service": "web", "tag": "x", "passingonly": True,
             "handler_type": "http",
             "http_handler_config": {"path": "http://h/", "method": "PUT",
                                     "header": {"A": ["b"]}, "timeout": "2s"}},
        ]})
        o = parse("--config", path)
        self.assertEqual([w["type"] for w in o["watches"]], ["key", "keyprefix", "service"])
        self.assertEqual(o["watches"][2]["http_handler_config"]["timeout"], 2.0)

    def test_invalid(self) -> None:
        """Bad watch definitions are usage errors naming the watch."""
        bad = [
            "not json",
            {"watches": []},
            {"watches": [{"type": "key", "key": "a"}]},  # no handler
            {"watches": [{"type": "key", "key": "a", "args": ["x"], "bogus": 1}]},
            {"watches": [{"type": "key", "args": ["x"]}]},
            {"watches": [{"type": "key", "key": "a", "stale": "yes", "args": ["x"]}]},
            {"watches": [{"type": "key", "key": "a", "handler_type": "http"}]},
            {"watches": [{"type": "key", "key": "a", "args": []}]},
        ]
        for doc in bad:
            e = self.assertRaises(usage.UsageError, parse, "--config", self.write(doc))
            self.assertIn("--config", str(e))

    def test_not_with_type(self) -> None:
        """--config cannot be mixed with --type or a command."""
        path = self.write({"watches": [{"type": "nodes", "args": ["true"]}]})
        self.assertRaises(usage.UsageError, parse, "--config", path, "--type", "nodes")
        self.assertRaises(usage.UsageError, parse, "--config", path, "--", "true")


class Recorder(Resource):
    """Records the requests an HTTP handler sends."""

    isLeaf = True

    def __init__(self, code: int = 200) -> None:
        super().__init__()
        self.requests: list[tuple[bytes, dict[str, str], bytes]] = []
        self.code = code

    def render(self, request: Any) -> bytes:
        headers = {k.decode().lower(): v[0].decode()
                   for k, v in request.requestHeaders.getAllRawHeaders()}
        self.requests.append((request.method, headers, request.content.read()))
        request.setResponseCode(self.code)
        return b"ok"


class ServiceTests(SynchronousTestCase):
    """The service against FakeConsul in memory."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=2)
        self.consul = self.fake.client()

    def test_print_once(self) -> None:
        """With no handler the first result is printed as JSON (Value base64) and the program stops."""
        self.successResultOf(self.consul.kv.put("foo", b"bar"))
        out = io.StringIO()
        stops: list[int] = []
        svc = tap.build_service(parse("--type", "key", "--key", "foo"), self.clock,
                                consul=self.consul, out=out, stop=lambda: stops.append(1))
        svc.startService()
        self.clock.advance(0)
        doc = json.loads(out.getvalue())
        self.assertEqual((doc["Key"], doc["Value"]), ("foo", "YmFy"))
        self.assertEqual(stops, [1])
        self.assertTrue(out.getvalue().startswith('{\n    "'))
        svc.stopService()

    def test_print_once_missing_key(self) -> None:
        """A missing key prints null, as consul watch does."""
        out = io.StringIO()
        svc = tap.build_service(parse("--type", "key", "--key", "nope"), self.clock,
                                consul=self.consul, out=out, stop=lambda: None)
        svc.startService()
        self.assertEqual(out.getvalue(), "null\n")
        svc.stopService()

    def test_http_handler(self) -> None:
        """The http handler POSTs the JSON with X-Consul-Index on each change."""
        rec = Recorder()
        stub = StubTreq(rec)
        svc = tap.build_service(
            parse("--type", "keyprefix", "--prefix", "p/", "--http-handler", "http://h/hook"),
            self.clock, consul=self.consul, http_client=stub)
        svc.startService()
        self.addCleanup(svc.stopService)
        stub.flush()
        self.successResultOf(self.consul.kv.put("p/a", b"1"))
        self.clock.advance(0)
        stub.flush()
        self.assertEqual(len(rec.requests), 2)
        method, headers, body = rec.requests[-1]
        self.assertEqual(method, b"POST")
        self.assertEqual(headers["x-consul-index"], str(self.fake.index))
        self.assertEqual(headers["content-type"], "application/json")
        self.assertEqual(json.loads(body)[0]["Value"], "MQ==")
        self.assertEqual(json.loads(rec.requests[0][2]), None)

    def test_http_handler_failure_keeps_watching(self) -> None:
        """A failing hook is logged and the watch keeps delivering."""
        rec = Recorder(code=500)
        stub = StubTreq(rec)
        svc = tap.build_service(
            parse("--type", "key", "--key", "k", "--http-handler", "http://h/hook"),
            self.clock, consul=self.consul, http_client=stub)
        svc.startService()
        self.addCleanup(svc.stopService)
        stub.flush()
        self.successResultOf(self.consul.kv.put("k", b"1"))
        self.clock.advance(0)
        stub.flush()
        self.assertEqual(len(rec.requests), 2)


class FakeTransport:
    """Stands in for a process transport."""

    def __init__(self) -> None:
        self.written = b""
        self.stdin_closed = False
        self.signals: list[str] = []

    def write(self, data: bytes) -> None:
        self.written += data

    def closeStdin(self) -> None:
        self.stdin_closed = True

    def signalProcess(self, name: str) -> None:
        self.signals.append(name)


class FakeProcessReactor(Clock):
    """A clock that records spawnProcess calls."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[Any, str, list[str], dict[str, str], FakeTransport]] = []

    def spawnProcess(self, proto: Any, exe: str, args: list[str], env: Optional[dict] = None,
                     **kw: Any) -> FakeTransport:
        t = FakeTransport()
        proto.makeConnection(t)
        self.spawned.append((proto, exe, args, env or {}, t))
        return t


def ended(proto: Any, code: int = 0) -> None:
    """End a fake process with an exit code."""
    from twisted.internet.error import ProcessDone, ProcessTerminated
    from twisted.python.failure import Failure

    reason = ProcessDone(0) if code == 0 else ProcessTerminated(exitCode=code)
    proto.processEnded(Failure(reason))


class CommandHandlerTests(SynchronousTestCase):
    """The command handler, on a fake process reactor."""

    def setUp(self) -> None:
        self.reactor = FakeProcessReactor()
        self.handler = tap.CommandHandler(["sh", "-c", "cat"], self.reactor, limit=10,
                                          environ={"PATH": os.environ.get("PATH", "")})
        self.handler.startService()

    def test_stdin_and_env(self) -> None:
        """The JSON goes to stdin (then closed) and CONSUL_INDEX to the environment."""
        d = self.handler(42, {"a": [1]})
        proto, exe, args, env, t = self.reactor.spawned[0]
        self.assertEqual((exe, args), ("sh", ["sh", "-c", "cat"]))
        self.assertEqual(env["CONSUL_INDEX"], "42")
        self.assertEqual(t.written, b'{"a":[1]}\n')
        self.assertTrue(t.stdin_closed)
        self.assertNoResult(d)
        ended(proto)
        self.successResultOf(d)

    def test_output_bounded(self) -> None:
        """Only `limit` bytes of output are kept; the rest is counted and logged as dropped."""
        self.handler(1, None)
        proto = self.reactor.spawned[0][0]
        proto.childDataReceived(1, b"0123456789abcdef")
        proto.childDataReceived(1, b"more")
        self.assertEqual(bytes(proto.output[1]), b"0123456789")
        self.assertEqual(proto.dropped[1], 10)
        ended(proto, 3)

    def test_stop_terminates_and_reaps(self) -> None:
        """Stopping sends SIGTERM, SIGKILL after a grace period, and fires when reaped."""
        self.handler(1, None)
        proto, _, _, _, t = self.reactor.spawned[0]
        d = self.handler.stopService()
        self.assertEqual(t.signals, ["TERM"])
        self.assertNoResult(d)
        self.reactor.advance(tap.KILL_AFTER)
        self.assertEqual(t.signals, ["TERM", "KILL"])
        ended(proto, 1)
        self.successResultOf(d)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_not_running_does_nothing(self) -> None:
        """A stopped handler spawns nothing."""
        self.handler.stopService()
        self.successResultOf(self.handler(1, None))
        self.assertEqual(self.reactor.spawned, [])
