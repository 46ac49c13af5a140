# -*- test-case-name: tests.test_agent -*-
"""
FakeConsul's local agent: ``/v1/agent/*``, its services and checks, and the
check runners.

Agent services and checks are written to the catalog (``core.catalog``) at
once, as if anti-entropy ran instantly.  Check runners:

* TTL checks go critical with ``TTL expired`` when their TTL passes on
  ``core.clock`` without an update (``pass``/``warn``/``fail``/``update``
  restart it).
* HTTP, TCP and script checks run every ``Interval`` on ``core.clock``, the
  first time right after registration, but **only when the FakeConsul was
  given a reactor** (``core.reactor``): they make real connections and
  spawn real processes.  Without one (the usual in-memory fake on a
  ``Clock``) they stay at their initial status (critical unless ``Status``
  was given), and a test sets their status with the catalog's
  ``update_check``.  Unlike Consul, intervals under one second are not
  raised to one second, so tests can use ``'100ms'``.
* Docker, gRPC, H2PING, UDP and alias checks never run: they keep their
  initial status.
* Script checks (``Args``/Docker) are refused unless the fake was built with
  ``enable_script_checks=True``.
* ``DeregisterCriticalServiceAfter`` is stored but nothing is reaped.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Callable, Optional, cast

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import Factory, ProcessProtocol, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._acl import require
from ._catalog import CRITICAL, PASSING, STATUSES, WARNING, apply_filter, go_quote, normalize, _canon
from ._core import FakeRequest, HTTPError, Reply, Route, parse_go_duration

log = Logger()

NODE_MAINT_ID = "_node_maintenance"
SERVICE_MAINT_PREFIX = "_service_maintenance:"
DEFAULT_NODE_MAINT_REASON = (
    "Maintenance mode is enabled for this node, but no reason was provided. "
    "This is a default message."
)
DEFAULT_SERVICE_MAINT_REASON = (
    "Maintenance mode is enabled for this service, but no reason was provided. "
    "This is a default message."
)
SCRIPTS_DISABLED = (
    "Scripts are disabled on this agent; to enable, configure "
    "'enable_script_checks' or 'enable_local_script_checks' to true"
)
OUTPUT_MAX_SIZE = 4096
DEFAULT_HTTP_TIMEOUT = 10.0
DEFAULT_TCP_TIMEOUT = 10.0
DEFAULT_SCRIPT_TIMEOUT = 30.0

_SERVICE_KEYS = _canon([
    "ID", "Name", "Tags", "Address", "TaggedAddresses", "Meta", "Port", "Kind", "Proxy",
    "Connect", "Check", "Checks", "EnableTagOverride", "Weights", "Namespace",
])
_CHECK_KEYS = _canon([
    "ID", "Name", "Notes", "ServiceID", "Status", "TTL", "HTTP", "Header", "Method", "Body",
    "TLSSkipVerify", "TLSServerName", "TCP", "UDP", "GRPC", "GRPCUseTLS", "H2PING", "Args",
    "DockerContainerID", "Shell", "AliasNode", "AliasService", "Interval", "Timeout",
    "DeregisterCriticalServiceAfter", "OutputMaxSize", "SuccessBeforePassing",
    "FailuresBeforeCritical", "Script", "Output",
])
_CHECK_ALIASES = {"checkid": "id", "scriptargs": "args", "serviceid": "serviceid"}


def _unknown_service(sid: str) -> HTTPError:
    return HTTPError(
        404, f"Unknown service ID {go_quote(sid)}. Ensure that the service ID is passed, not the service name."
    )


def _unknown_check(cid: str) -> HTTPError:
    return HTTPError(
        404, f"Unknown check ID {go_quote(cid)}. Ensure that the check ID is passed, not the check name."
    )


def _duration(value: Any) -> float:
    """A body duration: a Go duration string or integer nanoseconds."""
    if value is None or value == "":
        return 0.0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) / 1e9
    if isinstance(value, str):
        try:
            return parse_go_duration(value)
        except ValueError:
            pass
    raise HTTPError(400, f'Request decode failed: time: invalid duration "{value}"')


class CheckType:
    """A parsed, validated check definition (from a body)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.ttl = _duration(raw.get("TTL"))
        self.interval = _duration(raw.get("Interval"))
        self.timeout = _duration(raw.get("Timeout"))
        self.http = raw.get("HTTP") or ""
        self.tcp = raw.get("TCP") or ""
        self.grpc = raw.get("GRPC") or ""
        self.args = list(raw.get("Args") or [])
        self.docker = raw.get("DockerContainerID") or ""
        self.other = raw.get("UDP") or raw.get("H2PING") or ""
        self.alias = bool(raw.get("AliasNode") or raw.get("AliasService"))
        if self.docker:
            self.kind = "docker"
        elif self.args:
            self.kind = "script"
        elif self.http:
            self.kind = "http"
        elif self.tcp:
            self.kind = "tcp"
        elif self.grpc:
            self.kind = "grpc"
        elif raw.get("UDP"):
            self.kind = "udp"
        elif raw.get("H2PING"):
            self.kind = "h2ping"
        elif self.alias:
            self.kind = "alias"
        else:
            self.kind = "ttl"

    @property
    def is_script(self) -> bool:
        """Whether this is an ``Args`` or Docker check."""
        return self.kind in ("script", "docker")

    def validate(self) -> Optional[str]:
        """Consul's ``CheckType.Validate``: the reason it is invalid, or ``None``."""
        interval_check = self.kind in ("script", "docker", "http", "tcp", "grpc", "udp", "h2ping")
        if self.interval > 0 and self.ttl > 0:
            return "Interval and TTL cannot both be specified"
        if interval_check and self.interval <= 0:
            return "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or GRPC checks"
        if not interval_check and not self.alias and self.ttl <= 0:
            return "TTL must be > 0 for TTL checks"
        return None

    def definition(self) -> dict[str, Any]:
        """The ``Definition`` shown on the check."""
        out: dict[str, Any] = {}
        for key in ("HTTP", "Header", "Method", "Body", "TLSSkipVerify", "TLSServerName", "TCP",
                    "GRPC", "GRPCUseTLS", "Interval", "Timeout", "DeregisterCriticalServiceAfter",
                    "DockerContainerID", "Shell", "TTL"):
            if self.raw.get(key) not in (None, "", {}, False):
                out[key] = self.raw[key]
        if self.args:
            out["ScriptArgs"] = list(self.args)
        return out


