# -*- test-case-name: tests.test_fake -*-
"""
FakeConsul's catalog state: nodes, services and checks.

A fresh agent holds its own node, the ``consul`` service (a server) and the
node's ``serfHealth`` check, passing, as a real dev agent does.
"""

from __future__ import annotations

from typing import Any, Optional

from ._core import Route

PASSING, WARNING, CRITICAL = "passing", "warning", "critical"


class CatalogPart:
    """
    Nodes, services and checks, keyed as Consul's state store keys them.

    :ivar nodes: node name -> node dict.
    :ivar services: ``(node, service_id)`` -> service dict.
    :ivar checks: ``(node, check_id)`` -> check dict.
    """

    def __init__(self, core: Any) -> None:
        self.core = core
        self.nodes: dict[str, dict[str, Any]] = {}
        self.services: dict[tuple[str, str], dict[str, Any]] = {}
        self.checks: dict[tuple[str, str], dict[str, Any]] = {}
        self.nodes_index = self.services_index = self.checks_index = core.index
        self._bootstrap()

    def _bootstrap(self) -> None:
        core = self.core
        idx = core.index
        addr = core.address
        self.nodes[core.node_name] = {
            "ID": core.new_uuid(),
            "Node": core.node_name,
            "Address": addr,
            "Datacenter": core.datacenter,
            "TaggedAddresses": {"lan": addr, "lan_ipv4": addr, "wan": addr, "wan_ipv4": addr},
            "Meta": {"consul-network-segment": ""},
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self.services[(core.node_name, "consul")] = {
            "ID": "consul",
            "Service": "consul",
            "Tags": [],
            "Address": "",
            "Meta": {},
            "Port": 8300,
            "Weights": {"Passing": 1, "Warning": 1},
            "EnableTagOverride": False,
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }
        self.checks[(core.node_name, "serfHealth")] = {
            "Node": core.node_name,
            "CheckID": "serfHealth",
            "Name": "Serf Health Status",
            "Status": PASSING,
            "Notes": "",
            "Output": "Agent alive and reachable",
            "ServiceID": "",
            "ServiceName": "",
            "ServiceTags": [],
            "Type": "",
            "Definition": {},
            "CreateIndex": idx,
            "ModifyIndex": idx,
        }

    def node_exists(self, node: str) -> bool:
        """Whether ``node`` is registered."""
        return node in self.nodes

    def get_check(self, node: str, check_id: str) -> Optional[dict[str, Any]]:
        """The check dict, or ``None``."""
        return self.checks.get((node, check_id))

    def routes(self) -> list[Route]:
        """Catalog and health routes (none yet in this part)."""
        return []
