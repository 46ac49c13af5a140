# -*- test-case-name: tests.test_recipes_lock,tests.test_recipes_safety -*-
"""
A distributed lock on one KV key: the algorithm of the official Go client's
``api/lock.go`` (flag value, lock-delay retry, monitor), on Twisted.
"""

from __future__ import annotations

from typing import Any, Callable, Generator, NamedTuple, Optional, Sequence

from twisted.application.service import Service

from twisted.internet.defer import CancelledError, Deferred, fail, inlineCallbacks, succeed
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from .._duration import DurationLike, parse_duration
from .._errors import ConsulException
from ..api.txn import MAX_OPS, TxnFailed, kv_check_index, kv_check_session, kv_set
from ._session import DEFAULT_SESSION_TTL, SessionHolder, SessionKeeper, _clock_of

#: api/lock.go LockFlagValue: the flags of a key used as a lock.
LOCK_FLAG_VALUE = 0x2DDCCBC058A50C18

#: api/lock.go DefaultLockSessionName.
DEFAULT_LOCK_SESSION_NAME = "Consul API Lock"

#: api/lock.go DefaultLockWaitTime.
DEFAULT_LOCK_WAIT = "15s"

#: api/lock.go DefaultLockRetryTime: the wait while a lock-delay is in force.
DEFAULT_LOCK_RETRY = "5s"

#: api/lock.go DefaultMonitorRetryTime.
DEFAULT_MONITOR_RETRY_TIME = "2s"


class LockError(Exception):
    """Base class of the errors :class:`Lock` raises for misuse or conflicts."""


class LockHeld(LockError):
    """The lock is already held (or being acquired) by this :class:`Lock`."""


class LockNotHeld(LockError):
    """``release()`` was called but this :class:`Lock` does not hold the lock."""


class LockConflict(LockError):
    """The key exists with flags other than :data:`LOCK_FLAG_VALUE`: it is not a lock."""


class LockInUse(LockError):
    """``destroy()`` found the lock held by some session."""


