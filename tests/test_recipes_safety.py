"""
Tests for the recipes' safety rule: a holder learns that it may have lost a
lock before anyone else can take it.  SessionKeeper's deadline, Lock,
Semaphore and LeaderElection reacting to it, bounded monitor waits, and
fencing tokens with guarded writes.  All in memory on a Clock.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.internet.defer import Deferred, fail
from twisted.internet.task import Clock
from twisted.python.failure import Failure
from twisted.web.iweb import IAgent
from zope.interface import implementer

from txconsul import Consul, ConsulConnectionError
from txconsul.recipes import (
    Fence,
    FencingError,
    LeaderElection,
    Lock,
    LockNotHeld,
    Semaphore,
    SessionKeeper,
    SessionLost,
    guarded_txn,
)
from .test_recipes_lock import KEY, Gate, RecipeTestCase

PREFIX = "service/app/slots"


@implementer(IAgent)
class StallAgent:
    """
    An ``IAgent`` in front of another that can be cut off, as a holder
    behind a stalled TCP proxy: while stalled, new requests are held (they
    never reach the agent) and answers to requests already sent are held
    too.  Cancelling a held request (a client-side timeout) forgets it;
    :meth:`resume` sends the held requests and delivers the held answers.
    """

    def __init__(self, agent: Any) -> None:
        self.agent = agent
        self.stalled = False
        self.requests: list[tuple[Deferred[Any], tuple[Any, ...]]] = []
        self.answers: list[tuple[Deferred[Any], Any]] = []

    def request(self, method: bytes, uri: bytes, headers: Any = None, bodyProducer: Any = None) -> Any:
        """Send the request, or hold it while stalled."""
        args = (method, uri, headers, bodyProducer)

        def cancel(d: Deferred[Any]) -> None:
            self.requests = [(h, a) for h, a in self.requests if h is not d]
            self.answers = [(h, r) for h, r in self.answers if h is not d]
            if inner[0] is not None:
                inner[0].cancel()

        outer: Deferred[Any] = Deferred(cancel)
        inner: list[Optional[Deferred[Any]]] = [None]
        if self.stalled:
            self.requests.append((outer, args))
        else:
            self._send(outer, args, inner)
        return outer

    def _send(self, outer: Deferred[Any], args: tuple[Any, ...], inner: list[Any]) -> None:
        d = inner[0] = self.agent.request(*args)

        def relay(result: Any) -> None:
            if outer.called:
                return
            if self.stalled:
                self.answers.append((outer, result))
            else:
                _fire(outer, result)

        d.addBoth(relay)

    def stall(self) -> None:
        """Cut the connection off: hold every request and answer from now on."""
        self.stalled = True

    def resume(self) -> None:
        """Heal: send what was held, deliver the held answers."""
        self.stalled = False
        requests, self.requests = self.requests, []
        answers, self.answers = self.answers, []
        for outer, result in answers:
            if not outer.called:
                _fire(outer, result)
        for outer, args in requests:
            if not outer.called:
                self._send(outer, args, [None])


def _fire(d: Deferred[Any], result: Any) -> None:
    if isinstance(result, Failure):
        d.errback(result)
    else:
        d.callback(result)


class SafetyCase(RecipeTestCase):
    """A second client, ``self.cut``, whose connection a test can stall."""

    def setUp(self) -> None:
        super().setUp()
        self.stall = StallAgent(self.fake.agent())
        self.cut = Consul(http_agent=self.stall, reactor=self.clock, environ={})

    def alive(self, sid: str) -> bool:
        """Whether the fake agent still has session ``sid``."""
        return self.ok(self.consul.session.info(sid))[1] is not None

    def at(self, d: Deferred[Any], log: dict[str, float], name: str) -> None:
        """Record in ``log[name]`` the clock time at which ``d`` fires."""
        d.addBoth(lambda r: (log.setdefault(name, self.clock.seconds()), r)[1])

    def run_until(self, seconds: float, step: float = 0.125) -> None:
        """Advance the clock in small steps (exact in binary) up to ``seconds``."""
        while self.clock.seconds() < seconds:
            self.clock.advance(min(step, seconds - self.clock.seconds()))


class KeeperDeadlineTests(SafetyCase):
    """SessionKeeper declares the loss at S + TTL - margin, S the last good renewal's send time."""

    def test_hung_renewal_lost_at_deadline(self) -> None:
        """A renewal that never answers: lost fires at exactly 9s (TTL 10s, margin 1s), session still alive on the agent."""
        gate = Gate(self.consul.session, "renew")
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        sid = self.ok(keeper.create())
        self.assertEqual((keeper.ttl, keeper.safety_margin, keeper.deadline), (10.0, 1.0, 9.0))
        times: dict[str, float] = {}
        alive_then: list[bool] = []
        keeper.lost.addCallback(lambda s: alive_then.append(self.alive(s)))
        self.at(keeper.lost, times, "lost")
        self.run_until(8.875)
        self.assertEqual(len(gate.held), 1)  # the renewal sent at 5s, unanswered
        self.assertNoResult(keeper.lost)
        self.run_until(9.0)
        self.assertEqual(times, {"lost": 9.0})
        self.assertEqual(alive_then, [True])  # before the agent could reap it
        self.assertTrue(gate.held[0][0].called)  # the hung renewal was cancelled
        self.assertFalse(self.alive(sid))  # the keeper destroyed it
        self.advance(60)
        self.assertEqual(len(gate.held), 1)  # no renewal after the loss
        self.assertNoTimers()

    def test_late_success_counts_from_its_send_time(self) -> None:
        """A renewal answered late keeps the session; the next deadline counts from when it was sent."""
        gate = Gate(self.consul.session, "renew")
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        self.ok(keeper.create())
        times: dict[str, float] = {}
        self.at(keeper.lost, times, "lost")
        self.run_until(8.5)
        gate.deliver()  # the renewal sent at 5s succeeds at 8.5s
        self.assertEqual(keeper.deadline, 14.0)
        self.run_until(13.875)
        self.assertEqual(times, {})
        self.assertEqual(len(gate.held), 1)  # the renewal sent at 10s hangs
        self.run_until(14.0)
        self.assertEqual(times, {"lost": 14.0})

    def test_failing_renewals_retried_until_deadline(self) -> None:
        """Renewals that fail fast are retried every second; lost fires at the deadline, not after TTL."""
        sent: list[float] = []

        def renew(*args: Any, **kwargs: Any) -> Any:
            sent.append(self.clock.seconds())
            return fail(ConsulConnectionError("connection refused"))

        self.consul.session.renew = renew
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        self.ok(keeper.create())
        times: dict[str, float] = {}
        self.at(keeper.lost, times, "lost")
        self.run_until(20)
        self.assertEqual(times, {"lost": 9.0})
        self.assertEqual(sent, [5.0, 6.0, 7.0, 8.0])

    def test_retry_success_moves_deadline(self) -> None:
        """After failures, a renewal that succeeds moves the deadline; kept renewing, no loss."""
        real = self.consul.session.renew
        failures = [2]

        def renew(*args: Any, **kwargs: Any) -> Any:
            if failures[0]:
                failures[0] -= 1
                return fail(ConsulConnectionError("connection refused"))
            return real(*args, **kwargs)

        self.consul.session.renew = renew
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        sid = self.ok(keeper.create())
        self.run_until(7)
        self.assertEqual(keeper.deadline, 16.0)  # the renewal sent at 7s succeeded
        self.advance(200)
        self.assertNoResult(keeper.lost)
        self.assertTrue(self.alive(sid))
        self.ok(keeper.destroy())

    def test_destroy_while_renewal_connecting(self) -> None:
        """A renewal whose cancel fails as a connection error (cancelled while connecting) leaves no timer after destroy."""

        def renew(*args: Any, **kwargs: Any) -> Any:
            return Deferred(lambda d: d.errback(ConsulConnectionError("connecting cancelled")))

        self.consul.session.renew = renew
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        self.ok(keeper.create())
        self.run_until(5)  # a renewal is on the wire
        self.ok(keeper.destroy())
        self.assertNoTimers()

    def test_deadline_while_renewal_connecting(self) -> None:
        """The same at the deadline: once lost, nothing is left on the clock."""
        self.consul.session.renew = lambda *a, **kw: Deferred(
            lambda d: d.errback(ConsulConnectionError("connecting cancelled"))
        )
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        self.ok(keeper.create())
        lost = keeper.lost
        self.run_until(9)
        self.ok(lost)
        self.assertNoTimers()

    def test_safety_margin(self) -> None:
        """A given margin moves the deadline; a margin of TTL/2 or more is refused, naming it."""
        keeper = SessionKeeper(self.consul, ttl="20s", safety_margin="4s")
        self.ok(keeper.create())
        self.assertEqual(keeper.deadline, 16.0)
        e = self.assertRaises(ValueError, SessionKeeper, self.consul, ttl="10s", safety_margin=5)
        self.assertIn("safety_margin", str(e))
        self.assertRaises(ValueError, SessionKeeper, self.consul, ttl="10s", safety_margin=-1)
        self.ok(keeper.destroy())

    def test_listeners(self) -> None:
        """subscribe() listeners hear the loss in the same turn as lost; unsubscribed ones do not."""
        keeper = SessionKeeper(self.consul, ttl="10s")
        sid = self.ok(keeper.create())
        heard: list[Any] = []
        keeper.subscribe(lambda s: heard.append(("a", s, keeper.lost is not None)))
        keeper.subscribe(lambda s: 1 / 0)  # an error is logged, the others still run
        unsubscribe = keeper.subscribe(lambda s: heard.append(("b", s)))
        keeper.subscribe(lambda s: heard.append(("c", s)))
        unsubscribe()
        self.ok(self.consul.session.destroy(sid))
        self.advance(6)
        self.assertEqual(heard, [("a", sid, True), ("c", sid)])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_destroy_after_deadline_waits_for_cleanup(self) -> None:
        """destroy() after a deadline loss fires once the keeper's own destroy of the session answered."""
        Gate(self.consul.session, "renew")
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        self.ok(keeper.create())
        destroys = Gate(self.consul.session, "destroy")
        self.run_until(9.0)
        self.assertEqual(len(destroys.held), 1)
        d = keeper.destroy()
        self.assertNoResult(d)
        destroys.deliver()
        self.assertIs(self.ok(d), True)
        self.assertEqual(self.sessions(), [])


