# -*- test-case-name: tests.test_tap_watch -*-
"""
Tests of ``twistd consul-watch`` (:mod:`txconsul.tap.watch`) in memory: option
parsing, ``--config``, the handlers and the service against FakeConsul.
"""

from __future__ import annotations

import io
import json
import os
from base64 import b64encode
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
        """By default the command after '--' is joined by spaces for $SHELL -c (consul watch -shell=true)."""
        o = parse("--type", "key", "--key", "foo", "--", "sh", "-c", "cat >> seen.log")
        (spec,) = o["watches"]
        self.assertEqual(spec["handler"], "sh -c cat >> seen.log")
        self.assertNotIn("args", spec)
        self.assertEqual(spec["handler_type"], "script")
        self.assertEqual(spec["params"], {"key": "foo"})

    def test_no_shell(self) -> None:
        """--no-shell runs the arguments directly (consul watch -shell=false)."""
        o = parse("--type", "key", "--key", "foo", "--no-shell", "--", "sh", "-c", "cat >> x")
        self.assertEqual(o["watches"][0]["args"], ["sh", "-c", "cat >> x"])
        self.assertNotIn("handler", o["watches"][0])

    def test_shell(self) -> None:
        """--shell (the default, kept for scripts) joins the command for the shell."""
        o = parse("--type", "nodes", "--shell", "--", "echo", "hi")
        self.assertEqual(o["watches"][0]["handler"], "echo hi")
        self.assertRaises(usage.UsageError, parse, "--type", "nodes", "--shell", "--no-shell")

    def test_retry_options(self) -> None:
        """--retry-interval and --max-backoff default to 1s and 180s and reach the watch."""
        o = parse("--type", "nodes")
        self.assertEqual((o["retry-interval"], o["max-backoff"]), (1.0, 180.0))
        o = parse("--type", "nodes", "--retry-interval", "2s", "--max-backoff", "1m")
        svc = tap.build_service(o, Clock(), environ={})
        policy = svc.watches[0].policy
        self.assertEqual((policy.backoff, policy.backoff_cap, policy.jitter), (2.0, 60.0, 0.2))
        for bad in (
            ["--retry-interval", "0s"],
            ["--retry-interval", "soon"],
            ["--retry-interval", "10s", "--max-backoff", "5s"],
        ):
            self.assertRaises(usage.UsageError, parse, "--type", "nodes", *bad)

    def test_checks_tag(self) -> None:
        """--tag works with a checks watch by state."""
        o = parse("--type", "checks", "--state", "critical", "--tag", "a")
        self.assertEqual(o["watches"][0]["params"], {"state": "critical", "tag": ["a"]})

    def test_encode_json_like_go(self) -> None:
        """encode_json escapes <, >, &, U+2028 and U+2029 as Go's encoding/json, keeps other UTF-8."""
        self.assertEqual(
            tap.encode_json({"a": "<b>&\u2028\u2029é"}),
            '{"a":"\\u003cb\\u003e\\u0026\\u2028\\u2029é"}'.encode(),
        )
        self.assertEqual(tap.encode_json(None), b"null")
        self.assertEqual(tap.encode_json({"a": []}, indent=4), b'{\n    "a": []\n}')

    def test_tags_repeat(self) -> None:
        """--tag is repeatable and --passingonly/--stale are flags."""
        o = parse(
            "--type",
            "service",
            "--service",
            "web",
            "--tag",
            "a",
            "--tag",
            "b",
            "--passingonly",
            "--stale",
            "--datacenter",
            "dc2",
        )
        self.assertEqual(
            o["watches"][0]["params"],
            {
                "service": "web",
                "tag": ["a", "b"],
                "passingonly": True,
                "stale": True,
                "dc": "dc2",
            },
        )
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
        o = parse("--type", "nodes", "--http-handler", "http://h/x", "--http-handler-timeout", "3s")
        spec = o["watches"][0]
        self.assertEqual(spec["handler_type"], "http")
        self.assertEqual(
            spec["http_handler_config"], {"path": "http://h/x", "timeout": 3.0, "method": "POST"}
        )

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
        svc = tap.build_service(
            o,
            Clock(),
            environ={
                "CONSUL_HTTP_ADDR": "10.1.2.3:8501",
                "CONSUL_HTTP_TOKEN": "s3cr3t-tok",
            },
        )
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
        path = self.write(
            {
                "watches": [
                    {"type": "key", "key": "a", "args": ["true"]},
                    {"type": "keyprefix", "prefix": "p/", "handler_type": "script", "handler": "echo"},
                    {
                        "type": "service",
                        "service": "web",
                        "tag": "x",
                        "passingonly": True,
                        "handler_type": "http",
                        "http_handler_config": {
                            "path": "http://h/",
                            "method": "PUT",
                            "header": {"A": ["b"]},
                            "timeout": "2s",
                        },
                    },
                ]
            }
        )
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
            {"watches": [{"type": "key", "key": "", "args": ["x"]}]},
            {"watches": [{"type": "keyprefix", "prefix": "", "args": ["x"]}]},
            {"watches": [{"type": "key", "key": "a", "args": ["x"], "handler": "x"}]},
            {
                "watches": [
                    {
                        "type": "key",
                        "key": "a",
                        "args": ["x"],
                        "handler_type": "http",
                        "http_handler_config": {"path": "http://h/"},
                    }
                ]
            },
            {
                "watches": [
                    {"type": "key", "key": "a", "args": ["x"], "http_handler_config": {"path": "http://h/"}}
                ]
            },
            {
                "watches": [
                    {
                        "type": "key",
                        "key": "a",
                        "handler_type": "http",
                        "http_handler_config": {"path": "http://h/", "tls_skip_verify": "yes"},
                    }
                ]
            },
        ]
        for doc in bad:
            e = self.assertRaises(usage.UsageError, parse, "--config", self.write(doc))
            self.assertIn("--config", str(e))

    def test_tls_skip_verify(self) -> None:
        """tls_skip_verify is accepted and gives the handler a policy that verifies nothing."""
        from OpenSSL import SSL

        path = self.write(
            {
                "watches": [
                    {
                        "type": "nodes",
                        "handler_type": "http",
                        "http_handler_config": {"path": "https://h/", "tls_skip_verify": True},
                    }
                ]
            }
        )
        o = parse("--config", path)
        self.assertIs(o["watches"][0]["http_handler_config"]["tls_skip_verify"], True)
        from twisted.internet.protocol import Factory, Protocol
        from twisted.internet.testing import StringTransport
        from twisted.protocols.tls import TLSMemoryBIOFactory

        def mode(skip: bool) -> int:
            creator = tap.handler_tls_policy(skip).creatorForNetloc(b"h.example", 443)
            factory = TLSMemoryBIOFactory(creator, True, Factory.forProtocol(Protocol))
            proto = factory.buildProtocol(None)
            proto.makeConnection(StringTransport())
            return proto._tlsConnection.get_context().get_verify_mode()

        self.assertEqual(mode(True), SSL.VERIFY_NONE)
        self.assertNotEqual(mode(False), SSL.VERIFY_NONE)

    def test_http_defaults(self) -> None:
        """An http handler without method or timeout gets POST and 10s (watch.go)."""
        path = self.write(
            {
                "watches": [
                    {
                        "type": "nodes",
                        "handler_type": "http",
                        "http_handler_config": {"path": "http://h/"},
                    }
                ]
            }
        )
        cfg = parse("--config", path)["watches"][0]["http_handler_config"]
        self.assertEqual((cfg["method"], cfg["timeout"]), ("POST", 10.0))

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
        headers = {k.decode().lower(): v[0].decode() for k, v in request.requestHeaders.getAllRawHeaders()}
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
        svc = tap.build_service(
            parse("--type", "key", "--key", "foo"),
            self.clock,
            consul=self.consul,
            out=out,
            stop=lambda: stops.append(1),
        )
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
        svc = tap.build_service(
            parse("--type", "key", "--key", "nope"),
            self.clock,
            consul=self.consul,
            out=out,
            stop=lambda: None,
        )
        svc.startService()
        self.assertEqual(out.getvalue(), "null\n")
        svc.stopService()

    def test_http_handler(self) -> None:
        """The http handler POSTs the JSON with X-Consul-Index on each change."""
        rec = Recorder()
        stub = StubTreq(rec)
        svc = tap.build_service(
            parse("--type", "keyprefix", "--prefix", "p/", "--http-handler", "http://h/hook"),
            self.clock,
            consul=self.consul,
            http_client=stub,
        )
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
        self.assertEqual(json.loads(body)[0]["Session"], "")
        self.assertEqual(rec.requests[0][2], b"null\n")  # json.Encoder: a newline

    def test_http_handler_headers_appended(self) -> None:
        """Configured headers are added after Content-Type and X-Consul-Index, never replacing them."""
        rec = Recorder()
        stub = StubTreq(rec)
        handler = tap.HTTPHandler(
            "http://h/hook", stub, self.clock, method="PUT", headers={"x-team": ["ops", "dev"]}
        )
        handler(7, {"a": 1})
        stub.flush()
        method, headers, body = rec.requests[0]
        self.assertEqual((method, headers["x-team"], headers["x-consul-index"]), (b"PUT", "ops", "7"))
        self.assertEqual(body, b'{"a":1}\n')
        self.assertEqual(tap._canonical_header("x-team-NAME"), "X-Team-Name")

    def test_command_output_passthrough(self) -> None:
        """A single watch's command writes to our stdout/stderr (consul watch); --config ones are logged."""
        reactor = FakeProcessReactor()
        fake = FakeConsul(reactor, seed=3)
        consul = fake.client()
        svc = tap.build_service(parse("--type", "nodes", "--", "cat"), reactor, consul=consul)
        svc.startService()
        self.addCleanup(svc.stopService)
        reactor.advance(0)
        ((proto, exe, args, env, t),) = reactor.spawned
        self.assertEqual(args[1:], ["-c", "cat"])
        self.assertEqual(reactor.kwargs[0]["childFDs"], {0: "w", 1: 1, 2: 2})
        ended(proto)

    def test_http_handler_failure_keeps_watching(self) -> None:
        """A failing hook is logged and the watch keeps delivering."""
        rec = Recorder(code=500)
        stub = StubTreq(rec)
        svc = tap.build_service(
            parse("--type", "key", "--key", "k", "--http-handler", "http://h/hook"),
            self.clock,
            consul=self.consul,
            http_client=stub,
        )
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
        self.kwargs: list[dict[str, Any]] = []

    def spawnProcess(
        self, proto: Any, exe: str, args: list[str], env: Optional[dict] = None, **kw: Any
    ) -> FakeTransport:
        t = FakeTransport()
        proto.makeConnection(t)
        self.spawned.append((proto, exe, args, env or {}, t))
        self.kwargs.append(kw)
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
        self.handler = tap.CommandHandler(
            ["sh", "-c", "cat"], self.reactor, limit=10, environ={"PATH": os.environ.get("PATH", "")}
        )
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

    def test_logged_not_passed_through(self) -> None:
        """Without passthrough the child's stdout/stderr are pipes read into the log."""
        self.handler(1, None)
        self.assertNotIn("childFDs", self.reactor.kwargs[0])
        ended(self.reactor.spawned[0][0])

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


