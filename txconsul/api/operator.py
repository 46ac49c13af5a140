# -*- test-case-name: tests.test_coordinate_operator -*-
"""
Operator endpoints: ``/v1/operator/``.
"""

from __future__ import annotations
from .operator_modern import OperatorExtras

from typing import Any, Optional

from twisted.internet.defer import Deferred

from .._http import check_consistency
from ._base import Endpoint, decode_json


class Operator(OperatorExtras, Endpoint):
    """Operator endpoints, as ``consul.operator``."""

    def raft_config(
        self,
        *,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        consistency: Optional[str] = None,
    ) -> "Deferred[dict[str, Any]]":
        """
        The Raft peer configuration: ``{'Servers': [{'ID', 'Node',
        'Address', 'Leader', 'ProtocolVersion', 'Voter'}], 'Index': n}``.

        Needs ``operator:read``.  ``consistency='stale'`` lets any server
        answer when there is no leader.
        """
        check_consistency(consistency)
        d = self._transport.request(
            "GET",
            "/v1/operator/raft/configuration",
            token=token,
            dc=dc,
            consistency=consistency,
        )
        return d.addCallback(decode_json)
