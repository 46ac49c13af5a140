"""Placeholder: being written."""

from ._base import Endpoint


class Query(Endpoint):
    """Placeholder: being written."""
