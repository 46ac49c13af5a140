# -*- test-case-name: tests.test_api_modern_agent -*-
"""
FakeConsul's newer agent endpoints: ``reload``, ``metrics``, ``token/<type>``,
``host`` and ``version``, answering as agent/agent_endpoint.go does.

These endpoints read the agent itself: they ignore ``?dc`` and do not block.
"""

from __future__ import annotations

import os
import platform
import time
from typing import Any

from ._acl import require
from ._core import FakeRequest, HTTPError, Reply, Route, go_quote
from ._gojson import decode_body
from ._shapes_modern import AGENT_TOKEN

#: The version answered when the core names none (``/v1/agent/self``'s default).
DEFAULT_VERSION = "1.20.0"


def fake_version(core: Any) -> str:
    """The Consul version the fake advertises (its profile's, else the core module's)."""
    profile = getattr(core, "profile", None)
    if profile is not None:
        return str(profile.version)
    from . import _core

    return str(getattr(_core, "CONSUL_VERSION", DEFAULT_VERSION))


#: ``/v1/agent/self``'s build date, as RFC 3339.
BUILD_DATE = "2024-01-01T00:00:00Z"

#: agent/agent_endpoint.go AgentToken: the path names and the token each sets.
TOKEN_TARGETS = {
    "acl_token": "default",
    "default": "default",
    "acl_agent_token": "agent",
    "agent": "agent",
    "acl_agent_master_token": "agent_recovery",
    "agent_master": "agent_recovery",
    "agent_recovery": "agent_recovery",
    "acl_replication_token": "replication",
    "replication": "replication",
    "config_file_service_registration": "config_file_service_registration",
}

#: Help texts of the gauges the fake reports (Consul's telemetry docs).
_GAUGE_HELP = {
    "consul.state.nodes": "Measures the current number of nodes registered with Consul.",
    "consul.state.services": "Measures the current number of unique services registered with Consul.",
    "consul.state.service_instances": "Measures the current number of service instances registered with Consul.",
    "consul.state.kv_entries": "Measures the current number of entries in the Consul KV store.",
    "consul.session_ttl.active": "Tracks the active number of sessions being tracked.",
    "consul.autopilot.healthy": "Tracks the overall health of the local server cluster.",
    "consul.autopilot.failure_tolerance": "Tracks the number of voting servers that the cluster can lose while continuing to function.",
}


def _go_utc(seconds: float) -> str:
    """Go's ``time.Time.String()`` of a UTC time, whole seconds."""
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(seconds))