def http_config(**cfg: Any) -> dict[str, Any]:
    """A --config document with one nodes watch whose http handler has ``cfg``."""
    return {
        "watches": [
            {
                "type": "nodes",
                "handler_type": "http",
                "http_handler_config": dict({"path": "http://h/"}, **cfg),
            }
        ]
    }


class HandlerTimeoutTests(SynchronousTestCase):
    """The http handler timeout is a positive duration, not a blocking wait."""

    write = ConfigTests.write

    def test_option_beyond_ten_minutes(self) -> None:
        """--http-handler-timeout accepts more than 10 minutes (it is no blocking wait)."""
        o = parse("--type", "nodes", "--http-handler", "http://h/x", "--http-handler-timeout", "15m")
        self.assertEqual(o["watches"][0]["http_handler_config"]["timeout"], 900.0)

    def test_option_errors_name_it(self) -> None:
        """A bad or zero --http-handler-timeout is refused with a message naming the option."""
        for value in ("soon", "0s", "0"):
            e = self.assertRaises(
                usage.UsageError,
                parse,
                "--type",
                "nodes",
                "--http-handler",
                "http://h/x",
                "--http-handler-timeout",
                value,
            )
            self.assertIn("--http-handler-timeout", str(e))
            self.assertNotIn("wait", str(e))

    def test_config_beyond_ten_minutes(self) -> None:
        """http_handler_config timeout accepts a Go duration over 10 minutes."""
        o = parse("--config", self.write(http_config(timeout="20m")))
        self.assertEqual(o["watches"][0]["http_handler_config"]["timeout"], 1200.0)

    def test_config_errors_name_it(self) -> None:
        """A bad or zero http_handler_config timeout is refused naming the key, not 'wait'."""
        for value in ("soon", "0s", True):
            e = self.assertRaises(usage.UsageError, parse, "--config", self.write(http_config(timeout=value)))
            self.assertIn("http_handler_config timeout", str(e))
            self.assertNotIn("wait", str(e))


