# -*- test-case-name: tests.test_discovery_endpoints -*-
"""
``consul:`` endpoints: a client endpoint that connects to a healthy
instance of a service, and a server endpoint that registers what it
listens on as a service for as long as it listens.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks, succeed
from twisted.internet.endpoints import HostnameEndpoint, wrapClientTLS
from twisted.internet.error import ConnectError
from twisted.internet.defer import TimeoutError as DeferredTimeoutError
from twisted.internet.interfaces import IListeningPort, IStreamClientEndpoint, IStreamServerEndpoint
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from ..recipes import ServiceRegistration
from ._cache import HealthCache, Instance
from ._pick import make_picker

__all__ = [
    "ConsulClientEndpoint",
    "ConsulServerEndpoint",
    "RegisteredPort",
    "ServiceUnavailable",
    "consul_from_environment",
]

log = Logger()

#: How many instances a client endpoint tries, at most, per connection.
DEFAULT_ATTEMPTS = 3

#: Seconds a client endpoint waits for its cache's first answer.
DEFAULT_READY_TIMEOUT = 30.0

#: Seconds each connection attempt may take.
DEFAULT_CONNECT_TIMEOUT = 10.0


class ServiceUnavailable(ConnectError):
    """
    No instance of the service could be connected to: none is healthy, the
    first answer did not come in time, or every attempt failed.

    :ivar service: the service name.
    :ivar failures: the :class:`~twisted.python.failure.Failure` of each
        attempt, in order.
    """

    def __init__(self, service: str, reason: str, failures: Sequence[Failure] = ()) -> None:
        self.service = service
        self.failures = list(failures)
        super().__init__(string=f"service {service!r}: {reason}")


TLSLike = Union[None, bool, Any, Callable[[Instance], Any]]


@implementer(IStreamClientEndpoint)
class ConsulClientEndpoint:
    """
    Connects to a healthy instance of a service, as its :class:`HealthCache`
    sees it.

    Each :meth:`connect` waits for the cache's first answer (at most
    ``ready_timeout`` seconds), asks the picker for an order, and connects
    to the first instance; when that fails it tries the next, up to
    ``attempts`` instances in all.  A cache that is not running is started
    on the first connect.

    :param reactor: provides ``IReactorTCP`` and ``IReactorTime``.
    :param cache: a :class:`HealthCache` of the service.
    :param picker: ``'random'`` (default), ``'round-robin'``, ``'weighted'``
        or an object with ``order(instances)``.
    :param attempts: how many instances to try, at most (3).
    :param connect_timeout: seconds for each attempt (10).
    :param ready_timeout: seconds to wait for the cache's first answer (30).
    :param tls: ``None``/``False`` for plain TCP; ``True`` for TLS verified
        against ``tls_hostname`` (or each instance's address); an
        ``IOpenSSLClientConnectionCreator`` (such as
        ``optionsForClientTLS(...)``); or a callable ``instance -> creator``.
    :param tls_hostname: the name to verify certificates against, with
        ``tls=True``.
    :param bind_address: ``(host, port)`` to connect from.
    """

    def __init__(
        self,
        reactor: Any,
        cache: HealthCache,
        *,
        picker: Any = None,
        attempts: int = DEFAULT_ATTEMPTS,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        ready_timeout: Optional[float] = DEFAULT_READY_TIMEOUT,
        tls: TLSLike = None,
        tls_hostname: Optional[str] = None,
        bind_address: Optional[tuple[str, int]] = None,
    ) -> None:
        if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 1:
            raise ValueError(f"invalid attempts {attempts!r}: must be an int >= 1")
        if connect_timeout <= 0:
            raise ValueError(f"invalid connect_timeout {connect_timeout!r}: must be > 0")
        if ready_timeout is not None and ready_timeout <= 0:
            raise ValueError(f"invalid ready_timeout {ready_timeout!r}: must be > 0 or None")
        self._reactor = reactor
        self.cache = cache
        self.picker = make_picker(picker)
        self.attempts = attempts
        self.connect_timeout = connect_timeout
        self.ready_timeout = ready_timeout
        self._tls = tls
        self.tls_hostname = tls_hostname
        self._bind_address = bind_address

    @classmethod
    def for_service(
        cls,
        reactor: Any,
        consul: Any,
        service: str,
        *,
        tag: Union[str, Sequence[str], None] = None,
        passing: bool = True,
        near: Optional[str] = None,
        dc: Optional[str] = None,
        **kwargs: Any,
    ) -> "ConsulClientEndpoint":
        """
        An endpoint for ``service`` with its own :class:`HealthCache` on
        ``consul`` (``tag``, ``passing``, ``near``, ``dc`` go to the cache,
        the other keyword arguments to the endpoint).  The cache starts on
        the first connect; stop it with ``endpoint.cache.stopService()``.
        """
        cache = HealthCache(consul, service, tag=tag, passing=passing, near=near, dc=dc)
        return cls(reactor, cache, **kwargs)

    def __repr__(self) -> str:
        tls = " tls" if self._tls else ""
        return f"<ConsulClientEndpoint {self.cache.service}{tls}>"

    def _creator(self, instance: Instance) -> Any:
        tls = self._tls
        if tls is None or tls is False:
            return None
        if tls is True:
            from twisted.internet.ssl import optionsForClientTLS

            return optionsForClientTLS(self.tls_hostname or instance.address)
        if callable(tls) and not hasattr(tls, "clientConnectionForTLS"):
            return tls(instance)
        return tls

    def endpoint_for(self, instance: Instance) -> Any:
        """The plain (or TLS-wrapped) endpoint that reaches ``instance``."""
        endpoint: Any = HostnameEndpoint(
            self._reactor,
            instance.address,
            instance.port,
            timeout=self.connect_timeout,
            bindAddress=self._bind_address,
        )
        creator = self._creator(instance)
        if creator is not None:
            return wrapClientTLS(creator, endpoint)
        return endpoint

    def connect(self, protocolFactory: Any) -> "Deferred[Any]":
        """Connect ``protocolFactory`` to an instance; fails with :class:`ServiceUnavailable`."""
        state: dict[str, Any] = {"inner": None, "cancelled": False}

        def cancel(_: Deferred) -> None:
            state["cancelled"] = True
            inner = state["inner"]
            if inner is not None:
                inner.cancel()

        outer: Deferred = Deferred(cancel)
        self._connect(protocolFactory, state).chainDeferred(outer)
        return outer

    @inlineCallbacks
    def _connect(self, factory: Any, state: dict[str, Any]) -> Any:
        cache = self.cache
        service = cache.service
        if not cache.running:
            cache.startService()
        if not cache.is_ready:
            waiting = state["inner"] = cache.ready()
            if self.ready_timeout is not None:
                waiting.addTimeout(self.ready_timeout, self._reactor)
            try:
                yield waiting
            except (CancelledError, DeferredTimeoutError):
                if state["cancelled"]:
                    raise CancelledError() from None
                last = f" (last error: {cache.error.getErrorMessage()})" if cache.error else ""
                raise ServiceUnavailable(
                    service, f"no answer from Consul within {self.ready_timeout}s{last}"
                ) from None
            except Exception as e:
                raise ServiceUnavailable(service, f"no answer from Consul ({e})") from None
            finally:
                state["inner"] = None
        candidates = self.picker.order(cache.value)[: self.attempts]
        if not candidates:
            stale = f" (cache stale: {cache.error.getErrorMessage()})" if cache.error else ""
            raise ServiceUnavailable(service, "no healthy instance" + stale)
        failures: list[Failure] = []
        for instance in candidates:
            if state["cancelled"]:
                raise CancelledError()
            d = state["inner"] = self.endpoint_for(instance).connect(factory)
            try:
                protocol = yield d
            except Exception:
                if state["cancelled"]:
                    # HostnameEndpoint fails a cancelled attempt with
                    # ConnectingCancelledError: the caller asked, say so.
                    raise CancelledError() from None
                failures.append(Failure())
                log.info(
                    "connecting to {service} at {address}:{port} failed: {error}",
                    service=service,
                    address=instance.address,
                    port=instance.port,
                    error=failures[-1].getErrorMessage(),
                )
            else:
                return protocol
            finally:
                state["inner"] = None
        tried = ", ".join(f"{i.address}:{i.port}" for i in candidates)
        raise ServiceUnavailable(
            service,
            f"connecting failed to {len(candidates)} instance(s) ({tried}); "
            f"last error: {failures[-1].getErrorMessage()}",
            failures,
        )


@implementer(IListeningPort)
class RegisteredPort:
    """
    The listening port of a :class:`ConsulServerEndpoint`: the wrapped
    endpoint's port, with the service registration that lives as long as
    it listens.

    :ivar port: the wrapped ``IListeningPort``.
    :ivar registration: the :class:`~txconsul.recipes.ServiceRegistration`.
    """

    def __init__(self, port: Any, registration: ServiceRegistration) -> None:
        self.port = port
        self.registration = registration
        self._first: Optional[Deferred] = None

    def startListening(self) -> None:
        """Start listening again (when stopped) and register again."""
        self.port.startListening()
        self.registration.startService()

    def stopListening(self) -> "Deferred[Any]":
        """
        Deregister the service first -- so that clients stop picking it --
        then stop listening.  Fires when both are done.
        """
        # A first registration still in flight (listen() stopped waiting
        # for it) is let finish, so that it cannot land after the
        # deregistration and leave the service behind.
        first = self._first if self._first is not None else succeed(None)

        def deregister(_: Any) -> Any:
            return self.registration.stopService()

        def stop(_: Any) -> Any:
            return self.port.stopListening()

        return first.addBoth(deregister).addBoth(stop)

    def getHost(self) -> Any:
        """The wrapped port's address."""
        return self.port.getHost()


@implementer(IStreamServerEndpoint)
class ConsulServerEndpoint:
    """
    Listens on another server endpoint and, once listening, registers the
    service on the local agent with a TTL check kept passing
    (:class:`~txconsul.recipes.ServiceRegistration`); stopping the port
    deregisters it before the port closes.

    :meth:`listen` fires once the service is registered and passing (so
    that a client may find it at once), or once ``registration_timeout``
    passed or the registration failed: a failed registration is retried on
    every heartbeat, and never makes listening fail.

    :param wrapped: the ``IStreamServerEndpoint`` to listen on.
    :param consul: a :class:`txconsul.Consul` (the local agent).
    :param name: the service name.
    :param service_id: the service ID (default ``name-port``, or ``name``
        when the port has no number).
    :param port: the port to register (default: the listening port's).
    :param address: the address to register (default: the interface
        listened on, unless it is a wildcard; then the agent's node address
        applies).
    :param tags: a list of tags.
    :param meta: service metadata.
    :param ttl: the TTL of the check (``'10s'``).
    :param deregister_critical_after: let Consul remove the service after
        its check has been critical this long.
    :param clock: the clock of the heartbeat (``consul.reactor`` by default).
    :param registration_timeout: the most seconds :meth:`listen` waits for
        the first registration (10).
    """

    def __init__(
        self,
        wrapped: Any,
        consul: Any,
        name: str,
        *,
        service_id: Optional[str] = None,
        port: Optional[int] = None,
        address: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
        meta: Optional[Mapping[str, str]] = None,
        ttl: Any = "10s",
        deregister_critical_after: Any = None,
        clock: Any = None,
        registration_timeout: float = 10.0,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"invalid name {name!r}: must be a non-empty str")
        if registration_timeout <= 0:
            raise ValueError(f"invalid registration_timeout {registration_timeout!r}: must be > 0")
        self.registration_timeout = registration_timeout
        self.wrapped = wrapped
        self.consul = consul
        self.name = name
        self.service_id = service_id
        self.port = port
        self.address = address
        self.tags = list(tags) if tags is not None else None
        self.meta = dict(meta) if meta is not None else None
        self.ttl = ttl
        self.deregister_critical_after = deregister_critical_after
        self.clock = clock
        # Check the registration's arguments now, not once listening.
        self._registration(port or 1, address)

    def __repr__(self) -> str:
        return f"<ConsulServerEndpoint {self.name} on {self.wrapped!r}>"

    def _registration(self, port: Optional[int], address: Optional[str]) -> ServiceRegistration:
        if self.service_id is not None:
            sid = self.service_id
        elif port is not None:
            sid = f"{self.name}-{port}"
        else:
            sid = self.name
        return ServiceRegistration(
            self.consul,
            self.name,
            service_id=sid,
            port=port,
            tags=self.tags,
            ttl=self.ttl,
            address=address,
            meta=self.meta,
            deregister_critical_after=self.deregister_critical_after,
            clock=self.clock,
        )

    # Deferred is invariant: mypy-zope sees IStreamServerEndpoint.listen's
    # Deferred[IListeningPort]; this one fires with the richer RegisteredPort.
    def listen(self, protocolFactory: Any) -> "Deferred[RegisteredPort]":  # type: ignore[override]
        """
        Listen, then register and mark the check passing; fires with a
        :class:`RegisteredPort` once that first registration is done, or
        after ``registration_timeout`` seconds, or when it failed (it is
        retried on every heartbeat): listening never fails for Consul.
        """

        def listening(port: Any) -> Deferred:
            host = port.getHost()
            number = self.port if self.port is not None else getattr(host, "port", None)
            address = self.address
            if address is None:
                interface = getattr(host, "host", None)
                if isinstance(interface, str) and interface not in ("0.0.0.0", "::", ""):
                    address = interface
            registration = self._registration(number, address)
            registered = RegisteredPort(port, registration)
            done: Deferred = Deferred()

            def first(result: Any) -> None:
                if done.called:
                    return
                if timer.active():
                    timer.cancel()
                if isinstance(result, Failure):
                    log.warn(
                        "registering service {service_id} failed: {error}; retrying",
                        service_id=registration.service_id,
                        error=result.getErrorMessage(),
                    )
                registration.startService()
                done.callback(registered)

            clock = self.clock if self.clock is not None else self.consul.reactor
            timer = clock.callLater(
                self.registration_timeout,
                lambda: first(
                    Failure(DeferredTimeoutError(f"no answer within {self.registration_timeout}s"))
                ),
            )
            settled: Deferred = Deferred()
            registered._first = settled

            def initial_done(result: Any) -> None:
                registered._first = None
                first(result)
                settled.callback(None)

            registration.heartbeat().addBoth(initial_done)
            return done

        return self.wrapped.listen(protocolFactory).addCallback(listening)


def consul_from_environment(reactor: Any, agent: Optional[str] = None) -> Any:
    """
    A :class:`txconsul.Consul` configured from the ``CONSUL_*`` environment
    (as ``Consul()`` is), with ``agent`` -- any ``CONSUL_HTTP_ADDR`` form --
    in place of ``CONSUL_HTTP_ADDR`` when given.
    """
    from ..client import Consul

    environ = None
    if agent is not None:
        environ = dict(os.environ, CONSUL_HTTP_ADDR=agent)
    return Consul(reactor=reactor, environ=environ)
