"""
Command-line manners of ``twistd consul-watch`` and ``twistd consul-fake``:
a user mistake is one line on stderr naming the option and the problem, exit
status 2, no traceback and no help dump; an agent that cannot be queried at
start is exit status 1 with "Error querying Consul agent", as ``consul
watch`` does.

The in-memory tests drive the options and the start-up check on a Clock.
The process tests run the real ``twistd`` (real time, loopback ports)
because what they prove -- what a user sees on stderr, the exit status --
exists only in a real process; each run is bounded by a timeout.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from types import SimpleNamespace
from typing import Any, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from txconsul.tap import _cli
from txconsul.tap import fake as fake_tap
from txconsul.tap import watch as watch_tap
from txconsul.testing import FakeConsul

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


class _Parent(usage.Options):
    """Stands for twistd's own options (what sets ``parent``)."""

    optParameters = [["pidfile", None, ""]]


def parse_as_twistd(options: usage.Options, *argv: str) -> None:
    """Parse ``argv`` as twistd does: with a parent set first."""
    options.parent = _Parent()
    options.parseOptions(list(argv))


class UsageExitTests(SynchronousTestCase):
    """Options parsed by twistd exit with one line; parsed directly they raise."""

    def setUp(self) -> None:
        self.err = io.StringIO()
        self.patch(_cli, "real_stderr", lambda: self.err)

    def test_direct_parse_raises(self) -> None:
        """Without twistd as parent, a mistake is a UsageError as before (tests rely on it)."""
        self.assertRaises(usage.UsageError, watch_tap.Options().parseOptions, ["--type", "bogus"])

    def test_twistd_parse_exits_2_with_one_line(self) -> None:
        """Under twistd a mistake is SystemExit(2) and exactly one line naming the option."""
        e = self.assertRaises(SystemExit, parse_as_twistd, watch_tap.Options(), "--type", "bogus")
        self.assertEqual(e.code, 2)
        self.assertEqual(self.err.getvalue().count("\n"), 1)
        self.assertTrue(self.err.getvalue().startswith("twistd consul-watch: error: --type: "))
        self.assertIn("'twistd consul-watch --help'", self.err.getvalue())

    def test_fake_policy(self) -> None:
        """consul-fake's --acl-default-policy mistake is one line and status 2."""
        e = self.assertRaises(
            SystemExit, parse_as_twistd, fake_tap.Options(), "--acl-default-policy", "maybe"
        )
        self.assertEqual(e.code, 2)
        self.assertIn("--acl-default-policy", self.err.getvalue())

    def test_error_line_folds_newlines(self) -> None:
        """A message with line breaks still makes one line."""
        line = _cli.error_line("consul-fake", "a\nb\n  c")
        self.assertEqual(line.count("\n"), 1)
        self.assertIn("error: a b c", line)


class OptionNamingTests(SynchronousTestCase):
    """Errors name the option the user gave, not the variable it stands for."""

    def options(self, *argv: str) -> watch_tap.Options:
        o = watch_tap.Options()
        o.parseOptions(list(argv))
        return o

    def test_http_addr_named(self) -> None:
        """A bad --http-addr is reported as --http-addr, not CONSUL_HTTP_ADDR."""
        o = self.options("--type", "key", "--key", "a", "--http-addr", "127.0.0.1:99999")
        e = self.assertRaises(usage.UsageError, watch_tap.build_service, o, Clock(), environ={})
        self.assertTrue(str(e).startswith("--http-addr: "), str(e))
        self.assertNotIn("CONSUL_HTTP_ADDR", str(e))

    def test_variable_named(self) -> None:
        """A bad CONSUL_HTTP_ADDR (no option given) is reported as CONSUL_HTTP_ADDR."""
        o = self.options("--type", "key", "--key", "a")
        e = self.assertRaises(
            usage.UsageError,
            watch_tap.build_service,
            o,
            Clock(),
            environ={"CONSUL_HTTP_ADDR": "127.0.0.1:99999"},
        )
        self.assertTrue(str(e).startswith("CONSUL_HTTP_ADDR: "), str(e))

    def test_file_option_named(self) -> None:
        """A message that quotes a file option's value gets the option's name."""
        o = self.options("--type", "key", "--key", "a", "--ca-file", "/no/such/ca.pem")
        self.assertEqual(
            watch_tap.name_the_option(o, "cannot read CA bundle '/no/such/ca.pem'"),
            "--ca-file: cannot read CA bundle '/no/such/ca.pem'",
        )

    def test_parameter_errors(self) -> None:
        """Watch parameter errors lead with the option they are about."""
        cases = {
            ("--type", "key"): "--key: ",
            ("--type", "service"): "--service: ",
            ("--type", "checks", "--state", "sleepy"): "--state: ",
            ("--type", "key", "--key", "a", "--service", "x"): "--service: ",
            ("--type", "bogus"): "--type: ",
        }
        for argv, prefix in cases.items():
            e = self.assertRaises(usage.UsageError, self.options, *argv)
            self.assertTrue(str(e).startswith(prefix), (argv, str(e)))