def _parse_check(raw: Any) -> CheckType:
    body = normalize(raw, _CHECK_KEYS, _CHECK_ALIASES)
    return CheckType(body)


def _enable_param(req: FakeRequest) -> bool:
    raw = req.get("enable")
    if raw is None or raw == "":
        raise HTTPError(400, "Missing value for enable")
    value = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}.get(raw)
    if value is None:
        raise HTTPError(400, f"Invalid value for enable: {go_quote(raw)}")
    return value


# -- check runners ------------------------------------------------------------------


class _Runner:
    """Base of check runners: ``start()`` and ``stop()``."""

    def start(self) -> None:
        """Begin running."""

    def stop(self) -> None:
        """Stop every timer and cancel work in flight."""

    def reset(self) -> None:
        """A TTL update arrived (only TTL runners care)."""


class TTLRunner(_Runner):
    """Turns a check critical when its TTL passes without an update."""

    def __init__(self, agent: "AgentPart", check_id: str, ttl: float) -> None:
        self.agent = agent
        self.check_id = check_id
        self.ttl = ttl
        self._timer: Any = None

    def start(self) -> None:
        """Arm the TTL timer."""
        self.reset()

    def reset(self) -> None:
        """Restart the TTL."""
        self.stop()
        self._timer = self.agent.core.clock.callLater(self.ttl, self._expired)

    def stop(self) -> None:
        """Disarm the timer."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _expired(self) -> None:
        self._timer = None
        check = self.agent.checks.get(self.check_id)
        if check is None:
            return
        last = check["Output"]
        output = "TTL expired"
        if last and not last.startswith("TTL expired"):
            output = f"TTL expired (last output before timeout follows): {last}"
        self.agent.set_status(self.check_id, CRITICAL, output)
        self.agent.core.changed()


class IntervalRunner(_Runner):
    """
    Runs ``probe()`` (a Deferred of ``(status, output)``) right away and then
    every ``interval`` after each probe finishes, on ``core.clock``.
    """

    def __init__(
        self,
        agent: "AgentPart",
        check_id: str,
        interval: float,
        probe: Callable[[], "Deferred[tuple[str, str]]"],
    ) -> None:
        self.agent = agent
        self.check_id = check_id
        self.interval = interval
        self.probe = probe
        self._timer: Any = None
        self._inflight: Optional[Deferred] = None
        self._stopped = False

    def start(self) -> None:
        """Schedule the first probe immediately."""
        self._timer = self.agent.core.clock.callLater(0, self._run)

    def stop(self) -> None:
        """Cancel the next probe and the one in flight."""
        self._stopped = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self._inflight is not None:
            d, self._inflight = self._inflight, None
            d.cancel()

    def _run(self) -> None:
        self._timer = None
        if self._stopped:
            return
        try:
            d = self.probe()
        except Exception:
            d = Deferred()
            d.errback(Failure())
        self._inflight = d

        def done(result: Any) -> None:
            if self._inflight is not d:
                return
            self._inflight = None
            if isinstance(result, Failure):
                log.failure("check {check_id} probe failed", result, check_id=self.check_id)
                status, output = CRITICAL, result.getErrorMessage()
            else:
                status, output = result
            if self._stopped:
                return
            if self.agent.set_status(self.check_id, status, output[:OUTPUT_MAX_SIZE]):
                self.agent.core.changed()
            self._timer = self.agent.core.clock.callLater(self.interval, self._run)

        d.addBoth(done)


class _Discard(Protocol):
    pass


class _ScriptProtocol(ProcessProtocol):
    def __init__(self, done: Deferred, live: dict[Any, Deferred]) -> None:
        self.done = done
        self.output = b""
        self._live = live
        live[self] = Deferred()

    def outReceived(self, data: bytes) -> None:
        if len(self.output) < OUTPUT_MAX_SIZE:
            self.output += data

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        code = 0
        if reason.check(ProcessTerminated):
            code = reason.value.exitCode if reason.value.exitCode is not None else -1
        elif not reason.check(ProcessDone):
            code = -1
        if not self.done.called:
            self.done.callback((code, self.output.decode("utf-8", "replace")))
        reaped = self._live.pop(self, None)
        if reaped is not None:
            reaped.callback(None)


def http_probe(core: Any, ct: CheckType) -> Callable[[], Deferred]:
    """A probe issuing the check's HTTP request through ``core.reactor``."""
    from twisted.web.client import Agent, readBody
    from twisted.web.http_headers import Headers
    from twisted.web.iweb import IBodyProducer

    method = (ct.raw.get("Method") or "GET").upper()
    url = ct.http
    timeout = ct.timeout or DEFAULT_HTTP_TIMEOUT

    def probe() -> Deferred:
        agent = Agent(core.reactor, connectTimeout=timeout)
        headers = Headers({b"User-Agent": [b"Consul Health Check"], b"Accept": [b"text/plain, text/*, */*"]})
        for name, values in (ct.raw.get("Header") or {}).items():
            vals = values if isinstance(values, list) else [values]
            headers.setRawHeaders(name.encode("utf-8"), [str(v).encode("utf-8") for v in vals])
        producer: Optional[IBodyProducer] = None
        body = ct.raw.get("Body")
        if body:
            from twisted.web.client import FileBodyProducer
            from io import BytesIO

            # FileBodyProducer provides IBodyProducer via @implementer, which mypy cannot see.
            producer = cast(IBodyProducer, FileBodyProducer(BytesIO(body.encode("utf-8"))))
        d = agent.request(method.encode("ascii"), url.encode("utf-8"), headers, producer)

        def got(response: Any) -> Deferred:
            def read(data: bytes) -> tuple[str, str]:
                code = response.code
                if 200 <= code < 300:
                    status = PASSING
                elif code == 429:
                    status = WARNING
                else:
                    status = CRITICAL
                phrase = response.phrase.decode("latin-1") if response.phrase else ""
                text = data[:OUTPUT_MAX_SIZE].decode("utf-8", "replace")
                return status, f"HTTP {method} {url}: {code} {phrase} Output: {text}"

            return readBody(response).addCallback(read)

        def failed(f: Failure) -> tuple[str, str]:
            return CRITICAL, f'{method.capitalize()} "{url}": {f.getErrorMessage()}'

        d.addCallback(got)
        d.addTimeout(timeout, core.clock)
        d.addErrback(failed)
        return d

    return probe


