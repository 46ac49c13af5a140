"""
txconsul: a Twisted-native client for HashiCorp Consul.

Every call returns a :class:`~twisted.internet.defer.Deferred`::

    from txconsul import Consul

    c = Consul()
    index, data = yield c.kv.get("foo")
"""

from ._errors import (
    ACLDisabled,
    ACLPermissionDenied,
    BadRequest,
    ClientError,
    ConsulConnectionError,
    ConsulException,
    ConsulProtocolError,
    HeadersTooLarge,
    NotFound,
    ResponseTooLarge,
    Timeout,
    TLSMismatch,
    TooManyInterimResponses,
    UndecodableResponse,
)
from ._http import QueryMeta
from .api.check import Check
from .api.txn import TxnFailed
from .client import Consul

__version__ = "0.1.0"

__all__ = [
    "ACLDisabled",
    "ACLPermissionDenied",
    "BadRequest",
    "Check",
    "ClientError",
    "Consul",
    "ConsulConnectionError",
    "ConsulException",
    "ConsulProtocolError",
    "HeadersTooLarge",
    "NotFound",
    "QueryMeta",
    "ResponseTooLarge",
    "TLSMismatch",
    "Timeout",
    "TooManyInterimResponses",
    "TxnFailed",
    "UndecodableResponse",
    "__version__",
]