class StartupCheckTests(SynchronousTestCase):
    """The agent check before watching, against FakeConsul in memory."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=3, acl_master_token="root", acl_default_policy="deny")
        self.err = io.StringIO()
        self.out = io.StringIO()
        self.stops: list[int] = []

    def service(self, token: str, *argv: str, **kw: Any) -> watch_tap.WatchProcess:
        o = watch_tap.Options()
        o.parseOptions(["--type", "key", "--key", "k", *argv])
        svc = watch_tap.build_service(
            o,
            self.clock,
            consul=self.fake.client(token=token),
            out=self.out,
            err=self.err,
            stop=lambda: self.stops.append(1),
            **kw,
        )
        svc.startService()
        self.clock.advance(0)
        return svc

    def test_refused_token_exits_1(self) -> None:
        """A token the agent refuses (403) is exit status 1 with consul watch's message; nothing is watched."""
        svc = self.service("not-a-token")
        self.assertEqual(svc.status.code, 1)
        self.assertEqual(self.stops, [1])
        self.assertIn("Error querying Consul agent: ", self.err.getvalue())
        self.assertIn("403", self.err.getvalue())
        self.assertNotIn("not-a-token", self.err.getvalue())
        self.assertEqual(self.out.getvalue(), "")
        self.assertEqual(svc.watches[0].running, 0)
        self.successResultOf(svc.stopService())

    def test_good_token_watches(self) -> None:
        """With a token that may read the agent, the watch starts and prints once."""
        svc = self.service("root")
        self.assertIsNone(svc.status.code)
        self.assertEqual(self.out.getvalue(), "null\n")
        self.assertEqual(self.err.getvalue(), "")
        self.successResultOf(svc.stopService())

    def test_wait_for_agent_skips_check(self) -> None:
        """--wait-for-agent keeps the old behaviour: no check, the watch retries."""
        svc = self.service("not-a-token", "--wait-for-agent")
        self.assertIsNone(svc.status.code)
        self.assertEqual(self.stops, [])
        self.assertEqual(svc.watches[0].running, 1)
        self.successResultOf(svc.stopService())

    def test_config_mode_needs_only_an_answer(self) -> None:
        """With --config (watches carry their own tokens) a 403 still shows the agent is there."""
        path = self.mktemp()
        with open(path, "w") as f:
            f.write('{"watches": [{"type": "key", "key": "k", "args": ["true"]}]}')
        o = watch_tap.Options()
        o.parseOptions(["--config", path])
        svc = watch_tap.build_service(
            o,
            self.clock,
            consul=self.fake.client(token="nope"),
            err=self.err,
            stop=lambda: self.stops.append(1),
        )
        svc.startService()
        self.clock.advance(0)
        self.assertIsNone(svc.status.code)
        self.assertEqual(svc.watches[0].running, 1)
        self.successResultOf(svc.stopService())

    def hanging(self) -> watch_tap.WatchProcess:
        """A started service whose client's agent never answers."""
        o = watch_tap.Options()
        o.parseOptions(["--type", "key", "--key", "k"])
        client: Any = SimpleNamespace(
            reactor=self.clock,
            config=None,
            agent=SimpleNamespace(self=lambda: Deferred()),
            close=lambda: succeed(None),
        )
        svc = watch_tap.build_service(
            o, self.clock, consul=client, err=self.err, stop=lambda: self.stops.append(1)
        )
        svc.startService()
        return svc

    def test_stop_during_check(self) -> None:
        """Stopping while the check is in flight cancels it and reports nothing."""
        svc = self.hanging()
        self.successResultOf(svc.stopService())
        self.clock.advance(60)
        self.assertIsNone(svc.status.code)
        self.assertEqual((self.err.getvalue(), self.stops), ("", []))

    def test_no_answer_times_out(self) -> None:
        """An agent that never answers fails the check after its timeout, not never."""
        svc = self.hanging()
        self.clock.advance(9)
        self.assertIsNone(svc.status.code)
        self.clock.advance(2)
        self.assertEqual(svc.status.code, 1)
        self.assertEqual(self.stops, [1])
        self.assertIn("no answer from the agent within 10s", self.err.getvalue())
        self.successResultOf(svc.stopService())


