# -*- test-case-name: tests.test_coordinate_operator -*-
"""
Network coordinates: ``/v1/coordinate/``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from twisted.internet.defer import Deferred

from .._duration import DurationLike
from .._http import ConsulResponse
from ._base import Endpoint, check_str, decode_json, decode_true, path_segment


def decode_node(response: ConsulResponse) -> Optional[list[dict[str, Any]]]:
    """A node's coordinates, or ``None`` when it has none (404)."""
    if response.code == 404:
        return None
    return response.json()


class Coordinate(Endpoint):
    """
    Network coordinates, as ``consul.coordinate``.

    Invalid arguments raise ``ValueError`` or ``TypeError`` at the call,
    before any request is sent.
    """

    def datacenters(self, *, token: Optional[str] = None) -> "Deferred[list[dict[str, Any]]]":
        """
        The WAN coordinates of every server, by datacenter: a list of
        ``{'Datacenter', 'AreaID', 'Coordinates': [{'Node', 'Coord'}]}``.
        """
        d = self._transport.request(
            "GET", "/v1/coordinate/datacenters", token=token, use_dc=False
        )
        return d.addCallback(decode_json)

    def nodes(
        self,
        dc: Optional[str] = None,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> "Deferred[tuple[Any, list[dict[str, Any]]]]":
        """
        The LAN coordinates of the datacenter's nodes.

        Fires with ``(index, [{'Node', 'Segment', 'Coord'}])``; ``Coord``
        holds ``Vec``, ``Error``, ``Adjustment`` and ``Height``.

        :param index: block until the coordinates change past this index.
        :param wait: how long to block (``'10s'``, seconds; at most 10 min).
        :param consistency: ``'default'``, ``'consistent'`` or ``'stale'``.
        :param meta: fire with ``(QueryMeta, data)`` instead.
        """
        return self._read(
            "/v1/coordinate/nodes",
            decode_json,
            index=index,
            wait=wait,
            consistency=consistency,
            token=token,
            dc=dc,
            meta=meta,
        )

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
    ) -> "Deferred[tuple[Any, Optional[list[dict[str, Any]]]]]":
        """
        One node's LAN coordinates: ``(index, [{'Node', 'Segment',
        'Coord'}])``, or ``(index, None)`` when the node has none.
        """
        path = "/v1/coordinate/node/" + path_segment(node, "node")
        return self._read(
            path,
            decode_node,
            index=index,
            wait=wait,
            consistency=consistency,
            token=token,
            dc=dc,
            meta=meta,
            expect=(200, 404),
        )

    def update(
        self,
        node: str,
        coord: Mapping[str, Any],
        segment: Optional[str] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
    ) -> "Deferred[bool]":
        """
        Set a node's LAN coordinate (``PUT /v1/coordinate/update``); fires
        ``True``.  Needs ``node:write``.

        :param coord: ``{'Vec': [8 floats], 'Error', 'Adjustment',
            'Height'}``, as :meth:`node` returns it.
        :param segment: the network segment (Enterprise).
        """
        if not isinstance(coord, Mapping):
            raise TypeError(f"coord must be a dict, not {type(coord).__name__}")
        vec = coord.get("Vec")
        if not isinstance(vec, (list, tuple)) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in vec
        ):
            raise ValueError("coord['Vec'] must be a list of numbers")
        body = {
            "Node": check_str(node, "node"),
            "Segment": check_str(segment, "segment", allow_empty=True) if segment is not None else "",
            "Coord": dict(coord),
        }
        return self._transport.request(
            "PUT", "/v1/coordinate/update", json_body=body, token=token, dc=dc
        ).addCallback(decode_true)
