# -*- test-case-name: tests.test_watch -*-
"""
Views: what one watch sees of a shared query's answer, and how a handler
gets it.

Every view works on Consul's JSON as answered; it is decoded (KV ``Value``
and event ``Payload`` to ``bytes``) only for the handler, and always on a
copy, because the view is also the subscriber's memory of what it was given.
"""

from __future__ import annotations

import copy
from typing import Any, Optional, Protocol, Sequence

from ..api.event import decode_event
from ..api.kv import decode_entry

__all__ = ["ChecksView", "EventView", "KeyView", "PrefixView", "View", "event_id_to_index"]


class Delivered(Protocol):
    """What a view reads of a subscriber: what it last gave it."""

    delivered: bool
    last: Any
    last_index: int


def event_id_to_index(event_id: str) -> int:
    """
    The index Consul derives from an event ID (``api.Event.IDToIndex``): the
    XOR of the UUID's two halves.
    """
    lower = event_id[0:8] + event_id[9:13] + event_id[14:18]
    upper = event_id[19:23] + event_id[24:36]
    return int(lower, 16) ^ int(upper, 16)


def _decode_kv(entry: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    return None if entry is None else decode_entry(copy.deepcopy(entry))


class View:
    """The whole answer; a call when it differs from the last one given."""

    def select(self, raw: Any, sub: Delivered, memo: dict[str, Any]) -> tuple[bool, Any]:
        """
        ``(worth_a_call, view)`` for this subscriber; ``memo`` is shared by
        every subscriber of one answer.
        """
        if "copy" not in memo:
            memo["copy"] = copy.deepcopy(raw)
        view = memo["copy"]
        return not (sub.delivered and view == sub.last), view

    def decode(self, view: Any) -> Any:
        """The view as handlers get it (a fresh copy)."""
        return copy.deepcopy(view)


class KeyView(View):
    """One key: from a single-key read, or picked out of a prefix read by ``key``."""

    def __init__(self, key: Optional[str] = None) -> None:
        self.key = key

    def select(self, raw: Any, sub: Delivered, memo: dict[str, Any]) -> tuple[bool, Any]:
        """The entry of the key (``None`` when absent)."""
        entry = None
        if raw:
            if self.key is None:
                entry = raw[0]
            else:
                by_key = memo.get("by_key")
                if by_key is None:
                    by_key = memo["by_key"] = {e.get("Key"): e for e in raw}
                entry = by_key.get(self.key)
        entry = dict(entry) if entry is not None else None
        return not (sub.delivered and entry == sub.last), entry

    def decode(self, view: Any) -> Any:
        """The entry with ``Value`` as bytes, or ``None``."""
        return _decode_kv(view)


class PrefixView(View):
    """Every key under a prefix (``None`` when there is none)."""

    def decode(self, view: Any) -> Any:
        """The entries with ``Value`` as bytes, or ``None``."""
        return None if view is None else [_decode_kv(e) for e in view]


class ChecksView(View):
    """
    Checks carrying every one of ``tags`` in ``ServiceTags`` (Consul's HTTP
    API has no tag parameter for /v1/health/state or /v1/health/checks, so
    the filter runs here, on the shared answer).
    """

    def __init__(self, tags: Sequence[str]) -> None:
        self.tags = tuple(tags)

    def select(self, raw: Any, sub: Delivered, memo: dict[str, Any]) -> tuple[bool, Any]:
        """The checks with every tag."""
        key = "tags\0" + "\0".join(self.tags)
        view = memo.get(key)
        if view is None:
            view = [
                copy.deepcopy(c)
                for c in raw or []
                if all(t in (c.get("ServiceTags") or []) for t in self.tags)
            ]
            memo[key] = view
        return not (sub.delivered and view == sub.last), view


class EventView(View):
    """Only the events new since this watch's last call, as ``consul watch``."""

    def select(self, raw: Any, sub: Delivered, memo: dict[str, Any]) -> tuple[bool, Any]:
        """The events after the one the last call ended with."""
        events = list(raw or [])
        if sub.delivered:
            for i, e in enumerate(events):
                if event_id_to_index(e.get("ID", "")) == sub.last_index:
                    events = events[i + 1 :]
                    break
            if not events:
                return False, []
        return True, copy.deepcopy(events)

    def decode(self, view: Any) -> Any:
        """The events with ``Payload`` as bytes."""
        return [decode_event(copy.deepcopy(e)) for e in view]
