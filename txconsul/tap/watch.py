# -*- test-case-name: tests.test_tap_watch -*-
"""
``twistd consul-watch``: ``consul watch`` as a Twisted service.

Watches one Consul view (``--type`` and its parameters) or several (``--config``,
the agent's ``watches`` stanza) and, on every change, runs a command with the
JSON result on stdin and ``CONSUL_INDEX`` in its environment, or POSTs the JSON
to ``--http-handler``; with no handler it prints the JSON once and exits.

Sources followed: hashicorp/consul command/watch/watch.go (options, ``-shell``
true by default, the child's stdout/stderr are the command's, no handler:
``json.MarshalIndent`` with a four-space indent and a newline), agent/watch_handler.go
(``json.NewEncoder(...).Encode(data)``: compact JSON and a newline on stdin
and as the HTTP body; ``Content-Type`` and ``X-Consul-Index``; the http
handler's ``tls_skip_verify``), api/watch/watch.go (the ``watches`` keys, the
``http_handler_config`` defaults) and api/watch/plan.go (the retry schedule).
"""

from __future__ import annotations

import json
import os
import sys
from base64 import b64encode
from typing import Any, Callable, Mapping, Optional, Sequence
from urllib.parse import unquote_to_bytes

from hyperlink import URL, URLParseError
from twisted.application.service import MultiService, Service
from twisted.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    maybeDeferred,
    succeed,
)
from twisted.internet.protocol import ProcessProtocol
from twisted.logger import Logger
from twisted.python import usage

from txconsul._duration import parse_duration, parse_wait
from txconsul.tap._agentcheck import AgentCheckFailed, check_agent
from txconsul.tap._cli import EXIT_ERROR, CommandOptions, ExitStatus, usage_exit
from txconsul.watch import (
    CHECK_STATES,
    WATCH_TYPES,
    Handler,
    Watch,
    build_watch,
)

log = Logger()

#: Seconds a handler process gets to exit after SIGTERM before SIGKILL.
KILL_AFTER = 5.0

#: What ``consul watch`` gives an HTTP handler when none is configured.
DEFAULT_HTTP_TIMEOUT = 10.0

#: Keys of one entry of the agent's ``watches`` stanza that this tool reads.
CONFIG_KEYS = frozenset(
    {
        "type",
        "datacenter",
        "token",
        "stale",
        "key",
        "prefix",
        "service",
        "tag",
        "passingonly",
        "state",
        "name",
        "filter",
        "handler_type",
        "args",
        "handler",
        "http_handler_config",
        "service_id",
    }
)


#: What Go's encoding/json escapes although JSON does not require it: the
#: HTML-safe escapes of json.Marshal / json.Encoder (SetEscapeHTML defaults to
#: true) and the JavaScript line terminators U+2028 / U+2029.
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def encode_json(data: Any, indent: Optional[int] = None) -> bytes:
    """
    JSON as Go's encoding/json writes it: ``null`` for None, UTF-8 text,
    ``<``, ``>``, ``&``, U+2028 and U+2029 escaped as ``\\u003c``... (those
    characters only occur inside strings, so replacing them is safe).
    """
    if indent is None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(data, indent=indent, ensure_ascii=False)
    for char, escaped in _GO_ESCAPES:
        text = text.replace(char, escaped)
    return text.encode("utf-8")


# -- the JSON consul watch gives its handlers ------------------------------------------

#: api.KVPair's fields, in order, with the zero value Go writes for each.
#: ``Session`` has no ``omitempty``: ``consul watch`` always shows it, ``""``
#: when the key is not locked, although Consul's HTTP answer leaves it out.
_KV_FIELDS: tuple[tuple[str, Any], ...] = (
    ("Key", ""),
    ("CreateIndex", 0),
    ("ModifyIndex", 0),
    ("LockIndex", 0),
    ("Flags", 0),
    ("Value", None),
    ("Session", ""),
)

#: api.KVPair fields tagged ``json:",omitempty"``.
_KV_OMITEMPTY = ("Namespace", "Partition")

#: api.UserEvent's fields, in order, with Go's zero values (no omitempty).
_EVENT_FIELDS: tuple[tuple[str, Any], ...] = (
    ("ID", ""),
    ("Name", ""),
    ("Payload", None),
    ("NodeFilter", ""),
    ("ServiceFilter", ""),
    ("TagFilter", ""),
    ("Version", 0),
    ("LTime", 0),
)


def _go_struct(
    entry: dict[str, Any], fields: Sequence[tuple[str, Any]], omitempty: Sequence[str] = ()
) -> dict[str, Any]:
    """``entry`` decoded into a Go struct and encoded again: known fields only."""
    out = {name: entry.get(name, zero) for name, zero in fields}
    for name in omitempty:
        if entry.get(name):
            out[name] = entry[name]
    return out


