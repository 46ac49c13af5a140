# -*- test-case-name: tests.test_health -*-
"""
Health: ``/v1/health/``.  Every read is blocking-capable and fires with
``(index, data)``.

Difference from python-consul, on purpose: reads here honour a ``consistency``
(keyword only) and the client's default consistency, which python-consul's
health calls ignore; an unknown ``state`` is a ``ValueError`` where
python-consul uses ``assert``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .._duration import DurationLike
from ._base import Endpoint, Request, endpoint, path_segment, read
from .catalog import read_params
from .mesh import HealthExtras, health_service_read

__all__ = ["STATES", "Health"]

#: The states :meth:`Health.state` accepts (python-consul's list; ``any``
#: matches every check, ``unknown`` matches none).
STATES = ("any", "unknown", "passing", "warning", "critical")


class Health(HealthExtras, Endpoint):
    """Health checks and healthy instances, as ``consul.health``."""

    service = health_service_read(
        "service",
        """
        The instances of a service with their node and checks:
        ``(index, [{'Node': {...}, 'Service': {...}, 'Checks': [...]}])``.

        :param passing: only instances whose checks (node checks included)
            are all passing; a warning excludes an instance.
        :param tag: a tag or a list of tags; an instance must have all.
        :param node_meta: only nodes with all these metadata pairs.
        :param filter: a Consul filter expression.
        :param cached: answer from the agent cache (``?cached``); with
            ``max_age``/``stale_if_error`` as ``Cache-Control``.
        """,
    )

    @endpoint
    def checks(
        self,
        service: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """The checks of every instance of a service: ``(index, [check, ...])``."""
        path = "/v1/health/checks/" + path_segment(service, "service")
        return read(path, params=read_params(near=near, node_meta=node_meta))

    @endpoint
    def state(
        self,
        name: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        token: Optional[str] = None,
        node_meta: Optional[Mapping[str, str]] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        Every check in a state: ``(index, [check, ...])``.

        :param name: ``'any'``, ``'passing'``, ``'warning'``, ``'critical'``
            (or ``'unknown'``, which python-consul also accepts and which
            matches nothing); anything else is a ``ValueError``.
        """
        if name not in STATES:
            raise ValueError(f"invalid state {name!r}: use one of {', '.join(STATES)}")
        return read("/v1/health/state/" + name, params=read_params(near=near, node_meta=node_meta))

    @endpoint
    def node(
        self,
        node: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        dc: Optional[str] = None,
        token: Optional[str] = None,
        *,
        filter: Optional[str] = None,
        peer: Optional[str] = None,
        consistency: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """The checks of one node, node and service checks: ``(index, [check, ...])``."""
        return read("/v1/health/node/" + path_segment(node, "node"))
