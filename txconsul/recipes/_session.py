# -*- test-case-name: tests.test_recipes_lock -*-
"""
A TTL session kept alive on a clock, as the Go client's ``RenewPeriodic``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from .._duration import DurationLike, parse_duration
from .._errors import NotFound

#: api/lock.go DefaultLockSessionTTL.
DEFAULT_SESSION_TTL = "15s"

#: api/session.go RenewPeriodic: the wait after a failed renewal.
RENEW_RETRY = 1.0


def _clock_of(consul: Any, clock: Any) -> Any:
    return clock if clock is not None else consul.reactor


class SessionKeeper(Service):
    """
    A :class:`~twisted.application.service.Service` owning one TTL session.

    On start it creates the session (:meth:`create`), then renews it every
    ``ttl / 2`` seconds on ``clock`` (or on the TTL Consul answers with, which
    may be longer), retrying a failed renewal every second, as the Go client's
    ``RenewPeriodic``.  When Consul says the session is gone (a renewal fails
    with :class:`~txconsul.NotFound`) or no renewal succeeded within a whole
    TTL, the session is *lost*: :attr:`lost` fires with the session ID and
    ``on_lost(session_id)`` is called.  On stop it destroys the session.

    :param consul: a :class:`txconsul.Consul`.
    :param name: the session name.
    :param ttl: the session TTL (10s to 24h), ``'15s'`` by default.
    :param behavior: ``'release'`` or ``'delete'``: what happens to the
        session's keys when it is invalidated.
    :param lock_delay: the session's lock-delay (seconds or a duration).
    :param checks: node check IDs linked to the session; ``None`` keeps
        Consul's default (``serfHealth``), ``[]`` links none.
    :param clock: an ``IReactorTime``; the client's ``consul.reactor`` by
        default.
    :param on_lost: called with the session ID when the session is lost.
    :param token: an ACL token for the session calls.

    :ivar session_id: the current session ID, or ``None``.
    :ivar lost: a Deferred that fires with the session ID when the session is
        lost (never after :meth:`destroy`); a new one per :meth:`create`.
    """

    log = Logger()

    def __init__(
        self,
        consul: Any,
        name: Optional[str] = None,
        ttl: DurationLike = DEFAULT_SESSION_TTL,
        behavior: str = "release",
        lock_delay: DurationLike = 15,
        checks: Optional[Sequence[str]] = None,
        clock: Any = None,
        on_lost: Optional[Callable[[str], Any]] = None,
        token: Optional[str] = None,
    ) -> None:
        self._consul = consul
        self._name = name
        self._ttl_arg = ttl
        self._ttl = parse_duration(ttl, "ttl")
        if self._ttl <= 0:
            raise ValueError(f"invalid ttl {ttl!r}: a kept-alive session needs a TTL")
        if behavior not in ("release", "delete"):
            raise ValueError(f"invalid behavior {behavior!r}: must be 'release' or 'delete'")
        self._behavior = behavior
        self._lock_delay = lock_delay
        self._checks = checks
        self._clock = _clock_of(consul, clock)
        self._on_lost = on_lost
        self._token = token
        self.session_id: Optional[str] = None
        self.lost: Deferred[str] = Deferred()
        self._loop: Optional[LoopingCall] = None
        self._inflight: Optional[Deferred[Any]] = None
        self._creating: Optional[Deferred[str]] = None
        self._last_renew = 0.0

    def create(self) -> "Deferred[str]":
        """
        Create the session and start renewing it; fires with its ID.  When a
        session is already kept (or being created), fires with that one.
        """
        if self.session_id is not None:
            return succeed(self.session_id)
        if self._creating is not None:
            waiter: Deferred[str] = Deferred()
            self._creating.addBoth(_relay, waiter)
            return waiter
        d = self._consul.session.create(
            name=self._name,
            checks=list(self._checks) if self._checks is not None else None,
            lock_delay=self._lock_delay,
            behavior=self._behavior,
            ttl=self._ttl_arg,
            token=self._token,
        )
        self._creating = d
        abandoned = [False]

        def created(session_id: str) -> Any:
            if abandoned[0] or self._creating is not d:
                # Cancelled or destroyed while Consul was creating it: the
                # session exists now, so destroy it rather than leak it.
                if self._creating is d:
                    self._creating = None
                return self._consul.session.destroy(session_id, token=self._token).addBoth(
                    lambda _: Failure(CancelledError())
                )
            self._creating = None
            self.session_id = session_id
            self.lost = Deferred()
            self._last_renew = self._clock.seconds()
            self._loop = LoopingCall(self._renew, session_id)
            self._loop.clock = self._clock
            self._loop.start(self._ttl / 2.0, now=False)
            return session_id

        def failed(failure: Failure) -> Failure:
            if self._creating is d:
                self._creating = None
            return failure

        def cancel(_: Any) -> None:
            # Do not cancel the request: it may already have reached Consul,
            # and cancelling cannot unsend it.  Let it answer and destroy the
            # session it made (destroy() waits for that).
            abandoned[0] = True

        d.addCallbacks(created, failed)
        waiter2: Deferred[str] = Deferred(cancel)
        d.addBoth(_relay, waiter2)
        return waiter2

    def _renew(self, session_id: str) -> "Deferred[None]":
        d = self._consul.session.renew(session_id, token=self._token)
        self._inflight = d

        def renewed(entry: Any) -> None:
            ttl = self._ttl
            text = entry.get("TTL") if isinstance(entry, dict) else None
            if text:
                try:
                    ttl = parse_duration(text, "TTL") or ttl
                except (TypeError, ValueError):
                    pass
            if self._loop is not None:
                self._loop.interval = ttl / 2.0
            self._last_renew = self._clock.seconds()

        def failed(failure: Failure) -> None:
            if failure.check(NotFound):
                self._gone(session_id)
                return
            if self._clock.seconds() - self._last_renew > self._ttl:
                self.log.warn(
                    "session {session_id} not renewed within its TTL: {error}",
                    session_id=session_id,
                    error=failure.getErrorMessage(),
                )
                self._gone(session_id)
                return
            self.log.info(
                "renewing session {session_id} failed, retrying: {error}",
                session_id=session_id,
                error=failure.getErrorMessage(),
            )
            if self._loop is not None:
                self._loop.interval = RENEW_RETRY

        def done(result: Any) -> Any:
            self._inflight = None
            return result

        d.addBoth(done)
        d.addCallbacks(renewed, failed)
        return d

    def _stop_loop(self) -> None:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            inflight.cancel()

    def _gone(self, session_id: str) -> None:
        if self.session_id != session_id:
            return
        self._stop_loop()
        self.session_id = None
        self.log.info("session {session_id} lost", session_id=session_id)
        lost, self.lost = self.lost, Deferred()
        lost.callback(session_id)
        if self._on_lost is not None:
            try:
                self._on_lost(session_id)
            except Exception:
                self.log.failure("on_lost callback failed")

    def destroy(self) -> "Deferred[bool]":
        """
        Stop renewing and destroy the session; fires ``True`` (also when there
        was no session).  :attr:`lost` does not fire.
        """
        if self._creating is not None:
            # The create request may already have reached Consul: wait for
            # its answer (created() then destroys the session it made).
            creating, self._creating = self._creating, None
            settled: Deferred[bool] = Deferred()
            creating.addBoth(lambda _: settled.callback(True))
            return settled
        self._stop_loop()
        session_id, self.session_id = self.session_id, None
        if session_id is None:
            return succeed(True)
        return self._consul.session.destroy(session_id, token=self._token)

    def startService(self) -> None:
        """Create the session (errors are logged)."""
        super().startService()
        self.create().addErrback(
            lambda f: self.log.failure("creating the session failed", f)
        )

    def stopService(self) -> "Deferred[Any]":
        """Destroy the session; the Deferred fires when Consul answered."""
        super().stopService()
        d = self.destroy()

        def failed(failure: Failure) -> None:
            self.log.warn("destroying the session failed: {error}", error=failure.getErrorMessage())

        return d.addErrback(failed)


def _relay(result: Any, waiter: "Deferred[Any]") -> Any:
    if waiter.called:  # cancelled meanwhile
        return None if isinstance(result, Failure) else result
    if isinstance(result, Failure):
        waiter.errback(result)
        return None
    waiter.callback(result)
    return result


class SessionHolder:
    """
    What :class:`~txconsul.recipes.Lock` and
    :class:`~txconsul.recipes.Semaphore` share: the one acquisition in
    flight, and the :class:`SessionKeeper` they own while acquiring or
    holding.  Subclasses set ``_what`` (for log lines), ``log``, ``held``,
    ``session_id``, ``_keeper`` and ``_acquiring``, and implement ``_acquire()``.
    """

    _what = "session"
    log = Logger()
    session_id: Optional[str]
    _keeper: Optional[SessionKeeper]
    _acquiring: "Optional[Deferred[bool]]"
    #: whether the lock or slot is held.
    held: bool

    def _acquire(self) -> "Deferred[bool]":
        raise NotImplementedError

    def _start_acquire(self, busy: Exception) -> "Deferred[bool]":
        """Run ``_acquire()`` unless held or acquiring already (then fail with ``busy``)."""
        if self.held or self._acquiring is not None:
            return fail(busy)
        d = self._acquire()
        self._acquiring = d

        def done(result: Any) -> Any:
            self._acquiring = None
            return result

        return d.addBoth(done)

    def _drop_session(self) -> "Deferred[Any]":
        return self._destroy_keeper(self._take_keeper())

    def _take_keeper(self) -> Optional[SessionKeeper]:
        keeper, self._keeper = self._keeper, None
        self.session_id = None
        return keeper

    def _destroy_keeper(self, keeper: Optional[SessionKeeper]) -> "Deferred[Any]":
        if keeper is None:
            return succeed(None)

        def failed(failure: Any) -> None:
            self.log.warn(
                "destroying {what} session failed: {error}",
                what=self._what, error=failure.getErrorMessage(),
            )

        return keeper.destroy().addErrback(failed)
