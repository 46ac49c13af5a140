# -*- test-case-name: tests.test_agent -*-
"""
FakeConsul's local agent: ``/v1/agent/*``, its services and checks.  The
check runners are in :mod:`txconsul.testing._checks`.

Agent services and checks are written to the catalog (``core.catalog``) at
once, as if anti-entropy ran instantly.  Check runners:

* TTL checks go critical with ``TTL expired`` (or ``TTL expired (last output
  before timeout follows): <output>`` when an update had set one) when their
  TTL passes on ``core.clock`` without an update (``pass``/``warn``/``fail``/
  ``update`` restart it).  Update output longer than 4096 bytes is cut as
  Consul cuts it (``<first 4096> ... (captured 4096 of N bytes)``).
* HTTP, TCP and script checks run every ``Interval`` on ``core.clock``, the
  first time right after registration (Consul waits a random part of one
  interval first), but **only when the FakeConsul was given a reactor**
  (``core.reactor``): they make real connections and spawn real processes.
  Without one (the usual in-memory fake on a ``Clock``) they stay at their
  initial status (critical unless ``Status`` was given), and a test sets their
  status with the catalog's ``update_check``.  As in Consul
  (``checks.MinInterval``), an interval under one second is raised to one
  second; a test that wants faster checks sets
  ``fake.core.min_check_interval`` (seconds, default ``1.0``).
* Docker, gRPC, H2PING, UDP, OS-service and alias checks never run: they keep
  their initial status.
* Script checks (``Args``/Docker) are refused unless the fake was built with
  ``enable_script_checks=True``.
* ``DeregisterCriticalServiceAfter`` works as in Consul: values under
  ``core.check_deregister_interval_min`` (default one minute) are raised to
  it, and a reaper running every ``core.check_reap_interval`` (default 30
  seconds, counted from the fake's start) deregisters a service whose check
  has been critical for longer than that.
* Re-registering a check (or a service with its checks) keeps the check's
  current status and output, as Consul does.
* ``PUT /v1/agent/leave`` answers 200 and sets :attr:`AgentPart.left`; the
  fake keeps serving (a real agent shuts down).
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import re
from typing import Any, Callable, Optional

from twisted.internet.defer import Deferred, DeferredList
from twisted.logger import Logger

from ._acl import ACLSystem
from ._authz import denial, require
from ._catalog import CRITICAL, PASSING, STATUSES, WARNING, CatalogPart, apply_filter, normalize, _canon
from ._checks import (
    CheckType,
    IntervalRunner,
    Runner,
    TTLRunner,
    http_probe,
    script_probe,
    tcp_probe,
)
from ._core import (
    DEFAULT_QUERY_TIME,
    MAX_QUERY_TIME,
    FakeCore,
    FakeRequest,
    HTTPError,
    Reply,
    Route,
    parse_query_options,
)
from ._gofmt import go_duration, go_quote
from ._gojson import decode_body
from ._shapes import CHECK_DEFINITION, CHECK_UPDATE, SERVICE_DEFINITION
from ._status import StatusPart

log = Logger()

NODE_MAINT_ID = "_node_maintenance"
SERVICE_MAINT_PREFIX = "_service_maintenance:"
DEFAULT_NODE_MAINT_REASON = (
    "Maintenance mode is enabled for this node, but no reason was provided. This is a default message."
)
DEFAULT_SERVICE_MAINT_REASON = (
    "Maintenance mode is enabled for this service, but no reason was provided. This is a default message."
)
SCRIPTS_DISABLED = (
    "Scripts are disabled on this agent from remote calls; to enable, configure "
    "'enable_script_checks' to true"
)
HEALTH_MAINT = "maintenance"
_SERVICE_KEYS = _canon(
    [
        "ID",
        "Name",
        "Tags",
        "Address",
        "TaggedAddresses",
        "Meta",
        "Port",
        "Kind",
        "Proxy",
        "Connect",
        "Check",
        "Checks",
        "EnableTagOverride",
        "Weights",
        "Namespace",
        "Locality",
        "SocketPath",
    ]
)
_CONNECT_KEYS = _canon(["Native", "SidecarService"])
#: structs.SidecarProxySuffix: a sidecar's ID and default name end so.
SIDECAR_SUFFIX = "-sidecar-proxy"
#: A dev agent's ports.sidecar_min_port / sidecar_max_port (agent/config/default.go).
SIDECAR_PORTS = (21000, 21255)
#: structs.ServiceKind values a registration may name ("" is a typical service).
SERVICE_KINDS = frozenset(
    [
        "connect-proxy",
        "mesh-gateway",
        "terminating-gateway",
        "ingress-gateway",
        "api-gateway",
        "destination",
    ]
)
_CHECK_KEYS = _canon(
    [
        "ID",
        "Name",
        "Notes",
        "ServiceID",
        "Status",
        "TTL",
        "HTTP",
        "Header",
        "Method",
        "Body",
        "TLSSkipVerify",
        "TLSServerName",
        "TCP",
        "UDP",
        "GRPC",
        "GRPCUseTLS",
        "H2PING",
        "Args",
        "DockerContainerID",
        "Shell",
        "AliasNode",
        "AliasService",
        "Interval",
        "Timeout",
        "DeregisterCriticalServiceAfter",
        "OutputMaxSize",
        "SuccessBeforePassing",
        "FailuresBeforeCritical",
        "FailuresBeforeWarning",
        "Script",
        "Output",
        "OSService",
        "H2PingUseTLS",
        "DisableRedirects",
    ]
)
_CHECK_ALIASES = {"checkid": "id", "scriptargs": "args", "serviceid": "serviceid"}


def _unknown_service(sid: str) -> HTTPError:
    return HTTPError(
        404,
        f"Unknown service ID {go_quote(sid)}. Ensure that the service ID is passed, not the service name.",
    )


def _unknown_check(cid: str) -> HTTPError:
    return HTTPError(
        404, f"Unknown check ID {go_quote(cid)}. Ensure that the check ID is passed, not the check name."
    )


_META_KEY = re.compile(r"[a-zA-Z0-9_-]+\Z")


def validate_meta(meta: dict[str, str]) -> Optional[str]:
    """Consul's ``validateMetadata`` for service meta: the error, or ``None``."""
    if len(meta) > 64:
        return "Node metadata cannot contain more than 64 key/value pairs"
    for key, value in meta.items():
        reason = None
        if key == "":
            reason = "Key cannot be blank"
        elif not _META_KEY.match(key):
            reason = "Key contains invalid characters"
        elif len(key) > 128:
            reason = "Key is too long (limit: 128 characters)"
        elif key.startswith("consul-"):
            reason = "Key prefix 'consul-' is reserved for internal use"
        elif len(value) > 512:
            reason = "Value is too long (limit: 512 characters)"
        if reason is not None:
            return f"Couldn't load metadata pair ('{key}', '{value}'): {reason}"
    return None


