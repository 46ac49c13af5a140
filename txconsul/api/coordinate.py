# -*- test-case-name: tests.test_coordinate_operator -*-
"""
Network coordinates: ``/v1/coordinate/``.
"""

from __future__ import annotations

from typing import Any, Optional
from .operator_modern import CoordinateExtras

from .._duration import DurationLike
from .._http import ConsulResponse
from ._base import Endpoint, Request, endpoint, path_segment, read

__all__ = ["Coordinate", "decode_node"]


def decode_node(response: ConsulResponse) -> Optional[list[dict[str, Any]]]:
    """A node's coordinates, or ``None`` when it has none (404)."""
    if response.code == 404:
        return None
    return response.json()


class Coordinate(CoordinateExtras, Endpoint):
    """
    Network coordinates, as ``consul.coordinate``.

    Invalid arguments raise ``ValueError`` or ``TypeError`` at the call,
    before any request is sent.
    """

    @endpoint
    def datacenters(self, *, token: Optional[str] = None) -> Request:
        """
        The WAN coordinates of every server, by datacenter: a list of
        ``{'Datacenter', 'AreaID', 'Coordinates': [{'Node', 'Coord'}]}``.
        """
        return Request("GET", "/v1/coordinate/datacenters", use_dc=False)

    @endpoint
    def nodes(
        self,
        dc: Optional[str] = None,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The LAN coordinates of the datacenter's nodes.

        Fires with ``(index, [{'Node', 'Segment', 'Coord'}])``; ``Coord``
        holds ``Vec``, ``Error``, ``Adjustment`` and ``Height``.

        :param index: block until the coordinates change past this index.
        :param wait: how long to block (``'10s'``, seconds; at most 10 min).
        :param consistency: ``'default'``, ``'consistent'`` or ``'stale'``.
        :param meta: fire with ``(QueryMeta, data)`` instead.
        """
        return read("/v1/coordinate/nodes")

    @endpoint
    def node(
        self,
        node: str,
        dc: Optional[str] = None,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        One node's LAN coordinates: ``(index, [{'Node', 'Segment',
        'Coord'}])``, or ``(index, None)`` when the node has none.
        """
        return read("/v1/coordinate/node/" + path_segment(node, "node"), decode_node, expect=(200, 404))
