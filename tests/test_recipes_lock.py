"""
Tests for txconsul.recipes: SessionKeeper and Lock, in memory against
FakeConsul on a Clock.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul.recipes import (
    LOCK_FLAG_VALUE,
    LeaderElection,
    Lock,
    LockConflict,
    LockHeld,
    LockInUse,
    LockNotHeld,
    SessionKeeper,
)
from txconsul import ConsulException
from txconsul.recipes._lock import next_index
from txconsul.testing import FakeConsul
from .fakecase import FakeConsulCase

KEY = "service/app/leader"


class Gate:
    """
    Replaces ``obj.name`` so that calls matching ``when`` are held: the
    request is "on the wire" until :meth:`deliver` performs it for real.
    Cancelling a held call does not unsend it (as with real HTTP).
    """

    def __init__(self, obj: Any, name: str, when: Optional[Callable[..., bool]] = None) -> None:
        self.real = getattr(obj, name)
        self.when = when or (lambda *a, **kw: True)
        self.held: list[tuple[Deferred[Any], tuple[Any, ...], dict[str, Any]]] = []
        setattr(obj, name, self)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self.when(*args, **kwargs):
            return self.real(*args, **kwargs)
        d: Deferred[Any] = Deferred()
        self.held.append((d, args, kwargs))
        return d

    def deliver(self) -> None:
        """Perform the oldest held call and relay its answer (if still wanted)."""
        d, args, kwargs = self.held.pop(0)

        def relay(result: Any) -> None:
            if not d.called:
                d.callback(result) if not hasattr(result, "raiseException") else d.errback(result)

        self.real(*args, **kwargs).addBoth(relay)


class RecipeTestCase(FakeConsulCase):
    """A FakeConsul on a Clock and a client wired to it."""

    def sessions(self) -> list[str]:
        """IDs of every session in the fake."""
        return [s["ID"] for s in self.ok(self.consul.session.list())[1]]

    def entry(self, key: str = KEY) -> Any:
        """The KV entry at key, or None."""
        return self.ok(self.consul.kv.get(key))[1]

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the clock in steps so timers chain as on a real reactor."""
        while seconds > 0:
            self.clock.advance(min(step, seconds))
            seconds -= step

    def assertNoTimers(self) -> None:
        """Nothing is left on the clock: no renewal, retry, wait or timeout."""
        self.assertEqual(self.clock.getDelayedCalls(), [])


class SessionKeeperTests(RecipeTestCase):
    """SessionKeeper creates, renews, reports loss of and destroys a session."""

    def test_create_and_renew(self) -> None:
        """The session outlives many TTLs while kept, with the given settings."""
        keeper = SessionKeeper(self.consul, name="k", ttl="10s", behavior="delete", lock_delay=0, checks=[])
        sid = self.ok(keeper.create())
        self.advance(200)
        info = self.ok(self.consul.session.info(sid))[1]
        self.assertEqual((info["Name"], info["Behavior"], info["LockDelay"]), ("k", "delete", 0))
        self.assertNoResult(keeper.lost)
        self.ok(keeper.destroy())

    def test_unrenewed_session_expires(self) -> None:
        """Control: the same session without the keeper expires, so renewal matters."""
        sid = self.ok(self.consul.session.create(ttl="10s", checks=[]))
        self.advance(200)
        self.assertIsNone(self.ok(self.consul.session.info(sid))[1])

    def test_lost_when_destroyed_elsewhere(self) -> None:
        """A renewal answered NotFound fires lost and on_lost with the ID."""
        seen: list[str] = []
        keeper = SessionKeeper(self.consul, ttl="10s", on_lost=seen.append)
        sid = self.ok(keeper.create())
        lost = keeper.lost
        self.ok(self.consul.session.destroy(sid))
        self.advance(6)
        self.assertEqual(self.ok(lost), sid)
        self.assertEqual(seen, [sid])
        self.assertIsNone(keeper.session_id)

    def test_service_destroys_on_stop(self) -> None:
        """startService creates the session, stopService destroys it."""
        keeper = SessionKeeper(self.consul, ttl="15s")
        keeper.startService()
        sid = keeper.session_id
        self.assertIn(sid, self.sessions())
        self.ok(keeper.stopService())
        self.assertEqual(self.sessions(), [])
        self.assertIsNone(keeper.session_id)

    def test_bad_ttl(self) -> None:
        """A keeper without a TTL or with a bad behavior is refused at once."""
        self.assertRaises(ValueError, SessionKeeper, self.consul, ttl=0)
        self.assertRaises(ValueError, SessionKeeper, self.consul, behavior="drop")


