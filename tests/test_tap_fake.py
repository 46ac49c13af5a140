"""
Tests for ``twistd consul-fake``: options, the service, plugin discovery, and
the real process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from twisted.application.service import IServiceMaker
from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.utils import getProcessValue
from twisted.plugin import getPlugins
from twisted.python.usage import UsageError
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from txconsul import Consul
from txconsul.tap import fake as tap

from .processcase import start_consul_fake

REPO = Path(__file__).resolve().parent.parent


def twistd_env() -> dict[str, str]:
    """An environment in which twistd finds this checkout's plugins."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


class OptionsTests(SynchronousTestCase):
    """consul-fake's options and makeService."""

    def test_defaults(self) -> None:
        """By default it listens on 127.0.0.1:8500 as node 'fake-consul' in dc1."""
        o = tap.Options()
        o.parseOptions([])
        self.assertEqual(o["listen"], "tcp:8500:interface=127.0.0.1")
        self.assertEqual((o["node-name"], o["datacenter"]), ("fake-consul", "dc1"))

    def test_bad_policy(self) -> None:
        """An unknown ACL default policy is a usage error."""
        o = tap.Options()
        self.assertRaises(UsageError, o.parseOptions, ["--acl-default-policy", "maybe"])

    def test_options_reach_fake(self) -> None:
        """--node-name, --datacenter and the ACL token configure the FakeConsul."""
        o = tap.Options()
        o.parseOptions(
            ["--listen", "tcp:0", "--node-name", "n9", "--datacenter", "east", "--acl-master-token", "root"]
        )
        service = tap.makeService(o)
        self.assertEqual(service.fake.core.node_name, "n9")
        self.assertEqual(service.fake.core.datacenter, "east")
        self.assertTrue(service.fake.acl.enabled)

    def test_legacy_acl(self) -> None:
        """--legacy-acl serves Consul 1.10 (legacy ACL API); by default the current release; no journal."""
        from txconsul.testing._version import CURRENT, LEGACY_ACL

        for argv, version in (([], CURRENT.version), (["--legacy-acl"], LEGACY_ACL.version)):
            o = tap.Options()
            o.parseOptions(["--listen", "tcp:0", *argv])
            fake = tap.makeService(o).fake
            self.assertEqual(fake.version, version)
            self.assertEqual(fake.requests.maxlen, 0)

    def test_plugins_found(self) -> None:
        """twistd's plugin discovery finds consul-fake and consul-watch."""
        names = {p.tapname for p in getPlugins(IServiceMaker)}
        self.assertIn("consul-fake", names)
        self.assertIn("consul-watch", names)


class ProcessTests(TestCase):
    """
    ``twistd -n consul-fake`` as a real process.  These use real time and a
    real port because they test the process itself (start, serve, SIGTERM).
    """

    def start(self, *args: str) -> tuple[subprocess.Popen, int]:
        proc, port, self.logfile = start_consul_fake(self, *args)
        return proc, port

    @inlineCallbacks
    def test_serves_and_stops_on_sigterm(self) -> Any:
        """The process answers the KV API over TCP and exits 0 on SIGTERM, logging no token."""
        proc, port = self.start("--node-name", "proc-node")
        c = Consul("127.0.0.1", port, token="tok-SECRET-123", reactor=reactor, environ={})
        self.addCleanup(c.close)
        self.assertIs((yield c.kv.put("hello", "world")), True)
        _, data = yield c.kv.get("hello")
        self.assertEqual(data["Value"], b"world")
        # a request carrying the token in the query string, as old clients do
        yield c.http.request("GET", "/v1/kv/hello", [("token", "tok-SECRET-123")])
        yield c.close()
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("consul-fake did not stop on SIGTERM")
        # twistd re-raises the stopping signal once shut down cleanly.
        self.assertIn(code, (0, -signal.SIGTERM))
        log = Path(self.logfile).read_text()
        self.assertIn("Server Shut Down", log)
        self.assertNotIn("tok-SECRET-123", log)

    @inlineCallbacks
    def test_polling_loop_wakes_on_put_from_another_process(self) -> Any:
        """The seed's polling loop against consul-fake wakes when another process writes."""
        proc, port = self.start()
        c = Consul("127.0.0.1", port, reactor=reactor, environ={})
        self.addCleanup(c.close)
        index, data = yield c.kv.get("foo")
        self.assertIsNone(data)
        poll = c.kv.get("foo", index=index, wait="60s")
        writer = (
            "import sys\n"
            "from twisted.internet import task\n"
            "from txconsul import Consul\n"
            "def main(reactor):\n"
            f"    c = Consul('127.0.0.1', {port}, reactor=reactor, environ={{}})\n"
            "    return c.kv.put('foo', 'from-another-process').addCallback(lambda _: c.close())\n"
            "task.react(main)\n"
        )
        started = time.monotonic()
        yield getProcessValue(sys.executable, ["-c", writer], env=twistd_env(), path=str(REPO))
        new_index, data = yield poll
        self.assertLess(time.monotonic() - started, 30)
        self.assertGreater(new_index, index)
        self.assertEqual(data["Value"], b"from-another-process")


class PackagingTests(SynchronousTestCase):
    """
    ``pip install .`` into a fresh virtualenv makes twistd list the plugins.
    Slow (it installs from the package index), so it runs only when
    TXCONSUL_PACKAGING_TEST=1, as CI sets it.
    """

    def test_fresh_venv_lists_plugins(self) -> None:
        """After pip install into a new venv, 'twistd --help' lists consul-fake and consul-watch."""
        if os.environ.get("TXCONSUL_PACKAGING_TEST") != "1":
            raise SkipTest("set TXCONSUL_PACKAGING_TEST=1 to run the packaging test")
        venv = Path(self.mktemp()).resolve()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run(pip + [str(REPO)], check=True, cwd=str(venv.parent))
        out = subprocess.run(
            [str(venv / "bin" / "twistd"), "--help"],
            capture_output=True,
            text=True,
            cwd=str(venv.parent),
            check=True,
        ).stdout
        self.assertIn("consul-fake", out)
        self.assertIn("consul-watch", out)
        # The README's first quick-start command: the tour runs from the install.
        tour = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "txconsul.demo"],
            capture_output=True,
            text=True,
            cwd=str(venv.parent),
            timeout=120,
        )
        self.assertEqual(tour.returncode, 0, tour.stderr)
        self.assertIn("handler fired", tour.stdout)
        self.assertIn("consul-watch exited with 0", tour.stdout)


class StopTests(SynchronousTestCase):
    """Stopping the consul-fake service."""

    def test_stop_stops_checks(self) -> None:
        """stopService stops the fake's check timers (TTL runners included)."""
        from twisted.internet.task import Clock

        from txconsul.testing import FakeConsul

        fake = FakeConsul(Clock())
        service = tap.FakeConsulService(fake)
        service.startService()
        self.successResultOf(fake.client().agent.check.register("t", check={"TTL": "10s"}))
        self.assertEqual(len(fake.clock.getDelayedCalls()), 1)
        self.successResultOf(service.stopService())
        self.assertEqual(fake.clock.getDelayedCalls(), [])
