# -*- test-case-name: tests.test_watch -*-
"""
Watch plans: from a watch type and Consul's watch parameters to the request
an endpoint method describes (:func:`txconsul._request.describe`) and the
view a watch takes of its answer.  No Consul path is written here: a watch
sends what the client's own method would send.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence, Union

import attr

from .._request import Request, describe
from .._validate import check_consistency, check_str
from ..api.agent import AgentService
from ..api.agent_modern import AgentConnectCA
from ..api.catalog import Catalog
from ..api.event import Event
from ..api.health import Health
from ..api.kv import KV
from ._views import ChecksView, EventView, KeyView, PrefixView, View

__all__ = ["CHECK_STATES", "WATCH_TYPES", "Plan", "WatchQuery", "build_watch", "hash_request"]

#: The watch types, as in Consul's watch documentation.
WATCH_TYPES = (
    "key",
    "keyprefix",
    "services",
    "nodes",
    "service",
    "checks",
    "event",
    "agent_service",
    "connect_roots",
    "connect_leaf",
)

#: The states a ``checks`` watch may follow.
CHECK_STATES = ("any", "passing", "warning", "critical")

TagsLike = Union[str, Sequence[str], None]


@attr.s(frozen=True, slots=True, auto_attribs=True, repr=False)
class WatchQuery:
    """
    One blocking query, exactly: the key under which watches share a poll.

    :ivar request: the endpoint's :class:`~txconsul._request.Request`
        (its ``params`` a tuple).
    :ivar token: the ACL token, or ``None`` for the client's default
        (never shown in ``repr``).
    :ivar dc: the datacenter, or ``None`` for the client's default.
    :ivar consistency: ``None`` (client default), ``'default'``,
        ``'consistent'`` or ``'stale'``.
    :ivar kind: how answers are read: ``'key'``, ``'keyprefix'``,
        ``'event'``, ``'json'``, or ``'hash'`` (agent-local state that
        blocks on the answer's ``ContentHash``, not on an index).
    :ivar filter: a Consul filter expression, or ``None``.
    """

    request: Request
    token: Optional[str] = None
    dc: Optional[str] = None
    consistency: Optional[str] = None
    kind: str = "json"
    filter: Optional[str] = None

    @property
    def method(self) -> str:
        """The HTTP method (always ``'GET'``)."""
        return self.request.method

    @property
    def path(self) -> str:
        """The escaped path, starting with ``/v1/``."""
        return self.request.path

    @property
    def params(self) -> tuple[tuple[str, Optional[str]], ...]:
        """The query parameters in the order sent (``filter`` last)."""
        params = tuple(self.request.params)
        if self.filter is not None:
            params += (("filter", self.filter),)
        return params

    @property
    def hashed_index(self) -> bool:
        """Whether the index is a hash (events), not a Raft index."""
        return self.kind == "event"

    @property
    def content_hash(self) -> bool:
        """Whether the query blocks on the answer's content hash (no index at all)."""
        return self.kind == "hash"

    def __repr__(self) -> str:
        token = "set" if self.token else "default"
        return (
            f"<WatchQuery {self.method} {self.path} params={list(self.params)!r} "
            f"dc={self.dc!r} consistency={self.consistency!r} token={token}>"
        )


@attr.s(frozen=True, slots=True, auto_attribs=True)
class Plan:
    """A built watch: its query, its view and its type."""

    query: WatchQuery
    view: View
    type: str


def _tags(tag: TagsLike) -> list[str]:
    if tag is None:
        return []
    if isinstance(tag, (str, bytes)):
        return [check_str(tag, "tag")]
    return [check_str(t, "tag") for t in tag]


# -- one function per watch type: (request, view, kind) ---------------------------

Built = tuple[Request, View, str]


def _key(key: Any = None, via_prefix: Optional[str] = None, **_: Any) -> Built:
    if not key:
        raise ValueError("a 'key' watch needs key")
    if via_prefix is None:
        return describe(KV.get, key), KeyView(), "key"
    text_key = check_str(key, "key")
    if not text_key.startswith(check_str(via_prefix, "via_prefix", allow_empty=True)):
        raise ValueError(f"key {key!r} is not under via_prefix {via_prefix!r}")
    return describe(KV.get, via_prefix, recurse=True), KeyView(text_key), "keyprefix"


def _keyprefix(prefix: Any = None, **_: Any) -> Built:
    if prefix is None:
        raise ValueError("a 'keyprefix' watch needs prefix")
    return describe(KV.get, prefix, recurse=True), PrefixView(), "keyprefix"


def _services(**_: Any) -> Built:
    return describe(Catalog.services), View(), "json"


def _nodes(**_: Any) -> Built:
    return describe(Catalog.nodes), View(), "json"


def _service(service: Any = None, tag: TagsLike = None, passingonly: bool = False, **_: Any) -> Built:
    if not service:
        raise ValueError("a 'service' watch needs service")
    request = describe(Health.service, service, tag=_tags(tag) or None, passing=passingonly)
    return request, View(), "json"


def _checks(service: Any = None, state: Optional[str] = None, tag: TagsLike = None, **_: Any) -> Built:
    if service is not None and state is not None:
        raise ValueError("a 'checks' watch takes service or state, not both")
    if service is not None:
        request = describe(Health.checks, service)
    else:
        state = "any" if state is None else state
        if state not in CHECK_STATES:
            raise ValueError(f"invalid state {state!r}: use one of {', '.join(CHECK_STATES)}")
        request = describe(Health.state, state)
    tags = _tags(tag)
    return request, (ChecksView(tags) if tags else View()), "json"


def _event(name: Optional[str] = None, **_: Any) -> Built:
    return describe(Event.list, name or None), EventView(), "event"


def _agent_service(service_id: Any = None, **_: Any) -> Built:
    if not service_id:
        raise ValueError("an 'agent_service' watch needs service_id")
    return describe(AgentService.get, service_id), View(), "hash"


def _connect_roots(**_: Any) -> Built:
    return describe(AgentConnectCA.roots), View(), "json"


def _connect_leaf(service: Any = None, **_: Any) -> Built:
    if not service:
        raise ValueError("a 'connect_leaf' watch needs service")
    return describe(AgentConnectCA.leaf, service), View(), "json"


def hash_request(query: WatchQuery, content_hash: Optional[str]) -> Request:
    """
    The request of a ``'hash'`` query: as built, or, given the last
    answer's ``ContentHash``, the same read blocking until it changes
    (what the endpoint method sends for ``hash=``).
    """
    if not content_hash:
        return query.request
    return query.request._replace(params=(*query.request.params, ("hash", content_hash)), long_poll=True)


#: Watch type -> (the parameters it takes, how it is built).
PLANS: dict[str, tuple[frozenset[str], Callable[..., Built]]] = {
    "key": (frozenset({"key", "via_prefix", "stale"}), _key),
    "keyprefix": (frozenset({"prefix", "stale"}), _keyprefix),
    "services": (frozenset({"filter", "stale"}), _services),
    "nodes": (frozenset({"filter", "stale"}), _nodes),
    "service": (frozenset({"service", "tag", "passingonly", "filter", "stale"}), _service),
    # "tag" on checks: the variant of hashicorp/consul's checksWatch that
    # calls health.StateTags / health.ChecksTags (issue #17642); released
    # Consul answers "Invalid parameters: [tag]".
    "checks": (frozenset({"service", "state", "tag", "filter", "stale"}), _checks),
    # The event list takes neither a consistency mode nor a filter.
    "event": (frozenset({"name"}), _event),
    # api/watch/funcs.go: agent-local and agent-cached reads, so no
    # consistency mode ("We don't support stale") and no filter.
    "agent_service": (frozenset({"service_id"}), _agent_service),
    "connect_roots": (frozenset(), _connect_roots),
    "connect_leaf": (frozenset({"service"}), _connect_leaf),
}


def build_watch(
    type: str,
    *,
    key: Optional[str] = None,
    prefix: Optional[str] = None,
    service: Optional[str] = None,
    tag: TagsLike = None,
    passingonly: bool = False,
    state: Optional[str] = None,
    name: Optional[str] = None,
    dc: Optional[str] = None,
    token: Optional[str] = None,
    stale: bool = False,
    consistency: Optional[str] = None,
    filter: Optional[str] = None,
    via_prefix: Optional[str] = None,
    service_id: Optional[str] = None,
) -> Plan:
    """
    Validate watch parameters (Consul's watch names) and build the query.

    :raises ValueError: for a missing or conflicting parameter, naming it.
    :raises TypeError: for an argument of the wrong type.
    """
    if type not in PLANS:
        raise ValueError(f"invalid watch type {type!r}: use one of {', '.join(WATCH_TYPES)}")
    given = {
        "key": key is not None,
        "prefix": prefix is not None,
        "service": service is not None,
        "tag": bool(tag),
        "passingonly": bool(passingonly),
        "state": state is not None,
        "name": name is not None,
        "filter": filter is not None,
        "via_prefix": via_prefix is not None,
        "service_id": service_id is not None,
        "stale": bool(stale) or consistency is not None,
    }
    allowed, build = PLANS[type]
    bad = sorted(k for k, v in given.items() if v and k not in allowed)
    if bad:
        raise ValueError(f"{', '.join(bad)} cannot be used with a {type!r} watch")
    if stale and consistency not in (None, "stale"):
        raise ValueError("stale=True conflicts with consistency=" + repr(consistency))
    mode = "stale" if stale else check_consistency(consistency)
    if dc is not None:
        dc = check_str(dc, "dc")
    if token is not None and not isinstance(token, str):
        raise TypeError("token must be a str")
    if filter is not None:
        filter = check_str(filter, "filter")
    request, view, kind = build(
        key=key,
        prefix=prefix,
        service=service,
        tag=tag,
        passingonly=passingonly,
        state=state,
        name=name,
        via_prefix=via_prefix,
        service_id=service_id,
    )
    request = request._replace(params=tuple(request.params))
    return Plan(WatchQuery(request, token, dc, mode, kind, filter), view, type)
