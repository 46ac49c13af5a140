# -*- test-case-name: tests.test_coordinate_operator -*-
"""
FakeConsul's operator endpoints: ``/v1/operator/raft/configuration``.

The agent is the only server, the leader and a voter of a Raft
configuration bootstrapped at index 1.
"""

from __future__ import annotations

from typing import Any

from ._authz import require
from ._catalog import CatalogPart
from ._core import FakeCore, FakeRequest, Reply, Route


class OperatorPart:
    """The Raft configuration of a single-server FakeConsul."""

    def __init__(self, core: FakeCore, catalog: CatalogPart) -> None:
        self.core = core
        self.catalog = catalog

    def routes(self) -> list[Route]:
        """The Raft configuration route."""
        return [Route("/v1/operator/raft/configuration", ("GET",), self._raft_configuration)]

    def raft_configuration(self) -> dict[str, Any]:
        """The configuration body: this agent as the only server."""
        core = self.core
        node = self.catalog.nodes.get(core.node_name) or {}
        return {
            "Servers": [
                {
                    "ID": node.get("ID", ""),
                    "Node": core.node_name,
                    "Address": f"{core.address}:8300",
                    "Leader": True,
                    "ProtocolVersion": "3",
                    "Voter": True,
                }
            ],
            "Index": core.profile.raft_configuration_index,
        }

    def _raft_configuration(self, req: FakeRequest) -> Reply:
        require(req, "operator", "", "read")
        return Reply(self.raft_configuration())
