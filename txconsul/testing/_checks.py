# -*- test-case-name: tests.test_fake_agent_fidelity -*-
"""
FakeConsul's health checks: a parsed check definition (:class:`CheckType`)
and the runners that drive a check's status: TTL timers on the clock, and
HTTP, TCP and script probes through a real reactor.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional, Protocol, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import Factory, ProcessProtocol
from twisted.internet.protocol import Protocol as _WireProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._catalog import CRITICAL, PASSING, WARNING
from ._core import HTTPError, Scheduler
from ._gofmt import parse_go_duration

if TYPE_CHECKING:  # pragma: no cover
    from ._core import FakeCore

log = Logger()

#: agent/checks ``DefaultBufSize``: the most output a check keeps.
OUTPUT_MAX_SIZE = 4096
DEFAULT_HTTP_TIMEOUT = 10.0
DEFAULT_TCP_TIMEOUT = 10.0
DEFAULT_SCRIPT_TIMEOUT = 30.0


def check_duration(value: Any) -> float:
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


def truncate_output(output: str, limit: int = OUTPUT_MAX_SIZE) -> str:
    """``CheckTTL.SetStatus``'s cut: ``<first limit bytes> ... (captured L of N bytes)``."""
    raw = output.encode("utf-8")
    if len(raw) <= limit:
        return output
    head = raw[:limit].decode("utf-8", "replace")
    return f"{head} ... (captured {limit} of {len(raw)} bytes)"


class CheckType:
    """A parsed, validated check definition (from a body)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        #: The ``CheckID`` an embedded service check gives itself ("" if none).
        self.check_id = ""
        self.ttl = check_duration(raw.get("TTL"))
        self.interval = check_duration(raw.get("Interval"))
        self.timeout = check_duration(raw.get("Timeout"))
        self.http = raw.get("HTTP") or ""
        self.tcp = raw.get("TCP") or ""
        self.grpc = raw.get("GRPC") or ""
        self.args = list(raw.get("Args") or [])
        self.docker = raw.get("DockerContainerID") or ""
        self.other = raw.get("UDP") or raw.get("H2PING") or ""
        self.alias = bool(raw.get("AliasNode") or raw.get("AliasService"))
        self.dcsa = check_duration(raw.get("DeregisterCriticalServiceAfter"))
        self.udp = raw.get("UDP") or ""
        self.h2ping = raw.get("H2PING") or ""
        self.os_service = raw.get("OSService") or ""
        # CheckType.Type(): the first that matches, in Consul's order.
        iv = self.interval > 0
        if self.grpc and iv:
            self.kind = "grpc"
        elif self.http and iv:
            self.kind = "http"
        elif self.ttl > 0:
            self.kind = "ttl"
        elif self.tcp and iv:
            self.kind = "tcp"
        elif self.udp and iv:
            self.kind = "udp"
        elif self.alias:
            self.kind = "alias"
        elif self.args and self.docker and iv:
            self.kind = "docker"
        elif self.args and iv:
            self.kind = "script"
        elif self.h2ping and iv:
            self.kind = "h2ping"
        elif self.os_service and iv:
            self.kind = "os_service"
        else:
            self.kind = ""

    @property
    def is_script(self) -> bool:
        """Whether this is an ``Args`` (or Docker) check."""
        return bool(self.args)

    def validate(self) -> Optional[str]:
        """Consul's ``CheckType.Validate``: the reason it is invalid, or ``None``."""
        interval_check = bool(
            self.args or self.http or self.tcp or self.udp or self.grpc or self.h2ping or self.os_service
        )
        if self.interval > 0 and self.ttl > 0:
            return "Interval and TTL cannot both be specified"
        if interval_check and self.interval <= 0:
            return "Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks"
        if interval_check and self.alias:
            return "Interval cannot be set for Alias checks"
        if self.alias and self.ttl > 0:
            return "TTL must be not be set for Alias checks"
        if not interval_check and not self.alias and self.ttl <= 0:
            return "TTL must be > 0 for TTL checks"
        try:
            max_size = int(self.raw.get("OutputMaxSize") or 0)
            warn = int(self.raw.get("FailuresBeforeWarning") or 0)
            crit = int(self.raw.get("FailuresBeforeCritical") or 0)
        except (TypeError, ValueError):
            max_size = warn = crit = 0
        if max_size < 0:
            return "MaxOutputMaxSize must be positive"
        if warn > crit:
            return "FailuresBeforeWarning can't be higher than FailuresBeforeCritical"
        return None

    @property
    def output_max_size(self) -> int:
        """The output limit: ``OutputMaxSize`` when smaller than the 4096 default."""
        try:
            size = int(self.raw.get("OutputMaxSize") or 0)
        except (TypeError, ValueError):
            size = 0
        return size if 0 < size < OUTPUT_MAX_SIZE else OUTPUT_MAX_SIZE

    def definition(self) -> dict[str, Any]:
        """The ``Definition`` shown on the check."""
        out: dict[str, Any] = {}
        for key in (
            "HTTP",
            "Header",
            "Method",
            "Body",
            "TLSSkipVerify",
            "TLSServerName",
            "TCP",
            "GRPC",
            "GRPCUseTLS",
            "Interval",
            "Timeout",
            "DeregisterCriticalServiceAfter",
            "DockerContainerID",
            "Shell",
            "TTL",
        ):
            if self.raw.get(key) not in (None, "", {}, False):
                out[key] = self.raw[key]
        if self.args:
            out["ScriptArgs"] = list(self.args)
        return out