class LockTests(RecipeTestCase):
    """Lock follows the Go client's algorithm."""

    def test_acquire_sets_flag_and_session(self) -> None:
        """The key gets the lock flag, the value and our session."""
        lock = Lock(self.consul, KEY, b"me")
        self.assertIs(self.ok(lock.acquire()), True)
        entry = self.entry()
        self.assertEqual(entry["Flags"], LOCK_FLAG_VALUE)
        self.assertEqual(entry["Value"], b"me")
        self.assertEqual(entry["Session"], lock.session_id)
        self.assertTrue(lock.held)
        info = self.ok(self.consul.session.info(lock.session_id))[1]
        self.assertEqual((info["Name"], info["TTL"]), ("Consul API Lock", "15s"))

    def test_two_contenders(self) -> None:
        """The second contender waits, then gets the lock after release."""
        a = Lock(self.consul, KEY, b"a")
        b = Lock(self.consul, KEY, b"b")
        self.ok(a.acquire())
        db = b.acquire()
        self.advance(100)
        self.assertNoResult(db)
        self.assertTrue(self.ok(a.release()))
        self.assertIs(self.ok(a.lost), False)
        self.clock.advance(0)
        self.assertIs(self.ok(db), True)
        self.assertEqual(self.entry()["Value"], b"b")
        self.assertEqual(self.sessions(), [b.session_id])

    def test_held_across_time(self) -> None:
        """The lock's own session is renewed: held after many TTLs."""
        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        self.advance(300)
        self.assertTrue(lock.held)
        self.assertNoResult(lock.lost)
        self.assertEqual(self.entry()["Session"], lock.session_id)

    def test_lost_when_session_destroyed(self) -> None:
        """Destroying the session fires lost with True and cleans up."""
        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        lost = lock.lost
        self.ok(self.consul.session.destroy(lock.session_id))
        self.assertIs(self.ok(lost), True)
        self.assertFalse(lock.held)
        self.failureResultOf(lock.release(), LockNotHeld)

    def test_lost_when_session_expires(self) -> None:
        """With a caller's session that nobody renews, TTL expiry loses the lock."""
        sid = self.ok(self.consul.session.create(ttl="10s", checks=[]))
        lock = Lock(self.consul, KEY, session=sid)
        self.ok(lock.acquire())
        self.advance(15)
        self.assertNoResult(lock.lost)
        self.advance(10)
        self.assertIs(self.ok(lock.lost), True)

    def test_lock_delay(self) -> None:
        """After the holder's session is invalidated, a waiter respects lock-delay."""
        a = Lock(self.consul, KEY)
        b = Lock(self.consul, KEY)
        self.ok(a.acquire())
        db = b.acquire()
        self.ok(self.consul.session.destroy(a.session_id))
        self.advance(14.5, 0.5)
        self.assertNoResult(db)
        self.advance(6, 0.5)
        self.assertIs(self.ok(db), True)

    def test_conflict(self) -> None:
        """A key with other flags is not a lock: LockConflict, session destroyed."""
        self.ok(self.consul.kv.put(KEY, b"plain"))
        lock = Lock(self.consul, KEY)
        self.failureResultOf(lock.acquire(), LockConflict)
        self.assertFalse(lock.held)
        self.assertEqual(self.sessions(), [])

    def test_cancel_waiting_acquire(self) -> None:
        """Cancelling a waiting acquire stops it and destroys its session."""
        a = Lock(self.consul, KEY)
        b = Lock(self.consul, KEY)
        self.ok(a.acquire())
        db = b.acquire()
        self.advance(3)
        db.cancel()
        self.failureResultOf(db, CancelledError)
        self.assertEqual(self.sessions(), [a.session_id])
        self.ok(a.release())
        self.advance(30)
        self.assertIsNone(self.entry().get("Session"))
        self.assertFalse(b.held)

    def test_cancel_during_lock_delay(self) -> None:
        """Cancelling during the lock-delay retry sleep also cleans up."""
        a = Lock(self.consul, KEY)
        self.ok(a.acquire())
        self.ok(self.consul.session.destroy(a.session_id))
        b = Lock(self.consul, KEY)
        db = b.acquire()
        self.advance(1)
        db.cancel()
        self.failureResultOf(db, CancelledError)
        self.assertEqual(self.sessions(), [])

    def test_try_once(self) -> None:
        """try_once gives up with False after lock_wait and destroys its session."""
        a = Lock(self.consul, KEY)
        self.ok(a.acquire())
        b = Lock(self.consul, KEY, try_once=True, lock_wait="10s")
        db = b.acquire()
        self.advance(9)
        self.assertNoResult(db)
        self.advance(5)
        self.assertIs(self.ok(db), False)
        self.assertEqual(self.sessions(), [a.session_id])

    def test_session_create_fails(self) -> None:
        """A session the client refuses (TTL over 24h) fails acquire; the lock stays usable."""
        lock = Lock(self.consul, KEY, session_ttl="25h")
        self.failureResultOf(lock.acquire(), ValueError)
        self.assertFalse(lock.held)
        self.assertIsNone(lock.session_id)
        self.failureResultOf(lock.acquire(), ValueError)
        self.assertEqual(self.sessions(), [])

    def test_misuse(self) -> None:
        """Acquire twice is LockHeld; release unheld is LockNotHeld."""
        lock = Lock(self.consul, KEY)
        self.failureResultOf(lock.release(), LockNotHeld)
        self.ok(lock.acquire())
        self.failureResultOf(lock.acquire(), LockHeld)
        self.failureResultOf(lock.destroy(), LockHeld)

    def test_destroy(self) -> None:
        """destroy deletes a free lock key, refuses a held or foreign one."""
        a = Lock(self.consul, KEY)
        b = Lock(self.consul, KEY)
        self.ok(a.acquire())
        self.failureResultOf(b.destroy(), LockInUse)
        self.ok(a.release())
        self.assertTrue(self.ok(b.destroy()))
        self.assertIsNone(self.entry())
        self.assertTrue(self.ok(b.destroy()))
        self.ok(self.consul.kv.put(KEY, b"x"))
        self.failureResultOf(b.destroy(), LockConflict)

    def test_caller_session_not_destroyed(self) -> None:
        """A session given by the caller survives release."""
        sid = self.ok(self.consul.session.create())
        lock = Lock(self.consul, KEY, session=sid)
        self.ok(lock.acquire())
        self.ok(lock.release())
        self.assertEqual(self.sessions(), [sid])


