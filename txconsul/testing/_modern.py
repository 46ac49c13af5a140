# -*- test-case-name: tests.test_api_modern_agent -*-
"""
The parts of FakeConsul that serve Consul's newer endpoints, built in one
place so that ``_fake.py`` registers them with one call.
"""

from __future__ import annotations

from typing import Any, Optional

from ._acl_auth import ACLAuthPart
from ._agent_modern import AgentModernPart
from ._config_entries import ConfigEntriesPart
from ._connect import ConnectPart
from ._mesh import MeshPart
from ._operator_modern import OperatorModernPart


class Peers:
    """
    The parts the newer parts read (taken from the FakeConsul: ``acl``,
    ``catalog``, ``kv``, ``sessions``, ``operator``), the newer parts
    themselves, and the cluster ID (made on first use).
    """

    def __init__(self, fake: Any) -> None:
        self.core = fake.core
        self.acl = fake.acl
        self.catalog = fake.catalog
        self.kv = fake.kv
        self.sessions = fake.sessions
        self.operator = fake.operator
        self.cluster_id: Optional[str] = None


def install(fake: Any, core: Any) -> list[Any]:
    """
    Build the newer parts, attach each to ``fake`` (for tests) and to their
    shared :class:`Peers`, and return them for routing.

    ``fake.agent_modern``: agent reload/metrics/token/host/version;
    ``fake.config_entries``: config entries and discovery chains;
    ``fake.mesh``: Connect and gateway catalog reads;
    ``fake.connect``: the Connect CA, leaf certificates, authorize and intentions;
    ``fake.operator_modern``: Raft peers, autopilot, keyring and usage;
    ``fake.acl_auth``: ACL auth methods, binding rules, login and logout.
    """
    peers = Peers(fake)
    parts: list[Any] = []
    for name, cls in (
        ("agent_modern", AgentModernPart),
        ("config_entries", ConfigEntriesPart),
        ("mesh", MeshPart),
        ("connect", ConnectPart),
        ("operator_modern", OperatorModernPart),
        ("acl_auth", ACLAuthPart),
    ):
        part = cls(core, peers)
        setattr(peers, name, part)
        setattr(fake, name, part)
        parts.append(part)
    return parts
