"""
Observing txconsul's requests: every request the client sends ends with one
:mod:`twisted.logger` event at debug level in the ``txconsul.request``
namespace, and :func:`request_observer` turns a callable into a log observer
that receives each finished request as a :class:`RequestEvent` (for a
service's own metrics).  See docs/observability.md.
"""

from ._observe import (
    NAMESPACE,
    RequestEvent,
    RequestObserver,
    endpoint_of,
    request_events,
    request_observer,
    set_request_events,
)

__all__ = [
    "NAMESPACE",
    "RequestEvent",
    "RequestObserver",
    "endpoint_of",
    "request_events",
    "request_observer",
    "set_request_events",
]
