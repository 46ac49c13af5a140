# -*- test-case-name: tests.test_recipes_registration -*-
"""
A service registered on the local agent for as long as a Twisted service
runs, kept passing by a TTL heartbeat.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from .._duration import DurationLike, parse_duration
from .._errors import NotFound
from ._session import _clock_of


class ServiceRegistration(Service):
    """
    A :class:`~twisted.application.service.Service` that registers ``name``
    on the local agent with a TTL check when started, marks the check
    passing every ``ttl / 3`` seconds on ``clock``, registers again when the
    agent forgot the service (the heartbeat fails with
    :class:`~txconsul.NotFound`, e.g. after an agent restart or a
    deregistration elsewhere), and deregisters it when stopped.

    A failed registration or heartbeat is logged and retried on the next
    beat; the check goes critical by itself if beats stop reaching Consul.

    :param consul: a :class:`txconsul.Consul`.
    :param name: the service name.
    :param service_id: the service ID on the agent (default: ``name``).
    :param port: the service port.
    :param tags: a list of tags.
    :param ttl: the TTL of the check (``'10s'`` by default).
    :param address: the service address.
    :param meta: service metadata (a dict of strings).
    :param notes: the check output sent with each heartbeat.
    :param deregister_critical_after: have Consul deregister the service
        after its check has been critical this long (``None``: never).
    :param clock: an ``IReactorTime``; ``consul.reactor`` by default.
    :param token: an ACL token for every call.

    :ivar service_name: the service name.
    :ivar service_id: the service ID.
    :ivar registered: whether the last registration or heartbeat succeeded.
    :ivar check_id: the ID of the TTL check, ``service:<service_id>``.
    """

    log = Logger()

    def __init__(
        self,
        consul: Any,
        name: str,
        service_id: Optional[str] = None,
        port: Optional[int] = None,
        tags: Optional[Sequence[str]] = None,
        ttl: DurationLike = "10s",
        address: Optional[str] = None,
        meta: Optional[Mapping[str, str]] = None,
        notes: Optional[str] = None,
        deregister_critical_after: Optional[DurationLike] = None,
        clock: Any = None,
        token: Optional[str] = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError("name must be a non-empty string")
        self._consul = consul
        self.service_name = name
        self.service_id = service_id if service_id is not None else name
        self.check_id = f"service:{self.service_id}"
        self._port = port
        self._tags = list(tags) if tags is not None else None
        self._ttl = parse_duration(ttl, "ttl")
        if self._ttl <= 0:
            raise ValueError(f"invalid ttl {ttl!r}: must be positive")
        self._check: dict[str, Any] = dict(consul.Check.ttl(ttl))
        if deregister_critical_after is not None:
            parse_duration(deregister_critical_after, "deregister_critical_after")
            after = deregister_critical_after
            self._check["DeregisterCriticalServiceAfter"] = after if isinstance(after, str) else f"{after}s"
        self._address = address
        self._meta = dict(meta) if meta is not None else None
        self._notes = notes
        self._clock = _clock_of(consul, clock)
        self._token = token
        self.registered = False
        self._loop: Optional[LoopingCall] = None
        self._inflight: Optional[Deferred[Any]] = None
        self._started = False

    def register(self) -> "Deferred[bool]":
        """Register the service and its TTL check once; fires ``True``."""
        d = self._consul.agent.service.register(
            self.service_name,
            service_id=self.service_id,
            address=self._address,
            port=self._port,
            tags=self._tags,
            check=self._check,
            token=self._token,
            meta=self._meta,
        )

        def done(result: bool) -> bool:
            self.registered = True
            self.log.info("registered service {service_id}", service_id=self.service_id)
            return result

        return d.addCallback(done)

    def heartbeat(self) -> "Deferred[bool]":
        """
        Mark the check passing, registering first when needed (never yet, or
        the agent forgot the service); fires ``True``.
        """
        if not self.registered:
            return self.register().addCallback(lambda _: self._pass())

        def forgotten(failure: Failure) -> "Deferred[bool]":
            failure.trap(NotFound)
            self.log.info("agent forgot service {service_id}; registering again", service_id=self.service_id)
            self.registered = False
            return self.register().addCallback(lambda _: self._pass())

        return self._pass().addErrback(forgotten)

    def _pass(self) -> "Deferred[bool]":
        return self._consul.agent.check.ttl_pass(self.check_id, notes=self._notes, token=self._token)

    def _beat(self) -> "Deferred[None]":
        d = self.heartbeat()
        self._inflight = d

        def done(result: Any) -> None:
            self._inflight = None
            if isinstance(result, Failure):
                self.log.warn(
                    "heartbeat of service {service_id} failed: {error}",
                    service_id=self.service_id,
                    error=result.getErrorMessage(),
                )

        return d.addBoth(done)

    def startService(self) -> None:
        """Register now and heartbeat every ``ttl / 3`` seconds."""
        super().startService()
        if self._loop is not None and self._loop.running:
            return
        self._started = True
        self._loop = LoopingCall(self._beat)
        self._loop.clock = self._clock
        self._loop.start(self._ttl / 3.0, now=True)

    def stopService(self) -> "Deferred[Any]":
        """Stop the heartbeat and deregister; the Deferred fires when done."""
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if not self._started:
            return succeed(None)
        self._started = False
        # A beat in flight is not cancelled: its request may already have
        # reached the agent, and a registration applied after our
        # deregistration would leave the service registered.  Deregister
        # once it answered (requests time out, so this ends).
        inflight, self._inflight = self._inflight, None
        ready: Deferred[None] = Deferred()
        if inflight is None:
            ready.callback(None)
        else:

            def settled(result: Any) -> Any:
                ready.callback(None)
                return result

            inflight.addBoth(settled)

        def deregister(_: Any) -> "Deferred[Any]":
            self.registered = False
            return self._consul.agent.service.deregister(self.service_id, token=self._token)

        d = ready.addCallback(deregister)

        def failed(failure: Failure) -> None:
            if not failure.check(NotFound):
                self.log.warn(
                    "deregistering service {service_id} failed: {error}",
                    service_id=self.service_id,
                    error=failure.getErrorMessage(),
                )

        return d.addErrback(failed)