def _tagged_addresses(raw: Any, address: str, port: int) -> dict[str, dict[str, Any]]:
    """
    A service's ``TaggedAddresses`` as Consul keeps them (``{name: {Address,
    Port}}``), with ``lan_ipv4``/``wan_ipv4`` (or ``_ipv6``) added from an IP
    ``Address`` (agent.go ``addServiceInternal``).
    """
    out: dict[str, dict[str, Any]] = {}
    if isinstance(raw, dict):
        for name, value in raw.items():
            v = normalize(value, _canon(["Address", "Port"])) if isinstance(value, dict) else {}
            out[str(name)] = {"Address": str(v.get("Address") or ""), "Port": int(v.get("Port") or 0)}
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is not None:
        kind = "ipv4" if ip.version == 4 else "ipv6"
        for name in (f"lan_{kind}", f"wan_{kind}"):
            out.setdefault(name, {"Address": address, "Port": port})
    return out


def _check_tagged(tagged: dict[str, dict[str, Any]]) -> Optional[str]:
    """agent.go ``validateService``: tagged ``lan_ipv4``/``wan_ipv4``/``lan_ipv6`` must be IPs of their kind."""
    for name, version in (("lan_ipv4", 4), ("wan_ipv4", 4), ("lan_ipv6", 6)):
        if name in tagged:
            try:
                ok = ipaddress.ip_address(tagged[name]["Address"]).version == version
            except ValueError:
                ok = False
            if not ok:
                kind = "ipv4" if version == 4 else "ipv6"
                return f"Service tagged address {go_quote(name)} must be a valid {kind} address"
    return None


#: envoyextensions/xdscommon/ENVOY_VERSIONS: the Envoy releases the xDS
#: server supports (Consul 1.20's list).
ENVOY_VERSIONS = ("1.31.2", "1.30.6", "1.29.9", "1.28.7")


