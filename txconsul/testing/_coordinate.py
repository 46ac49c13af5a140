# -*- test-case-name: tests.test_coordinate_operator -*-
"""
FakeConsul's network coordinates: ``/v1/coordinate/``.

The agent's own node has the origin coordinate a fresh Serf gives (an
all-zero 8-dimensional vector, error 1.5, height 1e-05), on the LAN and
on the WAN.  ``PUT /v1/coordinate/update`` stores a node's coordinate at
once (Consul batches them every few seconds) and only for registered
nodes; a node leaving the catalog takes its coordinates with it.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from ._authz import require
from ._catalog import CatalogPart
from ._core import FakeCore, FakeRequest, HTTPError, Reply, Route
from ._gojson import decode_body
from ._shapes import COORDINATE_UPDATE

#: The dimensionality of Consul's Vivaldi coordinates.
DIMENSIONS = 8


def origin() -> dict[str, Any]:
    """The coordinate a new Serf member starts with."""
    return {"Vec": [0.0] * DIMENSIONS, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05}


def _valid(coord: Any) -> bool:
    if not isinstance(coord, dict):
        return False
    numbers = []
    for key in ("Error", "Adjustment", "Height"):
        value = coord.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        numbers.append(value)
    vec = coord.get("Vec")
    if not isinstance(vec, list):
        return False
    for value in vec:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        numbers.append(value)
    return all(math.isfinite(n) for n in numbers)


class CoordinatePart:
    """
    The coordinate table of a FakeConsul.

    :ivar coordinates: ``(node, segment)`` -> ``{'Node', 'Segment', 'Coord'}``.
    :ivar table_index: the index of the last change.
    """

    def __init__(self, core: FakeCore, catalog: CatalogPart) -> None:
        self.core = core
        self.catalog = catalog
        self.table_index = core.index
        self.coordinates: dict[tuple[str, str], dict[str, Any]] = {
            (core.node_name, ""): {"Node": core.node_name, "Segment": "", "Coord": origin()}
        }
        self.wan = origin()

    def routes(self) -> list[Route]:
        """datacenters, nodes, node/:node and update."""
        return [
            # agent/coordinate_endpoint.go CoordinateDatacenters neither
            # reads ?dc nor calls s.parse.
            Route("/v1/coordinate/datacenters", ("GET",), self._datacenters, check_dc=False, parse=False),
            Route("/v1/coordinate/nodes", ("GET",), self._nodes),
            Route("/v1/coordinate/node/", ("GET",), self._node),
            # CoordinateUpdate decodes the body, then calls parseDC (no s.parse).
            Route("/v1/coordinate/update", ("PUT",), self._update, check_dc=False, parse=False),
        ]

    def _current(self) -> list[dict[str, Any]]:
        """Live coordinates sorted by node; forgets those of removed nodes."""
        nodes = self.catalog.nodes
        gone = [key for key in self.coordinates if key[0] not in nodes]
        if gone:
            for key in gone:
                del self.coordinates[key]
            self.table_index = max(self.table_index, self.catalog.nodes_index)
        return [copy.deepcopy(self.coordinates[k]) for k in sorted(self.coordinates)]

    def _datacenters(self, req: FakeRequest) -> Reply:
        core = self.core
        return Reply(
            [
                {
                    "Datacenter": core.datacenter,
                    "AreaID": "WAN",
                    "Coordinates": [
                        # Coordinate.ListDatacenters strips the ".<dc>" suffix
                        # of the WAN member names (agent/consul/coordinate_endpoint.go).
                        {"Node": core.node_name, "Coord": copy.deepcopy(self.wan)}
                    ],
                }
            ]
        )

    def _select(self, req: FakeRequest, node: Any = None) -> tuple[list[dict[str, Any]], bool]:
        """The coordinates to show, and whether ACLs removed any."""
        segment = req.get("segment")
        out = []
        removed = False
        for c in self._current():
            if node is not None and c["Node"] != node:
                continue
            # The RPC filters by ACL first; the HTTP handler then applies
            # ?segment (filterCoordinates), so the flag ignores the segment.
            if not req.authz.allowed("node", c["Node"], "read"):
                removed = True
                continue
            if segment is not None and c["Segment"] != segment:
                continue
            out.append(c)
        return out, removed

    def _nodes(self, req: FakeRequest) -> Any:
        def compute() -> tuple[int, Reply]:
            coords, removed = self._select(req)
            headers = {}
            # Coordinate.ListNodes filters with filterACL, which flags
            # ResultsFilteredByACLs; the header is masked without a token.
            if removed and req.token:
                headers["X-Consul-Results-Filtered-By-ACLs"] = "true"
            return self.table_index, Reply(coords, index=self.table_index, headers=headers)

        return self.core.blocking(req, compute)

    def _node(self, req: FakeRequest) -> Any:
        node = req.tail
        require(req, "node", node, "read")

        def compute() -> tuple[int, Reply]:
            coords, _ = self._select(req, node)
            if not coords:
                return self.table_index, Reply(b"", status=404, json=False, index=self.table_index)
            return self.table_index, Reply(coords, index=self.table_index)

        return self.core.blocking(req, compute)

    def _update(self, req: FakeRequest) -> Reply:
        # coordinate_endpoint.go CoordinateUpdate: decodeBody into
        # structs.CoordinateUpdateRequest (Go's types, unknown fields refused).
        decode_body(COORDINATE_UPDATE, req.body)
        body = req.json()
        if not isinstance(body, dict):
            body = {}
        # Then parseDC: ?dc wins over the body's Datacenter; the RPC is
        # forwarded (or refused) before the server looks at the coordinate.
        dc = req.get("dc") or body.get("Datacenter") or self.core.datacenter
        if dc != self.core.datacenter:
            raise HTTPError(500, "No path to datacenter")
        node = body.get("Node") or ""
        segment = body.get("Segment") or ""
        coord: Any = body.get("Coord")
        if not _valid(coord):
            raise HTTPError(500, "invalid coordinate")
        if len(coord["Vec"]) != DIMENSIONS:
            raise HTTPError(500, "incompatible coordinate")
        require(req, "node", node, "write")
        if node in self.catalog.nodes:
            stored = {
                "Vec": [float(v) for v in coord["Vec"]],
                "Error": coord.get("Error", 0),
                "Adjustment": coord.get("Adjustment", 0),
                "Height": coord.get("Height", 0),
            }
            self.coordinates[(node, segment)] = {"Node": node, "Segment": segment, "Coord": stored}
            self.table_index = self.core.next_index()
        return Reply(b"", json=False)
