# -*- test-case-name: tests.test_recipes_lock -*-
"""
Recipes built only from public :class:`txconsul.Consul` calls: a session
keep-alive, a lock and a semaphore compatible with the official Go client's,
and a service registration kept passing by a TTL heartbeat.
"""

from ._lock import (
    LOCK_FLAG_VALUE,
    Fence,
    FencingError,
    LeaderElection,
    Lock,
    LockConflict,
    LockError,
    LockHeld,
    LockInUse,
    LockNotHeld,
    guarded_txn,
)
from ._registration import ServiceRegistration
from ._semaphore import (
    SEMAPHORE_FLAG_VALUE,
    Semaphore,
    SemaphoreConflict,
    SemaphoreError,
    SemaphoreHeld,
    SemaphoreInUse,
    SemaphoreLimitConflict,
    SemaphoreNotHeld,
)
from ._session import SessionKeeper, SessionLost

__all__ = [
    "Fence",
    "FencingError",
    "LOCK_FLAG_VALUE",
    "LeaderElection",
    "Lock",
    "LockConflict",
    "LockError",
    "LockHeld",
    "LockInUse",
    "LockNotHeld",
    "SEMAPHORE_FLAG_VALUE",
    "Semaphore",
    "SemaphoreConflict",
    "SemaphoreError",
    "SemaphoreHeld",
    "SemaphoreInUse",
    "SemaphoreLimitConflict",
    "SemaphoreNotHeld",
    "ServiceRegistration",
    "SessionKeeper",
    "SessionLost",
    "guarded_txn",
]
