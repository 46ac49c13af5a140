# -*- test-case-name: tests.test_recipes_lock,tests.test_recipes_safety -*-
"""
A TTL session kept alive on a clock (renewing as the Go client's
``RenewPeriodic``), which reports the session lost before Consul may
invalidate it; and what Lock and Semaphore share about sessions.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from twisted.application.service import Service
from twisted.internet.defer import CancelledError, Deferred, fail, succeed
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


class SessionLost(Exception):
    """
    The session a :class:`~txconsul.recipes.Lock` or
    :class:`~txconsul.recipes.Semaphore` was acquiring with was lost (its
    :class:`SessionKeeper` could not renew it in time) before the
    acquisition completed.
    """


class SessionKeeper(Service):
    """
    A :class:`~twisted.application.service.Service` owning one TTL session,
    which reports the session lost **before** Consul may invalidate it.

    On start it creates the session (:meth:`create`), then renews it every
    ``ttl / 2`` on ``clock`` (every second after a failed renewal, as the Go
    client's ``RenewPeriodic``).  Time is counted from the moment the last
    *successful* renewal (or the creation) was **sent**: Consul restarts the
    session's timer when it processes the renewal, which is later, so that
    instant is a safe lower bound.  Calling it ``S``, Consul cannot
    invalidate the session for want of renewals before ``S + ttl`` (its
    servers actually wait up to ``2 * ttl``).  The keeper therefore declares
    the session *lost* at ``S + ttl - safety_margin`` at the latest, unless a
    renewal sent after ``S`` has succeeded by then; a renewal still on the
    wire at that moment is cancelled, so no renewal waits longer than the
    time left.  The session is also lost at once when Consul answers a
    renewal with :class:`~txconsul.NotFound` (destroyed, expired, or
    invalidated by a check).

    When the session is lost, :attr:`lost` fires with the session ID,
    ``on_lost(session_id)`` is called and then every listener added with
    :meth:`subscribe`, all in the same turn.  A session lost by the deadline
    may still exist on the agent (the renewals were only unanswered), so the
    keeper stops renewing and sends a best-effort destroy.  On stop it
    destroys the session.

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
    :param safety_margin: how long before ``S + ttl`` the loss is declared
        (seconds or a duration); ``ttl / 10`` by default.  It absorbs the
        local clock's rate error and the reactor's lateness in running
        timers; it must be below ``ttl / 2``.

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
        safety_margin: Optional[DurationLike] = None,
    ) -> None:
        self._consul = consul
        self._name = name
        self._ttl_arg = ttl
        self._ttl = parse_duration(ttl, "ttl")
        if self._ttl <= 0:
            raise ValueError(f"invalid ttl {ttl!r}: a kept-alive session needs a TTL")
        if behavior not in ("release", "delete"):
            raise ValueError(f"invalid behavior {behavior!r}: must be 'release' or 'delete'")
        if safety_margin is None:
            self._margin = self._ttl / 10.0
        else:
            self._margin = parse_duration(safety_margin, "safety_margin")
            if not 0 <= self._margin < self._ttl / 2.0:
                raise ValueError(
                    f"invalid safety_margin {safety_margin!r}: must be at least 0 and below ttl / 2"
                )
        self._behavior = behavior
        self._lock_delay = lock_delay
        self._checks = checks
        self._clock = _clock_of(consul, clock)
        self._on_lost = on_lost
        self._token = token
        self._listeners: list[Callable[[str], Any]] = []
        self.session_id: Optional[str] = None
        self.lost: Deferred[str] = Deferred()
        self._inflight: Optional[Deferred[Any]] = None
        self._creating: Optional[Deferred[str]] = None
        self._cleanup: Optional[Deferred[Any]] = None
        #: the send time of the last successful renewal (or the creation).
        self._basis = 0.0
        self._next_renew: Any = None
        self._deadline_call: Any = None

    @property
    def ttl(self) -> float:
        """The session TTL in seconds."""
        return self._ttl

    @property
    def safety_margin(self) -> float:
        """How long before ``S + ttl`` the loss is declared, in seconds."""
        return self._margin

    @property
    def deadline(self) -> Optional[float]:
        """
        The clock time at which :attr:`lost` fires unless a renewal succeeds
        first (``None`` without a session): ``S + ttl - safety_margin``.
        """
        if self.session_id is None:
            return None
        return self._basis + self._ttl - self._margin

    def subscribe(self, listener: Callable[[str], Any]) -> Callable[[], None]:
        """
        Call ``listener(session_id)`` whenever a session of this keeper is
        lost, in the same turn as :attr:`lost` fires.  Returns a function
        that removes the listener.  Listener errors are logged.
        """
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

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
        sent = self._clock.seconds()
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
            # The session's timer started when Consul created it, after
            # this request was sent: the send time is the safe basis.
            self._basis = sent
            self._arm_deadline()
            self._schedule_renew(sent + self._ttl / 2.0)
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

    def _arm_deadline(self) -> None:
        if self._deadline_call is not None and self._deadline_call.active():
            self._deadline_call.cancel()
        delay = max(0.0, self._basis + self._ttl - self._margin - self._clock.seconds())
        self._deadline_call = self._clock.callLater(delay, self._expired, self.session_id)

    def _schedule_renew(self, when: float) -> None:
        if self._next_renew is not None and self._next_renew.active():
            self._next_renew.cancel()
        delay = max(0.0, when - self._clock.seconds())
        self._next_renew = self._clock.callLater(delay, self._renew, self.session_id)

    def _expired(self, session_id: str) -> None:
        self._deadline_call = None
        if self.session_id != session_id:
            return
        self.log.warn(
            "session {session_id} not renewed in time: reporting it lost {margin:g}s before "
            "Consul may invalidate it",
            session_id=session_id,
            margin=self._margin,
        )
        self._gone(session_id)
        # The session may well be alive on the agent: only the renewals
        # went unanswered.  Destroy it, so its locks are freed (after their
        # lock-delay) rather than held until it expires.
        d = self._consul.session.destroy(session_id, token=self._token)

        def failed(failure: Failure) -> None:
            self.log.info(
                "destroying lost session {session_id} failed: {error}",
                session_id=session_id,
                error=failure.getErrorMessage(),
            )

        cleanup: Deferred[Any] = Deferred()

        def done(_: Any) -> None:
            if self._cleanup is cleanup:
                self._cleanup = None
            cleanup.callback(None)

        self._cleanup = cleanup
        d.addErrback(failed).addBoth(done)

    def _renew(self, session_id: str) -> None:
        self._next_renew = None
        if self.session_id != session_id:
            return
        sent = self._clock.seconds()
        d = self._consul.session.renew(session_id, token=self._token)
        self._inflight = d

        def done(result: Any) -> Any:
            if self._inflight is d:
                self._inflight = None
            return result

        def renewed(entry: Any) -> None:
            if self.session_id != session_id:
                return
            # A longer TTL in the answer is not used: the deadline must
            # hold for the TTL the session was created with.
            if sent > self._basis:
                self._basis = sent
                self._arm_deadline()
            self._schedule_renew(self._basis + self._ttl / 2.0)

        def failed(failure: Failure) -> None:
            if failure.check(CancelledError) or self.session_id != session_id:
                return
            if failure.check(NotFound):
                self.log.info("session {session_id} is gone", session_id=session_id)
                self._gone(session_id)
                return
            self.log.info(
                "renewing session {session_id} failed, retrying: {error}",
                session_id=session_id,
                error=failure.getErrorMessage(),
            )
            self._schedule_renew(self._clock.seconds() + RENEW_RETRY)

        d.addBoth(done)
        d.addCallbacks(renewed, failed)

    def _stop_timers(self) -> None:
        # The renewal first: cancelling it runs its errback at once, and a
        # cancel while connecting fails as a connection error, not as
        # CancelledError (callers clear session_id before, so the errback
        # schedules nothing; the timers are cancelled after, regardless).
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            inflight.cancel()
        for name in ("_next_renew", "_deadline_call"):
            call = getattr(self, name)
            if call is not None and call.active():
                call.cancel()
            setattr(self, name, None)

    def _gone(self, session_id: str) -> None:
        if self.session_id != session_id:
            return
        self.session_id = None
        self._stop_timers()
        self.log.info("session {session_id} lost", session_id=session_id)
        lost, self.lost = self.lost, Deferred()
        lost.callback(session_id)
        for listener in [self._on_lost, *self._listeners]:
            if listener is None:
                continue
            try:
                listener(session_id)
            except Exception:
                self.log.failure("session loss listener failed")

    def destroy(self) -> "Deferred[bool]":
        """
        Stop renewing and destroy the session; fires ``True`` (also when there
        was no session).  :attr:`lost` does not fire.  After a loss by the
        deadline, waits for the keeper's own destroy of the lost session.
        """
        if self._creating is not None:
            # The create request may already have reached Consul: wait for
            # its answer (created() then destroys the session it made).
            creating, self._creating = self._creating, None
            settled: Deferred[bool] = Deferred()
            creating.addBoth(lambda _: settled.callback(True))
            return settled
        session_id, self.session_id = self.session_id, None
        self._stop_timers()
        if session_id is None:
            if self._cleanup is not None:
                waited: Deferred[bool] = Deferred()

                def settle(result: Any) -> Any:
                    waited.callback(True)
                    return result

                self._cleanup.addBoth(settle)
                return waited
            return succeed(True)
        return self._consul.session.destroy(session_id, token=self._token)

    def startService(self) -> None:
        """Create the session (errors are logged)."""
        super().startService()
        self.create().addErrback(lambda f: self.log.failure("creating the session failed", f))

    def stopService(self) -> "Deferred[Any]":
        """Destroy the session; the Deferred fires when Consul answered."""
        super().stopService()
        d = self.destroy()

        def failed(failure: Failure) -> None:
            self.log.warn("destroying the session failed: {error}", error=failure.getErrorMessage())

        return d.addErrback(failed)

    def __repr__(self) -> str:
        return f"<SessionKeeper session={self.session_id!r} ttl={self._ttl:g}s>"


