# -*- test-case-name: tests.test_api_modern_agent -*-
"""
The parts of FakeConsul that serve Consul's newer endpoints, built and
attached in one place so that ``_fake.py`` registers them with one call.
"""

from __future__ import annotations

from typing import Any

from ._acl_auth import ACLAuthPart
from ._agent_modern import AgentModernPart
from ._config_entries import ConfigEntriesPart
from ._connect import ConnectPart
from ._mesh import MeshPart
from ._operator_modern import OperatorModernPart


def install(fake: Any, core: Any) -> list[Any]:
    """
    Build the newer parts, attach each to ``core`` (for its siblings) and to
    ``fake`` (for tests), and return them for routing.

    ``fake.agent_modern``: agent reload/metrics/token/host/version;
    ``fake.config_entries``: config entries and discovery chains;
    ``fake.mesh``: Connect and gateway catalog reads;
    ``fake.connect``: the Connect CA, leaf certificates, authorize and intentions;
    ``fake.operator_modern``: Raft peers, autopilot, keyring and usage;
    ``fake.acl_auth``: ACL auth methods, binding rules, login and logout.
    """
    parts: list[Any] = []
    for name, cls in (
        ("agent_modern", AgentModernPart),
        ("config_entries", ConfigEntriesPart),
        ("mesh", MeshPart),
        ("connect", ConnectPart),
        ("operator_modern", OperatorModernPart),
        ("acl_auth", ACLAuthPart),
    ):
        part = cls(core)
        setattr(core, name, part)
        setattr(fake, name, part)
        parts.append(part)
    return parts
