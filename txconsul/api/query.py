# -*- test-case-name: tests.test_query -*-
"""
Prepared queries: ``/v1/query`` and ``/v1/query/:id[/execute|/explain]``.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

from .._duration import DurationLike, format_seconds, parse_duration
from .._http import ConsulResponse, Param
from ._base import Endpoint, Request, check_str, decode_json, decode_true, endpoint, path_segment

__all__ = ["Query", "query_definition", "query_path"]


def _str_list(value: Any, what: str) -> list[str]:
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{what} must be a list of strings, not a single string")
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{what} must be a list of strings, not {type(value).__name__}") from None
    return [check_str(item, f"each of {what}") for item in items]


def _int(value: Any, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"invalid {what} {value!r}: must be >= {minimum}")
    return value


def query_definition(
    service: Any,
    name: Optional[str] = None,
    session: Optional[str] = None,
    nearestn: Optional[int] = None,
    datacenters: Optional[Iterable[str]] = None,
    onlypassing: Optional[bool] = None,
    tags: Optional[Iterable[str]] = None,
    ttl: Optional[DurationLike] = None,
    regexp: Optional[str] = None,
    query_token: Optional[str] = None,
) -> dict[str, Any]:
    """
    Build a prepared query definition from python-consul's arguments.

    Only the given fields are sent.  ``regexp`` (even ``''``) makes the
    query a ``name_prefix_match`` template; ``ttl`` (``'10s'`` or seconds)
    becomes ``DNS.TTL``.

    :raises TypeError: for a badly typed argument.
    :raises ValueError: for a missing service, a negative ``nearestn`` or
        a malformed ``ttl``.
    """
    svc: dict[str, Any] = {"Service": check_str(service, "service")}
    if onlypassing is not None:
        if not isinstance(onlypassing, bool):
            raise TypeError(f"onlypassing must be a bool, not {type(onlypassing).__name__}")
        svc["OnlyPassing"] = onlypassing
    if tags is not None:
        svc["Tags"] = _str_list(tags, "tags")
    failover: dict[str, Any] = {}
    if nearestn is not None:
        failover["NearestN"] = _int(nearestn, "nearestn")
    if datacenters is not None:
        failover["Datacenters"] = _str_list(datacenters, "datacenters")
    if failover:
        svc["Failover"] = failover
    body: dict[str, Any] = {"Service": svc}
    if name is not None:
        body["Name"] = check_str(name, "name", allow_empty=True)
    if session is not None:
        body["Session"] = check_str(session, "session")
    if query_token is not None:
        body["Token"] = check_str(query_token, "query_token", allow_empty=True)
    if ttl is not None:
        seconds = parse_duration(ttl, "ttl")
        text = ttl.strip() if isinstance(ttl, str) else format_seconds(seconds)
        body["DNS"] = {"TTL": text}
    if regexp is not None:
        body["Template"] = {
            "Type": "name_prefix_match",
            "Regexp": check_str(regexp, "regexp", allow_empty=True),
        }
    return body


def query_path(query: Any, what: str = "query_id", suffix: str = "") -> str:
    """The escaped ``/v1/query/<id or name>[suffix]`` path."""
    return "/v1/query/" + path_segment(query, what) + suffix


def _json_or_none(response: ConsulResponse) -> Any:
    """The JSON body, or ``None`` for a 404 (no such query)."""
    if response.code == 404:
        return None
    return response.json()


def _maybe_missing(path: str, params: Any = ()) -> Request:
    """A ``GET`` of one query, answering ``None`` when there is none."""
    return Request("GET", path, params, decode=_json_or_none, expect=(200, 404))


class Query(Endpoint):
    """
    Prepared queries, as ``consul.query``.

    ``token=`` is the ACL token of the request (sent in a header).  Unlike
    python-consul it is *not* also stored in the query; pass
    ``query_token=`` to store the token the query runs with.

    Other differences from python-consul, on purpose: :meth:`get`,
    :meth:`execute` and :meth:`explain` fire with ``None`` for an unknown
    query (python-consul's 404 handling returns no usable value there), and
    :meth:`update` requires ``service`` (the definition is replaced whole).
    """

    @endpoint
    def list(self, dc: Optional[str] = None, token: Optional[str] = None) -> Request:
        """Every prepared query the token may read (a list of definitions)."""
        return Request("GET", "/v1/query")

    @endpoint
    def create(
        self,
        service: str,
        name: Optional[str] = None,
        dc: Optional[str] = None,
        session: Optional[str] = None,
        token: Optional[str] = None,
        nearestn: Optional[int] = None,
        datacenters: Optional[Iterable[str]] = None,
        onlypassing: Optional[bool] = None,
        tags: Optional[Iterable[str]] = None,
        ttl: Optional[DurationLike] = None,
        regexp: Optional[str] = None,
        *,
        query_token: Optional[str] = None,
    ) -> Request:
        """
        Create a prepared query; fires with ``{'ID': '<uuid>'}``.

        :param service: the service the query selects.
        :param name: a name the query can be executed by (unique).
        :param session: a session ID; the query is deleted with the session.
            A query without ``name`` needs one.
        :param nearestn: fail over to up to this many nearest datacenters.
        :param datacenters: fail over to these datacenters, in order.
        :param onlypassing: exclude instances with warning checks too (by
            default only critical ones are excluded).
        :param tags: tags every instance must have; ``'!tag'`` excludes.
        :param ttl: the DNS TTL of the results (``'10s'`` or seconds).
        :param regexp: make the query a ``name_prefix_match`` template with
            this regular expression (``''`` for none).
        :param query_token: the ACL token stored in the query and used to
            execute it.

        Unlike python-consul, ``token`` (or the client's token) is not
        stored in the query: it only authorizes this request.  Pass
        ``query_token`` for that.
        """
        body = query_definition(
            service,
            name,
            session,
            nearestn,
            datacenters,
            onlypassing,
            tags,
            ttl,
            regexp,
            query_token,
        )
        return Request("POST", "/v1/query", json_body=body, decode=decode_json)

    @endpoint
    def update(
        self,
        query_id: str,
        service: Optional[str] = None,
        name: Optional[str] = None,
        dc: Optional[str] = None,
        session: Optional[str] = None,
        token: Optional[str] = None,
        nearestn: Optional[int] = None,
        datacenters: Optional[Iterable[str]] = None,
        onlypassing: Optional[bool] = None,
        tags: Optional[Iterable[str]] = None,
        ttl: Optional[DurationLike] = None,
        regexp: Optional[str] = None,
        *,
        query_token: Optional[str] = None,
    ) -> Request:
        """
        Replace a prepared query's definition; fires with ``True``.

        The arguments are those of :meth:`create`; the new definition
        replaces the old one entirely, so ``service`` is required (positional
        second, as in python-consul, where it is optional).  As in
        :meth:`create`, ``token`` is not stored in the query.

        :raises ValueError: when ``service`` is missing.
        """
        path = query_path(query_id)
        if service is None:
            raise ValueError("service is required: an update replaces the whole query definition")
        body = query_definition(
            service,
            name,
            session,
            nearestn,
            datacenters,
            onlypassing,
            tags,
            ttl,
            regexp,
            query_token,
        )
        return Request("PUT", path, json_body=body, decode=decode_true)

    @endpoint
    def get(self, query_id: str, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """
        A prepared query by ID: a list holding its definition, as Consul
        answers, or ``None`` when there is no such query (python-consul has
        no defined answer for that 404).
        """
        return _maybe_missing(query_path(query_id))

    @endpoint
    def delete(self, query_id: str, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """Delete a prepared query; fires with ``True``."""
        return Request("DELETE", query_path(query_id), decode=decode_true)

    @endpoint
    def execute(
        self,
        query: str,
        token: Optional[str] = None,
        dc: Optional[str] = None,
        near: Optional[str] = None,
        limit: Optional[int] = None,
        *,
        consistency: Optional[str] = None,
    ) -> Request:
        """
        Run a prepared query by ID or name.

        Fires with ``{'Service', 'Nodes', 'DNS', 'Datacenter', 'Failovers'}``
        (plus the query-meta fields ``Index``, ``LastContact``,
        ``KnownLeader``, ``ConsistencyLevel``... that Consul embeds in the
        body) where ``Nodes`` lists ``{'Node', 'Service', 'Checks'}``
        entries, or ``None`` when no query has that ID or name
        (python-consul has no defined answer for that 404).

        :param near: sort by round-trip time from this node (``'_agent'``
            for the agent answering).
        :param limit: return at most this many nodes.
        """
        path = query_path(query, "query", "/execute")
        params: list[Param] = []
        if near is not None:
            params.append(("near", check_str(near, "near")))
        if limit is not None:
            params.append(("limit", str(_int(limit, "limit"))))
        return _maybe_missing(path, params)

    @endpoint
    def explain(self, query: str, token: Optional[str] = None, dc: Optional[str] = None) -> Request:
        """
        The fully rendered query a name resolves to: ``{'Query': {...}}``
        (plus Consul's query-meta fields), or ``None`` when nothing matches (python-consul has no defined
        answer for that 404).
        """
        return _maybe_missing(query_path(query, "query", "/explain"))