def tcp_probe(core: Any, ct: CheckType) -> Callable[[], Deferred]:
    """A probe opening a TCP connection through ``core.reactor``."""
    from twisted.internet.abstract import isIPAddress, isIPv6Address
    from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint

    target = ct.tcp
    host, _, port_text = target.rpartition(":")
    host = host.strip("[]")
    timeout = ct.timeout or DEFAULT_TCP_TIMEOUT

    def probe() -> Deferred:
        try:
            port = int(port_text)
        except ValueError:
            return succeed((CRITICAL, f"dial tcp {target}: address {target}: missing port in address"))
        if isIPAddress(host):
            ep: Any = TCP4ClientEndpoint(core.reactor, host, port, timeout=timeout)
        elif isIPv6Address(host):
            ep = TCP6ClientEndpoint(core.reactor, host, port, timeout=timeout)
        else:
            ep = HostnameEndpoint(core.reactor, host.encode("idna"), port, timeout=timeout)
        d = ep.connect(Factory.forProtocol(_Discard))

        def ok(proto: Any) -> tuple[str, str]:
            proto.transport.abortConnection()
            return PASSING, f"TCP connect {target}: Success"

        def failed(f: Failure) -> tuple[str, str]:
            return CRITICAL, f"dial tcp {target}: {f.getErrorMessage()}"

        d.addTimeout(timeout, core.clock)
        return d.addCallbacks(ok, failed)

    return probe