class PartitionTests(SafetyCase):
    """
    The issue's scenario in memory: holder A's client is cut off from the
    agent (requests and answers held, as by a stalled proxy) while B
    contends directly.  A must hear of the loss before B acquires.
    """

    def race(self, a: Any, b: Any) -> dict[str, float]:
        """
        A (through the cut client) acquires, B contends; A's connection
        stalls at 1s.  The times ``'a lost'`` and ``'b acquired'`` fill the
        dict returned as they happen.
        """
        self.ok(a.acquire())
        times: dict[str, float] = {}
        assert a.lost is not None
        self.at(a.lost, times, "a lost")
        self.at(b.acquire(), times, "b acquired")
        self.run_until(1)
        self.stall.stall()
        return times

    def test_lock(self) -> None:
        """Lock: A's lost fires at 13.5s (TTL 15s), B acquires only after the reap and lock-delay."""
        a = Lock(self.cut, KEY, b"a")
        times = self.race(a, Lock(self.consul, KEY, b"b"))
        sid = a.session_id
        self.run_until(13.375)
        self.assertEqual(times, {})
        self.assertTrue(a.held)
        self.run_until(13.5)
        self.assertEqual(times, {"a lost": 13.5})
        self.assertFalse(a.held)
        self.assertIsNone(a.fence)
        self.assertTrue(self.alive(sid))  # the agent has not reaped it yet
        self.run_until(120)
        self.assertLess(times["a lost"], times["b acquired"])
        self.assertGreaterEqual(times["b acquired"], 15 + 15)  # reaped after >= TTL, then lock-delay
        self.assertEqual(self.entry()["Value"], b"b")

    def test_semaphore(self) -> None:
        """Semaphore (limit 1): A's lost fires at the keeper's deadline, before B gets the slot."""
        a = Semaphore(self.cut, PREFIX, 1, b"a")
        b = Semaphore(self.consul, PREFIX, 1, b"b")
        times = self.race(a, b)
        self.run_until(13.5)
        self.assertEqual(times, {"a lost": 13.5})
        self.run_until(120)
        self.assertLess(times["a lost"], times["b acquired"])
        self.assertTrue(b.held)

    def test_leader_election(self) -> None:
        """LeaderElection: A is demoted at the keeper's deadline, before B is elected."""
        times: dict[str, float] = {}
        a = LeaderElection(
            self.cut, KEY, b"a", on_demoted=lambda: times.setdefault("a demoted", self.clock.seconds())
        )
        b = LeaderElection(
            self.consul, KEY, b"b", on_elected=lambda: times.setdefault("b elected", self.clock.seconds())
        )
        a.startService()
        b.startService()
        self.assertTrue(a.is_leader)
        self.run_until(1)
        self.stall.stall()
        self.run_until(13.5)
        self.assertEqual(times, {"a demoted": 13.5})
        self.run_until(120)
        self.assertLess(times["a demoted"], times["b elected"])
        self.assertTrue(b.is_leader)
        a.stopService()
        self.ok(b.stopService())

    def test_bare_session_monitor_times_out(self) -> None:
        """With a bare session ID, the monitor's bounded wait (10s) notices the partition within a minute, not after 5."""
        sid = self.ok(self.consul.session.create(ttl="60s", checks=[]))
        a = Lock(self.cut, KEY, session=sid)
        self.ok(a.acquire())
        times: dict[str, float] = {}
        assert a.lost is not None
        self.at(a.lost, times, "a lost")
        self.stall.stall()
        self.run_until(10)
        self.assertEqual(times, {})
        self.run_until(60)
        # The read sent at 0 waits 10s and the client gives it a little
        # more (10 + 10/16 + 5s today); without a wait it would be 5 min.
        self.assertEqual(list(times), ["a lost"])
        self.assertGreater(times["a lost"], 10)