class AgentModernPart:
    """
    The agent's ``reload``/``metrics``/``token``/``host``/``version``.

    :ivar tokens: the tokens set through ``/v1/agent/token/<type>``, by
        canonical type (``default``, ``agent``, ``agent_recovery``,
        ``replication``, ``config_file_service_registration``).
    :ivar reloads: how many times ``/v1/agent/reload`` was called.
    :ivar prometheus_retention_time: seconds of Prometheus retention; a dev
        agent has none (0), so ``?format=prometheus`` answers 415 until a
        test sets it.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers
        self.tokens: dict[str, str] = {}
        self.reloads = 0
        self.prometheus_retention_time = 0.0

    def routes(self) -> list[Route]:
        """The five agent routes; none of them looks at ``?dc``."""
        return [
            Route("/v1/agent/reload", ("PUT",), self._reload, check_dc=False, parse=False),
            Route("/v1/agent/metrics", ("GET",), self._metrics, check_dc=False, parse=False),
            Route("/v1/agent/token/", ("PUT",), self._token, check_dc=False, parse=False),
            Route("/v1/agent/host", ("GET",), self._host, check_dc=False, parse=False),
            Route("/v1/agent/version", ("GET",), self._version, check_dc=False, parse=False),
        ]

    # -- reload ------------------------------------------------------------------

    def _reload(self, req: FakeRequest) -> Reply:
        require(req, "agent", self.core.node_name, "write")
        self.reloads += 1
        return Reply(b"", json=False)

    # -- metrics -----------------------------------------------------------------

    def gauges(self) -> dict[str, float]:
        """The gauge values, computed from the fake's state."""
        catalog = self._peers.catalog
        names = {svc["Service"] for svc in catalog.services.values()}
        return {
            "consul.state.nodes": float(len(catalog.nodes)),
            "consul.state.services": float(len(names)),
            "consul.state.service_instances": float(len(catalog.services)),
            "consul.state.kv_entries": float(len(self._peers.kv.entries)),
            "consul.session_ttl.active": float(len(self._peers.sessions.sessions)),
            "consul.autopilot.healthy": 1.0,
            "consul.autopilot.failure_tolerance": 0.0,
        }

    def _metrics(self, req: FakeRequest) -> Reply:
        require(req, "agent", self.core.node_name, "read")
        accept = req.headers.get("accept", "")
        if req.get("format") == "prometheus" or _accepts_openmetrics(accept):
            if self.prometheus_retention_time < 1:
                # CodeWithPayloadError: 415 with a text/plain reason.
                return Reply(
                    "Prometheus is not enabled since its retention time is not positive",
                    status=415,
                    json=False,
                    headers={"Content-Type": "text/plain"},
                )
            lines = []
            for name, value in sorted(self.gauges().items()):
                prom = name.replace(".", "_")
                lines.append(f"# HELP {prom} {_GAUGE_HELP.get(name, name)}")
                lines.append(f"# TYPE {prom} gauge")
                lines.append(f"{prom} {value:g}")
            return Reply(
                ("\n".join(lines) + "\n").encode("utf-8"),
                json=False,
                headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
            )
        # go-metrics InmemSink.DisplayMetrics: the last finished 10s interval.
        now = self.core.clock.seconds()
        interval = now - now % 10 - 10
        gauges = [
            {"Name": name, "Value": value, "Labels": {}} for name, value in sorted(self.gauges().items())
        ]
        return Reply(
            {"Timestamp": _go_utc(interval), "Gauges": gauges, "Points": [], "Counters": [], "Samples": []}
        )

    # -- token ---------------------------------------------------------------------

    def _token(self, req: FakeRequest) -> Reply:
        if not self._peers.acl.enabled:
            raise HTTPError(401, "ACL support disabled")
        require(req, "agent", self.core.node_name, "write")
        body = decode_body(AGENT_TOKEN, req.body) if req.body.strip() else {}
        secret = body.get("Token") or ""
        target = TOKEN_TARGETS.get(req.tail)
        if target is None:
            raise HTTPError(404, f"Token {go_quote(req.tail)} is unknown")
        self.tokens[target] = secret
        return Reply(b"", json=False)

    # -- host / version ------------------------------------------------------------

    def _host(self, req: FakeRequest) -> Reply:
        require(req, "operator", "", "read")
        # agent/debug/host.go CollectHostInfo: gopsutil's structs.  The fake
        # reports what Python can see of this machine, zeros elsewhere.
        cpus = os.cpu_count() or 1
        uname = platform.uname()
        return Reply(
            {
                "Memory": {"total": 0, "available": 0, "used": 0, "usedPercent": 0.0, "free": 0},
                "CPU": [
                    {
                        "cpu": i,
                        "vendorId": "",
                        "family": "",
                        "model": "",
                        "stepping": 0,
                        "physicalId": "",
                        "coreId": str(i),
                        "cores": 1,
                        "modelName": uname.processor,
                        "mhz": 0,
                        "cacheSize": 0,
                        "flags": [],
                        "microcode": "",
                    }
                    for i in range(cpus)
                ],
                "Host": {
                    "hostname": uname.node,
                    "uptime": int(self.core.clock.seconds()),
                    "bootTime": 0,
                    "procs": 0,
                    "os": uname.system.lower(),
                    "platform": "",
                    "platformFamily": "",
                    "platformVersion": "",
                    "kernelVersion": uname.release,
                    "kernelArch": uname.machine,
                    "virtualizationSystem": "",
                    "virtualizationRole": "",
                    "hostid": "",
                },
                "Disk": {
                    "path": "/",
                    "fstype": "",
                    "total": 0,
                    "free": 0,
                    "used": 0,
                    "usedPercent": 0.0,
                    "inodesTotal": 0,
                    "inodesUsed": 0,
                    "inodesFree": 0,
                    "inodesUsedPercent": 0.0,
                },
                "CollectionTime": int(self.core.clock.seconds() * 1e9),
                "Errors": None,
            }
        )

    def _version(self, req: FakeRequest) -> Reply:
        # version/version.go GetBuildInfo; no ACL check (agent_endpoint.go AgentVersion).
        return Reply(
            {"SHA": "fake", "BuildDate": BUILD_DATE, "HumanVersion": fake_version(self.core), "FIPS": ""}
        )


def _accepts_openmetrics(accept: str) -> bool:
    """agent_endpoint.go acceptsOpenMetricsMimeType."""
    for part in accept.split(","):
        bits = part.split(";")
        mime = bits[0].strip().lower()
        if mime == "application/openmetrics-text":
            return True
        if mime == "text/plain" and len(bits) > 1 and bits[1].strip() == "version=0.4.0":
            return True
    return False
