# -*- test-case-name: tests.test_coordinate_operator -*-
"""
Operator endpoints: ``/v1/operator/``.
"""

from __future__ import annotations
from .operator_modern import OperatorExtras

from typing import Optional

from ._base import Endpoint, Request, endpoint

__all__ = ["Operator"]


class Operator(OperatorExtras, Endpoint):
    """Operator endpoints, as ``consul.operator``."""

    @endpoint
    def raft_config(
        self,
        *,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        consistency: Optional[str] = None,
    ) -> Request:
        """
        The Raft peer configuration: ``{'Servers': [{'ID', 'Node',
        'Address', 'Leader', 'ProtocolVersion', 'Voter'}], 'Index': n}``.

        Needs ``operator:read``.  ``consistency='stale'`` lets any server
        answer when there is no leader.
        """
        return Request("GET", "/v1/operator/raft/configuration")