class LossSameTurnTests(SafetyCase):
    """A keeper's loss reaches Lock.lost, Semaphore.lost and on_demoted in the same turn."""

    def keeper(self) -> SessionKeeper:
        """A caller's keeper whose renewals hang, so only its deadline can report the loss."""
        Gate(self.consul.session, "renew")
        keeper = SessionKeeper(self.consul, ttl="10s", checks=[])
        self.ok(keeper.create())
        return keeper

    def test_lock(self) -> None:
        """Lock.lost fires True while the keeper's listeners run; the caller's keeper is not destroyed by release."""
        keeper = self.keeper()
        lock = Lock(self.consul, KEY, session=keeper)
        self.ok(lock.acquire())
        self.assertEqual(lock.session_id, keeper.session_id)
        seen: list[bool] = []
        keeper.lost.addCallback(lambda _: seen.append(lock.held))  # the Deferred fires first
        keeper.subscribe(lambda _: seen.append(lock.held))  # listeners after the lock's
        self.run_until(9.0)
        self.assertEqual(seen, [True, False])
        self.assertIs(self.ok(lock.lost), True)

    def test_caller_keeper_survives_release(self) -> None:
        """Releasing a lock taken with a caller's keeper keeps the keeper's session alive."""
        keeper = SessionKeeper(self.consul, ttl="10s")
        lock = Lock(self.consul, KEY, session=keeper)
        self.ok(lock.acquire())
        sid = keeper.session_id
        self.ok(lock.release())
        self.advance(60)
        self.assertEqual(self.sessions(), [sid])
        self.assertNoResult(keeper.lost)
        self.ok(keeper.destroy())

    def test_semaphore(self) -> None:
        """Semaphore.lost fires True in the keeper's turn."""
        keeper = self.keeper()
        sem = Semaphore(self.consul, PREFIX, 1, session=keeper)
        self.ok(sem.acquire())
        seen: list[bool] = []
        keeper.subscribe(lambda _: seen.append(sem.held))
        self.run_until(9.0)
        self.assertEqual(seen, [False])
        self.assertIs(self.ok(sem.lost), True)

    def test_leader_election(self) -> None:
        """on_demoted runs in the keeper's turn."""
        keeper = self.keeper()
        events: list[str] = []
        le = LeaderElection(self.consul, KEY, on_demoted=lambda: events.append("demoted"), session=keeper)
        le.startService()
        self.assertTrue(le.is_leader)
        keeper.subscribe(lambda _: events.append("keeper listener"))
        self.run_until(9.0)
        self.assertEqual(events[:2], ["demoted", "keeper listener"])
        le.stopService()

    def test_demoted_callback_may_stop(self) -> None:
        """An on_demoted that calls stopService (stepping down on stop) runs once, without recursion."""
        events: list[str] = []

        def demoted() -> None:
            events.append("demoted")
            le.stopService()

        le = LeaderElection(self.consul, KEY, on_demoted=demoted)
        le.startService()
        self.assertTrue(le.is_leader)
        self.ok(le.stopService())
        self.assertEqual(events, ["demoted"])
        self.assertFalse(le.is_leader)
        self.assertEqual(self.sessions(), [])

    def test_lost_while_acquiring(self) -> None:
        """A session lost while waiting for the lock fails acquire with SessionLost, leaving no session."""
        a = Lock(self.consul, KEY)
        self.ok(a.acquire())
        gate = Gate(self.cut.session, "renew")
        b = Lock(self.cut, KEY)
        d = b.acquire()
        self.run_until(13.375)
        self.assertNoResult(d)
        sid = b.session_id
        self.run_until(13.5)
        f = self.failureResultOf(d, SessionLost)
        self.assertIn(str(sid), str(f.value))
        self.assertFalse(b.held)
        self.assertIsNone(b.session_id)
        self.assertEqual(self.sessions(), [a.session_id])
        self.assertEqual(len(gate.held), 1)

    def test_semaphore_lost_while_acquiring(self) -> None:
        """A Semaphore whose session is lost while waiting for a slot fails with SessionLost and removes its contender key."""
        a = Semaphore(self.consul, PREFIX, 1)
        self.ok(a.acquire())
        Gate(self.cut.session, "renew")
        b = Semaphore(self.cut, PREFIX, 1)
        d = b.acquire()
        self.run_until(13.375)
        self.assertNoResult(d)
        self.run_until(13.5)
        self.failureResultOf(d, SessionLost)
        keys = self.ok(self.consul.kv.get(PREFIX + "/", keys=True))[1]
        self.assertEqual(sorted(keys), sorted([f"{PREFIX}/.lock", f"{PREFIX}/{a.session_id}"]))
        self.assertEqual(self.sessions(), [a.session_id])
        self.assertTrue(a.held)

    def test_lost_during_acquire_put(self) -> None:
        """A session lost while the acquiring PUT is on the wire: SessionLost, and the key is not left held."""
        gate = Gate(self.cut.session, "renew")
        puts = Gate(self.cut.kv, "put")
        b = Lock(self.cut, KEY)
        d = b.acquire()
        self.assertEqual(len(puts.held), 1)
        self.run_until(13.5)
        puts.deliver()  # it reached Consul after all
        self.failureResultOf(d, SessionLost)
        self.assertEqual(self.sessions(), [])
        self.assertIsNone((self.entry() or {}).get("Session"))
        self.assertEqual(len(gate.held), 1)


