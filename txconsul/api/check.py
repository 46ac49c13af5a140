# -*- test-case-name: tests.test_check -*-
"""
Builders of health check definitions, as python-consul's ``Consul.Check``.

Each builder returns the dict Consul's ``/v1/agent/check/register`` (and the
``Check``/``Checks`` of a service registration) expects, with Consul's own
field names (``HTTP``, ``Interval``, ``TCP``, ``TTL``, ``Args``...).
Durations may be Go duration strings (``'10s'``, ``'250ms'``) or numbers of
seconds; a malformed duration raises ``ValueError`` at the call.

Differences from python-consul's ``Check``, on purpose: the keys are Consul's
own spelling (``HTTP``, ``Interval``) where python-consul writes lower case
(``http``, ``interval``) -- Consul reads either, so the check registered is
the same; ``docker`` sends ``Args`` (Consul 1.1+ ignores ``Script``);
``tcp`` brackets an IPv6 host; and a bad argument raises ``ValueError`` or
``TypeError`` at the call.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Union

from .._duration import DurationLike, format_seconds, parse_duration

__all__ = ["ArgsLike", "Check", "check_duration", "legacy_check"]

ArgsLike = Union[str, bytes, Sequence[str]]


def check_duration(value: Any, what: str, positive: bool = True) -> str:
    """
    Validate a duration and return it as Consul expects it in a body.

    A string that parses is sent as given (``'10s'``); a number of seconds is
    formatted (``10`` -> ``'10s'``, ``0.25`` -> ``'250ms'``).

    :raises ValueError: for a malformed, negative or (with ``positive``) zero
        duration.
    :raises TypeError: for a value that is neither a string nor a number.
    """
    seconds = parse_duration(value, what)
    if positive and seconds <= 0:
        raise ValueError(f"invalid {what} {value!r}: must be greater than zero")
    if isinstance(value, str):
        return value.strip()
    return format_seconds(seconds)


def _check_text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, not {type(value).__name__}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    return value


def _check_header(header: Any) -> dict[str, list[str]]:
    if not isinstance(header, Mapping):
        raise TypeError(f"header must be a mapping of names to lists of strings, not {type(header).__name__}")
    out: dict[str, list[str]] = {}
    for name, values in header.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"invalid header name {name!r}")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) for v in values):
            raise TypeError(f"header {name!r} must map to a list of strings")
        out[name] = list(values)
    return out


class Check:
    """
    Builders of check definitions (``Consul.Check`` in python-consul).

    Every builder is a static method returning a plain dict, so it can be
    used without a client: ``Check.http('http://10.0.0.1/health', '10s')``.
    """

    @staticmethod
    def script(args: ArgsLike, interval: DurationLike) -> dict[str, Any]:
        """
        Run a command every ``interval``: exit status 0 is passing, 1 is
        warning, anything else critical.

        :param args: the command as a list of arguments (Consul's ``Args``).
            A single string is run through the shell, as
            ``['sh', '-c', args]``, because Consul 1.1 removed the old
            ``Script`` field (python-consul does the same, with a warning).
        :param interval: how often to run it (``'10s'`` or seconds).

        The agent refuses script checks unless it runs with
        ``enable_script_checks``.

        Returns ``{'Args': [...], 'Interval': ...}``; python-consul spells
        the keys in lower case; Consul reads either.
        """
        if isinstance(args, bytes):
            args = args.decode("utf-8")
        if isinstance(args, str):
            if not args:
                raise ValueError("args must not be empty")
            argv = ["sh", "-c", args]
        elif isinstance(args, (list, tuple)):
            argv = [_check_text(a, "each of args") for a in args]
            if not argv:
                raise ValueError("args must not be empty")
        else:
            raise TypeError(f"args must be a list of strings or a string, not {type(args).__name__}")
        return {"Args": argv, "Interval": check_duration(interval, "interval")}

    @staticmethod
    def http(
        url: str,
        interval: DurationLike,
        timeout: Optional[DurationLike] = None,
        deregister: Optional[DurationLike] = None,
        header: Optional[Mapping[str, Sequence[str]]] = None,
    ) -> dict[str, Any]:
        """
        An HTTP GET of ``url`` every ``interval``: 2xx is passing, 429 is
        warning, anything else (or no answer within ``timeout``) critical.

        :param timeout: the request timeout (Consul's default: 10s).
        :param deregister: deregister the service after it has been critical
            this long (Consul's ``DeregisterCriticalServiceAfter``).
        :param header: request headers, ``{'X-Foo': ['bar', 'baz']}``.

        Returns ``{'HTTP': url, 'Interval': ...}`` (plus ``Timeout``,
        ``DeregisterCriticalServiceAfter``, ``Header``); python-consul spells
        ``http``, ``interval``, ``timeout`` and ``header`` in lower case;
        Consul reads either.
        """
        ret: dict[str, Any] = {
            "HTTP": _check_text(url, "url"),
            "Interval": check_duration(interval, "interval"),
        }
        if timeout is not None:
            ret["Timeout"] = check_duration(timeout, "timeout")
        if deregister is not None:
            ret["DeregisterCriticalServiceAfter"] = check_duration(deregister, "deregister")
        if header is not None:
            ret["Header"] = _check_header(header)
        return ret

    @staticmethod
    def tcp(
        host: str,
        port: int,
        interval: DurationLike,
        timeout: Optional[DurationLike] = None,
        deregister: Optional[DurationLike] = None,
    ) -> dict[str, Any]:
        """
        A TCP connection to ``host:port`` every ``interval``: connected is
        passing, refused or timed out is critical.

        An IPv6 ``host`` is bracketed (``[::1]:80``; python-consul does not).
        Returns ``{'TCP': 'host:port', 'Interval': ...}``; python-consul
        spells the keys in lower case; Consul reads either.
        """
        host = _check_text(host, "host")
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError(f"port must be an int, not {type(port).__name__}")
        if not 0 < port < 65536:
            raise ValueError(f"invalid port {port!r}: must be between 1 and 65535")
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        ret: dict[str, Any] = {
            "TCP": f"{host}:{port}",
            "Interval": check_duration(interval, "interval"),
        }
        if timeout is not None:
            ret["Timeout"] = check_duration(timeout, "timeout")
        if deregister is not None:
            ret["DeregisterCriticalServiceAfter"] = check_duration(deregister, "deregister")
        return ret

    @staticmethod
    def ttl(ttl: DurationLike) -> dict[str, Any]:
        """
        A check the application updates itself (``agent.check.ttl_pass``...);
        it goes critical if not updated within ``ttl``.

        Returns ``{'TTL': ttl}`` (python-consul: ``{'ttl': ttl}``; Consul
        reads either).
        """
        return {"TTL": check_duration(ttl, "ttl")}

    @staticmethod
    def docker(
        container_id: str,
        shell: str,
        script: str,
        interval: DurationLike,
        deregister: Optional[DurationLike] = None,
    ) -> dict[str, Any]:
        """
        Run ``script`` with ``shell`` inside a Docker container every
        ``interval``: sent as ``Args: [shell, '-c', script]`` with
        ``DockerContainerID`` and ``Shell``, since Consul 1.1 ignores the old
        ``Script`` field (python-consul still sends ``script``, in lower
        case like its other keys).
        """
        shell = _check_text(shell, "shell")
        ret: dict[str, Any] = {
            "DockerContainerID": _check_text(container_id, "container_id"),
            "Shell": shell,
            "Args": [shell, "-c", _check_text(script, "script")],
            "Interval": check_duration(interval, "interval"),
        }
        if deregister is not None:
            ret["DeregisterCriticalServiceAfter"] = check_duration(deregister, "deregister")
        return ret

    @staticmethod
    def grpc(
        grpc: str,
        interval: DurationLike,
        deregister: Optional[DurationLike] = None,
    ) -> dict[str, Any]:
        """
        A gRPC health check of ``grpc`` (``'host:port'`` or
        ``'host:port/service'``) every ``interval``.
        """
        ret: dict[str, Any] = {
            "GRPC": _check_text(grpc, "grpc"),
            "Interval": check_duration(interval, "interval"),
        }
        if deregister is not None:
            ret["DeregisterCriticalServiceAfter"] = check_duration(deregister, "deregister")
        return ret


def legacy_check(
    script: Optional[ArgsLike] = None,
    interval: Optional[DurationLike] = None,
    ttl: Optional[DurationLike] = None,
    http: Optional[str] = None,
    timeout: Optional[DurationLike] = None,
) -> Optional[dict[str, Any]]:
    """
    Build a check from python-consul's deprecated ``script``/``interval``/
    ``ttl``/``http``/``timeout`` arguments, or ``None`` if none is given.

    ``script`` needs ``interval``; ``http`` needs ``interval``; ``ttl``
    excludes both; ``timeout`` needs ``http``.  A violated rule (an
    ``assert`` in python-consul) is a ``ValueError`` here.
    """
    if script is None and http is None and ttl is None:
        if interval is not None or timeout is not None:
            raise ValueError("interval and timeout need script, http or ttl")
        return None
    kinds = [n for n, v in (("script", script), ("ttl", ttl), ("http", http)) if v is not None]
    if len(kinds) > 1:
        raise ValueError(f"conflicting check arguments: {' and '.join(kinds)}")
    if timeout is not None and http is None:
        raise ValueError("timeout only applies to an http check")
    if ttl is not None:
        if interval is not None:
            raise ValueError("interval cannot be combined with ttl")
        return Check.ttl(ttl)
    if interval is None:
        raise ValueError(f"a {kinds[0]} check needs an interval")
    if script is not None:
        return Check.script(script, interval)
    assert http is not None
    return Check.http(http, interval, timeout=timeout)
