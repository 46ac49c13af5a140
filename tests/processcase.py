"""
What the process-level tests share: running ``twistd -n`` (``consul-fake``,
``consul-watch``, ``web``) from this checkout as real processes on loopback,
polling for them on the real clock with a bound, and killing them at
cleanup; and a FakeConsul served on a loopback port of the real reactor.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any, Callable

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase
from twisted.web.server import Site

from txconsul.testing import FakeConsul

from .fakecase import free_port

__all__ = [
    "ROOT",
    "TWISTD",
    "ProcessCase",
    "clean_env",
    "fake_as_agent",
    "free_port",
    "kill",
    "listening",
    "serve_fake",
    "start_consul_fake",
    "wait_for_port",
]

#: The checkout's root, where twisted/plugins/txconsul_plugins.py lives.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: ``twistd`` run by this interpreter.
TWISTD = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]


def clean_env() -> dict[str, str]:
    """This process's environment without ``CONSUL_*``, with the checkout on ``PYTHONPATH``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
    env["PYTHONPATH"] = ROOT
    return env


def serve_fake(case: TestCase) -> tuple[FakeConsul, int]:
    """A FakeConsul on the real reactor, served on a loopback port: ``(fake, port)``; stopped at cleanup."""
    fake = FakeConsul(reactor)
    case.addCleanup(fake.agent_state.stop)
    site = reactor.listenTCP(0, Site(fake.resource()), interface="127.0.0.1")
    case.addCleanup(site.stopListening)
    return fake, site.getHost().port


def fake_as_agent(case: TestCase) -> FakeConsul:
    """
    :func:`serve_fake`, made the agent of ``os.environ`` for the rest of the
    test (``CONSUL_HTTP_ADDR`` names it; no other ``CONSUL_*``).
    """
    fake, port = serve_fake(case)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
    env["CONSUL_HTTP_ADDR"] = f"127.0.0.1:{port}"
    case.patch(os, "environ", env)
    return fake


def listening(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def kill(proc: subprocess.Popen) -> None:
    """Kill ``proc`` (continuing it first, in case it is stopped), reap it and close its pipes."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGCONT)
        except OSError:
            pass
        proc.kill()
    proc.wait(10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Wait until something listens on ``port``; fail if ``proc`` exits first or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early with {proc.returncode}")
        if listening(port):
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listened on {port} within {timeout}s")


def start_consul_fake(case: TestCase, *args: str) -> tuple[subprocess.Popen, int, str]:
    """
    ``twistd -n consul-fake`` from this checkout on a free loopback port, with
    ``args``: ``(process, port, logfile)`` once it listens; killed (and its
    stderr pipe closed) at cleanup.
    """
    port = free_port()
    logfile = os.path.abspath(case.mktemp())
    listen = f"tcp:{port}:interface=127.0.0.1"
    proc = subprocess.Popen(
        [*TWISTD, "--logfile", logfile, "--pidfile", "", "-n", "consul-fake", "--listen", listen, *args],
        cwd=ROOT,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    case.addCleanup(lambda: proc.poll() is None and proc.kill())
    case.addCleanup(lambda: proc.stderr and proc.stderr.close())
    wait_for_port(port, proc)
    return proc, port, logfile


class ProcessCase(TestCase):
    """
    A test case that runs twistd processes in its own directory
    (``self.dir``, also where their logs go) with :func:`clean_env`
    (``self.env``).
    """

    timeout = 120

    #: The logs shown when :meth:`wait_for` times out.
    logs: tuple[str, ...] = ()

    #: Where spawned processes run: ``None`` for ``self.dir``.
    cwd: Any = None

    def setUp(self) -> None:
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        self.env = clean_env()

    def spawn(self, args: list[str], log: str, **kw: Any) -> subprocess.Popen:
        """Start ``twistd -n`` with ``args``, logging to ``log``; killed at cleanup."""
        argv = TWISTD + ["-n", "--pidfile=", f"--logfile={os.path.join(self.dir, log)}"] + args
        proc = subprocess.Popen(argv, cwd=self.cwd or self.dir, env=self.env, stdin=subprocess.DEVNULL, **kw)
        self.addCleanup(kill, proc)
        return proc

    def read(self, name: str) -> str:
        """The text of file ``name`` in ``self.dir`` (``''`` while it does not exist)."""
        path = os.path.join(self.dir, name)
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    @inlineCallbacks
    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        """Poll ``predicate`` on the real clock until true, or fail after ``timeout``."""
        end = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if time.monotonic() > end:
                logs = "\n".join(f"--- {n}\n{self.read(n)}" for n in self.logs)
                self.fail(f"timed out waiting for {what}\n{logs}")
            yield deferLater(reactor, 0.05, lambda: None)