class CheckHost(Protocol):
    """What a runner needs of the agent that owns its check."""

    core: "FakeCore"
    checks: dict[str, dict[str, Any]]

    def set_status(self, check_id: str, status: str, output: str) -> bool:
        """Set a check's status and output; whether anything changed."""
        ...


class Runner:
    """Base of check runners: ``start()`` and ``stop()``."""

    def start(self) -> None:
        """Begin running."""

    def stop(self) -> None:
        """Stop every timer and cancel work in flight."""

    def reset(self) -> None:
        """A TTL update arrived (only TTL runners care)."""


class TTLRunner(Runner):
    """Turns a check critical when its TTL passes without an update."""

    def __init__(
        self, agent: CheckHost, check_id: str, ttl: float, output_max_size: int = OUTPUT_MAX_SIZE
    ) -> None:
        self.agent = agent
        self.check_id = check_id
        self.ttl = ttl
        self.output_max_size = output_max_size
        #: The output of the last TTL update (CheckTTL.lastOutput).
        self.last_output = ""
        self._timer: Any = None

    def set_status(self, status: str, output: str) -> None:
        """``CheckTTL.SetStatus``: cut the output, record it, set the check, restart the TTL."""
        output = truncate_output(output, self.output_max_size)
        self.agent.set_status(self.check_id, status, output)
        self.last_output = output
        self.reset()

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
        output = "TTL expired"
        if self.last_output:
            output = f"TTL expired (last output before timeout follows): {self.last_output}"
        self.agent.set_status(self.check_id, CRITICAL, output)
        self.agent.core.changed()


class IntervalRunner(Runner):
    """
    Runs ``probe()`` (a Deferred of ``(status, output)``) right away and then
    every ``interval`` after each probe finishes, on ``clock``.
    """

    def __init__(
        self,
        agent: CheckHost,
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


class _Discard(_WireProtocol):
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


def http_probe(reactor: Any, clock: Scheduler, ct: CheckType) -> Callable[[], Deferred]:
    """A probe issuing the check's HTTP request through ``reactor``."""
    from twisted.web.client import Agent, readBody
    from twisted.web.http_headers import Headers
    from twisted.web.iweb import IBodyProducer

    method = (ct.raw.get("Method") or "GET").upper()
    url = ct.http
    timeout = ct.timeout or DEFAULT_HTTP_TIMEOUT

    def probe() -> Deferred:
        agent = Agent(reactor, connectTimeout=timeout)
        headers = Headers({b"User-Agent": [b"Consul Health Check"], b"Accept": [b"text/plain, text/*, */*"]})
        for name, values in (ct.raw.get("Header") or {}).items():
            vals = values if isinstance(values, list) else [values]
            headers.setRawHeaders(name.encode("utf-8"), [str(v).encode("utf-8") for v in vals])
        producer: Optional[IBodyProducer] = None
        body = ct.raw.get("Body")
        if body:
            from twisted.web.client import FileBodyProducer
            from io import BytesIO

            producer = FileBodyProducer(BytesIO(body.encode("utf-8")))
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
        d.addTimeout(timeout, cast(Any, clock))  # a Scheduler is an IReactorTime
        d.addErrback(failed)
        return d

    return probe


def tcp_probe(reactor: Any, clock: Scheduler, ct: CheckType) -> Callable[[], Deferred]:
    """A probe opening a TCP connection through ``reactor``."""
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
            ep: Any = TCP4ClientEndpoint(reactor, host, port, timeout=timeout)
        elif isIPv6Address(host):
            ep = TCP6ClientEndpoint(reactor, host, port, timeout=timeout)
        else:
            ep = HostnameEndpoint(reactor, host.encode("idna"), port, timeout=timeout)
        d = ep.connect(Factory.forProtocol(_Discard))

        def ok(proto: Any) -> tuple[str, str]:
            proto.transport.abortConnection()
            return PASSING, f"TCP connect {target}: Success"

        def failed(f: Failure) -> tuple[str, str]:
            return CRITICAL, f"dial tcp {target}: {f.getErrorMessage()}"

        d.addTimeout(timeout, clock)
        return d.addCallbacks(ok, failed)

    return probe


def script_probe(
    reactor: Any, clock: Scheduler, ct: CheckType, processes: dict[Any, Deferred]
) -> Callable[[], Deferred]:
    """
    A probe spawning the check's ``Args`` with ``reactor``; ``processes``
    tracks the children not yet reaped.
    """
    args = [str(a) for a in ct.args]
    timeout = ct.timeout or DEFAULT_SCRIPT_TIMEOUT

    def probe() -> Deferred:
        done: Deferred = Deferred()
        proto = _ScriptProtocol(done, processes)
        process = reactor.spawnProcess(proto, args[0], args, env=dict(os.environ))
        timer = clock.callLater(timeout, lambda: _kill(process))

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
