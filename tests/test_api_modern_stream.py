"""
Streamed requests: the agent log monitor (``/v1/agent/monitor``) in the
client and in FakeConsul, and the transport's stream primitive.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import CancelledError

from txconsul import ACLPermissionDenied, BadRequest, ConsulConnectionError
from txconsul.testing._monitor import format_line

from .modern_case import ACLModernCase, ModernCase


class MonitorTests(ModernCase):
    """``consul.agent.monitor`` against FakeConsul in memory."""

    def open(self, **kw: Any) -> tuple[Any, list[str]]:
        """A monitor collecting its lines."""
        lines: list[str] = []
        mon = self.consul.agent.monitor(lines.append, **kw)
        return mon, lines

    def test_lines_arrive_as_logged(self) -> None:
        """Each line the fake logs after the monitor opened reaches on_line at once."""
        mon, lines = self.open(loglevel="info")
        self.assertEqual(self.fake.agent_monitor.watchers, 1)
        self.fake.agent_monitor.log("INFO", "agent", "Synced service", service="web")
        self.fake.agent_monitor.log("WARN", "agent.server", "slow")
        self.assertEqual(
            lines,
            [
                "1970-01-01T00:00:00.000Z [INFO]  agent: Synced service: service=web",
                "1970-01-01T00:00:00.000Z [WARN]  agent.server: slow",
            ],
        )
        self.assertEqual(mon.lines, 2)
        self.assertNoResult(mon.done)

    def test_default_level_is_info(self) -> None:
        """Without loglevel, DEBUG lines (the request log) are filtered out."""
        _, lines = self.open()
        self.ok(self.consul.kv.put("k", "v"))
        self.fake.agent_monitor.log("DEBUG", "agent", "hidden")
        self.fake.agent_monitor.log("ERROR", "agent", "shown")
        self.assertEqual(len(lines), 1)
        self.assertIn("[ERROR] agent: shown", lines[0])

    def test_debug_shows_requests(self) -> None:
        """At debug the fake's own request log is streamed, with method and URL."""
        _, lines = self.open(loglevel="debug")
        self.ok(self.consul.kv.put("some/key", "v"))
        self.assertEqual(len(lines), 1)
        self.assertIn("[DEBUG] agent.http: Request finished: method=PUT url=/v1/kv/some/key", lines[0])

    def test_session_reap_logged(self) -> None:
        """A session reaped at twice its TTL shows up in the log."""
        sid = self.ok(self.consul.session.create(ttl=10))
        _, lines = self.open(loglevel="debug")
        self.clock.advance(25)
        self.assertTrue(any(f"session={sid}" in line for line in lines), lines)

    def test_logjson(self) -> None:
        """With logjson each line is one hclog JSON object."""
        _, lines = self.open(loglevel="trace", logjson=True)
        self.clock.advance(1.5)
        self.fake.agent_monitor.log("TRACE", "agent", "tick", n=3)
        self.assertEqual(
            json.loads(lines[0]),
            {
                "@level": "trace",
                "@message": "tick",
                "@module": "agent",
                "@timestamp": "1970-01-01T00:00:01.500000Z",
                "n": 3,
            },
        )

    def test_stop_closes_the_stream(self) -> None:
        """stop() closes the connection: the fake drops the watcher, done fires None."""
        mon, lines = self.open()
        mon.stop()
        self.assertIsNone(self.ok(mon.done))
        self.assertEqual(self.fake.agent_monitor.watchers, 0)
        self.fake.agent_monitor.log("ERROR", "agent", "after")
        self.assertEqual(lines, [])
        mon.stop()  # idempotent

    def test_cancel_done_stops(self) -> None:
        """Cancelling done is stop()."""
        mon, _ = self.open()
        mon.done.cancel()
        self.assertIsNone(self.ok(mon.done))
        self.assertEqual(self.fake.agent_monitor.watchers, 0)

    def test_unknown_level_refused_before_request(self) -> None:
        """A level Consul does not know is a ValueError and sends nothing."""
        before = len(self.fake.requests)
        with self.assertRaises(ValueError) as e:
            self.consul.agent.monitor(lambda line: None, loglevel="loud")
        self.assertIn("'loud'", str(e.exception))
        self.assertEqual(len(self.fake.requests), before)

    def test_fake_rejects_unknown_level(self) -> None:
        """The fake answers 400 Unknown log level as Consul does."""
        d = self.consul.http.stream(
            "GET", "/v1/agent/monitor", [("loglevel", "loud")], lambda b: None, use_dc=False
        )
        e = self.fails(d, BadRequest)
        self.assertIn("Unknown log level: loud", str(e))

    def test_err_alias(self) -> None:
        """'err' is accepted and shows ERROR lines only."""
        _, lines = self.open(loglevel="err")
        self.fake.agent_monitor.log("WARN", "agent", "no")
        self.fake.agent_monitor.log("ERROR", "agent", "yes")
        self.assertEqual(len(lines), 1)

    def test_on_line_must_be_callable(self) -> None:
        """A non-callable on_line is a TypeError."""
        with self.assertRaises(TypeError):
            self.consul.agent.monitor("print")

    def test_failing_on_line_ends_stream(self) -> None:
        """An exception in on_line fails done with it and closes the stream."""

        def boom(line: str) -> None:
            raise RuntimeError("sink broke")

        mon = self.consul.agent.monitor(boom)
        self.fake.agent_monitor.log("INFO", "agent", "x")
        self.fails(mon.done, RuntimeError)
        self.assertEqual(self.fake.agent_monitor.watchers, 0)

    def test_server_ending_stream_fires_done(self) -> None:
        """When the agent ends the stream, done fires with None."""
        mon, lines = self.open()
        # The fake's stream writer finishes the answer when handed None.
        watcher = self.fake.agent_monitor._watchers[0]
        watcher.write(b"last line without newline")
        watcher.write(None)  # type: ignore[arg-type]
        self.assertIsNone(self.ok(mon.done))
        self.assertEqual(lines, ["last line without newline"])

    def test_partial_lines_joined(self) -> None:
        """A line split across chunks is handed on whole."""
        mon, lines = self.open()
        watcher = self.fake.agent_monitor._watchers[0]
        watcher.write(b"first ha")
        self.assertEqual(lines, [])
        watcher.write(b"lf\nsecond\n")
        self.assertEqual(lines, ["first half", "second"])


