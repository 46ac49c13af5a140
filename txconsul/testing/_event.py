# -*- test-case-name: tests.test_event -*-
"""
FakeConsul's user events: ``/v1/event/fire/:name`` and ``/v1/event/list``.

As in Consul (agent/event_endpoint.go, agent/user_event.go): a fired event
is kept only if its node/service/tag filters match this agent; the list is
a ring buffer of the last 256 kept events, oldest first; its index is a
hash of the newest listed event's UUID (1 when none), and a blocking list
waits while that hash is *equal* to ``?index`` (10 minutes by default, no
jitter).  Events do not go through Raft: firing one does not move the
shared index.
"""

from __future__ import annotations

import re
from base64 import b64encode
from collections import deque
from typing import Any, Optional

from ._authz import check_resolved, require
from ._catalog import CatalogPart
from ._core import FakeCore, FakeRequest, HTTPError, Reply, Route, parse_query_options

#: How many events the agent remembers.
EVENT_BUFFER_SIZE = 256

#: The event name the agent consumes itself (remote exec); never listed.
REMOTE_EXEC_NAME = "_rexec"

#: The event list waits this long when ``?index`` comes without ``?wait``.
EVENT_MAX_WAIT = 600.0


#: serf's default Config.UserEventSizeLimit (serf/serf/config.go), which
#: Consul keeps.
USER_EVENT_SIZE_LIMIT = 512

#: agent/consul/internal_endpoint.go: serf event names carry this prefix.
USER_EVENT_PREFIX = "consul:event:"


def _str_size(n: int) -> int:
    """msgpack's str header size plus the bytes."""
    return n + (1 if n <= 31 else 2 if n <= 255 else 3 if n <= 65535 else 5)


def _bin_size(n: int) -> int:
    """msgpack's bin header size plus the bytes."""
    return n + (2 if n <= 255 else 3 if n <= 65535 else 5)


def encoded_event_size(name: str, payload: bytes, node: str, service: str, tag: str) -> int:
    """
    The size of agent/user_event.go's msgpack-encoded ``UserEvent`` (a map
    of ``ID``, ``n``, ``p``, ``nf``, ``sf``, ``tf``, ``v``; the empty ones
    omitted), which becomes the serf event's payload.
    """
    size = 1 + _str_size(2) + _str_size(36) + _str_size(1) + _str_size(len(name.encode()))
    if payload:
        size += _str_size(1) + _bin_size(len(payload))
    for value in (node, service, tag):
        if value:
            size += _str_size(2) + _str_size(len(value.encode()))
    return size + _str_size(1) + 1


def check_event_size(name: str, payload: bytes, node: str, service: str, tag: str) -> None:
    """
    serf's ``Serf.UserEvent`` limits (serf/serf/serf.go): the serf name
    plus the encoded Consul event must fit the 512-byte limit before
    encoding, and serf's own encoding of the message after; an RPC error,
    so the HTTP answer is a 500 with its text.
    """
    serf_name = len((USER_EVENT_PREFIX + name).encode())
    inner = encoded_event_size(name, payload, node, service, tag)
    if serf_name + inner > USER_EVENT_SIZE_LIMIT:
        raise HTTPError(
            500, f"user event exceeds configured limit of {USER_EVENT_SIZE_LIMIT} bytes before encoding"
        )
    # messageUserEvent{LTime, Name, Payload, CC} after its one-byte type.
    raw = 1 + 1 + _str_size(5) + 3 + _str_size(4) + _str_size(serf_name)
    raw += _str_size(7) + _bin_size(inner) + _str_size(2) + 1
    if raw > USER_EVENT_SIZE_LIMIT:
        raise HTTPError(
            500,
            f"encoded user event exceeds configured limit of {USER_EVENT_SIZE_LIMIT} bytes after encoding",
        )


def uuid_to_uint64(uuid: str) -> int:
    """Consul's ``uuidToUint64``: XOR of the two 64-bit halves of a UUID."""
    lower = uuid[0:8] + uuid[9:13] + uuid[14:18]
    upper = uuid[19:23] + uuid[24:36]
    return int(lower, 16) ^ int(upper, 16)


def _compile(pattern: str, what: str) -> "re.Pattern[str]":
    try:
        return re.compile(pattern)
    except re.error as e:
        raise HTTPError(500, f"Invalid {what} filter: error parsing regexp: {e}")
    except RecursionError:
        # Go's regexp/syntax refuses nesting deeper than 1000 with this code.
        raise HTTPError(
            500, f"Invalid {what} filter: error parsing regexp: expression nests too deeply: `{pattern}`"
        )


def validate_params(node: str, service: str, tag: str) -> tuple[Any, Any, Any]:
    """
    Consul's ``validateUserEventParams`` (agent/user_event.go): the compiled
    node, service and tag filters (``None`` when empty), or the 500 it
    answers.  ``Agent.UserEvent`` runs it *before* the ``Internal.EventFire``
    RPC checks ``event:write``, so a bad filter wins over a denial.
    """
    if tag and not service:
        raise HTTPError(500, "Cannot provide tag filter without service filter")
    node_re = _compile(node, "node") if node else None
    service_re = _compile(service, "service") if service else None
    tag_re = _compile(tag, "tag") if tag else None
    return node_re, service_re, tag_re