class LeaderElectionTests(RecipeTestCase):
    """LeaderElection campaigns with a Lock and reports elections and demotions."""

    def elect(self, name: str, events: list[str]) -> LeaderElection:
        """A started election recording events as '<name>+' and '<name>-'."""
        le = LeaderElection(
            self.consul,
            KEY,
            name.encode(),
            on_elected=lambda: events.append(name + "+"),
            on_demoted=lambda: events.append(name + "-"),
        )
        le.startService()
        return le

    def test_handover_on_stop(self) -> None:
        """The first is elected; stopping it demotes it and elects the second."""
        events: list[str] = []
        a = self.elect("a", events)
        b = self.elect("b", events)
        self.advance(30)
        self.assertEqual(events, ["a+"])
        self.assertTrue(a.is_leader)
        self.assertFalse(b.is_leader)
        self.ok(a.stopService())
        self.clock.advance(0)
        self.assertEqual(events, ["a+", "a-", "b+"])
        self.assertEqual(self.entry()["Value"], b"b")
        self.ok(b.stopService())
        self.assertEqual(events, ["a+", "a-", "b+", "b-"])
        self.assertEqual(self.sessions(), [])
        self.advance(60)
        self.assertNoTimers()

    def test_demoted_when_session_lost(self) -> None:
        """Losing the session demotes the leader; it campaigns again."""
        events: list[str] = []
        a = self.elect("a", events)
        self.ok(self.consul.session.destroy(a.lock.session_id or ""))
        self.assertEqual(events, ["a+", "a-"])
        self.advance(20)
        self.assertEqual(events, ["a+", "a-", "a+"])
        self.assertTrue(a.is_leader)
        self.ok(a.stopService())

    def test_stop_while_waiting(self) -> None:
        """Stopping a waiting candidate cancels its campaign and its session."""
        events: list[str] = []
        a = self.elect("a", events)
        b = self.elect("b", events)
        self.ok(b.stopService())
        self.assertEqual(self.sessions(), [a.lock.session_id])
        self.ok(a.stopService())
        self.assertEqual(events, ["a+", "a-"])
        self.advance(60)
        self.assertNoTimers()

    def test_stop_waits_for_session_destroy(self) -> None:
        """Stopping a waiting candidate fires only once its session is destroyed."""
        events: list[str] = []
        a = self.elect("a", events)
        b = self.elect("b", events)
        gate = Gate(self.consul.session, "destroy")
        stopped = b.stopService()
        self.assertNoResult(stopped)
        gate.deliver()
        self.assertIsNone(self.ok(stopped))
        self.assertEqual(self.sessions(), [a.lock.session_id])
        self.consul.session.destroy = gate.real
        self.ok(a.stopService())
        self.advance(60)
        self.assertNoTimers()

    def test_recampaign_after_loss_then_stop(self) -> None:
        """After a loss the candidate campaigns again; stopping then leaves nothing behind."""
        events: list[str] = []
        a = self.elect("a", events)
        b = self.elect("b", events)
        self.ok(self.consul.session.destroy(a.lock.session_id or ""))
        self.advance(30)
        self.assertEqual(events[:2], ["a+", "a-"])
        self.assertIn(events[2:], (["a+"], ["b+"]))
        self.assertNotEqual(a.is_leader, b.is_leader)
        self.ok(a.stopService())
        self.ok(b.stopService())
        self.assertEqual(self.sessions(), [])
        self.advance(60)
        self.assertNoTimers()

    def test_retry_after_conflict(self) -> None:
        """A failed campaign (key not a lock) is retried until it succeeds."""
        self.ok(self.consul.kv.put(KEY, b"plain"))
        events: list[str] = []
        a = self.elect("a", events)
        self.advance(6)
        self.assertEqual(events, [])
        self.ok(self.consul.kv.delete(KEY))
        self.advance(6)
        self.assertEqual(events, ["a+"])
        self.ok(a.stopService())


