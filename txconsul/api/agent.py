"""Placeholder: being written."""

from ._base import Endpoint


class Agent(Endpoint):
    """Placeholder: being written."""