class EventPart:
    """
    The user events of a FakeConsul.

    :ivar events: the kept events, oldest first (at most 256).
    """

    def __init__(self, core: FakeCore, catalog: CatalogPart) -> None:
        self.core = core
        self.catalog = catalog
        self.events: deque[dict[str, Any]] = deque(maxlen=EVENT_BUFFER_SIZE)
        #: Serf's Lamport clock for user events starts at 1.
        self._ltime = 1

    def routes(self) -> list[Route]:
        """The fire and list routes."""
        return [
            # agent/event_endpoint.go: EventFire reads ?dc (parseDC) but
            # does not call s.parse; EventList is agent-local and calls
            # parseWait only.
            Route("/v1/event/fire/", ("PUT",), self._fire, parse=False),
            Route("/v1/event/list", ("GET",), self._list, check_dc=False, parse=False),
        ]

    # -- firing -----------------------------------------------------------

    def fire(
        self,
        name: str,
        payload: bytes = b"",
        node: str = "",
        service: str = "",
        tag: str = "",
    ) -> dict[str, Any]:
        """
        Fire an event as ``PUT /v1/event/fire/:name`` does (no ACL check);
        returns the event as the fire response shows it.  Raises HTTPError.
        """
        if not name:
            raise HTTPError(400, "Missing name")
        node_re, service_re, tag_re = validate_params(node, service, tag)
        event = {
            "ID": self.core.new_uuid(),
            "Name": name,
            "Payload": b64encode(payload).decode("ascii") if payload else None,
            "NodeFilter": node,
            "ServiceFilter": service,
            "TagFilter": tag,
            "Version": 1,
            "LTime": 0,
        }
        ltime = self._ltime
        self._ltime += 1
        if name != REMOTE_EXEC_NAME and self._matches(node_re, service_re, tag_re):
            kept = dict(event, LTime=ltime)
            self.events.append(kept)
            self.core.changed()
        return event

    def _matches(self, node_re: Any, service_re: Any, tag_re: Any) -> bool:
        core = self.core
        if node_re is not None and not node_re.search(core.node_name):
            return False
        if service_re is None:
            return True
        for (node, sid), svc in self.catalog.services.items():
            if node != core.node_name or sid == "consul":
                # The consul service is the server's, not the agent's own.
                continue
            # shouldProcessUserEvent ranges over the agent's local services,
            # a map keyed by service ID: the filter matches the ID, not the name.
            if not service_re.search(sid):
                continue
            if tag_re is None:
                return True
            if any(tag_re.search(t) for t in svc.get("Tags") or []):
                return True
        return False

    def _fire(self, req: FakeRequest) -> Reply:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing name")
        validate_params(req.get("node") or "", req.get("service") or "", req.get("tag") or "")
        require(req, "event", name, "write")
        check_event_size(
            name, req.body, req.get("node") or "", req.get("service") or "", req.get("tag") or ""
        )
        event = self.fire(
            name,
            req.body,
            req.get("node") or "",
            req.get("service") or "",
            req.get("tag") or "",
        )
        return Reply(event)

    # -- listing ----------------------------------------------------------

    def index(self, name: Optional[str] = None) -> int:
        """The event list index: the newest matching event's hash, or 1."""
        events = [e for e in self.events if not name or e["Name"] == name]
        return uuid_to_uint64(events[-1]["ID"]) if events else 1

    def _list(self, req: FakeRequest) -> Any:
        name = req.get("name") or ""
        authz = req.authz
        # EventList parses ?wait/?index, then resolves the token before it
        # reads the buffer: an unknown secret is 403 "ACL not found" even
        # when no event is listed.
        options = parse_query_options(req)
        check_resolved(authz)

        def compute() -> tuple[int, Reply]:
            events = [e for e in self.events if not name or e["Name"] == name]
            visible = [e for e in events if authz.allowed("event", e["Name"], "read")]
            index = uuid_to_uint64(visible[-1]["ID"]) if visible else 1
            # Consul's setIndex never sends 0 (a hash could be 0).
            headers = {"X-Consul-Index": str(max(1, index))}
            if req.token and len(visible) != len(events):
                headers["X-Consul-Results-Filtered-By-ACLs"] = "true"
            # No index= on the Reply: event lists carry no KnownLeader or
            # LastContact headers, only X-Consul-Index.
            return index, Reply([dict(e) for e in visible], headers=headers)

        if options.min_index and options.wait < 0:
            # EventList arms its timeout only for a positive MaxQueryTime (a
            # zero one becomes the 10-minute cap): with a negative ?wait it
            # waits for a change however long that takes.
            index, reply = compute()
            if index != options.min_index:
                return reply
            return self.core.park(compute, lambda i: i != options.min_index, None)
        return self.core.blocking(req, compute, equality=True, default_wait=EVENT_MAX_WAIT, jitter=False)
