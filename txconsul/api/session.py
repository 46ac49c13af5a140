# -*- test-case-name: tests.test_session -*-
"""
Sessions: ``/v1/session/*``.

A session ties locks on KV keys (``kv.put(key, value, acquire=session_id)``)
to the health of a node, a set of checks, or a TTL the holder must renew.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional, Union

from .._duration import DurationLike, format_seconds, parse_duration
from .._errors import NotFound
from .._http import ConsulResponse
from ._base import Endpoint, Request, check_str, endpoint, path_segment, read

__all__ = ["BEHAVIORS", "MAX_TTL", "Session", "Sessions", "session_body"]

#: The longest session TTL Consul accepts (24h, ``structs.SessionTTLMax``).
#: The shortest is the servers' ``session_ttl_min`` (10s by default;
#: agent/consul/session_endpoint.go ``Apply`` compares against
#: ``config.SessionTTLMin``): server configuration, so the client leaves that
#: check to Consul.
MAX_TTL = 86400.0

BEHAVIORS = ("release", "delete")

ServiceChecksLike = Iterable[Union[str, dict[str, Any]]]
CheckIDs = Iterable[Union[str, bytes]]
#: A list of session dicts.
Sessions = list[dict[str, Any]]


def _check_ids(checks: Any, what: str) -> list[str]:
    if isinstance(checks, (str, bytes)):
        raise TypeError(f"{what} must be a list of check IDs, not a single string")
    try:
        items = list(checks)
    except TypeError:
        raise TypeError(f"{what} must be a list of check IDs, not {type(checks).__name__}")
    return [check_str(c, f"{what} entry") for c in items]


def _service_checks(checks: Any) -> list[dict[str, Any]]:
    if isinstance(checks, (str, bytes, dict)):
        raise TypeError("service_checks must be a list of check IDs or {'ID': ...} dicts")
    out: list[dict[str, Any]] = []
    for item in checks:
        if isinstance(item, dict):
            if "ID" not in item:
                raise ValueError("service_checks entries given as dicts need an 'ID'")
            entry = dict(item)
            entry["ID"] = check_str(entry["ID"], "service_checks ID")
            out.append(entry)
        else:
            out.append({"ID": check_str(item, "service_checks entry")})
    return out


def session_body(
    name: Optional[str] = None,
    node: Optional[str] = None,
    checks: Optional[CheckIDs] = None,
    lock_delay: DurationLike = 15,
    behavior: str = "release",
    ttl: Optional[DurationLike] = None,
    service_checks: Optional[ServiceChecksLike] = None,
) -> dict[str, Any]:
    """
    Validate :meth:`Session.create`'s arguments and build the JSON body.

    ``checks`` is sent as ``Checks`` (every Consul version reads it; an empty
    list removes the default ``serfHealth`` check).  ``lock_delay`` and ``ttl``
    are sent as Go duration strings (``'15s'``).

    :raises ValueError: for a bad behavior, a negative lock delay or a TTL
        above Consul's 24h maximum.
    :raises TypeError: for arguments of the wrong type.
    """
    body: dict[str, Any] = {}
    if name is not None:
        body["Name"] = check_str(name, "name", allow_empty=True)
    if node is not None:
        body["Node"] = check_str(node, "node")
    if checks is not None:
        body["Checks"] = _check_ids(checks, "checks")
    if service_checks is not None:
        body["ServiceChecks"] = _service_checks(service_checks)
    delay = parse_duration(lock_delay, "lock_delay")
    body["LockDelay"] = format_seconds(delay)
    if behavior not in BEHAVIORS:
        raise ValueError(f"invalid behavior {behavior!r}: use 'release' or 'delete'")
    body["Behavior"] = behavior
    if ttl is not None:
        seconds = parse_duration(ttl, "ttl")
        if seconds:
            if seconds > MAX_TTL:
                raise ValueError(f"invalid ttl {ttl!r}: Consul allows at most 86400s (24h)")
            body["TTL"] = format_seconds(seconds)
    return body


def _decode_id(response: ConsulResponse) -> str:
    return response.json()["ID"]


def _decode_bool(response: ConsulResponse) -> bool:
    return bool(response.json())


def _decode_list(response: ConsulResponse) -> Sessions:
    return response.json() or []


def _decode_one(response: ConsulResponse) -> Optional[dict[str, Any]]:
    data = response.json()
    return data[0] if data else None


class Session(Endpoint):
    """
    Sessions, as ``consul.session``.

    Arguments are validated before any request is sent: a bad one raises
    ``ValueError`` or ``TypeError`` at the call.
    """

    @endpoint
    def create(
        self,
        name: Optional[str] = None,
        node: Optional[str] = None,
        checks: Optional[CheckIDs] = None,
        lock_delay: DurationLike = 15,
        behavior: str = "release",
        ttl: Optional[DurationLike] = None,
        dc: Optional[str] = None,
        *,
        token: Optional[str] = None,
        service_checks: Optional[ServiceChecksLike] = None,
    ) -> Request:
        """
        Create a session; fires with its ID.

        :param name: a human-readable name.
        :param node: the node the session belongs to (default: the agent's).
        :param checks: check IDs on the node that invalidate the session when
            they go critical.  ``None`` keeps Consul's default
            (``['serfHealth']``); ``[]`` links no node check at all, which
            you want for a pure TTL session.
        :param lock_delay: seconds, or a duration string like ``'15s'``, during
            which keys released by an invalidated session cannot be
            re-acquired (Consul caps it at 60s; 0 disables it).
        :param behavior: what happens to held keys on invalidation:
            ``'release'`` (default) or ``'delete'``.
        :param ttl: seconds or a duration like ``'30s'``, at most 24h;
            the session must be renewed within it (Consul reaps it after up
            to twice the TTL).  ``None`` or 0: no TTL.  A TTL below the
            servers' ``session_ttl_min`` (10s by default) is Consul's to
            refuse (a :class:`~txconsul.ConsulException`, status 500,
            ``Invalid Session TTL ...``): the client cannot know that setting.
        :param service_checks: service check IDs (or ``{'ID': ...}`` dicts)
            that invalidate the session (Consul 1.7+).
        :raises ValueError: synchronously, for a bad behavior, lock delay or
            TTL.
        """
        body = session_body(name, node, checks, lock_delay, behavior, ttl, service_checks)
        return Request("PUT", "/v1/session/create", json_body=body, decode=_decode_id)

    @endpoint
    def destroy(
        self,
        session_id: str,
        dc: Optional[str] = None,
        *,
        token: Optional[str] = None,
    ) -> Request:
        """
        Destroy a session (releasing or deleting its keys); fires with
        ``True``, also for a session that no longer exists.
        """
        path = "/v1/session/destroy/" + path_segment(session_id, "session_id")
        return Request("PUT", path, decode=_decode_bool)

    @endpoint
    def list(
        self,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        Fire with ``(index, sessions)``: every session in the datacenter.

        :param index: block until the session table changes past this index.
        :param wait: how long to block (at most 10 minutes).
        :param meta: fire with ``(QueryMeta, sessions)`` instead.
        """
        return read("/v1/session/list", _decode_list)

    @endpoint
    def node(
        self,
        node: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """Fire with ``(index, sessions)``: the sessions of ``node``."""
        return read("/v1/session/node/" + path_segment(node, "node"), _decode_list)

    @endpoint
    def info(
        self,
        session_id: str,
        index: Any = None,
        wait: Optional[DurationLike] = None,
        consistency: Optional[str] = None,
        dc: Optional[str] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """
        Fire with ``(index, session)``; ``session`` is ``None`` when the ID is
        unknown (destroyed or expired).
        """
        return read("/v1/session/info/" + path_segment(session_id, "session_id"), _decode_one)

    @endpoint
    def renew(
        self,
        session_id: str,
        dc: Optional[str] = None,
        *,
        token: Optional[str] = None,
    ) -> Request:
        """
        Renew a TTL session; fires with the session dict.  Its ``TTL`` may be
        longer than requested (Consul asking clients to renew less often).

        :raises NotFound: (as a failed Deferred) when the session is gone.
        """
        path = "/v1/session/renew/" + path_segment(session_id, "session_id")

        def renewed(response: ConsulResponse) -> dict[str, Any]:
            session = _decode_one(response)
            if session is None:
                raise NotFound(
                    f"PUT {path}: session not found",
                    method="PUT",
                    path=path,
                    status=response.code,
                    body=response.body,
                )
            return session

        return Request("PUT", path, decode=renewed)