class ListenFailureTests(SynchronousTestCase):
    """A port in use: an exception for library use, an exit under twistd."""

    def service(self, cli: bool) -> Any:
        from twisted.application import strports
        from twisted.internet import reactor
        from twisted.web.server import Site

        sock = socket.socket()
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        fake = FakeConsul(Clock())
        top = fake_tap.FakeConsulService(fake)
        top.cli = cli
        top.listen = f"tcp:{port}:interface=127.0.0.1"
        strports.service(top.listen, Site(fake.resource()), reactor=reactor).setServiceParent(top)
        return top

    def test_library_use_raises(self) -> None:
        """Not run by twistd, the CannotListenError is raised as it is."""
        from twisted.internet.error import CannotListenError

        self.assertRaises(CannotListenError, self.service(False).privilegedStartService)

    def test_twistd_exits(self) -> None:
        """Run by twistd, it is one line naming --listen and exit status 2."""
        err = io.StringIO()
        self.patch(_cli, "real_stderr", lambda: err)
        e = self.assertRaises(SystemExit, self.service(True).privilegedStartService)
        self.assertEqual(e.code, 2)
        self.assertIn("--listen tcp:", err.getvalue())
        self.assertIn("cannot listen", err.getvalue())


class ExitStatusTests(SynchronousTestCase):
    """The exit status is applied after the reactor's shutdown."""

    def test_exit_after_shutdown(self) -> None:
        """After fail(), the shutdown trigger removes our pid file and exits with the code."""
        triggers: list[Any] = []

        class Reactor:
            def addSystemEventTrigger(self, phase: str, event: str, f: Any) -> None:
                triggers.append((phase, event, f))

        pidfile = self.mktemp()
        with open(pidfile, "w") as f:
            f.write(str(os.getpid()))
        exits: list[int] = []
        status = _cli.ExitStatus("consul-watch", err=io.StringIO())
        status.install(Reactor(), pidfile, exit=exits.append)  # type: ignore[arg-type]
        [(phase, event, after)] = triggers
        self.assertEqual((phase, event), ("after", "shutdown"))
        after()
        self.assertEqual(exits, [])
        status.fail("boom")
        after()
        self.assertEqual(exits, [1])
        self.assertFalse(os.path.exists(pidfile))

    def test_other_pidfile_kept(self) -> None:
        """A pid file holding another process's id is left alone."""
        pidfile = self.mktemp()
        with open(pidfile, "w") as f:
            f.write("1")
        _cli.remove_own_pidfile(pidfile)
        self.assertTrue(os.path.exists(pidfile))


