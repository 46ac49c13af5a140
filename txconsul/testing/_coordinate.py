"""Placeholder: being written."""

from typing import Any

from ._core import Route


class CoordinatePart:
    """Placeholder: being written."""

    def __init__(self, core: Any) -> None:
        self.core = core

    def routes(self) -> list[Route]:
        """No routes yet."""
        return []
