# -*- test-case-name: tests.test_api_modern_stream -*-
"""
FakeConsul's ``/v1/agent/monitor``: a stream of log lines of the fake's own
activity (each request it answers, each session it destroys, and whatever
a test logs with :meth:`MonitorPart.log`), filtered by ``?loglevel`` and
formatted as hclog does (text, or JSON with ``?logjson``), as
agent/agent_endpoint.go ``AgentMonitor`` and logging/monitor serve them.

Like Consul's, a monitor shows only what is logged after it started.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Optional

import attr

from ._acl import require
from ._core import HTTPError, Route

#: hclog's levels, lowest first (logging/logfile.go ``ValidateLogLevel``
#: accepts these names, upper-cased, plus ``ERR``).
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

_ALIASES = {"ERR": "ERROR"}


def parse_level(text: str) -> Optional[str]:
    """The canonical level of ``text`` (case-insensitive), or ``None``."""
    upper = text.upper()
    upper = _ALIASES.get(upper, upper)
    return upper if upper in LEVELS else None


@attr.s(slots=True, auto_attribs=True)
class StreamReply:
    """
    A handler's streamed answer: the headers go out at once, then
    ``start(write)`` is called; it returns the callable that stops the
    stream when the client goes away.
    """

    start: Callable[[Callable[[bytes], None]], Callable[[], None]]
    status: int = 200
    headers: dict[str, str] = attr.Factory(dict)


class _Watcher:
    """One open monitor: its level, format and writer."""

    def __init__(self, level: str, as_json: bool, write: Callable[[bytes], None]) -> None:
        self.level = LEVELS.index(level)
        self.as_json = as_json
        self.write = write


def _hclog_time(seconds: float, as_json: bool) -> str:
    """hclog's timestamp: ``2006-01-02T15:04:05.000Z0700`` (JSON: microseconds)."""
    whole = int(seconds)
    frac = seconds - whole
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if as_json:
        return f"{base}.{int(frac * 1_000_000):06d}Z"
    return f"{base}.{int(frac * 1000):03d}Z"


def _text_value(value: Any) -> str:
    """hclog quotes a text value holding spaces."""
    text = str(value)
    if not text or any(c in text for c in ' "=\t\n'):
        return json.dumps(text)
    return text


def format_line(
    seconds: float, level: str, module: str, message: str, fields: list[tuple[str, Any]], as_json: bool
) -> bytes:
    """One log line as hclog writes it, with its newline."""
    if as_json:
        record: dict[str, Any] = {
            "@level": level.lower(),
            "@message": message,
            "@module": module,
            "@timestamp": _hclog_time(seconds, True),
        }
        for k, v in fields:
            record[k] = v
        return (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
    tag = f"[{level}]".ljust(7)
    text = f"{_hclog_time(seconds, False)} {tag} {module}: {message}"
    if fields:
        text += ": " + " ".join(f"{k}={_text_value(v)}" for k, v in fields)
    return (text + "\n").encode("utf-8")


class MonitorPart:
    """
    The agent's log monitor.

    :ivar watchers: how many monitors are streaming now.
    """

    def __init__(self, core: Any, peers: Any) -> None:
        self.core = core
        self._peers = peers
        self._watchers: list[_Watcher] = []
        sessions = getattr(peers, "sessions", None)
        if sessions is not None:
            sessions.listeners.append(self)

    @property
    def watchers(self) -> int:
        """How many monitors are open."""
        return len(self._watchers)

    def routes(self) -> list[Route]:
        """The monitor's route."""
        # AgentMonitor reads the token, loglevel and logjson only (no s.parse).
        return [Route("/v1/agent/monitor", ("GET",), self.monitor, check_dc=False, parse=False)]

    def log(self, level: str, module: str, message: str, **fields: Any) -> None:
        """
        Log one line to every monitor whose level lets it through.

        :raises ValueError: for a level hclog does not know.
        """
        canon = parse_level(level)
        if canon is None:
            raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LEVELS)}")
        if not self._watchers:
            return
        rank = LEVELS.index(canon)
        now = float(self.core.clock.seconds())
        items = list(fields.items())
        for w in list(self._watchers):
            if rank >= w.level:
                w.write(format_line(now, canon, module, message, items, w.as_json))

    def request_finished(self, method: str, url: str, client: str) -> None:
        """Log an answered request as agent/http.go does (at DEBUG)."""
        if url.startswith("/v1/agent/monitor"):
            return
        self.log(
            "DEBUG",
            "agent.http",
            "Request finished",
            method=method,
            url=url,
            **{"from": client},
            latency="0s",
        )

    def session_destroyed(self, session: dict[str, Any], idx: int) -> None:
        """Log a destroyed or reaped session (SessionListener)."""
        self.log(
            "DEBUG", "agent.server.session", "session destroyed", session=session.get("ID", ""), index=idx
        )

    def monitor(self, req: Any) -> StreamReply:
        """``GET /v1/agent/monitor``: needs ``agent:read`` on this node."""
        require(req, "agent", self.core.node_name, "read")
        raw = req.get("loglevel") or "INFO"
        level = parse_level(raw)
        if level is None:
            raise HTTPError(400, f"Unknown log level: {raw}")
        as_json = req.has("logjson")

        def start(write: Callable[[bytes], None]) -> Callable[[], None]:
            watcher = _Watcher(level, as_json, write)
            self._watchers.append(watcher)

            def stop() -> None:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

            return stop

        return StreamReply(start, headers={"Content-Type": "text/plain; charset=utf-8"})
