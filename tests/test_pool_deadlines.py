"""
Tests for the connection pool's request timeouts (txconsul._http11): one
delayed call for all running requests, each still timed out on time.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import CancelledError
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul._http11 import ConnectionPool, RequestInfo

from .test_http11 import OK, REQ, FakeEndpoint


class DeadlineTests(SynchronousTestCase):
    """ConnectionPool(timeout=...) on a task.Clock."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.endpoint = FakeEndpoint()
        self.pool = ConnectionPool(self.clock, self.endpoint, max_idle=100)

    def send(self, timeout: Any) -> tuple[Any, RequestInfo]:
        info = RequestInfo()
        return self.pool.request(REQ, retry=True, info=info, timeout=timeout), info

    def answer(self, n: int) -> None:
        """Answer the n-th connection's request."""
        proto, _ = self.endpoint.connections[n]
        proto.dataReceived(OK)

    def test_one_delayed_call_for_many_requests(self) -> None:
        """Ten running requests with the same timeout schedule one delayed call."""
        for _ in range(10):
            self.send(30.0)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_each_times_out_on_time(self) -> None:
        """Requests sent at different times time out at their own deadlines, not before."""
        d1, info1 = self.send(10.0)
        self.clock.advance(3)
        d2, info2 = self.send(10.0)
        self.clock.advance(6.5)
        self.assertNoResult(d1)
        self.clock.advance(0.5)
        self.failureResultOf(d1, CancelledError)
        self.assertTrue(info1.timed_out)
        self.assertNoResult(d2)
        self.assertFalse(info2.timed_out)
        self.clock.advance(2.9)
        self.assertNoResult(d2)
        self.clock.advance(0.1)
        self.failureResultOf(d2, CancelledError)
        self.assertTrue(info2.timed_out)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_shorter_timeout_sent_later(self) -> None:
        """A request with an earlier deadline than the scheduled one still times out on time."""
        d_long, _ = self.send(300.0)
        d_short, info = self.send(5.0)
        self.clock.advance(5)
        self.failureResultOf(d_short, CancelledError)
        self.assertTrue(info.timed_out)
        self.assertNoResult(d_long)

    def test_fractional_deadlines(self) -> None:
        """Deadlines that floats cannot add exactly are still met when reached."""
        self.clock.advance(0.1)
        d1, _ = self.send(0.2)
        d2, _ = self.send(0.7)
        self.clock.advance(0.2)
        self.failureResultOf(d1, CancelledError)
        self.assertNoResult(d2)
        self.clock.advance(0.5)
        self.failureResultOf(d2, CancelledError)

    def test_answered_requests_leave_nothing_scheduled(self) -> None:
        """Once every timed request has its answer, no delayed call is left."""
        d1, _ = self.send(30.0)
        d2, _ = self.send(30.0)
        self.answer(0)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)
        self.answer(1)
        self.successResultOf(d1)
        self.successResultOf(d2)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_answered_request_is_not_timed_out(self) -> None:
        """The deadline of an answered request passing does not touch the others."""
        d1, _ = self.send(10.0)
        self.clock.advance(5)
        d2, info2 = self.send(10.0)
        self.answer(0)
        self.successResultOf(d1)
        self.clock.advance(5)
        self.assertNoResult(d2)
        self.assertFalse(info2.timed_out)
        self.clock.advance(5)
        self.failureResultOf(d2, CancelledError)

    def test_request_sent_while_timing_out(self) -> None:
        """A request sent by a timed-out request's errback does not delay an earlier deadline."""
        d1, _ = self.send(1.0)
        d2, _ = self.send(2.0)
        later = []
        d1.addErrback(lambda f: later.append(self.send(100.0)[0]))
        self.clock.advance(1)
        self.assertEqual(len(later), 1)
        self.assertNoResult(d2)
        self.clock.advance(1)
        self.failureResultOf(d2, CancelledError)
        self.assertNoResult(later[0])

    def test_finished_deadlines_are_dropped(self) -> None:
        """While one request runs for long, the deadlines of thousands answered stay bounded."""
        self.send(300.0)
        for _ in range(2000):
            d, _ = self.send(30.0)
            self.answer(1)  # the second connection, reused each time
            self.successResultOf(d)
        self.assertLess(len(self.pool._deadlines), 100)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_next_request_from_a_callback_keeps_the_call(self) -> None:
        """A request sent from the previous answer's callback schedules no new delayed call."""
        d1, _ = self.send(30.0)
        (call,) = self.clock.getDelayedCalls()
        sent = []
        d1.addCallback(lambda _: sent.append(self.send(30.0)))
        self.clock.advance(1)
        self.answer(0)
        self.successResultOf(d1)
        self.assertEqual(self.clock.getDelayedCalls(), [call])
        d2, info2 = sent[0]
        self.clock.advance(29)  # the first request's deadline: nothing to time out
        self.assertNoResult(d2)
        (again,) = self.clock.getDelayedCalls()
        self.assertAlmostEqual(again.getTime(), 31.0)  # the second request's deadline
        self.answer(0)
        self.successResultOf(d2)
        self.assertFalse(info2.timed_out)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_kept_call_still_times_out_the_next(self) -> None:
        """The request sent from a callback times out at its own deadline."""
        d1, _ = self.send(10.0)
        self.clock.advance(4)
        sent = []
        d1.addCallback(lambda _: sent.append(self.send(10.0)))
        self.answer(0)
        d2, info2 = sent[0]
        self.clock.advance(6)
        self.assertNoResult(d2)
        self.clock.advance(3.9)
        self.assertNoResult(d2)
        self.clock.advance(0.1)
        self.failureResultOf(d2, CancelledError)
        self.assertTrue(info2.timed_out)
        self.assertEqual(self.clock.getDelayedCalls(), [])
