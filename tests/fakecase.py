"""
The base of in-memory tests: a FakeConsul on a Clock and a client wired to it.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul.testing import FakeConsul


class FakeConsulCase(SynchronousTestCase):
    """
    Gives each test ``self.clock``, ``self.fake`` (seeded, so IDs and jitter
    repeat) and ``self.consul``, a client talking to it in memory.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=1)
        self.consul = self.fake.client()

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)
