# -*- test-case-name: tests.test_status -*-
"""
Raft status: ``/v1/status/leader`` and ``/v1/status/peers``.
"""

from __future__ import annotations

from typing import Optional

from twisted.internet.defer import Deferred

from .._http import ConsulResponse
from ._base import Endpoint


def _decode_leader(response: ConsulResponse) -> str:
    data = response.json()
    return data if isinstance(data, str) else ""


def _decode_peers(response: ConsulResponse) -> list[str]:
    data = response.json()
    return list(data) if data else []


class Status(Endpoint):
    """
    The Raft status of the datacenter, as ``consul.status``.

    Neither call blocks, and neither needs an ACL token.
    """

    def leader(self, dc: Optional[str] = None) -> "Deferred[str]":
        """
        Fire with the Raft leader's server address (``'10.1.10.12:8300'``),
        or ``''`` when the datacenter has no leader.

        :param dc: ask about this datacenter instead of the client's.
        """
        d = self._transport.request("GET", "/v1/status/leader", dc=dc)
        return d.addCallback(_decode_leader)

    def peers(self, dc: Optional[str] = None) -> "Deferred[list[str]]":
        """
        Fire with the list of Raft peers' server addresses.

        :param dc: ask about this datacenter instead of the client's.
        """
        d = self._transport.request("GET", "/v1/status/peers", dc=dc)
        return d.addCallback(_decode_peers)
