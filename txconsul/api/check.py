"""Placeholder: being written."""

from ._base import Endpoint


class Check:
    """Placeholder: being written."""
