# -*- test-case-name: tests.test_recipes_semaphore,tests.test_recipes_safety -*-
"""
A distributed semaphore under a KV prefix: the algorithm of the official Go
client's ``api/semaphore.go`` (contender keys, a ``.lock`` key updated with
check-and-set, dead holders pruned), on Twisted.
"""

from __future__ import annotations

import json
from typing import Any, Generator, Optional

from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import Logger

from .._duration import DurationLike, parse_duration
from ._lock import DEFAULT_LOCK_WAIT, DEFAULT_MONITOR_RETRY_TIME, next_index, retryable
from ._session import DEFAULT_SESSION_TTL, SessionHolder, SessionKeeper, _clock_of

#: api/semaphore.go SemaphoreFlagValue: the flags of every semaphore key.
SEMAPHORE_FLAG_VALUE = 0xE0F69A2BAA414DE0

#: api/semaphore.go DefaultSemaphoreSessionName.
DEFAULT_SEMAPHORE_SESSION_NAME = "Consul API Semaphore"

#: api/semaphore.go DefaultSemaphoreKey: the key holding limit and holders.
SEMAPHORE_KEY = ".lock"


class SemaphoreError(Exception):
    """Base class of the errors :class:`Semaphore` raises for misuse or conflicts."""


class SemaphoreHeld(SemaphoreError):
    """The semaphore is already held (or being acquired) by this object."""


class SemaphoreNotHeld(SemaphoreError):
    """``release()`` was called but this object holds no slot."""


class SemaphoreConflict(SemaphoreError):
    """A key under the prefix has flags other than :data:`SEMAPHORE_FLAG_VALUE`."""


class SemaphoreLimitConflict(SemaphoreError):
    """The ``.lock`` key records a different limit than this object's."""


class SemaphoreInUse(SemaphoreError):
    """``destroy()`` found the semaphore still held by some session."""


def _decode_lock(pair: Optional[dict[str, Any]], limit: int) -> dict[str, Any]:
    if pair is None or not pair.get("Value"):
        return {"Limit": limit, "Holders": {}}
    try:
        lock = json.loads(pair["Value"])
        holders = lock.get("Holders") or {}
        return {"Limit": int(lock["Limit"]), "Holders": dict(holders)}
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise SemaphoreError(f"failed to decode the semaphore lock: {e}") from None


def _encode_lock(lock: dict[str, Any]) -> bytes:
    return json.dumps(
        {"Limit": lock["Limit"], "Holders": lock["Holders"]}, sort_keys=True, separators=(",", ":")
    ).encode()


def _prune_dead_holders(lock: dict[str, Any], pairs: Optional[list[dict[str, Any]]]) -> None:
    alive = {p.get("Session") for p in pairs or () if p.get("Session")}
    for holder in list(lock["Holders"]):
        if holder not in alive:
            del lock["Holders"][holder]