def _go_kv(entry: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    return None if entry is None else _go_struct(entry, _KV_FIELDS, _KV_OMITEMPTY)


def go_json(type: str, data: Any) -> Any:
    """
    A watch's raw answer (``Watch(..., raw=True)``: Consul's JSON) as
    ``consul watch`` gives it to its handlers: decoded into the Go ``api``
    package's structs and encoded again.  KV entries and events come in the
    ``api.KVPair`` / ``api.UserEvent`` field order with Go's zero values
    (``"Session": ""``), unknown fields dropped; an empty ``keyprefix`` is
    ``null`` (a nil slice).  Other types are Consul's JSON as is.
    """
    if type == "key":
        return _go_kv(data)
    if type == "keyprefix":
        return None if data is None else [_go_kv(e) for e in data]
    if type == "event":
        return [_go_struct(e, _EVENT_FIELDS) for e in data]
    return data


def go_handler(type: str, handler: Handler) -> Handler:
    """``handler`` given :func:`go_json` of a ``type`` watch's raw answers."""

    def handle(index: int, data: Any) -> Any:
        return handler(index, go_json(type, data))

    return handle


class Options(CommandOptions):
    """Command-line options of ``twistd consul-watch``."""

    tapname = "consul-watch"
    synopsis = "[options] [--] [handler command...]"
    longdesc = (
        "Watches a Consul view like 'consul watch'. The command after the "
        "options (after '--') runs on every change, through $SHELL -c unless "
        "--no-shell, with the JSON result on "
        "stdin and CONSUL_INDEX set; --http-handler POSTs the JSON instead; "
        "with neither, the JSON is printed once and the program exits. "
        "CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE, "
        "CONSUL_HTTP_SSL, CONSUL_HTTP_SSL_VERIFY, CONSUL_CACERT, "
        "CONSUL_CLIENT_CERT, CONSUL_CLIENT_KEY and CONSUL_TLS_SERVER_NAME "
        "are the defaults of the matching options. Before watching, it asks the "
        "agent for /v1/agent/self as 'consul watch' does, and exits 1 with "
        "'Error querying Consul agent' when the agent cannot be reached or "
        "refuses the token (--wait-for-agent retries instead)."
    )
    optParameters = [
        ["type", None, None, "Watch type: " + ", ".join(WATCH_TYPES) + "."],
        ["key", None, None, "The key to watch (type key)."],
        ["prefix", None, None, "The key prefix to watch (type keyprefix)."],
        ["service", None, None, "The service (type service and connect_leaf; optional for checks)."],
        ["service-id", None, None, "The local service ID (type agent_service)."],
        ["state", None, None, "Check state: " + ", ".join(CHECK_STATES) + " (type checks)."],
        ["name", None, None, "Event name (type event)."],
        ["filter", None, None, "Consul filter expression (services, nodes, service, checks)."],
        ["http-addr", None, None, "Agent address (default CONSUL_HTTP_ADDR or 127.0.0.1:8500)."],
        ["token", None, None, "ACL token (default CONSUL_HTTP_TOKEN)."],
        ["token-file", None, None, "File holding the ACL token (CONSUL_HTTP_TOKEN_FILE)."],
        ["datacenter", None, None, "Datacenter to query (default: the agent's)."],
        ["ca-file", None, None, "CA bundle to verify the agent (CONSUL_CACERT)."],
        ["client-cert", None, None, "Client certificate (CONSUL_CLIENT_CERT)."],
        ["client-key", None, None, "Client key (CONSUL_CLIENT_KEY)."],
        ["tls-server-name", None, None, "Server name to verify (CONSUL_TLS_SERVER_NAME)."],
        ["http-handler", None, None, "POST the JSON to this URL on every change."],
        ["http-handler-timeout", None, "10s", "Timeout of each --http-handler POST."],
        ["config", None, None, "JSON file with a 'watches' list, as the Consul agent's."],
        ["max-output", None, "65536", "Bytes of each handler run's output kept in the log."],
        ["wait", None, None, "Blocking wait of each query (default 5m, Consul's; 10m for event watches)."],
        [
            "retry-interval",
            None,
            "1s",
            "txconsul extension: first retry delay; it doubles with each failure in a row.",
        ],
        ["max-backoff", None, "3m", "txconsul extension: the longest retry delay."],
    ]
    optFlags = [
        ["passingonly", None, "Only instances passing all checks (type service)."],
        ["stale", None, "Allow stale reads from any server."],
        ["shell", None, "Run the command through $SHELL -c, joined by spaces (the default)."],
        ["no-shell", None, "Run the command directly (consul watch -shell=false)."],
        [
            "wait-for-agent",
            None,
            "txconsul extension: do not exit when the agent cannot be queried at start; "
            "retry until it answers.",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["tag"] = []
        self["command"] = []

    def opt_tag(self, value: str) -> None:
        """Service tag to filter on (repeatable; types service and checks)."""
        self["tag"].append(value)

    def parseArgs(self, *command: str) -> None:
        """The handler command: everything after the options."""
        self["command"] = list(command)

    def postOptions(self) -> None:
        """Validate option combinations before anything starts."""
        try:
            self["max-output"] = int(self["max-output"])
            if self["max-output"] < 0:
                raise ValueError
        except ValueError:
            raise usage.UsageError("--max-output must be a non-negative integer")
        try:
            self["http-handler-timeout"] = parse_duration(
                self["http-handler-timeout"], "--http-handler-timeout"
            )
            if self["wait"] is not None:
                self["wait"] = parse_wait(self["wait"])
        except ValueError as e:
            raise usage.UsageError(str(e))
        if self["http-handler-timeout"] <= 0:
            raise usage.UsageError("--http-handler-timeout must be greater than zero")
        try:
            self["retry-interval"] = parse_duration(self["retry-interval"], "--retry-interval")
            self["max-backoff"] = parse_duration(self["max-backoff"], "--max-backoff")
        except ValueError as e:
            raise usage.UsageError(str(e))
        if self["retry-interval"] <= 0:
            raise usage.UsageError("--retry-interval must be greater than zero")
        if self["max-backoff"] < self["retry-interval"]:
            raise usage.UsageError("--max-backoff must be at least --retry-interval")
        if self["shell"] and self["no-shell"]:
            raise usage.UsageError("use --shell or --no-shell, not both")
        if self["token"] is not None and self["token-file"] is not None:
            raise usage.UsageError("use --token or --token-file, not both")
        if (self["client-cert"] is None) != (self["client-key"] is None):
            raise usage.UsageError("--client-cert and --client-key go together")
        if self["config"] is not None:
            clash = [
                n
                for n in (
                    "type",
                    "key",
                    "prefix",
                    "service",
                    "service-id",
                    "state",
                    "name",
                    "filter",
                    "http-handler",
                )
                if self[n] is not None
            ]
            clash += [n for n in ("passingonly", "stale", "shell", "no-shell") if self[n]]
            if self["tag"]:
                clash.append("tag")
            if clash or self["command"]:
                what = ", ".join("--" + c for c in clash) or "a command"
                raise usage.UsageError(f"--config cannot be combined with {what}")
            self["watches"] = load_config(self["config"])
            return
        if self["type"] is None:
            raise usage.UsageError("Watch type must be specified (--type)")
        if self["http-handler"] is not None and self["command"]:
            raise usage.UsageError("use a command or --http-handler, not both")
        spec: dict[str, Any] = {"type": self["type"]}
        for name in ("key", "prefix", "service", "state", "name", "filter"):
            if self[name] is not None:
                spec[name] = self[name]
        if self["service-id"] is not None:
            spec["service_id"] = self["service-id"]
        if self["tag"]:
            spec["tag"] = list(self["tag"])
        if self["passingonly"]:
            spec["passingonly"] = True
        if self["stale"]:
            spec["stale"] = True
        if self["datacenter"] is not None:
            spec["datacenter"] = self["datacenter"]
        if self["command"]:
            spec["handler_type"] = "script"
            # command/watch/watch.go: -shell defaults to true, and then
            # exec.Script(strings.Join(c.flags.Args(), " ")): $SHELL -c.
            if self["no-shell"]:
                spec["args"] = list(self["command"])
            else:
                spec["handler"] = " ".join(self["command"])
        elif self["http-handler"] is not None:
            spec["handler_type"] = "http"
            spec["http_handler_config"] = {
                "path": self["http-handler"],
                "timeout": self["http-handler-timeout"],
            }
        try:
            self["watches"] = [check_spec(spec, handler_required=False, where="options")]
        except usage.UsageError as e:
            message = str(e)
            if message.startswith("options: "):
                message = _parameter_error(message[len("options: ") :])
            raise usage.UsageError(message) from None

    def __repr__(self) -> str:
        return "<consul-watch Options>"


def load_config(path: str) -> list[dict[str, Any]]:
    """
    Read ``--config``: ``{"watches": [...]}`` (or a bare list) in the shape of
    the Consul agent's ``watches`` stanza; every watch needs a handler.

    :raises usage.UsageError: for an unreadable file or an invalid watch.
    """
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise usage.UsageError(f"--config {path}: {e}")
    watches = doc.get("watches") if isinstance(doc, dict) else doc
    if not isinstance(watches, list) or not watches:
        raise usage.UsageError(f"--config {path}: expected a non-empty 'watches' list")
    return [
        check_spec(w, handler_required=True, where=f"--config {path}: watch {i}")
        for i, w in enumerate(watches)
    ]


def check_spec(spec: Any, *, handler_required: bool, where: str) -> dict[str, Any]:
    """
    Validate one watch definition (agent ``watches`` keys) and return it,
    normalised, with its ``plan`` keyword arguments under ``"params"``.

    :raises usage.UsageError: naming ``where`` and the problem.
    """
    if not isinstance(spec, dict):
        raise usage.UsageError(f"{where}: a watch must be a JSON object")
    unknown = sorted(set(spec) - CONFIG_KEYS)
    if unknown:
        raise usage.UsageError(f"{where}: invalid parameters {unknown}")
    spec = dict(spec)
    for name in (
        "type",
        "datacenter",
        "token",
        "key",
        "prefix",
        "service",
        "state",
        "name",
        "filter",
        "handler_type",
        "handler",
        "service_id",
    ):
        if name in spec and not isinstance(spec[name], str):
            raise usage.UsageError(f"{where}: expecting {name} to be a string")
    for name in ("stale", "passingonly"):
        if name in spec and not isinstance(spec[name], bool):
            raise usage.UsageError(f"{where}: expecting {name} to be a boolean")
    tag = spec.get("tag")
    if tag is not None and not (
        isinstance(tag, str) or (isinstance(tag, list) and all(isinstance(t, str) for t in tag))
    ):
        raise usage.UsageError(f"{where}: expecting tag to be a string or list of strings")
    if "type" not in spec:
        raise usage.UsageError(f"{where}: Watch type must be specified")
    # api/watch/funcs.go: an empty key or prefix is refused.
    if spec["type"] == "key" and not spec.get("key"):
        raise usage.UsageError(f"{where}: Must specify a single key to watch")
    if spec["type"] == "keyprefix" and not spec.get("prefix"):
        raise usage.UsageError(f"{where}: Must specify a single prefix to watch")
    params: dict[str, Any] = {}
    for name in (
        "key",
        "prefix",
        "service",
        "tag",
        "passingonly",
        "state",
        "name",
        "filter",
        "token",
        "stale",
        "service_id",
    ):
        if name in spec:
            params[name] = spec[name]
    if "datacenter" in spec:
        params["dc"] = spec["datacenter"]
    try:
        build_watch(spec["type"], **params)
    except (ValueError, TypeError) as e:
        raise usage.UsageError(f"{where}: {e}")
    htype = spec.get("handler_type")
    has_script = "args" in spec or "handler" in spec
    # api/watch/watch.go consumes http_handler_config only for handler_type
    # "http"; anywhere else it is left over: "Invalid parameters".
    if "http_handler_config" in spec and htype != "http":
        raise usage.UsageError(f"{where}: invalid parameters ['http_handler_config']")
    # agent/agent.go: handler and args, or either with an http handler, are
    # "Only one watch handler allowed".
    if ("args" in spec and "handler" in spec) or (htype == "http" and has_script):
        raise usage.UsageError(f"{where}: Only one watch handler allowed")
    if htype is None and has_script:
        htype = "script"
    if htype not in (None, "script", "http"):
        raise usage.UsageError(f"{where}: handler_type must be 'script' or 'http'")
    if htype == "script":
        args = spec.get("args")
        if args is not None:
            if not (isinstance(args, list) and args and all(isinstance(a, str) for a in args)):
                raise usage.UsageError(f"{where}: args must be a non-empty list of strings")
        elif not spec.get("handler"):
            raise usage.UsageError(f"{where}: a script handler needs args (or handler)")
    elif htype == "http":
        cfg = spec.get("http_handler_config")
        if not isinstance(cfg, dict) or not isinstance(cfg.get("path"), str) or not cfg["path"]:
            raise usage.UsageError(
                f"{where}: Handler type 'http' requires 'http_handler_config' with a 'path'"
            )
        try:
            parse_handler_url(cfg["path"])
        except ValueError as e:
            raise usage.UsageError(f"{where}: http_handler_config path: {e}")
        bad = sorted(set(cfg) - {"path", "method", "header", "timeout", "tls_skip_verify"})
        if bad:
            raise usage.UsageError(f"{where}: invalid http_handler_config keys {bad}")
        if not isinstance(cfg.get("tls_skip_verify", False), bool):
            raise usage.UsageError(f"{where}: tls_skip_verify must be a boolean")
        method = cfg.get("method") or "POST"  # watch.go: Method "" -> "POST"
        if not isinstance(method, str):
            raise usage.UsageError(f"{where}: method must be a string")
        # watch.go: TimeoutRaw "" -> DefaultTimeout (10s), else ParseDuration.
        timeout = cfg.get("timeout", "")
        if timeout == "":
            seconds = DEFAULT_HTTP_TIMEOUT
        else:
            try:
                seconds = parse_duration(timeout, "http_handler_config timeout")
            except (ValueError, TypeError) as e:
                raise usage.UsageError(f"{where}: {e}")
            if seconds <= 0:
                raise usage.UsageError(f"{where}: http_handler_config timeout must be greater than zero")
        cfg = dict(cfg, method=method, timeout=seconds)
        header = cfg.get("header", {})
        if not isinstance(header, dict) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in header.values()
        ):
            raise usage.UsageError(f"{where}: header must map names to lists of strings")
        spec["http_handler_config"] = cfg
    elif handler_required:
        raise usage.UsageError(f"{where}: Watch handler must be specified")
    spec["handler_type"] = htype
    spec["params"] = params
    return spec


# -- handlers ----------------------------------------------------------------------


class _HandlerProcess(ProcessProtocol):
    """One run of a handler command: JSON in, bounded output to the log."""

    def __init__(self, stdin: bytes, limit: int, label: str, index: int) -> None:
        self.stdin = stdin
        self.limit = limit
        self.label = label
        self.index = index
        self.output = {1: bytearray(), 2: bytearray()}
        self.dropped = {1: 0, 2: 0}
        self.done: Deferred = Deferred()
        self.ended = False

    def connectionMade(self) -> None:
        transport: Any = self.transport
        transport.write(self.stdin)
        transport.closeStdin()

    def childDataReceived(self, fd: int, data: bytes) -> None:
        buf = self.output.setdefault(fd, bytearray())
        room = self.limit - len(buf)
        if room > 0:
            buf += data[:room]
        self.dropped[fd] = self.dropped.get(fd, 0) + max(0, len(data) - max(room, 0))

    def processEnded(self, reason: Any) -> None:
        self.ended = True
        for fd, name in ((1, "stdout"), (2, "stderr")):
            text = bytes(self.output.get(fd, b"")).decode("utf-8", "replace")
            for line in text.splitlines():
                log.info("handler {label} {stream}: {line}", label=self.label, stream=name, line=line)
            if self.dropped.get(fd):
                log.warn(
                    "handler {label} {stream}: {n} more bytes not logged",
                    label=self.label,
                    stream=name,
                    n=self.dropped[fd],
                )
        code = getattr(reason.value, "exitCode", None)
        sig = getattr(reason.value, "signal", None)
        if code == 0:
            log.info("handler {label} done (index {index})", label=self.label, index=self.index)
        else:
            log.error(
                "handler {label} failed (index {index}): exit code {code}, signal {sig}",
                label=self.label,
                index=self.index,
                code=code,
                sig=sig,
            )
        self.done.callback(code)


class CommandHandler(Service):
    """
    Runs a command on every change, as ``consul watch`` does: the JSON on
    stdin, ``CONSUL_INDEX`` in the environment, output captured into the log
    (at most ``limit`` bytes per stream and run, as the agent's watches do)
    or, with ``passthrough``, written straight to this process's stdout and
    stderr (``consul watch``: ``cmd.Stdout = os.Stdout``).  Stopping it terminates a
    run in progress (SIGTERM, then SIGKILL after :data:`KILL_AFTER`) and
    fires once the process is reaped.
    """

    def __init__(
        self,
        argv: list[str],
        reactor: Any,
        *,
        limit: int = 65536,
        environ: Optional[Mapping[str, str]] = None,
        label: str = "",
        passthrough: bool = False,
    ) -> None:
        self.passthrough = passthrough
        self.argv = list(argv)
        self.reactor = reactor
        self.limit = limit
        self.environ = dict(os.environ if environ is None else environ)
        self.label = label or os.path.basename(argv[0])
        self.running_procs: list[Any] = []

    def __call__(self, index: int, data: Any) -> Deferred:
        """Run the command once for ``(index, data)``; fires when it exits."""
        if not self.running:
            return succeed(None)
        env = dict(self.environ, CONSUL_INDEX=str(index))
        proto = _HandlerProcess(encode_json(data) + b"\n", self.limit, self.label, index)
        kwargs: dict[str, Any] = {}
        if self.passthrough:
            kwargs["childFDs"] = {0: "w", 1: 1, 2: 2}
        try:
            transport = self.reactor.spawnProcess(proto, self.argv[0], self.argv, env=env, **kwargs)
        except Exception as e:
            log.error("handler {label} could not start: {error}", label=self.label, error=e)
            return succeed(None)
        entry = (proto, transport)
        self.running_procs.append(entry)

        def forget(result: Any) -> Any:
            if entry in self.running_procs:
                self.running_procs.remove(entry)
            return result

        return proto.done.addBoth(forget)

    def stopService(self) -> Deferred:
        """Terminate runs in progress; fire when they are reaped."""
        super().stopService()
        waits = []
        for proto, transport in list(self.running_procs):
            waits.append(proto.done)
            _signal(transport, "TERM")

            def kill(proto: Any = proto, transport: Any = transport) -> None:
                if not proto.ended:
                    _signal(transport, "KILL")

            call = self.reactor.callLater(KILL_AFTER, kill)
            proto.done.addBoth(lambda r, call=call: (call.active() and call.cancel(), r)[1])
        return DeferredList(waits)


def _signal(transport: Any, name: str) -> None:
    try:
        transport.signalProcess(name)
    except Exception:  # already gone
        pass


def _canonical_header(name: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey``: ``x-foo`` -> ``X-Foo``."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def handler_tls_policy(tls_skip_verify: bool) -> Any:
    """
    The ``IPolicyForHTTPS`` of an http handler: the system trust store, or
    with ``tls_skip_verify`` no certificate verification at all (Go's
    ``InsecureSkipVerify``, as agent/watch_handler.go sets it).
    """
    from twisted.web.client import BrowserLikePolicyForHTTPS

    from txconsul._tls import ConsulTLSPolicy

    if tls_skip_verify:
        return ConsulTLSPolicy(None, verify=False, description="tls_skip_verify")
    return BrowserLikePolicyForHTTPS()


def handler_http_client(reactor: Any, tls_skip_verify: bool) -> Any:
    """A treq ``HTTPClient`` for an http handler (see :func:`handler_tls_policy`)."""
    from treq.client import HTTPClient
    from twisted.web.client import Agent

    agent: Any = Agent(reactor, contextFactory=handler_tls_policy(tls_skip_verify))
    return HTTPClient(agent)


def parse_handler_url(url: str) -> URL:
    """
    Parse an http handler's URL: absolute ``http`` or ``https`` with a host.

    :raises ValueError: otherwise; the message never repeats the URL, which
        may carry a password or a token.
    """
    try:
        parsed = URL.from_text(url)
    except (URLParseError, ValueError, TypeError) as e:
        raise ValueError(f"not a valid URL ({type(e).__name__})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("must be an absolute http:// or https:// URL with a host")
    return parsed


def redact_url(url: URL) -> str:
    """
    ``url`` as it may be logged: ``scheme://host:port/path``, without user
    info, query or fragment (which may carry credentials).
    """
    host = f"[{url.host}]" if ":" in url.host else url.host
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{host}{port}/" + "/".join(url.path)


def basic_auth(url: URL) -> Optional[str]:
    """
    The ``Authorization`` value Go's ``http.Client`` derives from the user
    info of ``url`` (``Basic base64(user:password)``, both percent-decoded,
    password ``""`` when absent), or ``None`` when there is none.
    """
    if not url.userinfo:
        return None
    user, _, password = url.userinfo.partition(":")
    raw = unquote_to_bytes(user) + b":" + unquote_to_bytes(password)
    return "Basic " + b64encode(raw).decode("ascii")


class HTTPHandler:
    """
    POSTs (or ``method``s) the JSON to ``url`` with ``X-Consul-Index`` and a
    timeout, as the agent's ``http`` watch handler; failures are logged.

    User info in ``url`` (``https://user:pass@host/...``) is sent as an
    ``Authorization: Basic`` header and removed from the request line, as
    Go's ``http.Client`` (hence Consul's agent) does, unless a configured
    header already sets ``Authorization``.  Logs show only
    :attr:`log_url` (see :func:`redact_url`).

    :ivar url: the URL requested: ``url`` without its user info.
    :ivar log_url: the URL as logged.
    :raises ValueError: for a URL :func:`parse_handler_url` refuses.
    """

    def __init__(
        self,
        url: str,
        http_client: Any,
        reactor: Any,
        *,
        method: str = "POST",
        headers: Optional[Mapping[str, list[str]]] = None,
        timeout: float = DEFAULT_HTTP_TIMEOUT,
    ) -> None:
        parsed = parse_handler_url(url)
        self._authorization = basic_auth(parsed)
        self.url = parsed.replace(userinfo="").to_text()
        self.log_url = redact_url(parsed)
        self.http = http_client
        self.reactor = reactor
        self.method = method  # sent as given, like Go's http.NewRequest
        self.headers = {k: list(v) for k, v in (headers or {}).items()}
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<HTTPHandler {self.method} {self.log_url}>"

    def __call__(self, index: int, data: Any) -> Deferred:
        """Send one change; fires (never fails) when it is answered or has failed."""
        # watch_handler.go: Header.Add Content-Type and X-Consul-Index, then
        # Add every configured value (appended, never replacing; Go
        # canonicalises the names).
        headers: dict[str, list[str]] = {
            "Content-Type": ["application/json"],
            "X-Consul-Index": [str(index)],
        }
        for name, values in self.headers.items():
            headers.setdefault(_canonical_header(name), []).extend(values)
        # net/http Client.send: URL user info becomes basic auth when no
        # Authorization header is set.
        if self._authorization is not None and not headers.get("Authorization"):
            headers["Authorization"] = [self._authorization]
        # watch_handler.go: json.NewEncoder(&inp).Encode(data) -- with a newline.
        d = self.http.request(
            self.method, self.url, data=encode_json(data) + b"\n", headers=headers, timeout=self.timeout
        )

        def answered(response: Any) -> Any:
            code = response.code
            if not 200 <= code < 300:
                log.error(
                    "http handler: {method} {url} answered {code}",
                    method=self.method,
                    url=self.log_url,
                    code=code,
                )
            else:
                log.info(
                    "http handler: {method} {url} answered {code} (index {index})",
                    method=self.method,
                    url=self.log_url,
                    code=code,
                    index=index,
                )
            return response.content().addErrback(lambda f: None)

        def failed(f: Any) -> None:
            # An error text could quote the URL requested: show the logged form.
            error = (f.getErrorMessage() or f.type.__name__).replace(self.url, self.log_url)
            log.error(
                "http handler: {method} {url} failed: {error}",
                method=self.method,
                url=self.log_url,
                error=error,
            )

        return d.addCallbacks(answered, failed).addCallback(lambda _: None)


class PrintOnce:
    """Print the first result as indented JSON, then stop, as ``consul watch`` does."""

    def __init__(self, out: Any, stop: Callable[[], Any]) -> None:
        self.out = out
        self.stop = stop
        self.done = False

    def __call__(self, index: int, data: Any) -> None:
        """Print ``data`` once and call ``stop``."""
        if self.done:
            return
        self.done = True
        self.out.write(encode_json(data, indent=4).decode("utf-8") + "\n")
        self.out.flush()
        self.stop()


# -- the service ---------------------------------------------------------------------


#: Which option sets which client environment variable.
_OPTION_VARIABLES = (
    ("http-addr", "CONSUL_HTTP_ADDR"),
    ("token-file", "CONSUL_HTTP_TOKEN_FILE"),
    ("ca-file", "CONSUL_CACERT"),
    ("client-cert", "CONSUL_CLIENT_CERT"),
    ("client-key", "CONSUL_CLIENT_KEY"),
    ("tls-server-name", "CONSUL_TLS_SERVER_NAME"),
)


def client_environ(options: Options, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the client reads, with the explicit options laid over it."""
    env = dict(environ)
    for opt, var in _OPTION_VARIABLES:
        if options[opt] is not None:
            env[var] = options[opt]
    return env


def name_the_option(options: Options, message: str) -> str:
    """
    ``message`` about a ``CONSUL_*`` variable, with the variable's name
    replaced by the option's when the value came from that option; a message
    that quotes the value of a file option without naming it gets the
    option's name in front.
    """
    for opt, var in _OPTION_VARIABLES:
        if options[opt] is not None and var in message:
            message = message.replace(var, "--" + opt)
    if "--" not in message and "CONSUL_" not in message:
        for opt in ("ca-file", "client-cert", "client-key", "token-file"):
            if options[opt] is not None and repr(options[opt]) in message:
                return f"--{opt}: {message}"
    return message


#: Words of a watch parameter error, and the option each is about.
_PARAMETER_OPTIONS = (
    ("watch type", "type"),
    ("handler_type", "type"),
    ("prefix", "prefix"),
    ("key", "key"),
    ("state", "state"),
    ("tag", "tag"),
    ("passingonly", "passingonly"),
    ("filter", "filter"),
    ("name", "name"),
    ("service", "service"),
    ("stale", "stale"),
    ("datacenter", "datacenter"),
)


def _parameter_error(message: str) -> str:
    """
    A watch parameter error from :func:`check_spec`, led by the option it is
    about: the one whose word comes first in the message.
    """
    lowered = message.lower()
    found = [
        (lowered.find(word), i, opt) for i, (word, opt) in enumerate(_PARAMETER_OPTIONS) if word in lowered
    ]
    if found:
        return f"--{min(found)[2]}: {message}"
    return message


class WatchProcess(MultiService):
    """
    The consul-watch service: the client, its watches and their handlers.

    Started, it first checks the agent as ``consul watch`` does (see
    :func:`~txconsul.tap._agentcheck.check_agent`) unless ``check`` is
    false, and starts its watches only once the agent has answered; a failed
    check is reported through ``status`` (exit status 1).  Stopping it stops
    the watches, then the handlers (reaping processes), then closes the
    client's connections.

    :ivar status: the :class:`~txconsul.tap._cli.ExitStatus` of the process.
    """

    def __init__(
        self,
        consul: Any,
        *,
        check: bool = False,
        token_required: bool = True,
        status: Optional[ExitStatus] = None,
    ) -> None:
        super().__init__()
        self.consul = consul
        self.watches: list[Watch] = []
        self.check = check
        self.token_required = token_required
        self.status = status if status is not None else ExitStatus(Options.tapname)
        self._checking: Optional[Deferred] = None
        self._children_started = False

    def startService(self) -> None:
        """Check the agent (unless told not to), then start the watches and handlers."""
        if not self.check:
            self._start_children()
            return
        Service.startService(self)
        d = check_agent(self.consul, self.consul.reactor, token_required=self.token_required)
        self._checking = d

        def passed(_: Any) -> None:
            self._checking = None
            if self.running:
                self._start_children()

        def failed(f: Any) -> None:
            self._checking = None
            if f.check(AgentCheckFailed):
                self.status.fail(str(f.value), EXIT_ERROR)
            elif not f.check(CancelledError):
                self.status.fail(f"Error querying Consul agent: {f.getErrorMessage()}", EXIT_ERROR)

        d.addCallbacks(passed, failed)

    def _start_children(self) -> None:
        self._children_started = True
        MultiService.startService(self)

    def stopService(self) -> Deferred:
        """Stop everything, then close the client's pooled connections."""
        if self._checking is not None:
            self._checking.cancel()
        if self._children_started:
            d = super().stopService()
        else:
            d = maybeDeferred(Service.stopService, self)
        return d.addBoth(lambda _: self.consul.close())


def build_service(
    options: Options,
    reactor: Any,
    *,
    environ: Optional[Mapping[str, str]] = None,
    out: Any = None,
    stop: Optional[Callable[[], Any]] = None,
    http_client: Any = None,
    consul: Any = None,
    err: Any = None,
    check: Optional[bool] = None,
) -> WatchProcess:
    """
    Build the service ``options`` describe, on ``reactor``.  Tests pass a
    clock, an ``out`` file, a ``stop`` callable, an HTTP client (with treq's
    ``request`` signature), a ready ``consul`` client, an ``err`` file for
    fatal errors, or ``check`` (default: the agent is checked at start unless
    ``--wait-for-agent``).

    :raises usage.UsageError: for a client setting that cannot be used (an
        address, a token file, a TLS file...); the message names the option
        (or the ``CONSUL_*`` variable) it came from.
    """
    from txconsul import Consul

    if consul is None:
        env = client_environ(options, os.environ if environ is None else environ)
        try:
            consul = Consul(token=options["token"], dc=options["datacenter"], reactor=reactor, environ=env)
        except (ValueError, TypeError, OSError) as e:
            raise usage.UsageError(name_the_option(options, str(e)))

    def stop_all() -> None:
        if stop is not None:
            stop()
        else:
            reactor.stop()

    if check is None:
        check = not options["wait-for-agent"]
    status = ExitStatus(Options.tapname, err=err, stop=stop_all)
    top = WatchProcess(consul, check=check, token_required=options["config"] is None, status=status)
    handlers = MultiService()
    handlers.setServiceParent(top)
    watches = MultiService()
    watches.setServiceParent(top)  # stopped first (reverse order)
    # consul watch hands its own stdout/stderr to the child; the agent's
    # watches (--config) capture the output into the log.
    passthrough = options["config"] is None
    for i, spec in enumerate(options["watches"]):
        label = f"{spec['type']}#{i}"
        htype = spec["handler_type"]
        if htype == "script":
            if "args" in spec:
                argv = list(spec["args"])
            else:
                shell = (os.environ if environ is None else environ).get("SHELL") or "/bin/sh"
                argv = [shell, "-c", spec["handler"]]
            runner = CommandHandler(
                argv, reactor, limit=options["max-output"], label=label, passthrough=passthrough
            )
            runner.setServiceParent(handlers)
            handler: Callable[[int, Any], Any] = runner
        elif htype == "http":
            cfg = spec["http_handler_config"]
            client = http_client
            if client is None:
                client = handler_http_client(reactor, cfg.get("tls_skip_verify", False))
            handler = HTTPHandler(
                cfg["path"],
                client,
                reactor,
                method=cfg.get("method") or "POST",
                headers=cfg.get("header"),
                timeout=cfg["timeout"],
            )
        else:
            handler = PrintOnce(out if out is not None else sys.__stdout__, stop_all)
        watch = Watch(
            consul,
            spec["type"],
            go_handler(spec["type"], handler),
            raw=True,
            wait=options["wait"],
            backoff=options["retry-interval"],
            backoff_cap=options["max-backoff"],
            **spec["params"],
        )
        watch.setServiceParent(watches)
        top.watches.append(watch)
    return top


def makeService(options: Options) -> WatchProcess:
    """
    Build the consul-watch service on the global reactor.  Run by twistd, a
    client setting that cannot be used exits with one line on stderr (status
    2), and a failed start-up check ends the process with status 1 once the
    reactor has shut down.
    """
    from twisted.internet import reactor

    try:
        service = build_service(options, reactor)
    except usage.UsageError as e:
        if options.parent is None:
            raise
        usage_exit(Options.tapname, str(e))
    if options.parent is not None:
        service.status.install(reactor, options.twistd_option("pidfile"))
    return service
