# -*- test-case-name: tests.test_fake -*-
"""FakeConsul's ``/v1/status/``: this node is the only server and the leader."""

from __future__ import annotations


from ._core import FakeCore, FakeRequest, Reply, Route


class StatusPart:
    """``/v1/status/leader`` and ``/v1/status/peers``."""

    def __init__(self, core: FakeCore) -> None:
        self.core = core

    @property
    def server_address(self) -> str:
        """The server RPC address (``<address>:8300``)."""
        return f"{self.core.address}:8300"

    def routes(self) -> list[Route]:
        """The two status routes."""
        return [
            Route("/v1/status/leader", ("GET",), self._leader),
            Route("/v1/status/peers", ("GET",), self._peers),
        ]

    def _leader(self, req: FakeRequest) -> Reply:
        return Reply(self.server_address)

    def _peers(self, req: FakeRequest) -> Reply:
        return Reply([self.server_address])