class Semaphore(SessionHolder):
    """
    A semaphore allowing ``limit`` holders under the KV prefix ``prefix``,
    compatible with the Go client's ``api.Semaphore`` (and ``consul lock -n``).

    Each contender writes ``<prefix>/<session>`` acquired with its session
    (created with ``behavior='delete'`` unless ``session`` is given, kept
    alive on ``clock``).  The key ``<prefix>/.lock`` holds
    ``{"Limit": N, "Holders": {session: true}}``; a contender adds itself
    there with a check-and-set when fewer than ``limit`` live holders are
    recorded (holders whose contender key is gone are pruned), and waits with
    blocking queries otherwise.  While held, the prefix is watched with
    blocking queries waiting no longer than the session TTL; when our
    session is no longer a live holder, or when the session's
    :class:`~txconsul.recipes.SessionKeeper` reports it lost (before Consul
    may invalidate it), :attr:`lost` fires with ``True`` at once.

    :param consul: a :class:`txconsul.Consul`.
    :param prefix: the KV prefix (without trailing ``/``).
    :param limit: the number of holders allowed (>= 1); every contender must
        use the same limit (else :class:`SemaphoreLimitConflict`).
    :param value: the value of our contender key.
    :param session: by default the semaphore creates a
        :class:`~txconsul.recipes.SessionKeeper` (``behavior='delete'``) and
        destroys its session on release or loss.  A caller's
        ``SessionKeeper`` is used and its loss subscribed to, but never
        destroyed.  A bare session ID is used as is (the caller keeps it
        alive; loss is then learnt only from the monitor).
    :param lock_wait: the wait of each blocking query, and with ``try_once``
        the total time :meth:`acquire` waits.
    :param try_once: give up (``acquire`` fires ``False``) after ``lock_wait``.
    :param monitor_retries: retries of a failed monitor read (no answer or
        5xx), ``monitor_retry_time`` apart.
    :param clock: an ``IReactorTime``; ``consul.reactor`` by default.
    :param token: an ACL token for every call.

    :ivar held: whether this object holds a slot.
    :ivar session_id: the session used while acquiring or holding.
    :ivar lost: ``None`` until first acquired; then a Deferred firing ``True``
        when the slot is taken from us, ``False`` after :meth:`release`.
    """

    _what = "semaphore"
    log = Logger()

    def __init__(
        self,
        consul: Any,
        prefix: str,
        limit: int,
        value: Any = b"",
        session: Optional[str] = None,
        session_name: str = DEFAULT_SEMAPHORE_SESSION_NAME,
        session_ttl: DurationLike = DEFAULT_SESSION_TTL,
        lock_wait: DurationLike = DEFAULT_LOCK_WAIT,
        try_once: bool = False,
        monitor_retries: int = 0,
        monitor_retry_time: DurationLike = DEFAULT_MONITOR_RETRY_TIME,
        clock: Any = None,
        token: Optional[str] = None,
    ) -> None:
        if not isinstance(prefix, str) or not prefix.strip("/"):
            raise ValueError("prefix must be a non-empty string")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise TypeError("limit must be an int")
        if limit < 1:
            raise ValueError(f"invalid limit {limit!r}: must be at least 1")
        if isinstance(monitor_retries, bool) or not isinstance(monitor_retries, int) or monitor_retries < 0:
            raise ValueError("monitor_retries must be an int >= 0")
        self._consul = consul
        self._prefix = prefix.rstrip("/")
        self._limit = limit
        self._value = value
        self._check_session_arg(session)
        self._session = session
        self._session_name = session_name
        self._session_ttl = session_ttl
        parse_duration(session_ttl, "session_ttl")
        self._lock_wait = parse_duration(lock_wait, "lock_wait")
        self._try_once = try_once
        self._monitor_retries = monitor_retries
        self._monitor_retry_time = parse_duration(monitor_retry_time, "monitor_retry_time")
        self._clock = _clock_of(consul, clock)
        self._token = token
        self.held = False
        self.session_id: Optional[str] = None
        self.lost: Optional[Deferred[bool]] = None
        self._keeper: Optional[SessionKeeper] = None
        self._acquiring: Optional[Deferred[bool]] = None
        self._monitoring: Optional[Deferred[None]] = None

    @property
    def lock_key(self) -> str:
        """The key holding the limit and the holders: ``<prefix>/.lock``."""
        return f"{self._prefix}/{SEMAPHORE_KEY}"

    def _contender_key(self, session: str) -> str:
        return f"{self._prefix}/{session}"

    def _find_lock(self, pairs: Optional[list[dict[str, Any]]]) -> Optional[dict[str, Any]]:
        for pair in pairs or ():
            if pair.get("Key") == self.lock_key:
                if pair.get("Flags") != SEMAPHORE_FLAG_VALUE:
                    raise SemaphoreConflict(f"key {self.lock_key!r} exists and is not a semaphore")
                return pair
        return None

    def _list(
        self, index: Optional[int] = None, wait: Optional[float] = None, consistent: bool = False
    ) -> "Deferred[Any]":
        return self._consul.kv.get(
            self._prefix + "/",
            index=index,
            wait=wait,
            recurse=True,
            consistency="consistent" if consistent else None,
            token=self._token,
        )

    def acquire(self) -> "Deferred[bool]":
        """
        Wait for a slot; fires ``True`` (``False`` only with ``try_once`` when
        the wait ran out).

        Cancelling the Deferred stops waiting, removes the contender key and
        destroys the session the semaphore created.  Fails with
        :class:`SemaphoreHeld`, :class:`SemaphoreConflict`,
        :class:`SemaphoreLimitConflict` or the client's errors.
        """
        return self._start_acquire(
            SemaphoreHeld(f"semaphore {self._prefix!r} is already held or being acquired")
        )

    @inlineCallbacks
    def _acquire(self) -> Generator["Deferred[Any]", Any, bool]:
        kv = self._consul.kv
        step = self._wait_on
        try:
            session = yield self._open_session(
                name=self._session_name, ttl=self._session_ttl, behavior="delete", token=self._token
            )
        except Exception:
            yield self._drop_session()
            raise
        self.session_id = session
        contender = self._contender_key(session)
        try:
            made = yield step(
                kv.put(contender, self._value, flags=SEMAPHORE_FLAG_VALUE, acquire=session, token=self._token)
            )
            if not made:
                raise SemaphoreError("failed to make contender entry")
            index: Optional[int] = None
            attempts = 0
            start = self._clock.seconds()
            while True:
                self._check_not_lost()
                wait = self._lock_wait
                if self._try_once and attempts > 0:
                    elapsed = self._clock.seconds() - start
                    if elapsed > self._lock_wait:
                        yield self._give_up(contender, self._take_keeper())
                        return False
                    wait = self._lock_wait - elapsed
                attempts += 1
                idx, pairs = yield step(self._list(index, wait))
                lock_pair = self._find_lock(pairs)
                lock = _decode_lock(lock_pair, self._limit)
                if lock["Limit"] != self._limit:
                    raise SemaphoreLimitConflict(
                        f"semaphore limit conflict (lock: {lock['Limit']}, local: {self._limit})"
                    )
                _prune_dead_holders(lock, pairs)
                if session in lock["Holders"]:
                    break
                if len(lock["Holders"]) >= lock["Limit"]:
                    index = next_index(index, idx)
                    continue
                lock["Holders"][session] = True
                cas = lock_pair["ModifyIndex"] if lock_pair is not None else 0
                did_set = yield step(
                    kv.put(
                        self.lock_key,
                        _encode_lock(lock),
                        cas=cas,
                        flags=SEMAPHORE_FLAG_VALUE,
                        token=self._token,
                    )
                )
                if did_set:
                    break
                # The .lock changed after our read (a racing contender):
                # api/semaphore.go goes back to WAIT; blocking on our read's
                # index answers at once with the new state.
                index = next_index(index, idx)
            self._check_not_lost()
        except Exception:
            yield self._give_up(contender, self._take_keeper())
            self._check_not_lost()
            raise
        self.held = True
        self.lost = Deferred()
        self._monitoring = self._monitor(session)
        self._monitoring.addErrback(lambda f: self.log.failure("semaphore monitor failed", f))
        return True

    def _give_up(self, contender: str, keeper: Optional[SessionKeeper]) -> "Deferred[Any]":
        def failed(failure: Any) -> None:
            self.log.warn("removing the contender key failed: {error}", error=failure.getErrorMessage())

        d = self._consul.kv.delete(contender, token=self._token).addErrback(failed)
        return d.addCallback(lambda _: self._destroy_keeper(keeper))

    @inlineCallbacks
    def _monitor(self, session: str) -> Generator["Deferred[Any]", Any, None]:
        index: Optional[int] = None
        retries = self._monitor_retries
        while True:
            try:
                # A bounded wait (at most the session TTL), so a read lost
                # in a silent partition times out soon.
                idx, pairs = yield self._list(index, self._monitor_wait, consistent=True)
                lock = _decode_lock(self._find_lock(pairs), self._limit)
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
                self.log.warn("semaphore {prefix} monitor failed: {error}", prefix=self._prefix, error=str(e))
                break
            retries = self._monitor_retries
            _prune_dead_holders(lock, pairs)
            if session in lock["Holders"]:
                index = next_index(index, idx)
                continue
            break
        if self.held and self.session_id == session:
            self._monitoring = None
            yield self._lose(session)

    def _name(self) -> str:
        return self._prefix

    def _clean_up_after_loss(self, session_id: str, keeper: Any) -> "Deferred[Any]":
        return self._give_up(self._contender_key(session_id), keeper)

    @inlineCallbacks
    def release(self) -> Generator["Deferred[Any]", Any, bool]:
        """
        Give the slot back: remove our session from the holders (check-and-set
        until it sticks), delete our contender key, destroy the session the
        semaphore created, and fire :attr:`lost` with ``False``; fires
        ``True``.  Fails with :class:`SemaphoreNotHeld` when not held.
        """
        if not self.held:
            raise SemaphoreNotHeld(f"semaphore {self._prefix!r} is not held")
        self.held = False
        session = self.session_id
        assert session is not None
        lost = self.lost
        # As api/semaphore.go Release ("Get and clear the lock session"):
        # the session leaves this object now, so an acquire() started while
        # the release is in flight keeps its own session and ``lost``.
        keeper = self._take_keeper()
        if self._monitoring is not None:
            monitoring, self._monitoring = self._monitoring, None
            monitoring.cancel()
        kv = self._consul.kv
        try:
            while True:
                _, pair = yield kv.get(self.lock_key, token=self._token)
                lock = _decode_lock(pair, self._limit)
                if pair is None or session not in lock["Holders"]:
                    break
                del lock["Holders"][session]
                did_set = yield kv.put(
                    self.lock_key,
                    _encode_lock(lock),
                    cas=pair["ModifyIndex"],
                    flags=SEMAPHORE_FLAG_VALUE,
                    token=self._token,
                )
                if did_set:
                    break
            yield kv.delete(self._contender_key(session), token=self._token)
        finally:
            yield self._destroy_keeper(keeper)
            if lost is not None and not lost.called:
                lost.callback(False)
        return True

    @inlineCallbacks
    def destroy(self) -> Generator["Deferred[Any]", Any, bool]:
        """
        Delete the ``.lock`` key when no live holder remains; fires ``True``
        (also when there is none).  Fails with :class:`SemaphoreHeld` while
        this object holds a slot, :class:`SemaphoreConflict` for a foreign
        key, and :class:`SemaphoreInUse` when live holders remain or the key
        changed meanwhile.
        """
        if self.held:
            raise SemaphoreHeld(f"semaphore {self._prefix!r} is held")
        _, pairs = yield self._list()
        lock_pair = self._find_lock(pairs)
        if lock_pair is None:
            return True
        lock = _decode_lock(lock_pair, self._limit)
        _prune_dead_holders(lock, pairs)
        if lock["Holders"]:
            raise SemaphoreInUse(f"semaphore {self._prefix!r} is in use")
        removed = yield self._consul.kv.delete(self.lock_key, cas=lock_pair["ModifyIndex"], token=self._token)
        if not removed:
            raise SemaphoreInUse(f"semaphore {self._prefix!r} is in use")
        return True

    def __repr__(self) -> str:
        return f"<Semaphore prefix={self._prefix!r} limit={self._limit} held={self.held}>"
