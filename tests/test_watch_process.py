# -*- test-case-name: tests.test_watch_process -*-
"""
Process-level tests: ``twistd -n consul-watch`` against ``twistd -n
consul-fake``, both real processes on loopback.

These tests use the real reactor and real time on purpose: what they prove
(plugin discovery, a handler process fed on stdin, surviving the agent's
death and restart, SIGTERM handling) only exists between real processes.
Every wait is bounded, and every process started is killed at cleanup.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from base64 import b64encode
from typing import Any, Optional

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater

from txconsul import Consul

from .processcase import ROOT, TWISTD, ProcessCase, free_port, listening


class WatchProcessTests(ProcessCase):
    """twistd consul-watch as a user runs it."""

    logs = ("watch.log",)
    cwd = ROOT

    def setUp(self) -> None:
        super().setUp()
        self.port = free_port()
        self.fake: Optional[subprocess.Popen] = None

    @inlineCallbacks
    def start_fake(self) -> Any:
        """Start consul-fake on self.port and wait until it answers."""
        self.fake = self.spawn(
            ["consul-fake", "--listen", f"tcp:{self.port}:interface=127.0.0.1"], "fake.log"
        )
        yield self.wait_for(lambda: listening(self.port), "consul-fake to listen")

    def stop_fake(self) -> None:
        """Kill the fake agent outright and reap it."""
        assert self.fake is not None
        self.fake.kill()
        self.fake.wait(10)

    @inlineCallbacks
    def put(self, key: str, value: bytes) -> Any:
        """Write a key with a fresh client (retrying while the agent comes up)."""
        end = time.monotonic() + 20
        while True:
            c = Consul("127.0.0.1", self.port, reactor=reactor, environ={})
            try:
                result = yield c.kv.put(key, value)
                return result
            except Exception:
                if time.monotonic() > end:
                    raise
                yield deferLater(reactor, 0.1, lambda: None)
            finally:
                yield c.close()

    def assertClean(self, proc: subprocess.Popen) -> None:
        """
        twistd shut down cleanly: a full shutdown in the log and no traceback.
        (Recent twistd re-raises the terminating signal after a clean
        shutdown, so the exit status is 0 or -SIGTERM.)
        """
        self.assertIn(proc.returncode, (0, -signal.SIGTERM))
        log = self.read("watch.log")
        self.assertIn("Server Shut Down.", log)
        self.assertNotIn("Traceback", log)

    def seen(self) -> list[Any]:
        """The JSON documents the shell handler appended to seen.log."""
        return [json.loads(line) for line in self.read("seen.log").splitlines() if line.strip()]

    def watch_args(self, *extra: str) -> list[str]:
        return ["consul-watch", "--http-addr", f"127.0.0.1:{self.port}", *extra]

    @inlineCallbacks
    def test_recovers_after_agent_restart(self) -> None:
        """The handler gets every change, and the final state after the agent is killed and restarted."""
        yield self.start_fake()
        yield self.put("app/config", b"v1")
        seen_log = os.path.join(self.dir, "seen.log")
        watch = self.spawn(
            self.watch_args(
                "--type",
                "key",
                "--key",
                "app/config",
                "--",
                f"cat >> '{seen_log}'",  # run by $SHELL -c, as consul watch
            ),
            "watch.log",
        )

        def values() -> list[Any]:
            return [d and d["Value"] for d in self.seen()]

        v1, v2, final = (b64encode(v).decode() for v in (b"v1", b"v2", b"final"))
        yield self.wait_for(lambda: values() == [v1], "the initial state")
        first = self.seen()[0]
        self.assertEqual(first["Key"], "app/config")
        yield self.put("app/config", b"v2")
        yield self.wait_for(lambda: values() == [v1, v2], "the change to v2")

        self.stop_fake()
        yield self.wait_for(lambda: "failed" in self.read("watch.log"), "the watch to notice")
        yield deferLater(reactor, 1.0, lambda: None)
        self.assertIsNone(watch.poll(), "the watch died with the agent")
        yield self.start_fake()
        yield self.put("app/config", b"final")
        yield self.wait_for(lambda: values()[-1:] == [final], "the final state")
        self.assertIn("recovered", self.read("watch.log"))
        self.assertIsNone(watch.poll())

        watch.send_signal(signal.SIGTERM)
        yield self.wait_for(lambda: watch.poll() is not None, "the watch to exit on SIGTERM")
        self.assertClean(watch)

    @inlineCallbacks
    def test_print_once(self) -> None:
        """With no handler the JSON is printed once on stdout and the process exits 0."""
        yield self.start_fake()
        yield self.put("foo", b"bar")
        watch = self.spawn(
            self.watch_args("--type", "keyprefix", "--prefix", "fo"), "watch.log", stdout=subprocess.PIPE
        )
        yield self.wait_for(lambda: watch.poll() is not None, "the watch to print and exit")
        self.assertEqual(watch.returncode, 0)
        assert watch.stdout is not None
        doc = json.loads(watch.stdout.read())
        self.assertEqual([(e["Key"], e["Value"]) for e in doc], [("foo", "YmFy")])

    @inlineCallbacks
    def test_handler_output_on_stdout(self) -> None:
        """The handler writes to consul-watch's own stdout, as consul watch's child does."""
        yield self.start_fake()
        yield self.put("foo", b"bar")
        watch = self.spawn(
            self.watch_args("--type", "key", "--key", "foo", "--", "cat"), "watch.log", stdout=subprocess.PIPE
        )
        assert watch.stdout is not None
        os.set_blocking(watch.stdout.fileno(), False)
        got = bytearray()

        def line() -> bool:
            chunk = watch.stdout.read() if watch.stdout else None
            if chunk:
                got.extend(chunk)
            return b"\n" in got

        yield self.wait_for(line, "the handler's output")
        doc = json.loads(bytes(got).split(b"\n")[0])
        self.assertEqual((doc["Key"], doc["Value"], doc["Session"]), ("foo", "YmFy", ""))
        watch.send_signal(signal.SIGTERM)
        yield self.wait_for(lambda: watch.poll() is not None, "the watch to exit on SIGTERM")
        self.assertClean(watch)

    @inlineCallbacks
    def test_sigterm_reaps_handler(self) -> None:
        """SIGTERM stops the watch and terminates a handler still running, which is reaped."""
        yield self.start_fake()
        pidfile = os.path.join(self.dir, "handler.pid")
        watch = self.spawn(
            self.watch_args(
                "--type",
                "nodes",
                "--no-shell",
                "--",
                "sh",
                "-c",
                f"echo $$ > '{pidfile}'; exec sleep 60",
            ),
            "watch.log",
        )
        yield self.wait_for(lambda: self.read("handler.pid").strip(), "the handler to start")
        pid = int(self.read("handler.pid"))
        watch.send_signal(signal.SIGTERM)
        yield self.wait_for(lambda: watch.poll() is not None, "the watch to exit", timeout=20)
        self.assertClean(watch)

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        self.assertTrue(gone(), "the handler process outlived the watch")
        self.assertIn("signal", self.read("watch.log"))

    def test_usage_error_before_start(self) -> None:
        """An invalid combination fails with a usage error and nothing starts."""
        proc = subprocess.run(
            TWISTD + ["-n", "--pidfile=", "consul-watch", "--type", "key"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            timeout=60,
        )
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"Must specify a single key to watch", proc.stdout + proc.stderr)

    def test_twistd_help_lists_plugin(self) -> None:
        """twistd --help lists consul-watch from the checkout."""
        proc = subprocess.run(TWISTD + ["--help"], cwd=ROOT, env=self.env, capture_output=True, timeout=60)
        self.assertIn(b"consul-watch", proc.stdout)
