"""Placeholder: being written."""

from ._base import Endpoint


class Health(Endpoint):
    """Placeholder: being written."""