class MonitorStopTests(SafetyCase):
    """A monitor stopped while its read is connecting leaves nothing behind."""

    def connecting_reads(self) -> None:
        """Make blocking kv reads hang, failing as a connection error when cancelled."""
        real = self.consul.kv.get

        def get(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("index"):
                return Deferred(lambda d: d.errback(ConsulConnectionError("connecting cancelled")))
            return real(*args, **kwargs)

        self.consul.kv.get = get

    def test_lock_release(self) -> None:
        """Releasing a Lock with monitor_retries does not leave a retry timer or a second read."""
        self.connecting_reads()
        lock = Lock(self.consul, KEY, monitor_retries=3)
        self.ok(lock.acquire())
        self.ok(lock.release())
        self.assertNoTimers()

    def test_semaphore_release(self) -> None:
        """Releasing a Semaphore with monitor_retries does not leave a retry timer."""
        self.connecting_reads()
        sem = Semaphore(self.consul, PREFIX, 1, monitor_retries=3)
        self.ok(sem.acquire())
        self.ok(sem.release())
        self.assertNoTimers()


class MonitorWaitTests(SafetyCase):
    """The monitors' blocking reads carry a wait no longer than the session TTL."""

    def waits(self) -> list[Any]:
        """Record the wait of every blocking kv.get."""
        seen: list[Any] = []
        real = self.consul.kv.get

        def get(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("index"):
                seen.append(kwargs.get("wait"))
            return real(*args, **kwargs)

        self.consul.kv.get = get
        return seen

    def test_lock_waits(self) -> None:
        """Lock's monitor waits the session TTL (15s); with a bare session ID, 10s."""
        seen = self.waits()
        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        self.advance(40)
        self.assertTrue(seen)
        self.assertEqual(set(seen), {15.0})
        self.ok(lock.release())
        del seen[:]
        sid = self.ok(self.consul.session.create(ttl="60s"))
        lock = Lock(self.consul, KEY, session=sid)
        self.ok(lock.acquire())
        self.advance(40)
        self.assertTrue(seen)
        self.assertEqual(set(seen), {10.0})

    def test_semaphore_waits(self) -> None:
        """Semaphore's monitor waits the session TTL."""
        seen = self.waits()
        sem = Semaphore(self.consul, PREFIX, 1, session_ttl="20s")
        self.ok(sem.acquire())
        self.advance(50)
        self.assertTrue(seen)
        self.assertEqual(set(seen), {20.0})


class FencingTests(SafetyCase):
    """Fencing tokens grow with each acquisition; a paused holder's guarded write fails."""

    def test_tokens_grow(self) -> None:
        """Each acquisition's token is the key's ModifyIndex and larger than the last."""
        lock = Lock(self.consul, KEY)
        tokens = []
        for _ in range(3):
            self.ok(lock.acquire())
            fence = lock.fence
            assert fence is not None
            entry = self.entry()
            self.assertEqual((fence.token, fence.lock_index), (entry["ModifyIndex"], entry["LockIndex"]))
            self.assertEqual(lock.fencing_token, fence.token)
            tokens.append(fence.token)
            self.ok(self.consul.kv.put("other", b"x"))  # unrelated writes do not matter
            self.ok(lock.release())
            self.assertIsNone(lock.fencing_token)
        self.assertEqual(tokens, sorted(set(tokens)))

    def test_guarded_put(self) -> None:
        """While held, a guarded put writes; after release it is refused before any request."""
        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        self.assertIs(self.ok(lock.guarded_put("data", b"v1")), True)
        self.assertEqual(self.ok(self.consul.kv.get("data"))[1]["Value"], b"v1")
        self.ok(lock.release())
        self.failureResultOf(lock.guarded_put("data", b"v2"), LockNotHeld)

    def test_paused_holder_is_fenced(self) -> None:
        """A holder paused (own clock frozen, connection stalled) past its session cannot overwrite the next holder's data."""
        clock_a = Clock()  # A's process: frozen while "stopped"
        a_client = Consul(http_agent=self.stall, reactor=clock_a, environ={})
        a = Lock(a_client, KEY, b"a", clock=clock_a)
        self.ok(a.acquire())
        self.assertIs(self.ok(a.guarded_put("data", b"from a")), True)
        a_fence = a.fence
        self.stall.stall()  # SIGSTOP: no time passes for A, nothing moves
        b = Lock(self.consul, KEY, b"b")
        acquired = b.acquire()
        self.advance(120)  # A's session is reaped, lock-delay passes, B acquires
        self.assertIs(self.ok(acquired), True)
        self.ok(b.guarded_put("data", b"from b"))
        assert b.fence is not None and a_fence is not None
        self.assertGreater(b.fence.token, a_fence.token)
        self.assertTrue(a.held)  # A has not noticed anything yet
        late = a.guarded_put("data", b"late a")  # its first act on waking up
        self.stall.resume()  # SIGCONT: the write and the held answers flow
        f = self.failureResultOf(late, FencingError)
        self.assertEqual(f.value.fence, a_fence)
        self.assertEqual(self.ok(self.consul.kv.get("data"))[1]["Value"], b"from b")
        clock_a.advance(120)
        self.assertFalse(a.held)
        self.ok(b.release())

    def test_guarded_txn_other_failures(self) -> None:
        """A failure of the caller's own operation is a TxnFailed, not a FencingError; bad input fails before any request."""
        from txconsul import TxnFailed

        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        f = self.failureResultOf(lock.guarded_txn([self.consul.txn.kv_check_index("absent", 5)]), TxnFailed)
        self.assertNotIsInstance(f.value, FencingError)
        fence = lock.fence
        assert fence is not None
        self.failureResultOf(guarded_txn(self.consul, fence, [self.consul.txn.kv_get("x")] * 127), ValueError)
        self.failureResultOf(guarded_txn(self.consul, ("k", "s", 1, 1), []), TypeError)  # type: ignore[arg-type]
        self.failureResultOf(lock.guarded_put("", b"x"), ValueError)
        self.assertIsInstance(fence, Fence)
        self.assertEqual(len(fence.checks()), 2)
