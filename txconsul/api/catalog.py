"""Placeholder: being written."""

from ._base import Endpoint


class Catalog(Endpoint):
    """Placeholder: being written."""
