"""
Tests for txconsul.recipes.Semaphore, in memory against FakeConsul on a Clock.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul.recipes import (
    SEMAPHORE_FLAG_VALUE,
    Semaphore,
    SemaphoreConflict,
    SemaphoreHeld,
    SemaphoreInUse,
    SemaphoreLimitConflict,
    SemaphoreNotHeld,
)
from txconsul.testing import FakeConsul

PREFIX = "service/app/workers"


class SemaphoreTests(SynchronousTestCase):
    """Semaphore follows the Go client's algorithm."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=1)
        self.consul = self.fake.client()

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)

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
