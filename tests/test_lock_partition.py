# -*- test-case-name: tests.test_lock_partition -*-
"""
Process-level safety tests: holders lose their locks before anyone else can
take them, against ``twistd -n consul-fake`` as a real process.

Holder A (a Lock, a Semaphore with limit 1 and a LeaderElection, session
TTL 10s, default lock-delay) talks to the agent through a loopback
:class:`~tests.faultproxy.FaultProxy`; contender B talks to it directly.
Then a fault: A's proxy blackholed (a stalled partition; the agent stays
up), the agent SIGSTOPped, or the agent killed and restarted.  The test
asserts that every A heard of its loss strictly before the matching B
acquired, both timed on this process's reactor clock, and prints the
times (seconds after the fault).

This uses real time and real processes on purpose: it proves the timing
rule end to end, over real TCP, against a real agent process.  The three
scenarios (each with its own agent) run at once; the whole is bounded
(about 35-45s, at most the 150s timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any, Callable, Optional

from twisted.internet import reactor
from twisted.internet.defer import Deferred, DeferredList, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from txconsul import Consul
from txconsul.recipes import FencingError, LeaderElection, Lock, Semaphore, guarded_txn

from .faultproxy import FaultProxy
from .processcase import ROOT, TWISTD, free_port, listening

TTL = "10s"
NAMES = ("lock", "semaphore", "election")


def sleep(seconds: float) -> "Deferred[None]":
    """Wait on the real reactor."""
    return deferLater(reactor, seconds, lambda: None)


class Race:
    """
    One scenario: its own agent process on its own port, A's proxy, A's
    and B's clients, and the times of their events.
    """

    def __init__(self, case: "LockPartitionTests", name: str) -> None:
        self.case = case
        self.name = name
        self.dir = os.path.join(case.dir, name)
        os.makedirs(self.dir)
        self.port = free_port()
        self.agent: Optional[subprocess.Popen] = None
        self.times: dict[str, float] = {}
        self.t0 = 0.0
        self.stopped = False
        self.proxy = FaultProxy(reactor, ("127.0.0.1", self.port))
        case.addCleanup(self.kill_agent)

    # -- the agent process ---------------------------------------------------

    @inlineCallbacks
    def start_agent(self) -> Any:
        """Start consul-fake on self.port and wait until it accepts connections."""
        log = os.path.join(self.dir, "fake.log")
        self.agent = subprocess.Popen(
            TWISTD
            + [
                "-n",
                "--pidfile=",
                f"--logfile={log}",
                "consul-fake",
                "--listen",
                f"tcp:{self.port}:interface=127.0.0.1",
            ],
            cwd=ROOT,
            env=self.case.env,
            stdin=subprocess.DEVNULL,
        )
        yield self.until(lambda: listening(self.port), "consul-fake to listen", 30)

    def kill_agent(self) -> None:
        """Kill the agent (continuing it first if stopped) and reap it."""
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGCONT)
            self.agent.kill()
            self.agent.wait(10)

    @inlineCallbacks
    def until(self, predicate: Callable[[], Any], what: str, timeout: float) -> Any:
        """Poll ``predicate`` on the real clock; fail after ``timeout`` seconds."""
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                self.case.fail(f"{self.name}: timed out after {timeout}s waiting for {what}; {self.report()}")
            yield sleep(0.05)

    # -- the contenders --------------------------------------------------------

    def mark(self, name: str) -> None:
        """Record the reactor time of an event (first time only)."""
        self.times.setdefault(name, reactor.seconds())

    def report(self) -> str:
        """The events, in order, in seconds after the fault."""
        events = sorted(self.times.items(), key=lambda kv: kv[1])
        return f"{self.name}: " + ", ".join(f"{k} at +{v - self.t0:.2f}s" for k, v in events)

    @inlineCallbacks
    def holders(self, consul: Consul) -> Any:
        """A: take the lock, the semaphore slot and the leadership through ``consul``."""
        lock = Lock(consul, "race/lock", b"a", session_ttl=TTL)
        yield lock.acquire()
        assert lock.lost is not None
        lock.lost.addCallback(lambda involuntary: involuntary and self.mark("A lock lost"))
        sem = Semaphore(consul, "race/semaphore", 1, b"a", session_ttl=TTL)
        yield sem.acquire()
        assert sem.lost is not None
        sem.lost.addCallback(lambda involuntary: involuntary and self.mark("A semaphore lost"))

        def demoted() -> None:
            self.mark("A election lost")
            election.stopService()  # a demoted A stops campaigning: B must win

        election = LeaderElection(consul, "race/election", b"a", on_demoted=demoted, session_ttl=TTL)
        election.startService()
        yield self.until(lambda: election.is_leader, "A to be elected", 10)
        self.case.addCleanup(election.stopService)
        return lock, sem, election

    def contenders(self, consul: Consul) -> Any:
        """B: contend for the same three through ``consul``, retrying failed attempts."""
        lock = Lock(consul, "race/lock", b"b", session_ttl=TTL)
        sem = Semaphore(consul, "race/semaphore", 1, b"b", session_ttl=TTL)
        election = LeaderElection(
            consul,
            "race/election",
            b"b",
            retry=0.25,
            session_ttl=TTL,
            on_elected=lambda: self.mark("B election acquired"),
        )
        self.persist(lock.acquire, "B lock acquired")
        self.persist(sem.acquire, "B semaphore acquired")
        election.startService()
        self.case.addCleanup(election.stopService)
        return lock, sem, election

    @inlineCallbacks
    def persist(self, attempt: Callable[[], "Deferred[bool]"], name: str) -> Any:
        """Call ``attempt`` until it succeeds (the agent may be unreachable a while)."""
        while not self.stopped:
            try:
                if (yield attempt()):
                    self.mark(name)
                    return
            except Exception:
                pass
            yield sleep(0.25)

    @inlineCallbacks
    def until_sessions(self, consul: Consul, count: int) -> Any:
        """Wait until the agent has ``count`` sessions."""
        end = time.monotonic() + 20
        while True:
            _, sessions = yield consul.session.list()
            if len(sessions) >= count:
                return
            if time.monotonic() > end:
                self.case.fail(f"{self.name}: expected {count} sessions, saw {len(sessions)}")
            yield sleep(0.1)

    @inlineCallbacks
    def run(self, fault: Callable[[], Any], heal: Callable[[], Any]) -> Any:
        """
        Start the agent, A behind the proxy and B direct; apply ``fault``;
        wait until every B acquired; ``heal``; check the order.  Fires
        with the report.
        """
        yield self.start_agent()
        self.proxy.start()
        self.case.addCleanup(self.proxy.stop)
        a_client = Consul("127.0.0.1", self.proxy.port, reactor=reactor, environ={})
        b_client = Consul("127.0.0.1", self.port, reactor=reactor, environ={})
        a = yield self.holders(a_client)
        b = self.contenders(b_client)
        # B waits: three sessions of A, three of B.
        yield self.until_sessions(b_client, 6)
        fence = a[0].fence
        yield a[0].guarded_put("race/data", b"a")
        yield sleep(1)
        self.t0 = reactor.seconds()
        yield fault()
        yield self.until(
            lambda: all(f"B {n} acquired" in self.times for n in NAMES), "every B to acquire", 90
        )
        self.stopped = True
        yield heal()
        for name in NAMES:
            lost, acquired = self.times.get(f"A {name} lost"), self.times[f"B {name} acquired"]
            self.case.assertIsNotNone(lost, f"A's {name} never heard of its loss; {self.report()}")
            self.case.assertLess(lost, acquired, f"{name}: B acquired before A knew; {self.report()}")
        self.case.assertTrue(b[0].held and b[1].held and b[2].is_leader)
        self.case.assertFalse(a[0].held or a[1].held or a[2].is_leader)
        # Fencing: B writes under its lock; A's late write with its old fence fails.
        yield b[0].guarded_put("race/data", b"b")
        late = guarded_txn(a_client, fence, [a_client.txn.kv_set("race/data", b"late a")])
        yield self.case.assertFailure(late, FencingError)
        _, data = yield b_client.kv.get("race/data")
        self.case.assertEqual(data["Value"], b"b")
        yield DeferredList([b[0].release(), b[1].release(), b[2].stopService()], consumeErrors=True)
        yield a_client.close()
        yield b_client.close()
        return self.report()

    # -- the faults ------------------------------------------------------------

    def blackhole(self) -> Any:
        """A's proxy swallows everything; the agent stays up."""
        return self.run(self.proxy.blackhole, self.proxy.heal)

    def sigstop(self) -> Any:
        """The agent is SIGSTOPped for 12s, then continued."""

        @inlineCallbacks
        def fault() -> Any:
            assert self.agent is not None
            self.agent.send_signal(signal.SIGSTOP)
            yield sleep(12)
            self.agent.send_signal(signal.SIGCONT)

        return self.run(fault, lambda: None)

    def kill_restart(self) -> Any:
        """The agent is killed, and restarted (with no state) 2s later."""

        @inlineCallbacks
        def fault() -> Any:
            assert self.agent is not None
            self.agent.kill()
            self.agent.wait(10)
            yield sleep(2)
            yield self.start_agent()

        return self.run(fault, lambda: None)


class LockPartitionTests(TestCase):
    """A's loss is reported before B acquires, under three kinds of fault."""

    timeout = 150

    def setUp(self) -> None:
        self.dir = os.path.abspath(self.mktemp())
        os.makedirs(self.dir)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        self.env["PYTHONPATH"] = ROOT + os.pathsep + self.env.get("PYTHONPATH", "")

    @inlineCallbacks
    def test_lost_before_anyone_else_acquires(self) -> Any:
        """
        Under each fault (A's proxy blackholed, the agent SIGSTOPped for
        12s, the agent killed and restarted), every A (Lock, Semaphore,
        LeaderElection) hears of its loss before the matching B acquires,
        and A's write guarded by its old fence fails after B's.  The three
        scenarios run at once, each with its own agent.
        """
        races = [Race(self, "blackhole"), Race(self, "sigstop"), Race(self, "kill_restart")]
        results = yield DeferredList(
            [races[0].blackhole(), races[1].sigstop(), races[2].kill_restart()], consumeErrors=True
        )
        for ok, result in results:
            if not ok:
                result.raiseException()
        print("\n" + "\n".join(f"    {report}" for _, report in results))