class MonitorACLTests(ACLModernCase):
    """The monitor needs agent:read."""

    def test_denied_without_agent_read(self) -> None:
        """An anonymous token on a default-deny agent gets 403."""
        mon = self.client().agent.monitor(lambda line: None)
        self.fails(mon.done, ACLPermissionDenied)
        self.assertEqual(self.fake.agent_monitor.watchers, 0)

    def test_allowed_with_agent_read(self) -> None:
        """A token with agent:read on the node streams."""
        c = self.client(f'agent "{self.fake.core.node_name}" {{ policy = "read" }}')
        lines: list[str] = []
        mon = c.agent.monitor(lines.append)
        self.fake.agent_monitor.log("INFO", "agent", "ok")
        self.assertEqual(len(lines), 1)
        self.assertNoResult(mon.done)


class StreamPrimitiveTests(ModernCase):
    """HTTPTransport.stream."""

    def test_cancel_before_connect_is_cancelled(self) -> None:
        """Cancelling the Deferred before anything arrived fails it with CancelledError."""
        from twisted.internet.defer import Deferred

        class Never:
            def connect(self, factory: Any) -> Deferred:
                return Deferred()

        c = self.fake.client(endpoint=Never())
        d = c.http.stream("GET", "/v1/agent/monitor", [], lambda b: None, use_dc=False)
        d.cancel()
        self.failureResultOf(d, CancelledError)

    def test_connection_refused(self) -> None:
        """A failed connect is a ConsulConnectionError naming the request."""
        from twisted.internet.defer import fail
        from twisted.internet.error import ConnectionRefusedError

        class Refuse:
            def connect(self, factory: Any) -> Any:
                return fail(ConnectionRefusedError())

        c = self.fake.client(endpoint=Refuse())
        d = c.http.stream("GET", "/v1/agent/monitor", [], lambda b: None, use_dc=False)
        e = self.fails(d, ConsulConnectionError)
        self.assertIn("GET /v1/agent/monitor", str(e))

    def test_write_required(self) -> None:
        """stream() without a write callable is a TypeError."""
        with self.assertRaises(TypeError):
            self.consul.http.stream("GET", "/v1/agent/monitor")


class FormatTests(ModernCase):
    """hclog's line format."""

    def test_quoted_values(self) -> None:
        """A value with spaces is quoted, as hclog does."""
        line = format_line(0.25, "INFO", "agent", "m", [("k", "a b")], False)
        self.assertEqual(line, b'1970-01-01T00:00:00.250Z [INFO]  agent: m: k="a b"\n')


class StreamTimeoutAndAgentTests(ModernCase):
    """The header timeout, and streams through an injected IAgent."""

    def test_timeout_waiting_for_headers(self) -> None:
        """No answer within the timeout fails the stream with Timeout naming the request."""
        from twisted.internet.defer import Deferred

        from txconsul import Timeout

        class Never:
            def connect(self, factory: Any) -> Deferred:
                return Deferred()

        c = self.fake.client(endpoint=Never(), timeout=5)
        d = c.http.stream("GET", "/v1/agent/monitor", [], lambda b: None, use_dc=False)
        self.clock.advance(4)
        self.assertNoResult(d)
        self.clock.advance(2)
        e = self.fails(d, Timeout)
        self.assertIn("GET /v1/agent/monitor", str(e))

    def test_open_stream_has_no_timeout(self) -> None:
        """Once the headers are in, a quiet stream outlives the client's timeout."""
        c = self.fake.client(timeout=5)
        mon = c.agent.monitor(lambda line: None)
        self.clock.advance(3600)
        self.assertNoResult(mon.done)
        mon.stop()

    def test_snapshot_through_iagent(self) -> None:
        """With http_agent, save streams through the agent's deliverBody."""
        c = self.fake.client(http_agent=self.fake.agent())
        self.ok(c.kv.put("k", "v"))
        pieces: list[bytes] = []
        meta = self.ok(c.snapshot.save(pieces.append))
        self.assertEqual(meta.index, self.fake.index)
        self.assertEqual(b"".join(pieces)[:2], b"\x1f\x8b")
        self.assertIs(self.ok(c.snapshot.restore(b"".join(pieces))), True)

    def test_restore_file_through_iagent(self) -> None:
        """With http_agent, restore accepts a file too (read whole for the agent)."""
        import io

        c = self.fake.client(http_agent=self.fake.agent())
        self.ok(c.kv.put("k", "before"))
        saved = self.ok(c.snapshot.save())
        self.ok(c.kv.put("k", "after"))
        self.assertIs(self.ok(c.snapshot.restore(io.BytesIO(saved))), True)
        self.assertEqual(self.ok(c.kv.get("k"))[1]["Value"], b"before")
