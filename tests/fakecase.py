"""
Shared test helpers: the base of in-memory tests (a FakeConsul on a Clock
and a client wired to it), ways to put state straight into a fake, and a
free port for process tests.
"""

from __future__ import annotations

import socket
from typing import Any, Optional

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from txconsul.testing import FakeConsul


class FakeConsulCase(SynchronousTestCase):
    """
    Gives each test ``self.clock``, ``self.fake`` (seeded, so IDs and jitter
    repeat) and ``self.consul``, a client talking to it in memory.
    """

    #: The fake's random seed.
    seed = 1

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, seed=self.seed)
        self.consul = self.fake.client()

    def ok(self, d: Any) -> Any:
        """The result of an already-fired Deferred."""
        return self.successResultOf(d)


def make(**fake_kwargs: Any) -> tuple[Clock, FakeConsul, Any, Any]:
    """
    A FakeConsul on a Clock (with ``fake_kwargs``), a client wired to it, and
    its request journal: ``(clock, fake, client, fake.requests)``.
    """
    clock = Clock()
    fake = FakeConsul(clock, **fake_kwargs)
    return clock, fake, fake.client(), fake.requests


class Denier:
    """
    An authorizer (for ``fake.acl.authorizer = lambda req: Denier(...)``)
    that allows everything but the listed ``(resource, name, access)``.
    """

    def __init__(self, *denied: tuple[str, str, str]) -> None:
        self.denied = set(denied)

    def allowed(self, resource: str, name: str, access: str) -> bool:
        """False for the denied triples."""
        return (resource, name, access) not in self.denied


def add_service(
    fake: FakeConsul, sid: str, name: str, tags: Optional[list[str]] = None, node: Optional[str] = None
) -> None:
    """Put a service straight into the fake's catalog (on its own node unless ``node``)."""
    node = node or fake.core.node_name
    fake.catalog.services[(node, sid)] = {
        "ID": sid,
        "Service": name,
        "Tags": list(tags or []),
        "Address": "",
        "Meta": {},
        "Port": 80,
        "Weights": {"Passing": 1, "Warning": 1},
        "EnableTagOverride": False,
        "CreateIndex": 1,
        "ModifyIndex": 1,
    }


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
