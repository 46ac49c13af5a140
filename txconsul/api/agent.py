# -*- test-case-name: tests.test_agent -*-
"""
The local agent: ``/v1/agent/``, with its ``service`` and ``check`` groups.

Agent endpoints answer from the agent's own state: they take no ``dc`` and do
not block.  Writes fire with ``True``; a write Consul refuses fails with the
matching :class:`~txconsul.ConsulException` (an unknown service or check ID
is :class:`~txconsul.NotFound`, not ``False`` as in python-consul).

Differences from python-consul 1.1.0, on purpose:

* an unknown service or check ID fails with ``NotFound`` (above);
* ``service.register``'s ``meta`` is keyword only (1.1.0 has no ``meta``;
  its positional slot after ``token`` is the deprecated ``script``);
* ``join`` and ``force_leave`` are sent as ``PUT``, as Consul requires
  (python-consul sends ``GET``, which Consul 1.0+ refuses with 405);
* bad combinations of the deprecated ``script``/``interval``/``ttl``/
  ``http``/``timeout`` arguments raise ``ValueError`` where python-consul
  uses ``assert``.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union
from .agent_modern import AgentExtras

from .._duration import DurationLike
from .._http import Param
from ._base import (
    Endpoint,
    Request,
    check_bool_text,
    check_str,
    check_str_map,
    decode_json,
    decode_true,
    endpoint,
    path_segment,
)
from .check import ArgsLike, legacy_check

__all__ = ["Agent", "AgentCheck", "AgentService", "check_bool_text"]


def _check_tags(tags: Any) -> Optional[list[str]]:
    if tags is None:
        return None
    if isinstance(tags, (str, bytes)) or not isinstance(tags, (list, tuple)):
        raise TypeError("tags must be a list of strings")
    return [check_str(t, "each tag") for t in tags]


def _check_check(check: Any, what: str = "check") -> dict[str, Any]:
    if not isinstance(check, Mapping):
        raise TypeError(f"{what} must be a dict (see Consul.Check), not {type(check).__name__}")
    return dict(check)


def _check_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a dict, not {type(value).__name__}")
    return dict(value)


def _check_weights(weights: Any) -> dict[str, int]:
    folded = {str(k).lower(): v for k, v in _check_object(weights, "weights").items()}
    unknown = sorted(set(folded) - {"passing", "warning"})
    if unknown:
        raise ValueError(f"weights takes Passing and Warning, not {unknown[0]!r}")
    out = {}
    for key, field in (("passing", "Passing"), ("warning", "Warning")):
        if key in folded:
            value = folded[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"weights' {field} must be an int, not {type(value).__name__}")
            out[field] = value
    if out.get("Passing", 1) < 1:
        raise ValueError("weights' Passing must be greater than 0")
    if out.get("Warning", 0) < 0:
        raise ValueError("weights' Warning must be 0 or more")
    return out


def _check_tagged_addresses(tagged: Any) -> dict[str, dict[str, Any]]:
    out = {}
    for name, addr in _check_object(tagged, "tagged_addresses").items():
        name = check_str(name, "each name of tagged_addresses")
        out[name] = _check_object(addr, f"tagged_addresses[{name!r}]")
    return out


#: The HTTP status codes of ``/v1/agent/health/service/...`` and the
#: aggregated status each one means (503 is ``critical`` or ``maintenance``).
_LOCAL_HEALTH_CODES = {200: "passing", 429: "warning", 503: "critical"}


def _local_health(response: Any) -> tuple[str, Any]:
    """``(status, data)`` of a local-health answer: the X-Consul-Reason header, else the code."""
    data = decode_json(response)
    reasons = response.headers.getRawHeaders(b"x-consul-reason") or []
    status = reasons[0].decode("utf-8", "replace") if reasons else _LOCAL_HEALTH_CODES[response.code]
    return status, data


def _local_health_request(tail: str) -> Request:
    return Request(
        "GET",
        "/v1/agent/health/service/" + tail,
        decode=_local_health,
        expect=tuple(_LOCAL_HEALTH_CODES),
        use_dc=False,
    )


def _agent_write(path: str, params: Sequence[Param] = (), body: Any = None) -> Request:
    """A ``PUT`` to the local agent (no ``dc``) answering ``True``."""
    if body is None:
        return Request("PUT", path, params, decode=decode_true, use_dc=False)
    return Request("PUT", path, params, json_body=body, decode=decode_true, use_dc=False)


def _agent_read(path: str, params: Sequence[Param] = ()) -> Request:
    """A non-blocking ``GET`` of the local agent (no ``dc``)."""
    return Request("GET", path, params, use_dc=False)


class _LocalHealth(Endpoint):
    """The local health calls of :class:`AgentService`."""

    @endpoint
    def health(self, service_id: str, token: Optional[str] = None) -> Request:
        """
        The local health of one service instance on this agent
        (``GET /v1/agent/health/service/id/:id``): fires with ``(status,
        info)``.

        ``status`` is the aggregated status of the service's checks and the
        node's: ``'passing'``, ``'warning'``, ``'critical'``, or
        ``'maintenance'`` when the node or the service is in maintenance
        mode (no checks at all is ``'passing'``).  Consul encodes it in the
        status code (200, 429, 503), which this call does not treat as an
        error.  ``info`` is ``{'AggregatedStatus', 'Service': {...},
        'Checks': [...]}``.  An unknown ID fails with
        :class:`~txconsul.NotFound`.  Not blocking; no ``dc``.
        """
        return _local_health_request("id/" + path_segment(service_id, "service_id"))

    @endpoint
    def health_by_name(self, name: str, token: Optional[str] = None) -> Request:
        """
        The local health of every instance of a service on this agent
        (``GET /v1/agent/health/service/name/:name``): fires with
        ``(status, [info, ...])``, ``status`` being the worst instance's
        (see :meth:`health`).  A name with no instance here fails with
        :class:`~txconsul.NotFound`.
        """
        return _local_health_request("name/" + path_segment(name, "name"))


class AgentService(_LocalHealth):
    """
    Services of the local agent, as ``consul.agent.service``; also their
    local health (:meth:`health`, :meth:`health_by_name`).
    """

    @endpoint
    def register(
        self,
        name: str,
        service_id: Optional[str] = None,
        address: Optional[str] = None,
        port: Optional[int] = None,
        tags: Optional[Sequence[str]] = None,
        check: Optional[Mapping[str, Any]] = None,
        token: Optional[str] = None,
        script: Optional[ArgsLike] = None,
        interval: Optional[DurationLike] = None,
        ttl: Optional[DurationLike] = None,
        http: Optional[str] = None,
        timeout: Optional[DurationLike] = None,
        enable_tag_override: bool = False,
        *,
        meta: Optional[Mapping[str, str]] = None,
        checks: Optional[Sequence[Mapping[str, Any]]] = None,
        kind: Optional[str] = None,
        proxy: Optional[Mapping[str, Any]] = None,
        connect: Optional[Mapping[str, Any]] = None,
        weights: Optional[Mapping[str, int]] = None,
        tagged_addresses: Optional[Mapping[str, Mapping[str, Any]]] = None,
        locality: Optional[Mapping[str, str]] = None,
        socket_path: Optional[str] = None,
        replace_existing_checks: bool = False,
        extra: Optional[Mapping[str, Any]] = None,
    ) -> Request:
        """
        Register (or replace) a service on the local agent; fires ``True``.

        :param name: the service name.
        :param service_id: unique on this agent; defaults to ``name``.
        :param address: the service address (the node's when omitted).
        :param port: the service port.
        :param tags: a list of tags.
        :param check: one check definition (see :class:`Consul.Check`); its
            ID defaults to ``service:<service_id>``.
        :param checks: several check definitions (keyword only); their IDs
            default to ``service:<service_id>:1``, ``:2``...
        :param meta: a dict of string metadata (keyword only: python-consul
            1.1.0 has no ``meta``, and the position after ``token`` holds its
            deprecated ``script``).
        :param script: deprecated, as in python-consul: with ``interval``,
            a script check (run as ``['sh', '-c', script]``).
        :param ttl: deprecated: a TTL check.
        :param http: deprecated: with ``interval`` (and ``timeout``), an
            HTTP check.
        :param enable_tag_override: let the catalog's tags win over the
            agent's during anti-entropy.

        Keyword only, the fields of Consul's service definition that
        python-consul 1.1 lacks:

        :param kind: ``'connect-proxy'``, ``'mesh-gateway'``,
            ``'terminating-gateway'``, ``'ingress-gateway'``,
            ``'api-gateway'`` (``None``: a typical service).
        :param proxy: the ``Proxy`` object of a proxy or gateway, as Consul
            spells it (``{'DestinationServiceName': 'web', ...}``).
        :param connect: the ``Connect`` object: ``{'Native': True}``, or
            ``{'SidecarService': {...}}`` to register
            ``<service_id>-sidecar-proxy`` with it (``{}`` takes every
            default: a free port from 21000-21255 and TCP and alias checks).
        :param weights: ``{'Passing': n, 'Warning': m}`` (DNS SRV weights;
            lower-case keys are accepted).
        :param tagged_addresses: ``{'lan': {'Address': ..., 'Port': ...}, ...}``.
        :param locality: ``{'Region': ..., 'Zone': ...}``.
        :param socket_path: a Unix socket the service listens on.
        :param replace_existing_checks: drop the service's checks that this
            registration does not define (``?replace-existing-checks``).
        :param extra: more body fields, for what a newer Consul adds:
            merged into the JSON body as given (a key that one of the
            arguments above already sets raises ``ValueError``).
        :raises ValueError: for ``check`` together with a deprecated check
            argument, or a bad combination of those (python-consul
            uses ``assert``).
        """
        payload: dict[str, Any] = {"Name": check_str(name, "name")}
        if service_id is not None:
            payload["ID"] = check_str(service_id, "service_id")
        if address is not None:
            payload["Address"] = check_str(address, "address", allow_empty=True)
        if port is not None:
            if isinstance(port, bool) or not isinstance(port, int):
                raise TypeError(f"port must be an int, not {type(port).__name__}")
            if not 0 <= port < 65536:
                raise ValueError(f"invalid port {port!r}: must be between 0 and 65535")
            payload["Port"] = port
        tag_list = _check_tags(tags)
        if tag_list is not None:
            payload["Tags"] = tag_list
        meta_dict = check_str_map(meta)
        if meta_dict is not None:
            payload["Meta"] = meta_dict
        if enable_tag_override:
            payload["EnableTagOverride"] = True
        legacy = legacy_check(script=script, interval=interval, ttl=ttl, http=http, timeout=timeout)
        if check is not None:
            if legacy is not None:
                raise ValueError("check cannot be combined with script, ttl or http")
            payload["Check"] = _check_check(check)
        elif legacy is not None:
            payload["Check"] = legacy
        if checks is not None:
            if isinstance(checks, Mapping) or not isinstance(checks, (list, tuple)):
                raise TypeError("checks must be a list of check definitions")
            payload["Checks"] = [_check_check(c, "each of checks") for c in checks]
        if kind is not None:
            payload["Kind"] = check_str(kind, "kind", allow_empty=True)
        for value, field, what in (
            (proxy, "Proxy", "proxy"),
            (connect, "Connect", "connect"),
            (locality, "Locality", "locality"),
        ):
            if value is not None:
                payload[field] = _check_object(value, what)
        if weights is not None:
            payload["Weights"] = _check_weights(weights)
        if tagged_addresses is not None:
            payload["TaggedAddresses"] = _check_tagged_addresses(tagged_addresses)
        if socket_path is not None:
            payload["SocketPath"] = check_str(socket_path, "socket_path")
        if extra is not None:
            for key, value in _check_object(extra, "extra").items():
                key = check_str(key, "each key of extra")
                if key in payload:
                    raise ValueError(f"extra sets {key!r}, which the other arguments already set")
                payload[key] = value
        params: list[Param] = []
        if replace_existing_checks:
            params.append(("replace-existing-checks", "true"))
        return _agent_write("/v1/agent/service/register", params, body=payload)

    @endpoint
    def deregister(self, service_id: str, token: Optional[str] = None) -> Request:
        """
        Remove a service and its checks from the local agent; fires ``True``.
        An unknown ID fails with :class:`~txconsul.NotFound` (python-consul
        returns ``False``).
        """
        return _agent_write("/v1/agent/service/deregister/" + path_segment(service_id, "service_id"))

    @endpoint
    def maintenance(
        self,
        service_id: str,
        enable: Union[bool, str],
        reason: Optional[str] = None,
        token: Optional[str] = None,
    ) -> Request:
        """
        Put a service in maintenance mode (a critical check
        ``_service_maintenance:<id>``) or take it out; fires ``True``.

        :param enable: ``True``/``False`` (or ``'true'``/``'false'``).
        :param reason: shown as the check's notes.

        An unknown ID fails with :class:`~txconsul.NotFound` (python-consul
        returns ``False``).
        """
        path = "/v1/agent/service/maintenance/" + path_segment(service_id, "service_id")
        params: list[Param] = [("enable", check_bool_text(enable, "enable"))]
        if reason:
            params.append(("reason", check_str(reason, "reason")))
        return _agent_write(path, params)

    @endpoint
    def get(
        self,
        service_id: str,
        token: Optional[str] = None,
        *,
        hash: Optional[str] = None,
        wait: Optional[DurationLike] = None,
    ) -> Request:
        """
        One local service's definition (with its ``ContentHash``); an
        unknown ID fails with :class:`~txconsul.NotFound`.

        :param hash: a ``ContentHash`` from an earlier answer (keyword
            only): the call blocks until the definition's hash differs or
            ``wait`` (Consul's default: 5 minutes) passes, then fires with
            the current definition.  Consul blocks on a hash for this
            agent-local read only; its answer also carries the hash as
            ``X-Consul-ContentHash``.
        :param wait: how long a ``hash`` call may block.
        """
        path = "/v1/agent/service/" + path_segment(service_id, "service_id")
        if hash is None:
            if wait is not None:
                raise ValueError("wait needs hash: without one, this read does not block")
            return _agent_read(path)
        params: list[Param] = [("hash", check_str(hash, "hash"))]
        return Request("GET", path, params, use_dc=False, long_poll=True)


class AgentCheck(Endpoint):
    """Checks of the local agent, as ``consul.agent.check``."""

    @endpoint
    def register(
        self,
        name: str,
        check: Optional[Mapping[str, Any]] = None,
        check_id: Optional[str] = None,
        notes: Optional[str] = None,
        service_id: Optional[str] = None,
        token: Optional[str] = None,
        script: Optional[ArgsLike] = None,
        interval: Optional[DurationLike] = None,
        ttl: Optional[DurationLike] = None,
        http: Optional[str] = None,
        timeout: Optional[DurationLike] = None,
        *,
        status: Optional[str] = None,
    ) -> Request:
        """
        Register (or replace) a check on the local agent; fires ``True``.

        :param check: the definition (see :class:`Consul.Check`); required
            unless one of the deprecated ``script``/``ttl``/``http``
            arguments is given.
        :param check_id: unique on this agent; defaults to ``name``.
        :param notes: free text for humans.
        :param service_id: attach the check to this local service (an
            unknown service fails with :class:`~txconsul.NotFound`, where
            python-consul returns ``False``).
        :param status: the initial status (keyword only; Consul's default is
            ``'critical'``).
        :raises ValueError: without a check, or for ``check`` together with a
            deprecated check argument (python-consul uses ``assert``).
        """
        payload: dict[str, Any] = {"Name": check_str(name, "name")}
        legacy = legacy_check(script=script, interval=interval, ttl=ttl, http=http, timeout=timeout)
        if check is not None:
            if legacy is not None:
                raise ValueError("check cannot be combined with script, ttl or http")
            payload.update(_check_check(check))
        elif legacy is not None:
            payload.update(legacy)
        else:
            raise ValueError("check is required (see Consul.Check)")
        if check_id is not None:
            payload["ID"] = check_str(check_id, "check_id")
        if notes is not None:
            payload["Notes"] = check_str(notes, "notes", allow_empty=True)
        if service_id is not None:
            payload["ServiceID"] = check_str(service_id, "service_id")
        if status is not None:
            if status not in ("passing", "warning", "critical"):
                raise ValueError(f"invalid status {status!r}: use 'passing', 'warning' or 'critical'")
            payload["Status"] = status
        return _agent_write("/v1/agent/check/register", body=payload)

    @endpoint
    def deregister(self, check_id: str, token: Optional[str] = None) -> Request:
        """
        Remove a check from the local agent; fires ``True``.  An unknown ID
        fails with :class:`~txconsul.NotFound` (python-consul returns
        ``False``).
        """
        return _agent_write("/v1/agent/check/deregister/" + path_segment(check_id, "check_id"))

    @staticmethod
    def _ttl(verb: str, check_id: str, notes: Optional[str]) -> Request:
        path = f"/v1/agent/check/{verb}/" + path_segment(check_id, "check_id")
        params: list[Param] = []
        if notes:
            params.append(("note", check_str(notes, "notes")))
        return _agent_write(path, params)

    @endpoint
    def ttl_pass(self, check_id: str, notes: Optional[str] = None, token: Optional[str] = None) -> Request:
        """
        Mark a TTL check passing (``notes`` becomes its output) and reset its
        TTL; fires ``True``.  An unknown ID fails with
        :class:`~txconsul.NotFound` (python-consul returns ``False``).
        """
        return self._ttl("pass", check_id, notes)

    @endpoint
    def ttl_warn(self, check_id: str, notes: Optional[str] = None, token: Optional[str] = None) -> Request:
        """
        Mark a TTL check warning and reset its TTL; fires ``True``.  An
        unknown ID fails with :class:`~txconsul.NotFound` (python-consul
        returns ``False``).
        """
        return self._ttl("warn", check_id, notes)

    @endpoint
    def ttl_fail(self, check_id: str, notes: Optional[str] = None, token: Optional[str] = None) -> Request:
        """
        Mark a TTL check critical and reset its TTL; fires ``True``.  An
        unknown ID fails with :class:`~txconsul.NotFound` (python-consul
        returns ``False``).
        """
        return self._ttl("fail", check_id, notes)

    @endpoint
    def update(
        self,
        check_id: str,
        status: str,
        output: Optional[str] = None,
        token: Optional[str] = None,
    ) -> Request:
        """Set a TTL check's status (``'passing'``, ``'warning'``, ``'critical'``) and output."""
        if status not in ("passing", "warning", "critical"):
            raise ValueError(f"invalid status {status!r}: use 'passing', 'warning' or 'critical'")
        body: dict[str, Any] = {"Status": status}
        if output is not None:
            body["Output"] = check_str(output, "output", allow_empty=True)
        return _agent_write("/v1/agent/check/update/" + path_segment(check_id, "check_id"), body=body)


class Agent(AgentExtras, Endpoint):
    """
    The local agent, as ``consul.agent``; ``.service`` and ``.check`` hold
    its services and checks.
    """

    def __init__(self, transport: Any) -> None:
        super().__init__(transport)
        #: Local services (:class:`AgentService`).
        self.service = AgentService(transport)
        #: Local checks (:class:`AgentCheck`).
        self.check = AgentCheck(transport)

    @endpoint
    def self(self, token: Optional[str] = None) -> Request:
        """The agent's configuration and member information (``Config``, ``Member``...)."""
        return _agent_read("/v1/agent/self")

    @endpoint
    def services(self, token: Optional[str] = None, filter: Optional[str] = None) -> Request:
        """
        The services registered on this agent: a dict keyed by service ID.

        :param filter: a Consul filter expression (``'Service == "web"'``).
        """
        return _agent_read("/v1/agent/services")

    @endpoint
    def checks(self, token: Optional[str] = None, filter: Optional[str] = None) -> Request:
        """The checks registered on this agent: a dict keyed by check ID."""
        return _agent_read("/v1/agent/checks")

    @endpoint
    def members(
        self, wan: bool = False, token: Optional[str] = None, filter: Optional[str] = None
    ) -> Request:
        """The members of the LAN gossip pool (``wan=True``: the WAN pool of servers)."""
        params: list[Param] = []
        if wan:
            params.append(("wan", "1"))
        return _agent_read("/v1/agent/members", params)

    @endpoint
    def maintenance(
        self, enable: Union[bool, str], reason: Optional[str] = None, token: Optional[str] = None
    ) -> Request:
        """
        Put the node in maintenance mode (a critical ``_node_maintenance``
        check) or take it out; fires ``True``.

        :param enable: ``True``/``False``, or python-consul's
            ``'true'``/``'false'``.
        :param reason: shown as the check's notes.
        """
        params: list[Param] = [("enable", check_bool_text(enable, "enable"))]
        if reason:
            params.append(("reason", check_str(reason, "reason")))
        return _agent_write("/v1/agent/maintenance", params)

    @endpoint
    def join(self, address: str, wan: bool = False, token: Optional[str] = None) -> Request:
        """Ask the agent to join the gossip pool at ``address``; fires ``True``."""
        params: list[Param] = [("wan", "1")] if wan else []
        return _agent_write("/v1/agent/join/" + path_segment(address, "address"), params)

    @endpoint
    def leave(self, token: Optional[str] = None) -> Request:
        """
        Make the agent leave the cluster gracefully and shut down
        (``PUT /v1/agent/leave``); fires ``True``.  A real agent stops
        answering afterwards; FakeConsul records it (``AgentPart.left``) and
        keeps serving.
        """
        return _agent_write("/v1/agent/leave")

    @endpoint
    def force_leave(self, node: str, token: Optional[str] = None, *, prune: bool = False) -> Request:
        """
        Force a failed node into the left state; fires ``True``.

        :param prune: also remove it from the member list (keyword only).
        """
        params: list[Param] = [("prune", None)] if prune else []
        return _agent_write("/v1/agent/force-leave/" + path_segment(node, "node"), params)
