# -*- test-case-name: tests.test_discovery_endpoints -*-
"""
The ``consul:`` endpoint string syntax, for ``clientFromString`` and
``serverFromString`` (and so ``twistd ... --listen consul:...``).

The twistd plugin objects in ``twisted/plugins/txconsul_plugins.py`` import
this module only when a ``consul:`` description is parsed.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from ._cache import HealthCache, Instance
from ._endpoints import ConsulClientEndpoint, ConsulServerEndpoint, consul_from_environment

__all__ = ["CLIENT_HELP", "SERVER_HELP", "close_shared", "parse_client", "parse_server"]

#: The client syntax, as ``python -m txconsul.discovery`` prints it.
CLIENT_HELP = """\
consul:<service>[:tag=<t1,t2>][:passing=yes|no][:near=<node>|_agent][:dc=<dc>]
       [:pick=random|round-robin|weighted][:attempts=3][:timeout=10][:readyTimeout=30]
       [:bindAddress=<host>][:agent=<CONSUL_HTTP_ADDR form>]
       [:tls=yes][:hostname=<name>][:trustRoots=<PEM file or dir>]
       [:certificate=<PEM>][:privateKey=<PEM>]
  Connect to a healthy instance of <service> found in Consul, trying the next
  instance (up to `attempts`) when a connection fails.  passing=yes (default):
  only instances whose checks all pass; passing=no: passing or warning.
  tls=yes connects with TLS, verified against `hostname` (default: the
  instance's address) and `trustRoots` (default: the system's).  The agent
  address and token come from CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN(_FILE) and
  the other CONSUL_* variables, as for txconsul.Consul(); agent= overrides
  the address.  Example: consul:web:tag=primary:pick=round-robin"""

#: The server syntax, as ``python -m txconsul.discovery`` prints it.
SERVER_HELP = """\
consul:<endpoint description, colons escaped>:name=<service>[:id=<service id>]
       [:tags=<t1,t2>][:ttl=10s][:address=<ip>][:port=<port>]
       [:deregisterAfter=<duration>][:agent=<CONSUL_HTTP_ADDR form>]
  Listen on the wrapped endpoint, and while listening keep <service>
  registered on the local Consul agent with a TTL check kept passing;
  deregister when the port stops.  The ID defaults to <name>-<port>; the
  address to the interface listened on (the node's address for a
  wildcard).  Agent address and token: the CONSUL_* variables, agent=
  overrides the address.  Example:
  twistd web --listen 'consul:tcp\\:8080:name=web:ttl=10s'"""

_TRUE = ("yes", "true", "1", "on")
_FALSE = ("no", "false", "0", "off")

# Shared per reactor: one client per agent address, one cache per query,
# so that every endpoint parsed for the same service follows one long-poll.
_shared: dict[tuple[Any, ...], Any] = {}


def _bool(name: str, value: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"consul: endpoint: invalid {name}={value!r} (use yes or no)")


def _number(name: str, value: str, kind: type = float) -> Any:
    try:
        number = kind(value)
    except ValueError:
        raise ValueError(f"consul: endpoint: invalid {name}={value!r} (not a number)") from None
    if number <= 0:
        raise ValueError(f"consul: endpoint: invalid {name}={value!r} (must be > 0)")
    return number


def _list(value: str) -> list[str]:
    return [v for v in (x.strip() for x in value.split(",")) if v]


def _unknown(kind: str, options: dict[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValueError(
            f"consul: {kind} endpoint: unknown option(s) {', '.join(unknown)} (known: {', '.join(known)})"
        )


def _client_key(reactor: Any, agent: Optional[str]) -> tuple[Any, ...]:
    # The environment is part of the key: a client made before a CONSUL_*
    # variable changed is not handed out after.
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("CONSUL_")))
    return ("client", id(reactor), agent, env)


def _client_for(reactor: Any, agent: Optional[str]) -> Any:
    key = _client_key(reactor, agent)
    held = _shared.get(key)
    if held is not None and held[0] is reactor:
        return held[1]
    consul = consul_from_environment(reactor, agent)
    _shared[key] = (reactor, consul)
    if hasattr(reactor, "addSystemEventTrigger"):
        # Only the caches stop at shutdown: the client stays open, since a
        # server endpoint deregisters through it when twistd stops its
        # services (triggers of one phase run side by side); the reactor
        # closes its connections at the end.
        reactor.addSystemEventTrigger("before", "shutdown", _release, key, False)
    return consul


def _release(key: tuple[Any, ...], close: bool = True) -> Any:
    """Stop the caches of the client under ``key`` and (``close``) close it."""
    from twisted.internet.defer import gatherResults, maybeDeferred

    held = _shared.pop(key, None)
    if held is None:
        return None
    stopping = [
        maybeDeferred(_shared.pop(other)[1].stopService)
        for other in [k for k in _shared if k[0] == "cache" and k[1] == key]
    ]
    done = gatherResults(stopping)
    if close:
        done.addBoth(lambda _: held[1].close())
    return done


def close_shared(reactor: Any = None) -> Any:
    """
    Stop the caches and close the clients that ``consul:`` endpoint strings
    made (for ``reactor``, or for every reactor); a Deferred that fires when
    done.  When the reactor shuts down the caches stop by themselves (and
    the reactor closes the connections); call this to let go of them
    earlier, e.g. at the end of a test.
    """
    from twisted.internet.defer import gatherResults

    keys = [
        k for k, (r, _) in list(_shared.items()) if k[0] == "client" and (reactor is None or r is reactor)
    ]
    return gatherResults([_release(k) for k in keys])


def _load_pem(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"consul: endpoint: cannot read {what} {path!r}: {e.strerror}") from None


def _tls_options(
    hostname: Optional[str],
    trust_roots: Optional[str],
    certificate: Optional[str],
    private_key: Optional[str],
) -> Any:
    """``instance -> IOpenSSLClientConnectionCreator`` for ``tls=yes``."""
    from twisted.internet import ssl

    trust: Any = None
    if trust_roots is not None:
        paths = (
            [os.path.join(trust_roots, n) for n in sorted(os.listdir(trust_roots))]
            if os.path.isdir(trust_roots)
            else [trust_roots]
        )
        certs = []
        for path in paths:
            try:
                certs.append(ssl.Certificate.loadPEM(_load_pem(path, "trustRoots")))
            except ValueError:
                raise
            except Exception:
                if len(paths) == 1:
                    raise ValueError(f"consul: endpoint: {path!r} holds no PEM certificate") from None
        if not certs:
            raise ValueError(f"consul: endpoint: no PEM certificate in {trust_roots!r}")
        trust = ssl.trustRootFromCertificates(certs)
    client_cert: Any = None
    if (certificate is None) != (private_key is None):
        raise ValueError("consul: endpoint: certificate and privateKey go together")
    if certificate is not None and private_key is not None:
        pem = _load_pem(certificate, "certificate") + b"\n" + _load_pem(private_key, "privateKey")
        client_cert = ssl.PrivateCertificate.loadPEM(pem)

    def creator(instance: Instance) -> Any:
        kwargs: dict[str, Any] = {}
        if trust is not None:
            kwargs["trustRoot"] = trust
        if client_cert is not None:
            kwargs["clientCertificate"] = client_cert
        return ssl.optionsForClientTLS(hostname or instance.address, **kwargs)

    return creator


_CLIENT_OPTIONS = (
    "agent",
    "attempts",
    "bindAddress",
    "certificate",
    "dc",
    "hostname",
    "near",
    "passing",
    "pick",
    "privateKey",
    "readyTimeout",
    "tag",
    "timeout",
    "tls",
    "trustRoots",
)


def parse_client(reactor: Any, *args: str, **options: str) -> ConsulClientEndpoint:
    """
    Build the client endpoint of ``consul:<service>[:option=value]...``
    (see :data:`CLIENT_HELP`).

    :raises ValueError: naming what is wrong in the description.
    """
    if len(args) != 1 or not args[0]:
        raise ValueError(
            "consul: client endpoint: give exactly one service name, as consul:<service>[:options]"
        )
    service = args[0]
    _unknown("client", options, _CLIENT_OPTIONS)
    tags = tuple(_list(options["tag"])) if "tag" in options else ()
    passing = _bool("passing", options["passing"]) if "passing" in options else True
    near = options.get("near") or None
    dc = options.get("dc") or None
    agent = options.get("agent") or None
    tls = _bool("tls", options["tls"]) if "tls" in options else False
    tls_only = [k for k in ("hostname", "trustRoots", "certificate", "privateKey") if k in options]
    if tls_only and not tls:
        raise ValueError(f"consul: client endpoint: {', '.join(tls_only)} need tls=yes")
    creator = None
    if tls:
        creator = _tls_options(
            options.get("hostname"),
            options.get("trustRoots"),
            options.get("certificate"),
            options.get("privateKey"),
        )
    attempts = _number("attempts", options["attempts"], int) if "attempts" in options else 3
    timeout = _number("timeout", options["timeout"]) if "timeout" in options else 10.0
    ready = _number("readyTimeout", options["readyTimeout"]) if "readyTimeout" in options else 30.0
    bind = (options["bindAddress"], 0) if options.get("bindAddress") else None
    pick = options.get("pick", "random")

    consul = _client_for(reactor, agent)
    client_key = _client_key(reactor, agent)
    key = ("cache", client_key, service, tags, passing, near, dc)
    held = _shared.get(key)
    if held is not None and held[0] is reactor:
        cache = held[1]
    else:
        cache = HealthCache(
            consul,
            service,
            tag=list(tags) or None,
            passing=passing,
            near=near,
            dc=dc,
        )
        _shared[key] = (reactor, cache)
    return ConsulClientEndpoint(
        reactor,
        cache,
        picker=pick,
        attempts=attempts,
        connect_timeout=timeout,
        ready_timeout=ready,
        tls=creator,
        bind_address=bind,
    )


_SERVER_OPTIONS = ("address", "agent", "deregisterAfter", "id", "name", "port", "tags", "ttl")


def parse_server(reactor: Any, *args: str, **options: str) -> ConsulServerEndpoint:
    """
    Build the server endpoint of ``consul:<wrapped>:name=<service>...``
    (see :data:`SERVER_HELP`).

    :raises ValueError: naming what is wrong in the description.
    """
    from twisted.internet.endpoints import serverFromString

    # Twisted splits each segment at its first "=": a wrapped description
    # with an unescaped "=" (tcp\:80\:interface=::1) arrives as an option
    # whose name holds the escaped colons.  Put it back together.
    pieces = [k for k in options if ":" in k]
    if not args and len(pieces) == 1:
        args = (f"{pieces[0]}={options.pop(pieces[0])}",)
    if len(args) != 1 or not args[0]:
        raise ValueError(
            "consul: server endpoint: give the wrapped endpoint, colons escaped, "
            "as consul:tcp\\:8080:name=<service>"
        )
    _unknown("server", options, _SERVER_OPTIONS)
    name = options.get("name")
    if not name:
        raise ValueError("consul: server endpoint: name=<service> is required")
    wrapped_description = args[0]
    if wrapped_description.split(":", 1)[0].lower() == "consul":
        raise ValueError("consul: server endpoint: cannot wrap another consul: endpoint")
    wrapped = serverFromString(reactor, wrapped_description)
    port = _number("port", options["port"], int) if "port" in options else None
    consul = _client_for(reactor, options.get("agent") or None)
    return ConsulServerEndpoint(
        wrapped,
        consul,
        name,
        service_id=options.get("id") or None,
        port=port,
        address=options.get("address") or None,
        tags=_list(options["tags"]) if "tags" in options else None,
        ttl=options.get("ttl", "10s"),
        deregister_critical_after=options.get("deregisterAfter") or None,
        clock=reactor,
    )
