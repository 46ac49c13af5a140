# -*- test-case-name: tests.test_status -*-
"""
Raft status: ``/v1/status/leader`` and ``/v1/status/peers``.
"""

from __future__ import annotations

from typing import Optional

from .._http import ConsulResponse
from ._base import Endpoint, Request, endpoint

__all__ = ["Status"]


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

    @endpoint
    def leader(self, dc: Optional[str] = None) -> Request:
        """
        Fire with the Raft leader's server address (``'10.1.10.12:8300'``),
        or ``''`` when the datacenter has no leader.

        :param dc: ask about this datacenter instead of the client's.
        """
        return Request("GET", "/v1/status/leader", decode=_decode_leader)

    @endpoint
    def peers(self, dc: Optional[str] = None) -> Request:
        """
        Fire with the list of Raft peers' server addresses.

        :param dc: ask about this datacenter instead of the client's.
        """
        return Request("GET", "/v1/status/peers", decode=_decode_peers)