def _host_port(host: str, port: int) -> str:
    """ipaddr.FormatAddressPort: IPv6 hosts in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _parse_check(raw: Any) -> CheckType:
    body = normalize(raw, _CHECK_KEYS, _CHECK_ALIASES)
    return CheckType(body)


def _enable_param(req: FakeRequest) -> bool:
    raw = req.get("enable")
    if raw is None or raw == "":
        raise HTTPError(400, "Missing value for enable")
    value = {
        "1": True,
        "t": True,
        "T": True,
        "TRUE": True,
        "true": True,
        "True": True,
        "0": False,
        "f": False,
        "F": False,
        "FALSE": False,
        "false": False,
        "False": False,
    }.get(raw)
    if value is None:
        raise HTTPError(400, f"Invalid value for enable: {go_quote(raw)}")
    return value


# -- the agent ------------------------------------------------------------------------


class AgentPart:
    """
    The local agent of a FakeConsul: its services, checks, maintenance
    modes, and the ``/v1/agent/*`` endpoints.

    :ivar services: service ID -> the agent's service dict.
    :ivar checks: check ID -> the agent's check dict.
    """

    def __init__(self, core: FakeCore, acl: ACLSystem, catalog: CatalogPart, status: StatusPart) -> None:
        self.core = core
        self.acl = acl
        self.catalog = catalog
        self.status = status
        self.services: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, dict[str, Any]] = {}
        self._runners: dict[str, Runner] = {}
        #: script check processes not yet reaped -> Deferred fired on reaping.
        self.processes: dict[Any, Deferred] = {}
        self._types: dict[str, CheckType] = {}
        #: Whether ``PUT /v1/agent/leave`` was called.
        self.left = False
        self._leave_listeners: list[Callable[[], None]] = []
        #: service IDs registered without ``Tags`` (Go's nil slice: ``null``
        #: in the check lists of ``/v1/agent/health/service``).
        self._nil_tags: set[str] = set()
        #: sidecar service ID -> the ID of the service that registered it.
        self._sidecars: dict[str, str] = {}
        #: check ID -> DeregisterCriticalServiceAfter in effect (seconds).
        self._reap_after: dict[str, float] = {}
        #: check ID -> clock time it went critical.
        self._critical_since: dict[str, float] = {}
        self._started = core.clock.seconds()
        self._reaper: Any = None

    # -- state ----------------------------------------------------------------

    @property
    def node(self) -> str:
        """The agent's node name."""
        return self.core.node_name

    def set_status(self, check_id: str, status: str, output: str) -> bool:
        """Set a local check's status and output; returns whether it changed."""
        check = self.checks.get(check_id)
        if check is None:
            return False
        changed = check["Status"] != status or check["Output"] != output
        self._track_critical(check_id, check["Status"], status)
        check["Status"] = status
        check["Output"] = output
        catalog = self.catalog
        if catalog.get_check(self.node, check_id) is None:
            self._sync_check(check_id, self.core.next_index())
            return True
        return catalog.update_check(self.node, check_id, status, output) or changed

    def _sync_check(self, check_id: str, idx: int) -> None:
        check = self.checks[check_id]
        if check["ServiceID"] and self.catalog.get_service(self.node, check["ServiceID"]) is None:
            return
        self.catalog.set_check(
            {k: v for k, v in check.items() if k not in ("CreateIndex", "ModifyIndex")}, idx
        )

    def _track_critical(self, check_id: str, old: Optional[str], new: str) -> None:
        if new != CRITICAL:
            self._critical_since.pop(check_id, None)
        elif old != CRITICAL or check_id not in self._critical_since:
            self._critical_since[check_id] = self.core.clock.seconds()

    def add_check(self, check_id: str, check: dict[str, Any], ct: Optional[CheckType], idx: int) -> None:
        """
        Store a local check, write it to the catalog and start its runner.  A
        check that already exists keeps its status and output, as in Consul.
        """
        previous = self.checks.get(check_id)
        self._stop(check_id)
        svc = self.services.get(check.get("ServiceID") or "")
        entry = {
            "Node": self.node,
            "CheckID": check_id,
            "Name": check["Name"],
            "Status": check.get("Status") or CRITICAL,
            "Notes": check.get("Notes") or "",
            "Output": check.get("Output") or "",
            "ServiceID": svc["ID"] if svc else "",
            "ServiceName": svc["Service"] if svc else "",
            "ServiceTags": list(svc["Tags"]) if svc else [],
            "Type": check.get("Type") or (ct.kind if ct else ""),
            "Interval": check.get("Interval") or "",
            "Timeout": check.get("Timeout") or "",
            "ExposedPort": 0,
            # agent/agent.go addServiceInternal and structs.CheckDefinition
            # HealthCheck() build the check without a Definition, so an
            # agent check shows the empty HealthCheckDefinition ({}).
            "Definition": {},
            "CreateIndex": 0,
            "ModifyIndex": 0,
        }
        if previous is not None:
            entry["Status"] = previous["Status"]
            entry["Output"] = previous["Output"]
        self._critical_since.pop(check_id, None)
        self._track_critical(check_id, None, entry["Status"])
        self.checks[check_id] = entry
        self._sync_check(check_id, idx)
        if ct is not None:
            self._types[check_id] = ct
            runner = self._runner_for(check_id, ct)
            if runner is not None:
                self._runners[check_id] = runner
                runner.start()
            if ct.dcsa > 0:
                floor = self.core.check_deregister_interval_min
                self._reap_after[check_id] = max(ct.dcsa, floor)
                self._schedule_reaper()

    # -- DeregisterCriticalServiceAfter ------------------------------------------

    def _schedule_reaper(self) -> None:
        if self._reaper is not None and self._reaper.active():
            return
        period = self.core.check_reap_interval
        now = self.core.clock.seconds()
        ticks = int((now - self._started) // period) + 1
        when = self._started + ticks * period
        self._reaper = self.core.clock.callLater(when - now, self._reap, when)

    def _reap(self, now: float) -> None:
        """agent.go ``reapServicesInternal``: one pass of the reaper, due at ``now``."""
        self._reaper = None
        reaped: set[str] = set()
        for cid, timeout in sorted(self._reap_after.items()):
            check = self.checks.get(cid)
            if check is None or check["Status"] != CRITICAL or not check["ServiceID"]:
                continue
            sid = check["ServiceID"]
            since = self._critical_since.get(cid)
            if sid in reaped or since is None:
                continue
            if now - since > timeout and sid in self.services:
                reaped.add(sid)
                log.info("deregistered service {sid} with critical check {cid}", sid=sid, cid=cid)
                self.remove_service(sid, self.core.next_index())
        if reaped:
            self.core.changed()
        if self._reap_after:
            period = self.core.check_reap_interval
            when = now + period
            self._reaper = self.core.clock.callLater(
                max(0.0, when - self.core.clock.seconds()), self._reap, when
            )

    def _runner_for(self, check_id: str, ct: CheckType) -> Optional[Runner]:
        core = self.core
        if ct.ttl > 0:
            return TTLRunner(self, check_id, ct.ttl, ct.output_max_size)
        if core.reactor is None:
            return None
        # agent.go addCheck raises intervals under checks.MinInterval.
        interval = max(ct.interval, core.min_check_interval)
        if ct.kind == "http":
            return IntervalRunner(self, check_id, interval, http_probe(core.reactor, core.clock, ct))
        if ct.kind == "tcp":
            return IntervalRunner(self, check_id, interval, tcp_probe(core.reactor, core.clock, ct))
        if ct.kind == "script":
            return IntervalRunner(
                self, check_id, interval, script_probe(core.reactor, core.clock, ct, self.processes)
            )
        return None

    def runner_interval(self, check_id: str) -> Optional[float]:
        """The interval a check's runner uses (after the minimum), or ``None``."""
        runner = self._runners.get(check_id)
        return runner.interval if isinstance(runner, IntervalRunner) else None

    def _stop(self, check_id: str) -> None:
        runner = self._runners.pop(check_id, None)
        if runner is not None:
            runner.stop()
        self._types.pop(check_id, None)
        self._reap_after.pop(check_id, None)

    def remove_check(self, check_id: str, idx: int) -> None:
        """Remove a local check: stop its runner, drop it from the catalog."""
        self._stop(check_id)
        self.checks.pop(check_id, None)
        self._critical_since.pop(check_id, None)
        self.catalog.remove_check(self.node, check_id, idx)

    def remove_service(self, service_id: str, idx: int) -> None:
        """Remove a local service and all its checks."""
        for cid, check in list(self.checks.items()):
            if check["ServiceID"] == service_id:
                self.remove_check(cid, idx)
        self.services.pop(service_id, None)
        self._nil_tags.discard(service_id)
        self._sidecars.pop(service_id, None)
        self.catalog.remove_service(self.node, service_id, idx)
        # agent.go removeServiceSidecars: a sidecar registered with the
        # service goes with it.
        for side, parent in list(self._sidecars.items()):
            if parent == service_id and side in self.services:
                self.remove_service(side, idx)

    def stop(self) -> "Deferred[None]":
        """
        Stop every check runner (for test cleanup); fires once every script
        check process still running has been killed and reaped.
        """
        for cid in list(self._runners):
            self._stop(cid)
        self._reap_after.clear()
        if self._reaper is not None and self._reaper.active():
            self._reaper.cancel()
        self._reaper = None
        pending = list(self.processes.values())
        return DeferredList(pending).addCallback(lambda _: None)

    # -- HTTP ---------------------------------------------------------------------

    def routes(self) -> list[Route]:
        """``/v1/agent/*``."""
        return [
            Route("/v1/agent/self", ("GET",), self._self),
            Route("/v1/agent/members", ("GET",), self._members),
            Route("/v1/agent/services", ("GET",), self._services),
            Route("/v1/agent/checks", ("GET",), self._checks),
            Route("/v1/agent/maintenance", ("PUT",), self._maintenance),
            Route("/v1/agent/join/", ("PUT",), self._join),
            Route("/v1/agent/force-leave/", ("PUT",), self._force_leave),
            Route("/v1/agent/leave", ("PUT",), self._leave),
            Route("/v1/agent/health/service/id/", ("GET",), self._health_by_id),
            Route("/v1/agent/health/service/name/", ("GET",), self._health_by_name),
            Route("/v1/agent/service/register", ("PUT",), self._service_register),
            Route("/v1/agent/service/deregister/", ("PUT",), self._service_deregister),
            Route("/v1/agent/service/maintenance/", ("PUT",), self._service_maintenance),
            Route("/v1/agent/service/", ("GET",), self._service_get),
            Route("/v1/agent/check/register", ("PUT",), self._check_register),
            Route("/v1/agent/check/deregister/", ("PUT",), self._check_deregister),
            Route("/v1/agent/check/pass/", ("PUT",), lambda r: self._ttl_update(r, PASSING)),
            Route("/v1/agent/check/warn/", ("PUT",), lambda r: self._ttl_update(r, WARNING)),
            Route("/v1/agent/check/fail/", ("PUT",), lambda r: self._ttl_update(r, CRITICAL)),
            Route("/v1/agent/check/update/", ("PUT",), self._check_update),
        ]

    def _member(self, wan: bool = False) -> dict[str, Any]:
        core = self.core
        node = self.catalog.nodes.get(core.node_name) or {}
        return {
            "Name": f"{core.node_name}.{core.datacenter}" if wan else core.node_name,
            "Addr": core.address,
            "Port": 8302 if wan else 8301,
            "Tags": {
                "build": f"{core.profile.version}:fake",
                "dc": core.datacenter,
                "id": node.get("ID", ""),
                "port": "8300",
                "role": "consul",
                "segment": "",
                "vsn": "2",
                "vsn_max": "3",
                "vsn_min": "2",
            },
            "Status": 1,
            "ProtocolMin": 1,
            "ProtocolMax": 5,
            "ProtocolCur": 2,
            "DelegateMin": 2,
            "DelegateMax": 5,
            "DelegateCur": 4,
        }

    def _self(self, req: FakeRequest) -> Reply:
        core = self.core
        require(req, "agent", core.node_name, "read")
        node = self.catalog.nodes.get(core.node_name) or {}
        return Reply(
            {
                "Config": {
                    "Datacenter": core.datacenter,
                    "PrimaryDatacenter": core.datacenter,
                    "NodeName": core.node_name,
                    "NodeID": node.get("ID", ""),
                    "Revision": "fake",
                    "Server": True,
                    "Version": core.profile.version,
                    "BuildDate": "2024-01-01T00:00:00Z",
                },
                "DebugConfig": self._debug_config(node),
                "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05},
                "Member": self._member(),
                "Stats": self._stats(),
                "Meta": dict(node.get("Meta") or {}),
                # agent_endpoint.go AgentSelf: a dev agent runs the xDS server on
                # its gRPC ports (plain-text 8502, TLS 8503 in dev mode); Port
                # prefers the TLS one.
                "xDS": {
                    "SupportedProxies": {"envoy": list(ENVOY_VERSIONS)},
                    "Port": 8503,
                    "Ports": {"Plaintext": 8502, "TLS": 8503},
                },
            }
        )

    def _stats(self) -> dict[str, dict[str, str]]:
        """
        ``Stats`` as agent.go ``Stats`` and consul/server.go ``Stats`` fill
        them for a single dev server: every value a string.
        """
        core = self.core
        idx = str(core.index)
        serf = {
            "members": "1",
            "failed": "0",
            "left": "0",
            "health_score": "0",
            "member_time": "1",
            "event_time": "1",
            "query_time": "1",
            "intent_queue": "0",
            "event_queue": "0",
            "query_queue": "0",
            "encrypted": "false",
            "coordinate_resets": "0",
        }
        leader = self.status.server_address
        return {
            "agent": {
                "check_monitors": "0",
                "check_ttls": str(sum(1 for r in self._runners.values() if isinstance(r, TTLRunner))),
                "checks": str(len(self.checks)),
                "services": str(len(self.services)),
            },
            "build": {
                "prerelease": "",
                "revision": "fake",
                "version": core.profile.version,
                "version_metadata": "",
            },
            "consul": {
                "acl": "enabled" if self.acl.enabled else "disabled",
                "bootstrap": "true",
                "known_datacenters": "1",
                "leader": "true",
                "leader_addr": leader,
                "server": "true",
            },
            "raft": {
                "applied_index": idx,
                "commit_index": idx,
                "fsm_pending": "0",
                "last_contact": "0",
                "last_log_index": idx,
                "last_log_term": "2",
                "last_snapshot_index": "0",
                "last_snapshot_term": "0",
                "latest_configuration": f"[{{Suffrage:Voter ID:{self._node_id()} Address:{leader}}}]",
                "latest_configuration_index": "0",
                "num_peers": "0",
                "protocol_version": "3",
                "protocol_version_max": "3",
                "protocol_version_min": "0",
                "snapshot_version_max": "1",
                "snapshot_version_min": "0",
                "state": "Leader",
                "term": "2",
            },
            "runtime": {
                "arch": "amd64",
                "cpu_count": "1",
                "goroutines": "100",
                "max_procs": "1",
                "os": "linux",
                "version": "go1.23.10",
            },
            "serf_lan": dict(serf),
            "serf_wan": dict(serf),
        }

    def _node_id(self) -> str:
        node = self.catalog.nodes.get(self.core.node_name) or {}
        return str(node.get("ID", ""))

    def _debug_config(self, node: dict[str, Any]) -> dict[str, Any]:
        """
        The ``DebugConfig`` fields clients read (agent/config/runtime.go
        ``Sanitized``: addresses as ``tcp://host:port``, durations as Go
        strings); a real agent reports a few hundred more.
        """
        core = self.core
        addr = core.address
        return {
            "ACLsEnabled": bool(self.acl.enabled),
            "AdvertiseAddrLAN": addr,
            "AdvertiseAddrWAN": addr,
            "BindAddr": addr,
            "Bootstrap": True,
            "ClientAddrs": [addr],
            "Datacenter": core.datacenter,
            "DevMode": True,
            "DNSPort": 8600,
            "EnableScriptChecks": core.enable_script_checks,
            "GRPCPort": 8502,
            "GRPCTLSPort": 8503,
            "HTTPPort": 8500,
            "HTTPSPort": -1,
            "NodeID": node.get("ID", ""),
            "NodeMeta": dict(core.node_meta),
            "NodeName": core.node_name,
            "PrimaryDatacenter": core.datacenter,
            "RPCAdvertiseAddr": f"tcp://{addr}:8300",
            "RPCBindAddr": f"tcp://{addr}:8300",
            "Revision": "fake",
            "SerfAdvertiseAddrLAN": f"tcp://{addr}:8301",
            "SerfAdvertiseAddrWAN": f"tcp://{addr}:8302",
            "SerfBindAddrLAN": f"tcp://{addr}:8301",
            "SerfBindAddrWAN": f"tcp://{addr}:8302",
            "SerfPortLAN": 8301,
            "SerfPortWAN": 8302,
            "ServerMode": True,
            "ServerPort": 8300,
            "SessionTTLMin": go_duration(core.session_ttl_min),
            "Version": core.profile.version,
        }

    def _members(self, req: FakeRequest) -> Reply:
        wan = (req.get("wan") or "") != ""
        if wan and req.get("segment"):
            raise HTTPError(400, "Cannot provide a segment with wan=true")
        members = [self._member(wan)]
        members = [m for m in members if req.authz.allowed("node", self.core.node_name, "read")]
        return Reply(apply_filter(req, members))

    def _services(self, req: FakeRequest) -> Reply:
        items = [
            self.agent_service(s)
            for _, s in sorted(self.services.items())
            if req.authz.allowed("service", s["Service"], "read")
        ]
        items = apply_filter(req, items)
        return Reply({s["ID"]: s for s in items})

    def _checks(self, req: FakeRequest) -> Reply:
        items = []
        for _, c in sorted(self.checks.items()):
            if c["ServiceID"]:
                ok = req.authz.allowed("service", c["ServiceName"], "read")
            else:
                ok = req.authz.allowed("node", c["Node"], "read")
            if ok:
                items.append(dict(c))
        items = apply_filter(req, items)
        return Reply({c["CheckID"]: c for c in items})

    def _maintenance(self, req: FakeRequest) -> Reply:
        enable = _enable_param(req)
        require(req, "node", self.node, "write")
        if enable:
            if NODE_MAINT_ID not in self.checks:
                idx = self.core.next_index()
                self.add_check(
                    NODE_MAINT_ID,
                    {
                        "Name": "Node Maintenance Mode",
                        "Notes": req.get("reason") or DEFAULT_NODE_MAINT_REASON,
                        "Status": CRITICAL,
                        "Type": "maintenance",
                    },
                    None,
                    idx,
                )
        elif NODE_MAINT_ID in self.checks:
            self.remove_check(NODE_MAINT_ID, self.core.next_index())
        return Reply(b"", json=False)

    def _join(self, req: FakeRequest) -> Reply:
        require(req, "agent", self.node, "write")
        address = req.tail
        host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
        if host.strip("[]") in (self.core.address, self.core.node_name, "127.0.0.1", "localhost", "::1"):
            return Reply(b"", json=False)
        port = "8302" if (req.get("wan") or "") else "8301"
        target = address if ":" in address else f"{address}:{port}"
        raise HTTPError(
            500,
            f"1 error occurred:\n\t* Failed to join {target}: dial tcp {target}: connect: connection refused\n\n",
        )

    def _force_leave(self, req: FakeRequest) -> Reply:
        require(req, "operator", "", "write")
        node = req.tail
        if node != self.node and node not in self.catalog.nodes:
            raise HTTPError(500, f"agent: No node found with name '{node}'")
        return Reply(b"", json=False)

    # services

    def _parse_service(self, raw: Any, what: str = "") -> dict[str, Any]:
        """
        Validate one service definition (the request's, or its
        ``Connect.SidecarService``) and return its fields: the steps of
        agent_endpoint.go AgentRegisterService up to the ACL check.
        """
        body = normalize(raw if raw is not None else {}, _SERVICE_KEYS)
        tags = body.get("Tags")
        meta = body.get("Meta")
        name = body.get("Name") or ""
        if not name and not what:
            raise HTTPError(400, "Missing service name")
        sid = body.get("ID") or name
        address = body.get("Address") or ""
        if address in ("0.0.0.0", "::", "[::]"):
            raise HTTPError(400, "Invalid service address")
        raw_weights = body.get("Weights")
        if isinstance(raw_weights, dict):
            w = normalize(raw_weights, _canon(["Passing", "Warning"]))
            # A Weights object decodes missing fields as 0 (Warning is kept).
            weights = {"Passing": int(w.get("Passing") or 0), "Warning": int(w.get("Warning") or 0)}
            if weights["Passing"] < 1:
                raise HTTPError(400, "Invalid Weights: Passing must be greater than 0")
            if weights["Warning"] < 0:
                raise HTTPError(400, "Invalid Weights: Warning must be greater or equal than 0")
            if weights["Passing"] > 65535 or weights["Warning"] > 65535:
                # structs.go ValidateWeights' third rule.
                raise HTTPError(400, "Invalid Weights: DNS Weight must be between 0 and 65535")
        else:
            weights = {"Passing": 1, "Warning": 1}
        # ServiceDefinition.NodeService copies Meta as decoded: a nil map
        # when the body has none (null in the catalog's NodeService views).
        meta = dict(meta) if isinstance(meta, dict) else None
        reason = validate_meta(meta or {})
        if reason is not None:
            raise HTTPError(400, f"Invalid Service Meta: {reason}")
        raws = []
        if body.get("Check"):
            raws.append(body["Check"])
        raws.extend(body.get("Checks") or [])
        parsed = []
        for raw_check in raws:
            if not isinstance(raw_check, dict):
                raise HTTPError(400, "Request decode failed: a check must be an object")
            ct = _parse_check(raw_check)
            reason = ct.validate()
            if reason is not None:
                if what:
                    raise HTTPError(400, f"Invalid check in sidecar_service: {reason}")
                raise HTTPError(400, f"Invalid check: {reason}")
            # An embedded check (structs.CheckType) names its ID "CheckID" only.
            ct.check_id = next(
                (str(v) for k, v in raw_check.items() if str(k).lower().replace("_", "") == "checkid" and v),
                "",
            )
            parsed.append(ct)
        for ct in parsed:
            status = ct.raw.get("Status") or ""
            if status and status not in STATUSES:
                raise HTTPError(400, "Status for checks must 'passing', 'warning', 'critical'")
        kind = body.get("Kind") or ""
        proxy = copy.deepcopy(body.get("Proxy")) if isinstance(body.get("Proxy"), dict) else None
        connect = (
            normalize(body.get("Connect"), _CONNECT_KEYS) if isinstance(body.get("Connect"), dict) else {}
        )
        sidecar_raw = connect.pop("SidecarService", None)
        if what and sidecar_raw is not None:
            raise HTTPError(
                400, "Invalid SidecarService: A SidecarService cannot have a nested SidecarService"
            )
        locality = body.get("Locality") if isinstance(body.get("Locality"), dict) else None
        return {
            "ID": sid,
            "Service": name,
            "Tags": tags,
            "Meta": meta,
            "Port": int(body.get("Port") or 0),
            "Address": address,
            "Weights": weights,
            "EnableTagOverride": bool(body.get("EnableTagOverride", False)),
            "TaggedAddresses": body.get("TaggedAddresses"),
            "Kind": kind,
            "Proxy": proxy,
            "Connect": connect,
            "Locality": copy.deepcopy(locality),
            "SocketPath": body.get("SocketPath") or "",
            "checks": parsed,
            "sidecar": sidecar_raw,
        }

    def _sidecar_of(self, parent: dict[str, Any]) -> dict[str, Any]:
        """
        The sidecar a ``Connect.SidecarService`` asks for, with Consul's
        defaults (agent/sidecar_service.go sidecarServiceFromNodeService,
        sidecarPortFromServiceIDLocked and sidecarDefaultChecks).
        """
        side = self._parse_service(parent["sidecar"], "sidecar")
        side["ID"] = parent["ID"] + SIDECAR_SUFFIX
        if side["Meta"]:
            reason = validate_meta(side["Meta"])
            if reason is not None:
                raise HTTPError(400, f"Invalid SidecarService: {reason}")
        elif parent["Meta"]:
            side["Meta"] = dict(parent["Meta"])
        if not side["Tags"] and parent["Tags"]:
            side["Tags"] = list(parent["Tags"])
        side["Kind"] = side["Kind"] or "connect-proxy"
        side["Service"] = side["Service"] or parent["Service"] + SIDECAR_SUFFIX
        side["Address"] = side["Address"] or parent["Address"]
        proxy = dict(side["Proxy"] or {})
        proxy["DestinationServiceName"] = proxy.get("DestinationServiceName") or parent["Service"]
        proxy["DestinationServiceID"] = proxy.get("DestinationServiceID") or parent["ID"]
        if not proxy.get("LocalServiceSocketPath") and (
            not proxy.get("LocalServiceAddress") or int(proxy.get("LocalServicePort") or 0) < 1
        ):
            if parent["SocketPath"]:
                proxy["LocalServiceSocketPath"] = parent["SocketPath"]
            else:
                proxy["LocalServiceAddress"] = proxy.get("LocalServiceAddress") or "127.0.0.1"
                if int(proxy.get("LocalServicePort") or 0) < 1:
                    proxy["LocalServicePort"] = parent["Port"]
        side["Proxy"] = proxy
        if side["Port"] < 1:
            side["Port"] = self._sidecar_port(side["ID"])
        if not side["checks"]:
            address = side["Address"] or proxy.get("LocalServiceAddress") or ""
            side["checks"] = [
                CheckType(
                    {
                        "Name": "Connect Sidecar Listening",
                        "TCP": _host_port(address, side["Port"]),
                        "Interval": "10s",
                    }
                ),
                CheckType({"Name": "Connect Sidecar Aliasing " + parent["ID"], "AliasService": parent["ID"]}),
            ]
        return side

    def _sidecar_port(self, sidecar_id: str) -> int:
        """The lowest free port of the sidecar range, or the one it has."""
        low, high = SIDECAR_PORTS
        used = set()
        for other in self.services.values():
            if low <= other["Port"] <= high:
                if other["ID"] == sidecar_id:
                    return int(other["Port"])
                used.add(other["Port"])
        for port in range(low, high + 1):
            if port not in used:
                return port
        raise HTTPError(
            400,
            f"Invalid SidecarService: no port provided for sidecar_service and none "
            f"left in the configured range [{low}, {high}]",
        )

    @staticmethod
    def _validate_for_agent(fields: dict[str, Any]) -> Optional[str]:
        """structs.go NodeService.ValidateForAgent's Connect rules, as a multierror text."""
        errors = []
        if fields["Kind"] == "connect-proxy":
            if not str((fields["Proxy"] or {}).get("DestinationServiceName") or "").strip():
                errors.append("Proxy.DestinationServiceName must be non-empty for Connect proxy services")
            if (fields["Connect"] or {}).get("Native"):
                errors.append("A Proxy cannot also be Connect Native, only typical services")
        elif fields["Kind"] and fields["Kind"] not in SERVICE_KINDS:
            errors.append(f"Invalid service kind: {fields['Kind']!r}")
        if not errors:
            return None
        head = "1 error occurred:" if len(errors) == 1 else f"{len(errors)} errors occurred:"
        return head + "".join(f"\n\t* {e}" for e in errors) + "\n\n"

    def _service_register(self, req: FakeRequest) -> Reply:
        # agent_endpoint.go AgentRegisterService, in its order: decode, name,
        # address, weights, meta, checks (validity, then status), ACL,
        # sidecar, add.  decodeBody (agent/http.go -> lib.DecodeJSON): Go's
        # types, unknown fields refused; a body that decodes is well-typed
        # from here on.
        decode_body(SERVICE_DEFINITION, req.body)
        body = req.json()
        fields = self._parse_service(body)
        reason = self._validate_for_agent(fields)
        if reason is not None:
            raise HTTPError(400, f"Validation failed: {reason}")
        require(req, "service", fields["Service"], "write")
        existing = self.services.get(fields["ID"])
        if existing is not None and existing["Service"] != fields["Service"]:
            require(req, "service", existing["Service"], "write")
        sidecar = None
        if fields["sidecar"] is not None:
            sidecar = self._sidecar_of(fields)
            reason = self._validate_for_agent(sidecar)
            if reason is not None:
                raise HTTPError(400, f"Failed Validation: {reason}")
            require(req, "service", sidecar["Service"], "write")
        for one in (fields, sidecar):
            if one is None:
                continue
            tagged = _tagged_addresses(one["TaggedAddresses"], one["Address"], one["Port"])
            reason = _check_tagged(tagged)
            if reason is not None:
                raise HTTPError(500, reason)
            one["TaggedAddresses"] = tagged
            if any(ct.is_script for ct in one["checks"]) and not self.core.enable_script_checks:
                raise HTTPError(500, SCRIPTS_DISABLED)
        replace = req.has("replace-existing-checks") and (req.get("replace-existing-checks") or "") in (
            "",
            "true",
        )
        idx = self.core.next_index()
        self._add_service(fields, replace, idx)
        if sidecar is not None:
            sidecar["sidecar_of"] = fields["ID"]
            self._add_service(sidecar, replace, idx)
        return Reply(b"", json=False)

    def _add_service(self, fields: dict[str, Any], replace: bool, idx: int) -> None:
        """Store a validated service (see :meth:`_parse_service`) and its checks."""
        sid, name, tags = fields["ID"], fields["Service"], fields["Tags"]
        svc: dict[str, Any] = {
            "ID": sid,
            "Service": name,
            "Tags": list(tags or []),
            "Meta": fields["Meta"],
            "Port": fields["Port"],
            "Address": fields["Address"],
            "Weights": fields["Weights"],
            "EnableTagOverride": fields["EnableTagOverride"],
        }
        if fields["TaggedAddresses"]:
            svc["TaggedAddresses"] = fields["TaggedAddresses"]
        # The Connect fields are kept only when set, as the catalog keeps them.
        for key in ("Kind", "Proxy", "Connect", "Locality", "SocketPath"):
            if fields[key]:
                svc[key] = fields[key]
        if fields.get("sidecar_of"):
            self._sidecars[sid] = fields["sidecar_of"]
        else:
            self._sidecars.pop(sid, None)
        if tags is None:
            self._nil_tags.add(sid)
        else:
            self._nil_tags.discard(sid)
        self.services[sid] = svc
        self.catalog.set_service(self.node, svc, idx)
        parsed = fields["checks"]
        new_ids = []
        for i, ct in enumerate(parsed):
            cid = ct.check_id or f"service:{sid}" + (f":{i + 1}" if len(parsed) > 1 else "")
            new_ids.append(cid)
            self.add_check(
                cid,
                {
                    "Name": ct.raw.get("Name") or f"Service '{name}' check",
                    "Notes": ct.raw.get("Notes") or "",
                    "Status": ct.raw.get("Status") or CRITICAL,
                    "ServiceID": sid,
                    "Interval": go_duration(ct.interval) if ct.interval else "",
                    "Timeout": go_duration(ct.timeout) if ct.timeout else "",
                },
                ct,
                idx,
            )
        if replace:
            # Every other check of the service goes, the maintenance one included.
            for cid, check in list(self.checks.items()):
                if check["ServiceID"] == sid and cid not in new_ids:
                    self.remove_check(cid, idx)
        # Checks already attached to the service pick up its new name/tags.
        for check in self.checks.values():
            if check["ServiceID"] == sid:
                check["ServiceName"] = name
                check["ServiceTags"] = list(svc["Tags"])

    def _service_deregister(self, req: FakeRequest) -> Reply:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing service ID")
        svc = self.services.get(sid)
        if svc is None:
            raise _unknown_service(sid)
        require(req, "service", svc["Service"], "write")
        self.remove_service(sid, self.core.next_index())
        return Reply(b"", json=False)

    def _service_maintenance(self, req: FakeRequest) -> Reply:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing service ID")
        enable = _enable_param(req)
        svc = self.services.get(sid)
        if svc is None:
            raise _unknown_service(sid)
        require(req, "service", svc["Service"], "write")
        cid = SERVICE_MAINT_PREFIX + sid
        if enable:
            if cid not in self.checks:
                self.add_check(
                    cid,
                    {
                        "Name": "Service Maintenance Mode",
                        "Notes": req.get("reason") or DEFAULT_SERVICE_MAINT_REASON,
                        "Status": CRITICAL,
                        "ServiceID": sid,
                        "Type": "maintenance",
                    },
                    None,
                    self.core.next_index(),
                )
        elif cid in self.checks:
            self.remove_check(cid, self.core.next_index())
        return Reply(b"", json=False)

    def agent_service(self, svc: dict[str, Any]) -> dict[str, Any]:
        """``buildAgentService``: the ``api.AgentService`` view of a local service."""
        weights = svc["Weights"]
        out: dict[str, Any] = {}
        if svc.get("Kind"):
            out["Kind"] = svc["Kind"]
        out.update(
            {
                "ID": svc["ID"],
                "Service": svc["Service"],
                "Tags": list(svc["Tags"]),
                # buildAgentService: a nil Meta becomes {}.
                "Meta": dict(svc["Meta"] or {}),
                "Port": svc["Port"],
                "Address": svc["Address"],
            }
        )
        if svc.get("SocketPath"):
            out["SocketPath"] = svc["SocketPath"]
        if svc.get("TaggedAddresses"):
            out["TaggedAddresses"] = {k: dict(v) for k, v in svc["TaggedAddresses"].items()}
        out["Weights"] = {
            "Passing": weights["Passing"] if weights["Passing"] > 0 else 1,
            "Warning": weights["Warning"],
        }
        out["EnableTagOverride"] = svc["EnableTagOverride"]
        # buildAgentService: Proxy for proxies and gateways only, Connect
        # only when native (a SidecarService never reaches the state).
        kind = svc.get("Kind") or ""
        if kind == "connect-proxy" or kind.endswith("-gateway"):
            proxy: dict[str, Any] = {"MeshGateway": {}, "Expose": {}}
            proxy.update(copy.deepcopy(svc.get("Proxy") or {}))
            out["Proxy"] = proxy
        if (svc.get("Connect") or {}).get("Native"):
            out["Connect"] = {"Native": True}
        out["Datacenter"] = self.core.datacenter
        if svc.get("Locality"):
            out["Locality"] = dict(svc["Locality"])
        return out

    def _service_get(self, req: FakeRequest) -> Any:
        # agent_endpoint.go AgentService: hash-based blocking on local state.
        sid = req.tail
        options = parse_query_options(req)  # 400 Invalid wait time / Invalid index
        want = req.get("hash") or ""

        def compute() -> tuple[str, Reply]:
            svc = self.services.get(sid)
            if svc is None:
                return "", Reply(f"unknown service ID: {sid}", status=404, json=False)
            if not req.authz.allowed("service", svc["Service"], "read"):
                return "", Reply(
                    denial(req.authz, "service", svc["Service"], "read").text, status=403, json=False
                )
            out = self.agent_service(svc)
            digest = "%x" % int(
                hashlib.sha256(json.dumps(out, sort_keys=True).encode("utf-8")).hexdigest()[:16], 16
            )
            out["ContentHash"] = digest
            return digest, Reply(out, headers={"X-Consul-ContentHash": digest})

        current, reply = compute()
        if not want or current != want:
            return reply
        wait = options.wait if options.wait > 0 else DEFAULT_QUERY_TIME
        wait = min(wait, MAX_QUERY_TIME)
        wait += self.core.rng.uniform(0, wait / 16.0)
        return self.core.park(compute, lambda h: h != want, wait)

    # local health (/v1/agent/health/service/...)

    def _api_check(self, check: dict[str, Any], service_id: str) -> dict[str, Any]:
        """``agentHealthService``'s ``api.HealthCheck``: only the basic fields are copied."""
        tags: Any = list(check["ServiceTags"]) if check["ServiceID"] else None
        if check["ServiceID"] and check["ServiceID"] in self._nil_tags:
            tags = None
        return {
            "Node": check["Node"],
            "CheckID": check["CheckID"],
            "Name": check["Name"],
            "Status": check["Status"],
            "Notes": check["Notes"],
            "Output": check["Output"],
            "ServiceID": check["ServiceID"],
            "ServiceName": check["ServiceName"],
            "ServiceTags": tags,
            "Type": "",
            "ExposedPort": 0,
            "Definition": {
                "HTTP": "",
                "Header": None,
                "Method": "",
                "Body": "",
                "TLSServerName": "",
                "TLSSkipVerify": False,
                "TCP": "",
                "TCPUseTLS": False,
                "UDP": "",
                "GRPC": "",
                "OSService": "",
                "GRPCUseTLS": False,
                "Interval": "0s",
                "Timeout": "0s",
                "DeregisterCriticalServiceAfter": "0s",
            },
            "CreateIndex": 0,
            "ModifyIndex": 0,
        }

    def local_health(self, service_id: str) -> tuple[int, str, list[dict[str, Any]]]:
        """
        ``agentHealthService``: ``(code, status, checks)`` of one local
        service, its node checks included; maintenance wins, then critical,
        warning, passing (no checks: passing); 200/429/503.
        """
        checks = [
            self._api_check(c, service_id)
            for cid, c in sorted(self.checks.items())
            if c["ServiceID"] in ("", service_id)
        ]
        seen = set()
        for c in checks:
            if c["CheckID"] == NODE_MAINT_ID or c["CheckID"].startswith(SERVICE_MAINT_PREFIX):
                seen.add(HEALTH_MAINT)
            else:
                seen.add(c["Status"])
        for status in (HEALTH_MAINT, CRITICAL, WARNING, PASSING):
            if status in seen:
                break
        else:
            status = PASSING
        code = {WARNING: 429, PASSING: 200}.get(status, 503)
        return code, status, checks

    @staticmethod
    def _wants_text(req: FakeRequest) -> bool:
        if req.headers.get("accept", "").startswith("text/plain"):
            return True
        fmt = req.get("format") or ""
        return fmt == "text"

    def _health_reply(self, req: FakeRequest, code: int, reason: str, body: Any) -> Reply:
        headers = {"X-Consul-Reason": reason}
        if self._wants_text(req):
            headers["Content-Type"] = "text/plain"
            return Reply(reason, status=code, json=False, headers=headers)
        headers["Content-Type"] = "application/json"
        return Reply(body, status=code, headers=headers)

    def _health_by_id(self, req: FakeRequest) -> Reply:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing serviceID")
        svc = self.services.get(sid)
        if svc is None:
            reason = f"ServiceId {sid} not found"
            return self._health_reply(
                req, 404, reason, {"AggregatedStatus": CRITICAL, "Service": None, "Checks": None}
            )
        require(req, "service", svc["Service"], "read")
        code, status, checks = self.local_health(sid)
        return self._health_reply(
            req,
            code,
            status,
            {"AggregatedStatus": status, "Service": self.agent_service(svc), "Checks": checks},
        )

    def _health_by_name(self, req: FakeRequest) -> Reply:
        name = req.tail
        if not name:
            raise HTTPError(400, "Missing service Name")
        require(req, "service", name, "read")
        code, status = 404, f"ServiceName {name} Not Found"
        result = []
        for sid, svc in sorted(self.services.items()):
            if svc["Service"] != name:
                continue
            scode, sstatus, checks = self.local_health(sid)
            result.append({"AggregatedStatus": sstatus, "Service": self.agent_service(svc), "Checks": checks})
            if code == 404 or code < scode:
                code, status = scode, sstatus
        return self._health_reply(req, code, status, result)

    def _leave(self, req: FakeRequest) -> Reply:
        require(req, "agent", self.node, "write")
        self.left = True
        # agent_endpoint.go AgentLeave: Leave, then ShutdownAgent; the
        # answer goes out first, then whoever serves the agent stops.
        clock: Any = self.core.clock
        for listener in list(self._leave_listeners):
            clock.callLater(0, listener)
        return Reply(b"", json=False)

    def add_leave_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (soon, on the clock) after ``PUT /v1/agent/leave``."""
        self._leave_listeners.append(listener)

    # checks

    def _check_register(self, req: FakeRequest) -> Reply:
        # agent_endpoint.go AgentRegisterCheck: decodeBody into
        # structs.CheckDefinition (its UnmarshalJSON, check_definition.go).
        decode_body(CHECK_DEFINITION, req.body)
        body = req.json()
        if not isinstance(body, dict):
            body = {}
        ct = _parse_check(body)
        raw = ct.raw
        name = raw.get("Name") or ""
        if not name:
            raise HTTPError(400, "Missing check name")
        status = raw.get("Status") or ""
        if status and status not in STATUSES:
            raise HTTPError(400, "Bad check status")
        reason = ct.validate()
        if reason is not None:
            raise HTTPError(400, f"Invalid check: {reason}")
        sid = raw.get("ServiceID") or ""
        svc = None
        if sid:
            svc = self.services.get(sid)
            if svc is None:
                raise HTTPError(404, f"ServiceID {go_quote(sid)} does not exist")
            require(req, "service", svc["Service"], "write")
        else:
            require(req, "node", self.node, "write")
        if ct.is_script and not self.core.enable_script_checks:
            raise HTTPError(500, SCRIPTS_DISABLED)
        cid = raw.get("ID") or name
        # CheckDefinition has no Output; HealthCheck() sets Interval and
        # Timeout with Go's Duration.String ("0s" when not given).
        self.add_check(
            cid,
            {
                "Name": name,
                "Notes": raw.get("Notes") or "",
                "Status": status or CRITICAL,
                "ServiceID": sid,
                "Interval": go_duration(ct.interval),
                "Timeout": go_duration(ct.timeout),
            },
            ct,
            self.core.next_index(),
        )
        return Reply(b"", json=False)

    def _vet_check(self, req: FakeRequest) -> dict[str, Any]:
        cid = req.tail
        check = self.checks.get(cid)
        if check is None:
            raise _unknown_check(cid)
        if check["ServiceID"]:
            require(req, "service", check["ServiceName"], "write")
        else:
            require(req, "node", self.node, "write")
        return check

    def _check_deregister(self, req: FakeRequest) -> Reply:
        check = self._vet_check(req)
        self.remove_check(check["CheckID"], self.core.next_index())
        return Reply(b"", json=False)

    def _ttl_set(self, check: dict[str, Any], status: str, output: str) -> None:
        cid = check["CheckID"]
        runner = self._runners.get(cid)
        if not isinstance(runner, TTLRunner):
            raise HTTPError(500, f"CheckID {go_quote(cid)} does not have associated TTL")
        runner.set_status(status, output)

    def _ttl_update(self, req: FakeRequest, status: str) -> Reply:
        check = self._vet_check(req)
        self._ttl_set(check, status, req.get("note") or "")
        return Reply(b"", json=False)

    def _check_update(self, req: FakeRequest) -> Reply:
        # agent_endpoint.go AgentCheckUpdate: decodeBody into checkUpdate.
        body = decode_body(CHECK_UPDATE, req.body)
        status = body.get("Status") or ""
        if status not in STATUSES:
            raise HTTPError(400, f"Invalid check status: '{status}'")
        check = self._vet_check(req)
        self._ttl_set(check, status, str(body.get("Output") or ""))
        return Reply(b"", json=False)