def _relay(result: Any, waiter: "Deferred[Any]") -> Any:
    if waiter.called:  # cancelled meanwhile
        return None if isinstance(result, Failure) else result
    if isinstance(result, Failure):
        waiter.errback(result)
        return None
    waiter.callback(result)
    return result


#: Consul's smallest session TTL (``session_ttl_min``): a wait no longer
#: than this is no longer than any session's TTL.
MIN_SESSION_TTL = 10.0


class SessionHolder:
    """
    What :class:`~txconsul.recipes.Lock` and
    :class:`~txconsul.recipes.Semaphore` share: the one acquisition in
    flight, the session they acquire with (their own :class:`SessionKeeper`,
    one the caller gives, or a bare session ID), and reacting to that
    keeper's loss.  Subclasses set ``_what`` (for log lines), ``log``,
    ``held``, ``session_id``, ``_session``, ``_keeper``, ``_acquiring`` and
    ``_clock``, and implement ``_acquire()`` and ``_lose(session_id)``.
    """

    _what = "session"
    log = Logger()
    session_id: Optional[str]
    #: the ``session`` argument: None, a session ID or a SessionKeeper.
    _session: Any
    #: the keeper this object created and destroys.
    _keeper: Optional[SessionKeeper]
    _acquiring: "Optional[Deferred[bool]]"
    _clock: Any
    _unsubscribe: Optional[Callable[[], None]] = None
    #: the call the acquisition is waiting on (cancelled on a session loss).
    _step: "Optional[Deferred[Any]]" = None
    #: the session lost while acquiring, if any.
    _session_lost: Optional[str] = None
    #: the wait of the monitor's blocking reads.
    _monitor_wait: float = MIN_SESSION_TTL
    #: whether the lock or slot is held.
    held: bool
    # Set by subclasses (documented there): fires with True when a holding
    # is lost; the monitor of the current holding.
    lost: "Optional[Deferred[bool]]"
    _monitoring: "Optional[Deferred[None]]"

    def _acquire(self) -> "Deferred[bool]":
        raise NotImplementedError

    def _name(self) -> str:
        """What log lines call this lock or semaphore (its key or prefix)."""
        raise NotImplementedError

    def _forget_holding(self) -> None:
        """Drop what only a holder has (called once the loss is decided)."""

    def _clean_up_after_loss(self, session_id: str, keeper: Any) -> "Deferred[Any]":
        """Remove what the lost holding left in Consul; fires when done."""
        raise NotImplementedError

    def _lose(self, session_id: str) -> "Deferred[Any]":
        """
        The lock or slot is lost: say so at once, then clean up.

        ``lost`` fires before the cleanup calls are sent (Consul's Go client,
        api/lock.go and api/semaphore.go ``monitorLock``, closes its channel as
        soon as it knows): they may time out when Consul is unreachable, the
        likeliest reason for the loss.  The session is taken out of this object
        first, so an ``acquire()`` started by a ``lost`` callback keeps its own.
        """
        if not self.held or self.session_id != session_id:
            return succeed(None)
        self.log.info("{what} {name} lost", what=self._what, name=self._name())
        self.held = False
        self._forget_holding()
        if self._monitoring is not None:
            monitoring, self._monitoring = self._monitoring, None
            monitoring.cancel()
        lost = self.lost
        keeper = self._take_keeper()
        if lost is not None and not lost.called:
            lost.callback(True)
        return self._clean_up_after_loss(session_id, keeper)

    @staticmethod
    def _check_session_arg(session: Any) -> None:
        if session is None or isinstance(session, SessionKeeper):
            return
        if not isinstance(session, str) or not session:
            raise TypeError("session must be a session ID, a SessionKeeper or None")

    def _start_acquire(self, busy: Exception) -> "Deferred[bool]":
        """Run ``_acquire()`` unless held or acquiring already (then fail with ``busy``)."""
        if self.held or self._acquiring is not None:
            return fail(busy)
        self._session_lost = None
        d = self._acquire()
        self._acquiring = d

        def done(result: Any) -> Any:
            self._acquiring = None
            self._step = None
            return result

        return d.addBoth(done)

    def _wait_on(self, d: "Deferred[Any]") -> "Deferred[Any]":
        """Note ``d`` as the step the acquisition waits on; returns it."""
        self._step = d
        return d

    def _open_session(self, **keeper_options: Any) -> "Deferred[str]":
        """
        The session to acquire with: a new :class:`SessionKeeper`'s (owned,
        destroyed with the lock), the caller's keeper's, or the caller's
        session ID.  A keeper's loss is subscribed to.
        """
        if isinstance(self._session, str):
            self._monitor_wait = MIN_SESSION_TTL
            return succeed(self._session)
        if self._session is None:
            keeper = self._keeper = SessionKeeper(self._consul, clock=self._clock, **keeper_options)  # type: ignore[attr-defined]
        else:
            keeper = self._session
        self._monitor_wait = keeper.ttl
        self._unsubscribe = keeper.subscribe(self._keeper_lost)
        return self._wait_on(keeper.create())

    def _keeper_lost(self, session_id: str) -> None:
        if session_id != self.session_id:
            return
        if self.held:
            self._lose(session_id)
        elif self._acquiring is not None:
            # Abort the acquisition: a session no longer renewed must not
            # end up holding the key.
            self._session_lost = session_id
            step, self._step = self._step, None
            if step is not None and not step.called:
                step.cancel()

    def _check_not_lost(self) -> None:
        """Raise :class:`SessionLost` when the session was lost while acquiring."""
        if self._session_lost is not None:
            raise SessionLost(f"{self._what} session {self._session_lost} was lost while acquiring")

    def _drop_session(self) -> "Deferred[Any]":
        return self._destroy_keeper(self._take_keeper())

    def _take_keeper(self) -> Optional[SessionKeeper]:
        if self._unsubscribe is not None:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            unsubscribe()
        keeper, self._keeper = self._keeper, None
        self.session_id = None
        return keeper

    def _destroy_keeper(self, keeper: Optional[SessionKeeper]) -> "Deferred[Any]":
        if keeper is None:
            return succeed(None)

        def failed(failure: Any) -> None:
            self.log.warn(
                "destroying {what} session failed: {error}",
                what=self._what,
                error=failure.getErrorMessage(),
            )

        return keeper.destroy().addErrback(failed)