# -- real processes ------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ProcessCase(TestCase):
    """Runs twistd as a user does, with a clean environment."""

    timeout = 120

    def setUp(self) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        self.env["PYTHONPATH"] = ROOT
        self.cwd = os.path.abspath(self.mktemp())
        os.makedirs(self.cwd)

    def twistd(
        self, *argv: str, env: Optional[dict[str, str]] = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        """Run ``twistd -n --pidfile= ARGV`` to completion."""
        return subprocess.run(
            TWISTD + ["-n", "--pidfile=", "--logfile=twistd.log", *argv],
            cwd=self.cwd,
            env=dict(self.env, **(env or {})),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def assertMistake(self, done: subprocess.CompletedProcess, tapname: str, *fragments: str) -> None:
        """Status 2, one line on stderr naming the problem, nothing on stdout."""
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        lines = done.stderr.splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertTrue(lines[0].startswith(f"twistd {tapname}: error: "), lines[0])
        self.assertIn(f"'twistd {tapname} --help'", lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        self.assertNotIn("Traceback", done.stdout + done.stderr)
        self.assertEqual(done.stdout, "")

    def spawn(self, *argv: str) -> subprocess.Popen:
        """Start ``twistd -n ARGV`` in the background; killed at cleanup."""
        proc = subprocess.Popen(
            TWISTD + ["-n", "--pidfile=", *argv],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def kill() -> None:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)

        self.addCleanup(kill)
        return proc

    def start_fake(self, *argv: str, listen: Optional[str] = None) -> int:
        """Start consul-fake on a free port; wait (bounded) until it accepts."""
        port = free_port()
        listen = listen or f"tcp:{port}:interface=127.0.0.1"
        proc = self.spawn(
            f"--logfile={os.path.abspath(self.mktemp())}",
            "consul-fake",
            "--listen",
            listen.format(port=port),
            *argv,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "consul-fake exited")
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                return port
            except OSError:
                time.sleep(0.05)
        self.fail("consul-fake did not start")


class WatchMistakeProcessTests(ProcessCase):
    """consul-watch's user mistakes, as a user sees them."""

    def test_bad_http_addr_port(self) -> None:
        """A bad --http-addr port: one line naming --http-addr, status 2."""
        done = self.twistd("consul-watch", "--type", "key", "--key", "a", "--http-addr", "127.0.0.1:99999")
        self.assertMistake(done, "consul-watch", "--http-addr", "99999")
        self.assertNotIn("CONSUL_HTTP_ADDR", done.stderr)

    def test_bad_environment(self) -> None:
        """CONSUL_HTTP_SSL=maybe: one line naming the variable, status 2."""
        done = self.twistd("consul-watch", "--type", "key", "--key", "a", env={"CONSUL_HTTP_SSL": "maybe"})
        self.assertMistake(done, "consul-watch", "CONSUL_HTTP_SSL", "maybe")

    def test_unreadable_token_file(self) -> None:
        """An unreadable --token-file: one line naming --token-file, status 2, no token shown."""
        done = self.twistd("consul-watch", "--type", "key", "--key", "a", "--token-file", "/no/such/token")
        self.assertMistake(done, "consul-watch", "--token-file", "/no/such/token")

    def test_missing_ca_file(self) -> None:
        """A missing --ca-file: one line naming --ca-file, status 2."""
        done = self.twistd(
            "consul-watch",
            "--type",
            "key",
            "--key",
            "a",
            "--http-addr",
            "https://127.0.0.1:8501",
            "--ca-file",
            "/no/such/ca",
        )
        self.assertMistake(done, "consul-watch", "--ca-file", "/no/such/ca")

    def test_usage_errors(self) -> None:
        """Option errors (unknown option, bad type, missing key) are one line each, no help dump."""
        for argv, fragment in [
            (["--type", "bogus"], "--type"),
            (["--type", "key"], "--key"),
            (["--no-such-option"], "--no-such-option"),
            (["--type", "key", "--key", "a", "--wait", "20m"], "20m"),
        ]:
            self.assertMistake(self.twistd("consul-watch", *argv), "consul-watch", fragment)


class FakeMistakeProcessTests(ProcessCase):
    """consul-fake's user mistakes, as a user sees them."""

    def test_bogus_listen(self) -> None:
        """--listen with an unknown endpoint type: one line naming --listen, status 2."""
        self.assertMistake(
            self.twistd("consul-fake", "--listen", "bogus:1"), "consul-fake", "--listen bogus:1", "bogus"
        )

    def test_port_in_use(self) -> None:
        """A port in use: one line naming --listen and the reason, status 2, pid file removed."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            done = subprocess.run(
                TWISTD
                + [
                    "-n",
                    "--pidfile=twistd.pid",
                    "--logfile=twistd.log",
                    "consul-fake",
                    "--listen",
                    f"tcp:{port}:interface=127.0.0.1",
                ],
                cwd=self.cwd,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=60,
                stdin=subprocess.DEVNULL,
            )
        self.assertMistake(done, "consul-fake", f"--listen tcp:{port}", "in use")
        self.assertFalse(os.path.exists(os.path.join(self.cwd, "twistd.pid")))

    def test_bad_policy(self) -> None:
        """--acl-default-policy maybe: one line, status 2."""
        self.assertMistake(
            self.twistd("consul-fake", "--acl-default-policy", "maybe"), "consul-fake", "--acl-default-policy"
        )


class AgentCheckProcessTests(ProcessCase):
    """consul-watch exits 1 when the agent cannot be queried at start."""

    def assertAgentError(self, done: subprocess.CompletedProcess, *fragments: str) -> None:
        self.assertEqual(done.returncode, 1, done.stdout + done.stderr)
        lines = done.stderr.splitlines()
        self.assertEqual(len(lines), 1, done.stderr)
        self.assertIn("Error querying Consul agent: ", lines[0])
        for fragment in fragments:
            self.assertIn(fragment, lines[0])
        self.assertNotIn("Traceback", done.stdout + done.stderr)

    def test_refused_print_once(self) -> None:
        """Nothing listening: print-once mode exits 1 at once instead of retrying forever."""
        port = free_port()
        done = self.twistd("consul-watch", "--type", "key", "--key", "a", "--http-addr", f"127.0.0.1:{port}")
        self.assertAgentError(done, f"127.0.0.1:{port}", "refused")

    def test_refused_with_handler(self) -> None:
        """Nothing listening: with a handler command too, exit 1 before any handler runs."""
        port = free_port()
        done = self.twistd(
            "consul-watch",
            "--type",
            "key",
            "--key",
            "a",
            "--http-addr",
            f"127.0.0.1:{port}",
            "--",
            "echo",
            "RAN",
        )
        self.assertAgentError(done)
        self.assertNotIn("RAN", done.stdout)

    def test_token_refused(self) -> None:
        """An agent with ACLs that refuses the token: exit 1, 403 named, token not shown."""
        port = self.start_fake("--acl-master-token", "root", "--acl-default-policy", "deny")
        done = self.twistd(
            "consul-watch",
            "--type",
            "key",
            "--key",
            "a",
            "--http-addr",
            f"127.0.0.1:{port}",
            "--token",
            "s3cr3t-token",
        )
        self.assertAgentError(done, "403")
        self.assertNotIn("s3cr3t-token", done.stdout + done.stderr)

    def test_good_agent_prints(self) -> None:
        """A reachable agent and a good token: the value is printed and the exit status is 0."""
        port = self.start_fake()
        done = self.twistd("consul-watch", "--type", "key", "--key", "a", "--http-addr", f"127.0.0.1:{port}")
        self.assertEqual((done.returncode, done.stderr), (0, ""))
        self.assertEqual(done.stdout, "null\n")

    def test_https_against_plain(self) -> None:
        """https:// against a plain HTTP agent says so (within seconds)."""
        port = self.start_fake()
        done = self.twistd(
            "consul-watch", "--type", "key", "--key", "a", "--http-addr", f"https://127.0.0.1:{port}"
        )
        self.assertAgentError(done, "speaks plain HTTP, not HTTPS", "http://")

    def test_plain_against_https(self) -> None:
        """http:// against a TLS agent says that it expects HTTPS."""
        from tests.test_tls import PKI, _cert_pem, _key_pem

        pki = PKI(os.path.join(self.cwd, "pki"))
        pem = pki.write("server.pem", _cert_pem(pki.server_cert) + _key_pem(pki.server_key))
        port = self.start_fake(listen="ssl:{port}:interface=127.0.0.1:privateKey=" + pem)
        done = self.twistd(
            "consul-watch", "--type", "key", "--key", "a", "--http-addr", f"http://127.0.0.1:{port}"
        )
        self.assertAgentError(done, "expects HTTPS", "https://")

    def test_wait_for_agent_keeps_retrying(self) -> None:
        """--wait-for-agent keeps today's behaviour: still running and retrying, not exited."""
        port = free_port()
        log = os.path.join(self.cwd, "watch.log")
        proc = self.spawn(
            f"--logfile={log}",
            "consul-watch",
            "--type",
            "key",
            "--key",
            "a",
            "--http-addr",
            f"127.0.0.1:{port}",
            "--wait-for-agent",
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(log) and "retry" in open(log).read():
                break
            time.sleep(0.1)
        else:
            self.fail("no retry logged")
        self.assertIsNone(proc.poll())
