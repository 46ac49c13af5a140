"""Placeholder: being written."""

from ._base import Endpoint


class Operator(Endpoint):
    """Placeholder: being written."""
