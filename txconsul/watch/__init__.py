# -*- test-case-name: tests.test_watch -*-
"""
Watches: services that follow a Consul view with blocking queries and call a
handler when it changes, correct by construction.

A :class:`Watch` is a :class:`twisted.application.service.Service`.  Its
blocking queries are issued by a shared poll (``_poll``), an explicit loop
on the injected clock: query, hand the answer over, pause when due.  Watches
of one client that issue the same query (same request, token, datacenter,
consistency, filter and retry policy) share one poll, hence one HTTP
long-poll, and the result is fanned out.  The query is the one the client's
endpoint method describes (``_plans``: a table from watch type to
``kv.get``, ``catalog.services``, ``health.service``... requests), so a
watch reads exactly what the matching client call reads.

The rules, from Consul's blocking-query guidance and ``consul watch``:

- the handler ``(index, data)`` fires once with the initial state, then only
  when the index moved and the data really changed (same index or equal
  data: no call); a deleted key is reported as ``None`` (api/watch/plan.go:
  ``lastParamVal.Equal`` then ``reflect.DeepEqual(p.lastResult, result)``);
- a handler may return a Deferred: the next query waits for it, so handler
  calls never overlap and nothing queues up;
- the index is reset to 0 when it goes backwards, never used below 1, and a
  loop whose queries return quickly without a data change is rate limited;
- errors never stop a watch: the query is retried with exponential backoff
  (1 s doubling per consecutive failure, at most 180 s, less up to 20%
  jitter; all configurable); the index is reset, and the first answer after an
  error is given to the handler even when it equals the last one (plan.go
  sets ``lastParamVal = nil`` on error, which skips the ``DeepEqual`` test);
  loss and recovery are logged and given to the optional ``on_error`` /
  ``on_recover`` callbacks;
- ``stopService`` cancels the query in flight.

The data a handler receives is decoded like the client decodes it (KV
``Value`` and event ``Payload`` as ``bytes``); with ``raw=True`` it is
Consul's JSON as answered (``Value`` and ``Payload`` base64).  The
``consul-watch`` command re-encodes that as Consul's Go ``api`` package
does (:func:`txconsul.tap.watch.go_json`).
"""

from ._plans import CHECK_STATES, WATCH_TYPES, WatchQuery, build_watch
from ._poll import DEFAULT_WAIT, EVENT_WAIT, JITTER, MAX_BACKOFF, RETRY_INTERVAL, RetryPolicy, WatchHub
from ._service import (
    Handler,
    Watch,
    watch_checks,
    watch_event,
    watch_key,
    watch_keyprefix,
    watch_nodes,
    watch_service,
    watch_services,
)
from ._views import event_id_to_index

__all__ = [
    "CHECK_STATES",
    "DEFAULT_WAIT",
    "EVENT_WAIT",
    "Handler",
    "JITTER",
    "MAX_BACKOFF",
    "RETRY_INTERVAL",
    "RetryPolicy",
    "WATCH_TYPES",
    "Watch",
    "WatchHub",
    "WatchQuery",
    "build_watch",
    "event_id_to_index",
    "watch_checks",
    "watch_event",
    "watch_key",
    "watch_keyprefix",
    "watch_nodes",
    "watch_service",
    "watch_services",
]
