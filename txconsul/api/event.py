"""Placeholder: being written."""

from ._base import Endpoint


class Event(Endpoint):
    """Placeholder: being written."""