class HandlerURLTests(SynchronousTestCase):
    """User info in an http handler's URL is basic auth, and URLs are logged redacted."""

    URL = "http://hook:s3cr3t@h:8080/hook?token=abc"

    def setUp(self) -> None:
        self.clock = Clock()
        self.events: list[dict[str, Any]] = []
        self.patch(tap.log, "observer", self.events.append)

    def send(self, url: str, **kw: Any) -> tuple[bytes, dict[str, str]]:
        """Send one change through an HTTPHandler to a Recorder; the URI and headers it got."""
        seen: list[tuple[bytes, dict[str, str]]] = []

        class Hook(Recorder):
            def render(self, request: Any) -> bytes:
                seen.append(
                    (
                        request.uri,
                        {
                            k.decode().lower(): v[0].decode()
                            for k, v in request.requestHeaders.getAllRawHeaders()
                        },
                    )
                )
                return super().render(request)

        stub = StubTreq(Hook(code=kw.pop("code", 200)))
        handler = tap.HTTPHandler(url, stub, self.clock, **kw)
        d = handler(7, {"a": 1})
        stub.flush()
        self.successResultOf(d)
        (got,) = seen
        return got

    def logged(self) -> str:
        """Every logged event, formatted and with all its fields."""
        from twisted.logger import formatEvent

        return "\n".join(formatEvent(e) + repr(sorted(e.items())) for e in self.events)

    def test_user_info_is_basic_auth(self) -> None:
        """user:pass@ is sent as Authorization: Basic and left out of the request."""
        uri, headers = self.send(self.URL)
        self.assertEqual(uri, b"/hook?token=abc")
        self.assertEqual(headers["authorization"], "Basic " + b64encode(b"hook:s3cr3t").decode())
        self.assertEqual(headers["host"], "h:8080")

    def test_user_info_percent_decoded(self) -> None:
        """Escaped user info is decoded first; a user without password is 'user:' (Go's basicAuth)."""
        _, headers = self.send("http://u%40x:p%3Aw@h/")
        self.assertEqual(headers["authorization"], "Basic " + b64encode(b"u@x:p:w").decode())
        _, headers = self.send("http://solo@h/")
        self.assertEqual(headers["authorization"], "Basic " + b64encode(b"solo:").decode())

    def test_configured_authorization_wins(self) -> None:
        """A configured Authorization header is kept, as net/http keeps it over URL user info."""
        _, headers = self.send(self.URL, headers={"authorization": ["Bearer x"]})
        self.assertEqual(headers["authorization"], "Bearer x")

    def test_no_user_info_no_header(self) -> None:
        """A URL without user info sends no Authorization header."""
        _, headers = self.send("http://h/hook")
        self.assertNotIn("authorization", headers)

    def test_logs_redacted(self) -> None:
        """Successes, non-2xx answers and failures log scheme://host:port/path only."""
        self.send(self.URL)
        self.send(self.URL, code=500)

        class Failing:
            def request(self, method: str, url: str, **kw: Any) -> Any:
                from twisted.internet.defer import fail

                return fail(RuntimeError(f"cannot reach {url}"))

        handler = tap.HTTPHandler(self.URL, Failing(), self.clock)
        self.successResultOf(handler(8, None))
        text = self.logged()
        self.assertEqual(len(self.events), 3)
        self.assertIn("http://h:8080/hook", text)
        for secret in ("s3cr3t", "hook:", "token", "abc"):
            self.assertNotIn(secret, text)
        self.assertNotIn("s3cr3t", repr(handler))

    def test_bad_urls_refused_without_echo(self) -> None:
        """A handler URL that is not absolute http(s) is a usage error that does not repeat it."""
        for url in ("ftp://u:s3cr3t@h/x", "s3cr3t-relative", "http://u:s3cr3t@/x"):
            e = self.assertRaises(usage.UsageError, parse, "--type", "nodes", "--http-handler", url)
            self.assertNotIn("s3cr3t", str(e))