class FencingError(LockError):
    """
    A guarded write was refused: the lock key is no longer held by this
    session at the fencing token's index (the lock was lost, and maybe
    taken by another holder).  Nothing was written.

    :ivar fence: the :class:`Fence` the write was guarded by.
    :ivar errors: Consul's errors for the failed checks.
    """

    def __init__(self, message: str, fence: "Fence", errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.fence = fence
        self.errors = errors


class Fence(NamedTuple):
    """
    One acquisition of a :class:`Lock`, as Consul recorded it: the proof a
    guarded write carries.

    ``token`` is the lock key's ``ModifyIndex`` right after this session
    acquired it.  Consul's indexes only grow, and every later acquisition
    (by anyone) writes the key again, so a later holder's token is always
    larger: a *fencing token*.  ``lock_index`` is the key's ``LockIndex``
    (Consul's count of acquisitions of the key).
    """

    key: str
    session: str
    token: int
    lock_index: int

    def checks(self) -> list[dict[str, Any]]:
        """
        The two transaction operations that fail unless the lock key is
        still held by this session and unchanged since the acquisition:
        ``check-session`` and ``check-index``.
        """
        return [kv_check_session(self.key, self.session), kv_check_index(self.key, self.token)]


def guarded_txn(
    consul: Any, fence: Fence, ops: Sequence[dict[str, Any]], token: Optional[str] = None
) -> "Deferred[dict[str, Any]]":
    """
    Apply the transaction operations ``ops`` (built with
    ``consul.txn.kv_set`` and friends) only while ``fence`` still holds:
    one Consul transaction that checks the lock key's session and index
    first, so all or nothing is applied.

    Fires with the transaction's answer (the results of ``ops`` follow the
    two checks' results).  Fails with :class:`FencingError` when the lock
    was lost meanwhile, with :class:`~txconsul.TxnFailed` when one of
    ``ops`` failed, or with the client's error.
    """
    if not isinstance(fence, Fence):
        return fail(TypeError(f"fence must be a Fence, not {type(fence).__name__}"))
    ops = list(ops)
    if len(ops) > MAX_OPS - 2:
        return fail(
            ValueError(
                f"{len(ops)} operations: a guarded transaction allows at most {MAX_OPS - 2} "
                f"(Consul's {MAX_OPS} minus the two checks)"
            )
        )
    try:
        d = consul.txn.put(fence.checks() + ops, token=token)
    except (TypeError, ValueError) as e:
        return fail(e)

    def failed(failure: Failure) -> Any:
        failure.trap(TxnFailed)
        errors = failure.value.errors
        checks = [e for e in errors if isinstance(e, dict) and e.get("OpIndex") in (0, 1)]
        if checks:
            raise FencingError(
                f"lock {fence.key!r} is no longer held at fencing token {fence.token}: nothing was written",
                fence,
                checks,
            )
        return failure

    return d.addErrback(failed)


def retryable(error: BaseException) -> bool:
    """
    As the Go client's ``IsRetryableError``: no answer at all, or a 5xx.
    """
    if not isinstance(error, ConsulException):
        return False
    return error.status is None or error.status >= 500


def next_index(previous: Optional[int], index: Optional[int]) -> Optional[int]:
    """
    The index for the next blocking query after a read answered ``index``
    when ``previous`` was sent, as Consul's blocking-query guidance says:
    when the index went backwards (a snapshot restore, another server),
    start over with a plain read (``None``); and never block on an index
    below 1, since index 0 makes the query return at once (a hot loop).
    """
    if index is None or index < 1:
        return 1
    if previous is not None and index < previous:
        return None
    return index


class Lock(SessionHolder):
    """
    A lock on the KV key ``key``, compatible with the Go client's
    ``api.Lock`` (and so with ``consul lock``).

    :meth:`acquire` waits until the key is ours: it creates a session (unless
    ``session`` is given) and keeps it alive on ``clock``, reads the key with
    blocking queries while another session holds it, and retries every
    ``lock_retry`` while Consul's lock-delay forbids taking a key whose
    holder's session was invalidated.  While held, the key is watched with
    blocking queries (each waiting no longer than the session TTL); when its
    ``Session`` is no longer ours, or when the session's
    :class:`~txconsul.recipes.SessionKeeper` reports it lost (before Consul
    may invalidate it), the lock is lost and :attr:`lost` fires with
    ``True`` at once.  Each acquisition has a :class:`Fence` (:attr:`fence`)
    whose ``token`` grows with every acquisition, for writes guarded with
    :meth:`guarded_txn`.

    :param consul: a :class:`txconsul.Consul`.
    :param key: the KV key used as the lock.
    :param value: the value written at the key while held.
    :param session: by default the lock creates a
        :class:`~txconsul.recipes.SessionKeeper` (a TTL session named
        ``session_name`` with ``session_ttl``) and destroys its session when
        the lock is released or lost.  A caller's ``SessionKeeper`` is used
        (created if need be) and its loss subscribed to, but it is never
        destroyed by the lock.  A bare session ID is used as is: the caller
        keeps it alive, and the lock learns of its loss only from its
        monitor (reads waiting at most 10s), so the early-loss guarantee
        does not hold for it.
    :param lock_wait: the wait of each blocking query, and with
        ``try_once`` the total time :meth:`acquire` waits.
    :param lock_retry: how long to wait while a lock-delay is in force.
    :param try_once: give up (``acquire`` fires ``False``) after
        ``lock_wait`` instead of waiting forever.
    :param monitor_retries: how many times the monitor retries a failed read
        (no answer or 5xx) before declaring the lock lost, waiting
        ``monitor_retry_time`` in between.
    :param clock: an ``IReactorTime``; ``consul.reactor`` by default.
    :param token: an ACL token for every call.

    :ivar held: whether this object holds the lock.
    :ivar session_id: the session used while acquiring or holding.
    :ivar lost: ``None`` until the lock is first acquired; then a Deferred
        that fires with ``True`` when the lock is taken from us and with
        ``False`` after :meth:`release` (a new one per acquisition).
    :ivar fence: the :class:`Fence` of the current acquisition, ``None``
        while not held.
    """

    _what = "lock"
    log = Logger()

    def __init__(
        self,
        consul: Any,
        key: str,
        value: Any = b"",
        session: Optional[str] = None,
        session_name: str = DEFAULT_LOCK_SESSION_NAME,
        session_ttl: DurationLike = DEFAULT_SESSION_TTL,
        lock_wait: DurationLike = DEFAULT_LOCK_WAIT,
        lock_retry: DurationLike = DEFAULT_LOCK_RETRY,
        try_once: bool = False,
        monitor_retries: int = 0,
        monitor_retry_time: DurationLike = DEFAULT_MONITOR_RETRY_TIME,
        clock: Any = None,
        token: Optional[str] = None,
    ) -> None:
        if not isinstance(key, str) or not key:
            raise ValueError("key must be a non-empty string")
        self._consul = consul
        self._key = key
        self._value = value
        self._check_session_arg(session)
        self._session = session
        self._session_name = session_name
        self._session_ttl = session_ttl
        parse_duration(session_ttl, "session_ttl")
        self._lock_wait = parse_duration(lock_wait, "lock_wait")
        self._lock_retry = parse_duration(lock_retry, "lock_retry")
        self._try_once = try_once
        if isinstance(monitor_retries, bool) or not isinstance(monitor_retries, int) or monitor_retries < 0:
            raise ValueError("monitor_retries must be an int >= 0")
        self._monitor_retries = monitor_retries
        self._monitor_retry_time = parse_duration(monitor_retry_time, "monitor_retry_time")
        self._clock = _clock_of(consul, clock)
        self._token = token
        self.held = False
        self.session_id: Optional[str] = None
        self.lost: Optional[Deferred[bool]] = None
        self.fence: Optional[Fence] = None
        self._keeper: Optional[SessionKeeper] = None
        self._acquiring: Optional[Deferred[bool]] = None
        self._monitoring: Optional[Deferred[None]] = None

    @property
    def key(self) -> str:
        """The KV key used as the lock."""
        return self._key

    @property
    def fencing_token(self) -> Optional[int]:
        """The current acquisition's fencing token (:attr:`Fence.token`), or ``None``."""
        return self.fence.token if self.fence is not None else None

    def guarded_txn(self, ops: Sequence[dict[str, Any]]) -> "Deferred[dict[str, Any]]":
        """
        Apply transaction operations only if this lock is still held at its
        fencing token, atomically (see :func:`guarded_txn`).  Fails at once
        with :class:`LockNotHeld` when this object knows the lock is not
        held, and with :class:`FencingError` when Consul says so.
        """
        if not self.held or self.fence is None:
            return fail(LockNotHeld(f"lock {self._key!r} is not held"))
        return guarded_txn(self._consul, self.fence, ops, token=self._token)

    def guarded_put(self, key: str, value: Any, flags: Optional[int] = None) -> "Deferred[bool]":
        """
        Set ``key`` to ``value`` only if this lock is still held at its
        fencing token; fires ``True``.  Fails as :meth:`guarded_txn`.
        """
        try:
            op = kv_set(key, value, flags)
        except (TypeError, ValueError) as e:
            return fail(e)
        return self.guarded_txn([op]).addCallback(lambda _: True)

    def acquire(self) -> "Deferred[bool]":
        """
        Wait until the lock is ours; fires ``True`` (``False`` only with
        ``try_once`` when the wait ran out).

        Cancelling the Deferred stops waiting and destroys the session the
        lock created.  Fails with :class:`LockHeld` when already held or
        being acquired, :class:`LockConflict` when the key is not a lock,
        or with the client's error when a call fails.
        """
        return self._start_acquire(LockHeld(f"lock {self._key!r} is already held or being acquired"))

    @inlineCallbacks
    def _acquire(self) -> Generator["Deferred[Any]", Any, bool]:
        kv = self._consul.kv
        step = self._wait_on
        try:
            session = yield self._open_session(
                name=self._session_name, ttl=self._session_ttl, token=self._token
            )
        except Exception:
            yield self._drop_session()
            raise
        self.session_id = session
        try:
            index: Optional[int] = None
            attempts = 0
            start = self._clock.seconds()
            while True:
                self._check_not_lost()
                wait = self._lock_wait
                if self._try_once and attempts > 0:
                    elapsed = self._clock.seconds() - start
                    if elapsed > self._lock_wait:
                        yield self._drop_session()
                        return False
                    wait = self._lock_wait - elapsed
                attempts += 1
                idx, pair = yield step(kv.get(self._key, index=index, wait=wait, token=self._token))
                if pair is not None and pair.get("Flags") != LOCK_FLAG_VALUE:
                    raise LockConflict(f"key {self._key!r} exists and is not a lock")
                if pair is not None and pair.get("Session") == session:
                    break
                if pair is not None and pair.get("Session"):
                    index = next_index(index, idx)
                    continue
                locked = yield step(
                    kv.put(self._key, self._value, flags=LOCK_FLAG_VALUE, acquire=session, token=self._token)
                )
                if locked:
                    # Read the entry back for the fencing token: the index
                    # Consul gave our acquisition.
                    _, pair = yield step(kv.get(self._key, consistency="consistent", token=self._token))
                    if pair is not None and pair.get("Session") == session:
                        break
                    index = None
                    continue
                # Why did it fail?  Another holder (wait for it), or a
                # lock-delay (no holder: retry after a while).
                idx, pair = yield step(kv.get(self._key, token=self._token))
                if pair is not None and pair.get("Session"):
                    index = next_index(None, idx)
                    continue
                yield step(deferLater(self._clock, self._lock_retry))
                index = None
            self._check_not_lost()
        except Exception:
            yield self._drop_session()
            self._check_not_lost()
            raise
        self.held = True
        self.fence = Fence(
            self._key, session, int(pair.get("ModifyIndex") or 0), int(pair.get("LockIndex") or 0)
        )
        self.lost = Deferred()
        self._monitoring = self._monitor(session)
        self._monitoring.addErrback(lambda f: self.log.failure("lock monitor failed", f))
        return True

    @inlineCallbacks
    def _monitor(self, session: str) -> Generator["Deferred[Any]", Any, None]:
        kv = self._consul.kv
        index: Optional[int] = None
        retries = self._monitor_retries
        while True:
            try:
                # A bounded wait (at most the session TTL): a read that a
                # silent partition swallowed times out, rather than after
                # Consul's default 5 minutes.
                idx, pair = yield kv.get(
                    self._key,
                    index=index,
                    wait=self._monitor_wait,
                    consistency="consistent",
                    token=self._token,
                )
            except CancelledError:
                return
            except Exception as e:
                if not self.held or self.session_id != session:
                    # Stopped meanwhile (a cancel while connecting fails as
                    # a connection error, not CancelledError).
                    return
                if retries > 0 and retryable(e):
                    retries -= 1
                    index = None
                    try:
                        yield deferLater(self._clock, self._monitor_retry_time)
                    except CancelledError:
                        return
                    continue
                self.log.warn("lock {key} monitor failed: {error}", key=self._key, error=str(e))
                break
            retries = self._monitor_retries
            if pair is not None and pair.get("Session") == session:
                index = next_index(index, idx)
                continue
            break
        if self.held and self.session_id == session:
            self._monitoring = None
            yield self._lose(session)

    def _name(self) -> str:
        return self._key

    def _forget_holding(self) -> None:
        self.fence = None

    def _clean_up_after_loss(self, session_id: str, keeper: Any) -> "Deferred[Any]":
        return self._destroy_keeper(keeper)

    def release(self) -> "Deferred[bool]":
        """
        Release the lock; fires with Consul's answer (``True`` when released).
        Destroys the session the lock created, and fires :attr:`lost` with
        ``False``.  Fails with :class:`LockNotHeld` when not held.
        """
        if not self.held:
            return fail(LockNotHeld(f"lock {self._key!r} is not held"))
        self.held = False
        self.fence = None
        session = self.session_id
        lost = self.lost
        if self._monitoring is not None:
            monitoring, self._monitoring = self._monitoring, None
            monitoring.cancel()
        # As api/lock.go Unlock ("Get the lock entry, and clear the lock
        # session"): the session leaves this object now, so an acquire()
        # started while the release is in flight keeps its own session and
        # its own ``lost``.
        keeper = self._take_keeper()
        d = self._consul.kv.put(
            self._key, self._value, flags=LOCK_FLAG_VALUE, release=session, token=self._token
        )

        def released(result: Any) -> "Deferred[Any]":
            # Unlock closes sessionRenew (stop renewing, destroy the session)
            # in a defer: whether or not the release call succeeded.
            return self._destroy_keeper(keeper).addCallback(lambda _: result)

        def fire_lost(result: Any) -> Any:
            if lost is not None and not lost.called:
                lost.callback(False)
            return result

        return d.addBoth(released).addBoth(fire_lost)

    @inlineCallbacks
    def destroy(self) -> Generator["Deferred[Any]", Any, bool]:
        """
        Delete the lock's key when nobody holds it; fires ``True`` (also when
        there is no key).  Fails with :class:`LockHeld` while this object
        holds it, :class:`LockConflict` when the key is not a lock, and
        :class:`LockInUse` when a session holds it or it changed meanwhile.
        """
        if self.held:
            raise LockHeld(f"lock {self._key!r} is held")
        _, pair = yield self._consul.kv.get(self._key, token=self._token)
        if pair is None:
            return True
        if pair.get("Flags") != LOCK_FLAG_VALUE:
            raise LockConflict(f"key {self._key!r} exists and is not a lock")
        if pair.get("Session"):
            raise LockInUse(f"lock {self._key!r} is in use")
        removed = yield self._consul.kv.delete(self._key, cas=pair["ModifyIndex"], token=self._token)
        if not removed:
            raise LockInUse(f"lock {self._key!r} is in use")
        return True

    def __repr__(self) -> str:
        return f"<Lock key={self._key!r} held={self.held}>"


class LeaderElection(Service):
    """
    A :class:`~twisted.application.service.Service` campaigning for
    leadership with a :class:`Lock` on ``key``.

    While running it waits for the lock; once it holds it, it calls
    ``on_elected()``.  When the lock is lost it calls ``on_demoted()`` and
    campaigns again.  Stopping it cancels a pending campaign, releases a held
    lock (calling ``on_demoted()``) and destroys the lock's session.  A
    campaign that fails (Consul unreachable, :class:`LockConflict`...) is
    logged and retried after ``retry`` seconds.  Callback errors are logged.

    :param consul: a :class:`txconsul.Consul`.
    :param key: the KV key used as the lock.
    :param value: the value written at the key while leader (who leads).
    :param on_elected: called with no arguments on becoming leader.
    :param on_demoted: called with no arguments on losing leadership.
    :param retry: seconds to wait after a failed campaign.
    :param clock: an ``IReactorTime``; ``consul.reactor`` by default.
    :param lock_options: further keyword arguments for :class:`Lock`
        (``session_ttl``, ``lock_wait``, ``token``...).

    :ivar lock: the :class:`Lock` used.
    """

    log = Logger()

    def __init__(
        self,
        consul: Any,
        key: str,
        value: Any = b"",
        on_elected: Optional[Callable[[], Any]] = None,
        on_demoted: Optional[Callable[[], Any]] = None,
        retry: DurationLike = DEFAULT_LOCK_RETRY,
        clock: Any = None,
        **lock_options: Any,
    ) -> None:
        self._clock = _clock_of(consul, clock)
        self.lock = Lock(consul, key, value, clock=self._clock, **lock_options)
        self._on_elected = on_elected
        self._on_demoted = on_demoted
        self._retry = parse_duration(retry, "retry")
        self._campaign: Optional[Deferred[Any]] = None
        self._wake: Optional[Any] = None
        self._stepping_down = False

    @property
    def is_leader(self) -> bool:
        """Whether this service holds the leadership now."""
        return self.lock.held

    def _call(self, callback: Optional[Callable[[], Any]], what: str) -> None:
        if callback is None:
            return
        try:
            callback()
        except Exception:
            self.log.failure("{what} callback failed", what=what)

    def _campaign_now(self) -> None:
        self._wake = None
        if not self.running:
            return
        d = self.lock.acquire()
        self._campaign = d
        d.addCallbacks(self._elected, self._failed)

    def _elected(self, acquired: bool) -> None:
        self._campaign = None
        if not acquired:
            self._campaign_now()
            return
        lost = self.lock.lost
        assert lost is not None
        lost.addCallback(self._lost)
        self._call(self._on_elected, "on_elected")

    def _lost(self, involuntary: bool) -> None:
        if not involuntary:
            return  # stopService already called on_demoted
        self._call(self._on_demoted, "on_demoted")
        if self.running:
            self._campaign_now()

    def _failed(self, failure: Failure) -> None:
        self._campaign = None
        if failure.check(CancelledError) or not self.running:
            return
        self.log.warn(
            "leader campaign on {key} failed: {error}", key=self.lock.key, error=failure.getErrorMessage()
        )
        self._wake = self._clock.callLater(self._retry, self._campaign_now)

    def startService(self) -> None:
        """Start campaigning."""
        if self.running:
            return
        super().startService()
        self._campaign_now()

    def stopService(self) -> "Deferred[Any]":
        """Stop campaigning; release the lock when held."""
        super().stopService()
        if self._wake is not None and self._wake.active():
            self._wake.cancel()
        self._wake = None
        if self._campaign is not None:
            campaign, self._campaign = self._campaign, None
            # The cancelled acquire still destroys its session; the stop is
            # done only once that answered, else a process stopping its
            # services and exiting leaves the session behind.
            settled: Deferred[None] = Deferred()
            campaign.addBoth(lambda _: settled.callback(None))
            campaign.cancel()
            return settled
        if not self.lock.held or self._stepping_down:
            # (an on_demoted that stops the service again lands here)
            return succeed(None)
        # Step down before letting anyone else in.
        self._stepping_down = True
        try:
            self._call(self._on_demoted, "on_demoted")
        finally:
            self._stepping_down = False

        def failed(failure: Failure) -> None:
            self.log.warn(
                "releasing {key} failed: {error}", key=self.lock.key, error=failure.getErrorMessage()
            )

        return self.lock.release().addCallbacks(lambda _: None, failed)