def script_probe(core: Any, ct: CheckType) -> Callable[[], Deferred]:
    """A probe spawning the check's ``Args`` with ``core.reactor``."""
    args = [str(a) for a in ct.args]
    timeout = ct.timeout or DEFAULT_SCRIPT_TIMEOUT

    def probe() -> Deferred:
        done: Deferred = Deferred()
        proto = _ScriptProtocol(done, core.agent.processes)
        process = core.reactor.spawnProcess(proto, args[0], args, env=dict(os.environ))
        timer = core.clock.callLater(timeout, lambda: _kill(process))

        def finished(result: tuple[int, str]) -> tuple[str, str]:
            if timer.active():
                timer.cancel()
            code, output = result
            if code == 0:
                return PASSING, output
            if code == 1:
                return WARNING, output
            if not timer.active() and code == -1:
                return CRITICAL, f"Timed out ({timeout:g}s) running check"
            return CRITICAL, output

        def cancel_all(f: Failure) -> Failure:
            if timer.active():
                timer.cancel()
            _kill(process)
            return f

        return done.addCallbacks(finished, cancel_all)

    return probe


def _kill(process: Any) -> None:
    try:
        process.signalProcess("KILL")
    except Exception:
        pass


# -- the agent ------------------------------------------------------------------------


class AgentPart:
    """
    The local agent of a FakeConsul: its services, checks, maintenance
    modes, and the ``/v1/agent/*`` endpoints.

    :ivar services: service ID -> the agent's service dict.
    :ivar checks: check ID -> the agent's check dict.
    """

    def __init__(self, core: Any) -> None:
        self.core = core
        self.services: dict[str, dict[str, Any]] = {}
        self.checks: dict[str, dict[str, Any]] = {}
        self._runners: dict[str, _Runner] = {}
        #: script check processes not yet reaped -> Deferred fired on reaping.
        self.processes: dict[Any, Deferred] = {}
        self._types: dict[str, CheckType] = {}

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
        check["Status"] = status
        check["Output"] = output
        catalog = self.core.catalog
        if catalog.get_check(self.node, check_id) is None:
            self._sync_check(check_id, self.core.next_index())
            return True
        return catalog.update_check(self.node, check_id, status, output) or changed

    def _sync_check(self, check_id: str, idx: int) -> None:
        check = self.checks[check_id]
        if check["ServiceID"] and self.core.catalog.get_service(self.node, check["ServiceID"]) is None:
            return
        self.core.catalog.set_check({k: v for k, v in check.items() if k not in ("CreateIndex", "ModifyIndex")}, idx)

    def add_check(self, check_id: str, check: dict[str, Any], ct: Optional[CheckType], idx: int) -> None:
        """Store a local check, write it to the catalog and start its runner."""
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
            "Definition": ct.definition() if ct else {},
            "CreateIndex": 0,
            "ModifyIndex": 0,
        }
        self.checks[check_id] = entry
        self._sync_check(check_id, idx)
        if ct is not None:
            self._types[check_id] = ct
            runner = self._runner_for(check_id, ct)
            if runner is not None:
                self._runners[check_id] = runner
                runner.start()

    def _runner_for(self, check_id: str, ct: CheckType) -> Optional[_Runner]:
        core = self.core
        if ct.kind == "ttl":
            return TTLRunner(self, check_id, ct.ttl)
        if core.reactor is None:
            return None
        if ct.kind == "http":
            return IntervalRunner(self, check_id, ct.interval, http_probe(core, ct))
        if ct.kind == "tcp":
            return IntervalRunner(self, check_id, ct.interval, tcp_probe(core, ct))
        if ct.kind == "script":
            return IntervalRunner(self, check_id, ct.interval, script_probe(core, ct))
        return None

    def _stop(self, check_id: str) -> None:
        runner = self._runners.pop(check_id, None)
        if runner is not None:
            runner.stop()
        self._types.pop(check_id, None)

    def remove_check(self, check_id: str, idx: int) -> None:
        """Remove a local check: stop its runner, drop it from the catalog."""
        self._stop(check_id)
        self.checks.pop(check_id, None)
        self.core.catalog.remove_check(self.node, check_id, idx)

    def remove_service(self, service_id: str, idx: int) -> None:
        """Remove a local service and all its checks."""
        for cid, check in list(self.checks.items()):
            if check["ServiceID"] == service_id:
                self.remove_check(cid, idx)
        self.services.pop(service_id, None)
        self.core.catalog.remove_service(self.node, service_id, idx)

    def stop(self) -> "Deferred[None]":
        """
        Stop every check runner (for test cleanup); fires once every script
        check process still running has been killed and reaped.
        """
        for cid in list(self._runners):
            self._stop(cid)
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
        node = core.catalog.nodes.get(core.node_name) or {}
        return {
            "Name": f"{core.node_name}.{core.datacenter}" if wan else core.node_name,
            "Addr": core.address,
            "Port": 8302 if wan else 8301,
            "Tags": {
                "build": "1.20.0:fake",
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
        node = core.catalog.nodes.get(core.node_name) or {}
        return Reply({
            "Config": {
                "Datacenter": core.datacenter,
                "PrimaryDatacenter": core.datacenter,
                "NodeName": core.node_name,
                "NodeID": node.get("ID", ""),
                "Revision": "fake",
                "Server": True,
                "Version": "1.20.0",
                "BuildDate": "2024-01-01T00:00:00Z",
            },
            "DebugConfig": {},
            "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05},
            "Member": self._member(),
            "Stats": {"consul": {"server": "true", "leader": "true", "known_datacenters": "1"}},
            "Meta": dict(node.get("Meta") or {}),
        })

    def _members(self, req: FakeRequest) -> Reply:
        wan = (req.get("wan") or "") != ""
        if wan and req.get("segment"):
            raise HTTPError(400, "Cannot provide a segment with wan=true")
        members = [self._member(wan)]
        members = [m for m in members if req.authz.allowed("node", self.core.node_name, "read")]
        return Reply(apply_filter(req, members))

    def _service_view(self, svc: dict[str, Any]) -> dict[str, Any]:
        out = dict(svc)
        out["Datacenter"] = self.core.datacenter
        return out

    def _services(self, req: FakeRequest) -> Reply:
        items = [
            self._service_view(s) for _, s in sorted(self.services.items())
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
        if node != self.node and node not in self.core.catalog.nodes:
            raise HTTPError(500, f"agent: No node found with name '{node}'")
        return Reply(b"", json=False)

    # services

    def _service_register(self, req: FakeRequest) -> Reply:
        body = req.json()
        body = normalize(body if body is not None else {}, _SERVICE_KEYS)
        name = body.get("Name") or ""
        if not name:
            raise HTTPError(400, "Missing service name")
        sid = body.get("ID") or name
        address = body.get("Address") or ""
        if address in ("0.0.0.0", "::", "[::]"):
            raise HTTPError(400, "Invalid service address")
        meta = body.get("Meta") or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise HTTPError(400, "Invalid Service Meta: values must be strings")
        tags = body.get("Tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise HTTPError(400, "Request decode failed: Tags must be a list of strings")
        weights = body.get("Weights") or {"Passing": 1, "Warning": 1}
        if isinstance(weights, dict):
            weights = normalize(weights, _canon(["Passing", "Warning"]))
            if (weights.get("Passing") or 0) < 1:
                raise HTTPError(400, "Invalid Weights: Passing must be greater than 0")
            weights = {"Passing": weights.get("Passing", 1), "Warning": weights.get("Warning", 1)}
        raws = []
        if body.get("Check"):
            raws.append(body["Check"])
        raws.extend(body.get("Checks") or [])
        parsed = []
        for raw in raws:
            if not isinstance(raw, dict):
                raise HTTPError(400, "Request decode failed: a check must be an object")
            ct = _parse_check(raw)
            status = ct.raw.get("Status") or ""
            if status and status not in STATUSES:
                raise HTTPError(400, "Status for checks must 'passing', 'warning', 'critical'")
            reason = ct.validate()
            if reason is not None:
                raise HTTPError(400, f"Invalid check: {reason}")
            parsed.append(ct)
        require(req, "service", name, "write")
        existing = self.services.get(sid)
        if existing is not None and existing["Service"] != name:
            require(req, "service", existing["Service"], "write")
        if any(ct.is_script for ct in parsed) and not self.core.enable_script_checks:
            raise HTTPError(500, SCRIPTS_DISABLED)
        idx = self.core.next_index()
        svc: dict[str, Any] = {
            "ID": sid,
            "Service": name,
            "Tags": list(tags),
            "Meta": dict(meta),
            "Port": int(body.get("Port") or 0),
            "Address": address,
            "Weights": weights,
            "EnableTagOverride": bool(body.get("EnableTagOverride", False)),
        }
        if body.get("TaggedAddresses"):
            svc["TaggedAddresses"] = body["TaggedAddresses"]
        self.services[sid] = svc
        self.core.catalog.set_service(self.node, svc, idx)
        new_ids = []
        for i, ct in enumerate(parsed):
            cid = ct.raw.get("ID") or f"service:{sid}" + (f":{i + 1}" if len(parsed) > 1 else "")
            new_ids.append(cid)
            self.add_check(
                cid,
                {
                    "Name": ct.raw.get("Name") or f"Service '{name}' check",
                    "Notes": ct.raw.get("Notes") or "",
                    "Status": ct.raw.get("Status") or CRITICAL,
                    "ServiceID": sid,
                },
                ct,
                idx,
            )
        replace = req.has("replace-existing-checks") and (req.get("replace-existing-checks") or "true") in ("", "true")
        if replace:
            for cid, check in list(self.checks.items()):
                if check["ServiceID"] == sid and cid not in new_ids and not cid.startswith(SERVICE_MAINT_PREFIX):
                    self.remove_check(cid, idx)
        # Checks already attached to the service pick up its new name/tags.
        for check in self.checks.values():
            if check["ServiceID"] == sid:
                check["ServiceName"] = name
                check["ServiceTags"] = list(tags)
        return Reply(b"", json=False)

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

    def _service_get(self, req: FakeRequest) -> Reply:
        sid = req.tail
        if not sid:
            raise HTTPError(400, "Missing service ID")
        svc = self.services.get(sid)
        if svc is None:
            raise HTTPError(404, f"unknown service ID: {sid}")
        require(req, "service", svc["Service"], "read")
        out = self._service_view(svc)
        digest = hashlib.sha256(json.dumps(out, sort_keys=True).encode("utf-8")).hexdigest()[:16]
        out["ContentHash"] = digest
        return Reply(out, headers={"X-Consul-ContentHash": digest})

    # checks

    def _check_register(self, req: FakeRequest) -> Reply:
        body = req.json()
        if not isinstance(body, dict):
            raise HTTPError(400, "Request decode failed: expected a JSON object")
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
        self.add_check(
            cid,
            {
                "Name": name,
                "Notes": raw.get("Notes") or "",
                "Status": status or CRITICAL,
                "Output": raw.get("Output") or "",
                "ServiceID": sid,
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
        self.set_status(cid, status, output[:OUTPUT_MAX_SIZE])
        runner.reset()

    def _ttl_update(self, req: FakeRequest, status: str) -> Reply:
        check = self._vet_check(req)
        self._ttl_set(check, status, req.get("note") or "")
        return Reply(b"", json=False)

    def _check_update(self, req: FakeRequest) -> Reply:
        body = req.json() or {}
        if not isinstance(body, dict):
            raise HTTPError(400, "Request decode failed: expected a JSON object")
        body = normalize(body, _canon(["Status", "Output"]))
        status = body.get("Status") or ""
        if status not in STATUSES:
            raise HTTPError(400, f"Invalid check status: '{status}'")
        check = self._vet_check(req)
        self._ttl_set(check, status, str(body.get("Output") or ""))
        return Reply(b"", json=False)