class IndexTests(SynchronousTestCase):
    """next_index follows Consul's blocking-query guidance."""

    def test_next_index(self) -> None:
        """Forward indexes are kept, backwards resets, below 1 clamps to 1."""
        self.assertEqual(next_index(None, 7), 7)
        self.assertEqual(next_index(7, 9), 9)
        self.assertEqual(next_index(7, 7), 7)
        self.assertIsNone(next_index(9, 7))
        self.assertEqual(next_index(None, 0), 1)
        self.assertEqual(next_index(5, 0), 1)
        self.assertEqual(next_index(5, None), 1)


class LockRaceTests(RecipeTestCase):
    """Lock under races: release in flight, loss with Consul slow, index quirks."""

    def test_release_failure_still_destroys_session(self) -> None:
        """A release call that fails still stops renewing and destroys the session (Go's Unlock defer)."""
        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        lost = lock.lost
        real_put = self.consul.kv.put
        self.consul.kv.put = lambda *a, **kw: fail(ConsulException("boom", status=500))
        self.failureResultOf(lock.release(), ConsulException)
        self.consul.kv.put = real_put
        self.assertIs(self.ok(lost), False)
        self.assertEqual(self.sessions(), [])
        self.advance(60)
        self.assertNoTimers()

    def test_acquire_while_release_in_flight(self) -> None:
        """A release answered late neither destroys the next acquisition's session nor fires its lost."""
        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        first = lock.session_id
        gate = Gate(self.consul.kv, "put", lambda *a, **kw: kw.get("release") is not None)
        released = lock.release()
        d = lock.acquire()
        self.assertNoResult(d)
        second = lock.session_id
        self.assertNotEqual(second, first)
        gate.deliver()
        self.consul.kv.put = gate.real
        self.assertTrue(self.ok(released))
        self.assertIs(self.ok(d), True)
        self.assertEqual(lock.session_id, second)
        self.assertEqual(self.sessions(), [second])
        self.assertNoResult(lock.lost)
        self.advance(60)
        self.assertTrue(lock.held)
        self.assertEqual(self.entry()["Session"], second)
        self.ok(lock.release())

    def test_lost_fires_before_session_destroy_answers(self) -> None:
        """Loss is reported at once, even when destroying the session hangs."""
        lock = Lock(self.consul, KEY)
        self.ok(lock.acquire())
        sid = lock.session_id
        lost = lock.lost
        gate = Gate(self.consul.session, "destroy")
        self.ok(self.consul.kv.put(KEY, b"", release=sid))
        self.assertIs(self.ok(lost), True)
        self.assertFalse(lock.held)
        gate.deliver()
        self.assertEqual(self.sessions(), [])
        self.advance(60)
        self.assertNoTimers()

    def test_wait_never_blocks_on_index_zero(self) -> None:
        """An agent answering X-Consul-Index 0 does not make the wait loop send index=0."""
        a = Lock(self.consul, KEY)
        self.ok(a.acquire())
        sent: list[Any] = []
        real_get = self.consul.kv.get

        def get(*args: Any, **kwargs: Any) -> Any:
            sent.append(kwargs.get("index"))
            if len(sent) > 20:
                return fail(ConsulException("enough", status=400))
            return real_get(*args, **kwargs).addCallback(lambda r: (0, r[1]))

        self.consul.kv.get = get
        b = Lock(self.consul, KEY)
        d = b.acquire()
        self.advance(30)
        self.consul.kv.get = real_get
        self.assertNotIn(0, sent)
        d.addErrback(lambda _: None)
        d.cancel()

    def test_stop_during_acquire_stages(self) -> None:
        """Stopping a candidate at each stage of acquire leaves no session, key or timer."""
        for method, obj in (("create", "session"), ("get", "kv"), ("put", "kv")):
            clock = self.clock = Clock()
            self.fake = FakeConsul(clock, seed=1)
            self.consul = self.fake.client()
            gate = Gate(getattr(self.consul, obj), method)
            d = Lock(self.consul, KEY).acquire()
            self.assertTrue(gate.held, method)
            d.cancel()
            gate.deliver()
            setattr(getattr(self.consul, obj), method, gate.real)
            self.failureResultOf(d, CancelledError)
            self.assertEqual(self.sessions(), [], method)
            self.assertIsNone((self.entry() or {}).get("Session"), method)
            self.advance(60)
            self.assertNoTimers()
