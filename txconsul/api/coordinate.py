"""Placeholder: being written."""

from ._base import Endpoint


class Coordinate(Endpoint):
    """Placeholder: being written."""
