# -*- test-case-name: tests.test_event -*-
"""
User events: ``/v1/event/fire/:name`` and ``/v1/event/list``.

Events travel over gossip, not Raft: the list is the agent's ring buffer
of the last 256 events whose filters matched it, and its ``X-Consul-Index``
is a hash of the newest event's ID, not an ordered index.  It can still be
passed back as ``index=``: Consul blocks while the hash is *equal* to it.

Differences from python-consul, on purpose: ``fire`` answers the event with
its ``Payload`` decoded to ``bytes`` as ``list`` does (python-consul leaves
the base64 text there), and a ``tag`` without ``service`` is a
``ValueError`` before any request (Consul answers 400).
"""

from __future__ import annotations

from base64 import b64decode
from typing import Any, Optional, Union

from .._duration import MAX_WAIT, DurationLike
from .._http import ConsulResponse, Param
from ._base import Endpoint, Request, check_str, endpoint, path_segment

__all__ = ["Event", "decode_event", "decode_fire", "decode_list", "encode_body", "event_path"]

BodyLike = Union[str, bytes, None]


def decode_event(event: dict[str, Any]) -> dict[str, Any]:
    """Decode one event in place: ``Payload`` from base64 to bytes (or None)."""
    payload = event.get("Payload")
    event["Payload"] = None if payload is None else b64decode(payload)
    return event


def decode_fire(response: ConsulResponse) -> dict[str, Any]:
    """The event Consul answers a fire with, ``Payload`` decoded."""
    return decode_event(response.json())


def decode_list(response: ConsulResponse) -> list[dict[str, Any]]:
    """The listed events, oldest first, each ``Payload`` decoded."""
    return [decode_event(e) for e in response.json() or []]


def event_path(name: Any) -> str:
    """
    Validate an event name and build its escaped ``/v1/event/fire/`` path.

    :raises TypeError: if ``name`` is not a string.
    :raises ValueError: for an empty name, or one Consul's router would
        rewrite (a leading ``/``, ``//``, ``.`` or ``..`` segments).
    """
    text = check_str(name, "name")
    segments = text.split("/")
    if text.startswith("/") or any(s in ("", ".", "..") for s in segments):
        raise ValueError(
            f"invalid event name {text!r}: it must not begin with '/' nor contain empty, '.' or '..' segments"
        )
    return "/v1/event/fire/" + path_segment(text, "name")


def encode_body(body: BodyLike) -> bytes:
    """The payload bytes: ``str`` as UTF-8, ``bytes`` as is, ``None`` empty."""
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    raise TypeError(f"body must be str, bytes or None, not {type(body).__name__}")


class Event(Endpoint):
    """
    User events, as ``consul.event``.

    Invalid arguments raise ``ValueError`` or ``TypeError`` at the call,
    before any request is sent.
    """

    @endpoint
    def fire(
        self,
        name: str,
        body: BodyLike = "",
        node: Optional[str] = None,
        service: Optional[str] = None,
        tag: Optional[str] = None,
        token: Optional[str] = None,
        *,
        dc: Optional[str] = None,
    ) -> Request:
        """
        Fire a user event.

        Fires with the event Consul accepted: a dict with ``ID``, ``Name``,
        ``Payload`` (bytes, or ``None`` when empty), ``NodeFilter``,
        ``ServiceFilter``, ``TagFilter``, ``Version`` and ``LTime`` (0 here:
        the Lamport time is assigned when the event is delivered).
        python-consul returns the same dict with ``Payload`` still base64
        text; txconsul decodes it, as :meth:`list` and python-consul's
        ``event.list`` do.

        :param body: the payload, ``str`` (sent as UTF-8) or ``bytes``.
        :param node: a regular expression: only nodes whose name matches
            keep the event.
        :param service: a regular expression: only agents with a matching
            service keep the event.
        :param tag: a regular expression on the tags of the matching
            services; requires ``service``.
        :param token: the ACL token (needs ``event:write`` on ``name``).
        :param dc: fire the event in another datacenter.
        :raises ValueError: for ``tag`` without ``service``.
        """
        path = event_path(name)
        payload = encode_body(body)
        params: list[Param] = []
        for what, value in (("node", node), ("service", service), ("tag", tag)):
            if value is not None:
                params.append((what, check_str(value, what)))
        if tag is not None and not service:
            raise ValueError("tag requires service: Consul cannot filter on tags without a service filter")
        return Request("PUT", path, params, payload, decode=decode_fire)

    @endpoint
    def list(
        self,
        name: Optional[str] = None,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        The events this agent has received (the last 256), oldest first.

        Fires with ``(index, events)``; each event has ``Payload`` as bytes
        (or ``None``) and its ``LTime`` set.  ``index`` is a hash of the
        newest listed event's ID (1 when there is none): pass it back as
        ``index=`` to wait for a new event.

        :param name: only events with exactly this name.
        :param index: block while the newest event is still this one.
        :param wait: how long to block (``'10s'``, seconds); Consul waits up
            to 10 minutes by default for events, and so does this call.
        :param token: the ACL token (events are filtered by ``event:read``).
        :param meta: fire with ``(QueryMeta, events)`` instead.
        """
        params: list[Param] = []
        if name is not None:
            params.append(("name", check_str(name, "name")))
        # Consul's event list waits maxQueryTime (10 minutes) by default, not
        # the usual 5; say so, so that the client-side timeout matches.
        return Request(
            "GET",
            "/v1/event/list",
            params,
            decode=decode_list,
            blocking=True,
            use_dc=False,
            default_wait=MAX_WAIT,
        )
