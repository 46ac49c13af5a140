# -*- test-case-name: tests.test_discovery_retry -*-
"""
An opt-in retry policy for one-off calls: reads retried on connection
errors, timeouts, 5xx and 429 with jittered exponential backoff under a
deadline; writes only when the caller says they are idempotent (a CAS
write is, by construction); failover across several agents.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Optional, Sequence

from twisted.internet.defer import CancelledError, Deferred, inlineCallbacks
from twisted.internet.task import deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from .._errors import ConsulConnectionError, ConsulException, Timeout

__all__ = ["Retrying", "is_retryable", "retry_clients"]

log = Logger()


def is_retryable(error: BaseException) -> bool:
    """
    Whether a failed call may succeed when tried again: a connection
    error, a client-side timeout, a 5xx answer, or 429 (too many requests).
    """
    if isinstance(error, (ConsulConnectionError, Timeout)):
        return True
    if isinstance(error, ConsulException) and error.status is not None:
        return error.status == 429 or 500 <= error.status <= 599
    return False


class Retrying:
    """
    Runs calls against one or more agents, retrying those that may be
    retried.

    ``call(consul)`` is any function of a :class:`txconsul.Consul` that
    returns a Deferred (``lambda c: c.kv.get("foo")``).  A read is tried
    again after a retryable error (:func:`is_retryable`); each retry goes
    to the next agent of ``clients``, in turn, and waits

        ``min(backoff_cap, backoff * 2 ** (n - 1))``, less a random
        ``jitter`` fraction,

    after the ``n``-th failure -- except that a connection error moves to
    the next agent at once while some agent has not been tried since the
    last wait.  No try starts after ``deadline`` seconds (from the first
    one) nor after ``attempts`` tries; then the last error is raised.

    A write is tried once, unless the caller passes ``idempotent=True``;
    :meth:`cas_put` and :meth:`cas_delete` are idempotent by construction
    (a check-and-set applies at most once: a retry after a lost answer
    fails the check instead of writing twice, and answers ``False``).

    :param clients: a :class:`txconsul.Consul`, or a list of them (one per
        agent address, tried in order).
    :param clock: the clock of the backoff (the first client's reactor).
    :param backoff: the first wait, in seconds (0.1).
    :param backoff_cap: the longest wait (5).
    :param jitter: the random fraction of each wait (0..1, default 0.5).
    :param deadline: seconds after which no new try starts (30;
        ``None``: no deadline).
    :param attempts: the most tries (10; ``None``: no limit but the deadline).
    :param rng: the generator of the jitter.
    """

    def __init__(
        self,
        clients: Any,
        *,
        clock: Any = None,
        backoff: float = 0.1,
        backoff_cap: float = 5.0,
        jitter: float = 0.5,
        deadline: Optional[float] = 30.0,
        attempts: Optional[int] = 10,
        rng: Optional[random.Random] = None,
    ) -> None:
        if isinstance(clients, (list, tuple)):
            self.clients = list(clients)
        else:
            self.clients = [clients]
        if not self.clients:
            raise ValueError("Retrying needs at least one client")
        if backoff <= 0:
            raise ValueError(f"invalid backoff {backoff!r}: must be > 0")
        if backoff_cap < backoff:
            raise ValueError(f"invalid backoff_cap {backoff_cap!r}: must be >= backoff")
        if not 0 <= jitter <= 1:
            raise ValueError(f"invalid jitter {jitter!r}: must be between 0 and 1")
        if deadline is not None and deadline <= 0:
            raise ValueError(f"invalid deadline {deadline!r}: must be > 0 or None")
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            raise ValueError(f"invalid attempts {attempts!r}: must be an int >= 1 or None")
        if deadline is None and attempts is None:
            raise ValueError("give a deadline or a number of attempts (or both)")
        self.clock = clock if clock is not None else self.clients[0].reactor
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.jitter = jitter
        self.deadline = deadline
        self.attempts = attempts
        self._rng = rng if rng is not None else random.Random()
        self._preferred = 0

    def delay(self, failures: int) -> float:
        """The wait after ``failures`` retryable failures in a row (>= 1)."""
        base = min(self.backoff_cap, self.backoff * 2.0 ** (min(failures, 64) - 1))
        return base * (1.0 - self.jitter * self._rng.random())

    def read(self, call: Callable[[Any], Deferred]) -> Deferred:
        """Run a read, retried; fires with its result or fails with the last error."""
        return self._run(call, retry=True)

    def write(self, call: Callable[[Any], Deferred], idempotent: bool = False) -> Deferred:
        """
        Run a write: tried once unless ``idempotent=True``, which the
        caller may only say of a write that applies at most once (a CAS).
        """
        return self._run(call, retry=bool(idempotent))

    def cas_put(self, key: str, value: Any, cas: int, **kwargs: Any) -> Deferred:
        """
        ``kv.put(key, value, cas=cas, ...)``, retried: a check-and-set is
        idempotent.  Fires ``True`` (written) or ``False`` (the index moved,
        which after a retry may mean an earlier try wrote it).
        """
        cas = _check_cas(cas)
        return self._run(lambda c: c.kv.put(key, value, cas=cas, **kwargs), retry=True)

    def cas_delete(self, key: str, cas: int, **kwargs: Any) -> Deferred:
        """``kv.delete(key, cas=cas, ...)``, retried: see :meth:`cas_put`."""
        cas = _check_cas(cas)
        return self._run(lambda c: c.kv.delete(key, cas=cas, **kwargs), retry=True)

    def _run(self, call: Callable[[Any], Deferred], retry: bool) -> Deferred:
        state: dict[str, Any] = {"inner": None, "cancelled": False}

        def cancel(_: Deferred) -> None:
            state["cancelled"] = True
            if state["inner"] is not None:
                state["inner"].cancel()

        outer: Deferred = Deferred(cancel)
        self._attempt(call, retry, state).chainDeferred(outer)
        return outer

    @inlineCallbacks
    def _attempt(self, call: Callable[[Any], Deferred], retry: bool, state: dict[str, Any]) -> Any:
        clock = self.clock
        started = clock.seconds()
        n = len(self.clients)
        tries = failures = 0
        untried = n  # agents not tried since the last wait
        while True:
            index = self._preferred
            client = self.clients[index]
            tries += 1
            untried -= 1
            try:
                d = state["inner"] = call(client)
                result = yield d
            except CancelledError:
                if state["cancelled"]:
                    raise
                failure = Failure()
            except Exception:
                failure = Failure()
            else:
                return result
            finally:
                state["inner"] = None
            error = failure.value
            if state["cancelled"] or not retry or not is_retryable(error):
                failure.raiseException()
            if n > 1:
                # The next try goes to the next agent; it stays preferred.
                self._preferred = (index + 1) % n
            if self.attempts is not None and tries >= self.attempts:
                failure.raiseException()
            wait = 0.0
            if not (isinstance(error, ConsulConnectionError) and untried > 0):
                failures += 1
                wait = self.delay(failures)
                untried = n
            if self.deadline is not None and clock.seconds() + wait - started >= self.deadline:
                failure.raiseException()
            log.info(
                "retrying after {error} (try {tries}) in {wait:.2f}s",
                error=str(error),
                tries=tries,
                wait=wait,
            )
            if wait > 0:
                d = state["inner"] = deferLater(clock, wait, lambda: None)
                try:
                    yield d
                finally:
                    state["inner"] = None


def _check_cas(cas: Any) -> int:
    if isinstance(cas, bool) or not isinstance(cas, int) or cas < 0:
        raise ValueError(f"invalid cas {cas!r}: must be an int >= 0")
    return cas


def retry_clients(reactor: Any, addresses: Sequence[str]) -> list[Any]:
    """
    One :class:`txconsul.Consul` per agent address (any ``CONSUL_HTTP_ADDR``
    form), the token and TLS settings from the ``CONSUL_*`` environment.
    """
    from ._endpoints import consul_from_environment

    return [consul_from_environment(reactor, a) for a in addresses]
