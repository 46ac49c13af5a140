"""Placeholder: being written."""

from ._base import Endpoint


class ACL(Endpoint):
    """Placeholder: being written."""
