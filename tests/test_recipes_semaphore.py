"""
Tests for txconsul.recipes.Semaphore, in memory against FakeConsul on a Clock.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import CancelledError

from txconsul.recipes import (
    SEMAPHORE_FLAG_VALUE,
    Semaphore,
    SemaphoreConflict,
    SemaphoreHeld,
    SemaphoreInUse,
    SemaphoreLimitConflict,
    SemaphoreNotHeld,
)
from .fakecase import FakeConsulCase

from .test_recipes_lock import Gate

PREFIX = "service/app/workers"


class SemaphoreTests(FakeConsulCase):
    """Semaphore follows the Go client's algorithm."""

    def sessions(self) -> list[str]:
        """IDs of every session in the fake."""
        return sorted(s["ID"] for s in self.ok(self.consul.session.list())[1])

    def lock_entry(self) -> Any:
        """The decoded .lock entry, or None."""
        entry = self.ok(self.consul.kv.get(PREFIX + "/.lock"))[1]
        if entry is None:
            return None
        return entry["Flags"], json.loads(entry["Value"])

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the clock in steps so timers chain as on a real reactor."""
        while seconds > 0:
            self.clock.advance(min(step, seconds))
            seconds -= step

    def test_limit_enforced(self) -> None:
        """With limit 2, the third of three contenders waits until a release."""
        a, b, c = (Semaphore(self.consul, PREFIX, 2, value=n) for n in (b"a", b"b", b"c"))
        self.assertIs(self.ok(a.acquire()), True)
        self.assertIs(self.ok(b.acquire()), True)
        dc = c.acquire()
        self.advance(100)
        self.assertNoResult(dc)
        flags, lock = self.lock_entry()
        self.assertEqual(flags, SEMAPHORE_FLAG_VALUE)
        self.assertEqual(lock, {"Limit": 2, "Holders": {a.session_id: True, b.session_id: True}})
        contender = self.ok(self.consul.kv.get(PREFIX + "/" + c.session_id))[1]
        self.assertEqual((contender["Value"], contender["Flags"]), (b"c", SEMAPHORE_FLAG_VALUE))
        self.assertTrue(self.ok(a.release()))
        self.assertIs(self.ok(a.lost), False)
        self.assertIs(self.ok(dc), True)
        self.assertEqual(
            self.lock_entry()[1], {"Limit": 2, "Holders": {b.session_id: True, c.session_id: True}}
        )
        self.assertEqual(self.sessions(), sorted([b.session_id, c.session_id]))
        self.assertEqual(len(self.ok(self.consul.kv.get(PREFIX + "/", keys=True))[1]), 3)

    def test_held_across_time(self) -> None:
        """Held slots survive many session TTLs (sessions are renewed)."""
        a = Semaphore(self.consul, PREFIX, 1)
        self.ok(a.acquire())
        self.advance(300)
        self.assertTrue(a.held)
        self.assertNoResult(a.lost)

    def test_dead_holder_pruned(self) -> None:
        """A holder whose session dies loses its slot and a waiter takes it."""
        a, b = Semaphore(self.consul, PREFIX, 1), Semaphore(self.consul, PREFIX, 1)
        self.ok(a.acquire())
        db = b.acquire()
        self.advance(5)
        self.assertNoResult(db)
        self.ok(self.consul.session.destroy(a.session_id))
        self.assertIs(self.ok(a.lost), True)
        self.assertFalse(a.held)
        self.assertIs(self.ok(db), True)
        self.failureResultOf(a.release(), SemaphoreNotHeld)

    def test_limit_conflict(self) -> None:
        """A contender with another limit fails and cleans up."""
        a = Semaphore(self.consul, PREFIX, 2)
        self.ok(a.acquire())
        b = Semaphore(self.consul, PREFIX, 3)
        self.failureResultOf(b.acquire(), SemaphoreLimitConflict)
        self.assertEqual(self.sessions(), [a.session_id])

    def test_conflict(self) -> None:
        """A .lock key with other flags is SemaphoreConflict."""
        self.ok(self.consul.kv.put(PREFIX + "/.lock", b"{}"))
        self.failureResultOf(Semaphore(self.consul, PREFIX, 1).acquire(), SemaphoreConflict)
        self.assertEqual(self.sessions(), [])
        self.assertEqual(self.ok(self.consul.kv.get(PREFIX + "/", keys=True))[1], [PREFIX + "/.lock"])

    def test_cancel_waiting_acquire(self) -> None:
        """Cancelling a waiting acquire removes its contender key and session."""
        a, b = Semaphore(self.consul, PREFIX, 1), Semaphore(self.consul, PREFIX, 1)
        self.ok(a.acquire())
        db = b.acquire()
        self.advance(3)
        db.cancel()
        self.failureResultOf(db, CancelledError)
        self.assertEqual(self.sessions(), [a.session_id])
        keys = self.ok(self.consul.kv.get(PREFIX + "/", keys=True))[1]
        self.assertEqual(sorted(keys), sorted([PREFIX + "/.lock", PREFIX + "/" + a.session_id]))

    def test_try_once(self) -> None:
        """try_once fires False after lock_wait when no slot frees."""
        a = Semaphore(self.consul, PREFIX, 1)
        self.ok(a.acquire())
        b = Semaphore(self.consul, PREFIX, 1, try_once=True, lock_wait=10)
        db = b.acquire()
        self.advance(9)
        self.assertNoResult(db)
        self.advance(5)
        self.assertIs(self.ok(db), False)
        self.assertEqual(self.sessions(), [a.session_id])

    def test_misuse_and_destroy(self) -> None:
        """Held twice, release unheld, destroy while in use or free."""
        a, b = Semaphore(self.consul, PREFIX, 1), Semaphore(self.consul, PREFIX, 1)
        self.failureResultOf(a.release(), SemaphoreNotHeld)
        self.assertTrue(self.ok(b.destroy()))
        self.ok(a.acquire())
        self.failureResultOf(a.acquire(), SemaphoreHeld)
        self.failureResultOf(a.destroy(), SemaphoreHeld)
        self.failureResultOf(b.destroy(), SemaphoreInUse)
        self.ok(a.release())
        self.assertTrue(self.ok(b.destroy()))
        self.assertIsNone(self.lock_entry())

    def test_bad_arguments(self) -> None:
        """A bad prefix or limit is refused at construction."""
        self.assertRaises(ValueError, Semaphore, self.consul, "", 1)
        self.assertRaises(ValueError, Semaphore, self.consul, PREFIX, 0)
        self.assertRaises(TypeError, Semaphore, self.consul, PREFIX, "2")

    def test_acquire_while_release_in_flight(self) -> None:
        """A release answered late neither destroys the next acquisition's session nor fires its lost."""
        a = Semaphore(self.consul, PREFIX, 1)
        self.ok(a.acquire())
        first = a.session_id
        gate = Gate(self.consul.kv, "delete")
        released = a.release()
        d = a.acquire()
        second = a.session_id
        self.assertNotEqual(second, first)
        self.assertIs(self.ok(d), True)
        gate.deliver()
        self.consul.kv.delete = gate.real
        self.assertTrue(self.ok(released))
        self.assertTrue(a.held)
        self.assertEqual(a.session_id, second)
        self.assertEqual(self.sessions(), [second])
        self.assertNoResult(a.lost)
        self.advance(60)
        self.assertTrue(a.held)
        self.ok(a.release())
        self.advance(60)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_lost_fires_before_cleanup_answers(self) -> None:
        """Loss (our contender key removed) is reported at once, even when the session destroy hangs."""
        a = Semaphore(self.consul, PREFIX, 1)
        self.ok(a.acquire())
        lost = a.lost
        gate = Gate(self.consul.session, "destroy")
        self.ok(self.consul.kv.delete(PREFIX + "/" + a.session_id))
        self.assertIs(self.ok(lost), True)
        gate.deliver()
        self.assertEqual(self.sessions(), [])
        self.advance(60)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cancel_during_session_create(self) -> None:
        """Cancelling while the session is being created destroys it once Consul answers."""
        gate = Gate(self.consul.session, "create")
        a = Semaphore(self.consul, PREFIX, 1)
        d = a.acquire()
        d.cancel()
        gate.deliver()
        self.failureResultOf(d, CancelledError)
        self.assertEqual(self.sessions(), [])
        self.assertEqual(self.ok(self.consul.kv.get(PREFIX + "/", keys=True))[1], None)
        self.advance(60)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_cas_race_and_dead_holder_pruned(self) -> None:
        """A CAS lost to a racing contender is retried; a dead holder recorded in .lock is pruned."""
        dead = "00000000-0000-0000-0000-000000000000"
        self.ok(
            self.consul.kv.put(
                PREFIX + "/.lock",
                json.dumps({"Limit": 1, "Holders": {dead: True}}),
                flags=SEMAPHORE_FLAG_VALUE,
            )
        )
        a = Semaphore(self.consul, PREFIX, 1)
        real_put = self.consul.kv.put
        raced = []

        def put(key: str, *args: Any, **kwargs: Any) -> Any:
            if key.endswith("/.lock") and not raced:
                raced.append(True)
                # Another writer changes .lock between our read and our CAS.
                self.successResultOf(
                    real_put(key, self.ok(self.consul.kv.get(key))[1]["Value"], flags=SEMAPHORE_FLAG_VALUE)
                )
            return real_put(key, *args, **kwargs)

        self.consul.kv.put = put
        self.assertIs(self.ok(a.acquire()), True)
        self.consul.kv.put = real_put
        self.assertEqual(raced, [True])
        self.assertEqual(self.lock_entry()[1], {"Limit": 1, "Holders": {a.session_id: True}})
        self.ok(a.release())
        self.assertEqual(self.lock_entry()[1], {"Limit": 1, "Holders": {}})
        self.assertEqual(self.ok(self.consul.kv.get(PREFIX + "/", keys=True))[1], [PREFIX + "/.lock"])
