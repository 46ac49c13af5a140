# -*- test-case-name: tests.test_http -*-
"""
The exception hierarchy of txconsul.

Every exception names the HTTP method and path it came from and never the ACL
token: tokens travel only in the ``X-Consul-Token`` header and no message is
built from headers.
"""

from __future__ import annotations

from typing import Iterable, Optional


class ConsulException(Exception):
    """
    Base class of every error txconsul raises for a Consul request.

    :ivar method: the HTTP method of the failed request (``'GET'``, ...).
    :ivar path: the URL path of the failed request, without its query.
    :ivar status: the HTTP status code, or ``None`` when no response came.
    :ivar body: the response body (bytes), or ``b''``.
    """

    def __init__(
        self,
        message: str,
        method: Optional[str] = None,
        path: Optional[str] = None,
        status: Optional[int] = None,
        body: bytes = b"",
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.status = status
        self.body = body


class ACLDisabled(ConsulException):
    """Consul answered 401: the agent has ACLs disabled."""


class ACLPermissionDenied(ConsulException):
    """Consul answered 403: the token lacks the permission (or is unknown)."""


class NotFound(ConsulException):
    """Consul answered 404 where "nothing" is not a valid answer."""


class BadRequest(ConsulException):
    """Consul answered 400: the request was malformed."""


class ClientError(ConsulException):
    """Consul answered with another 4xx status (405, 409, 413, 429, ...)."""


class Timeout(ConsulException):
    """The request did not complete within its client-side timeout."""


class ConsulConnectionError(ConsulException):
    """
    The HTTP connection to the agent failed (refused, reset, TLS failure).

    The message names the agent's address (``host:port`` or the unix socket).
    """


class TLSMismatch(ConsulConnectionError):
    """
    One side speaks TLS and the other plain HTTP: ``scheme='https'`` against
    an agent serving plain HTTP, or ``'http'`` against an HTTPS port.  The
    message says which scheme to use.
    """


class ConsulProtocolError(ConsulException):
    """
    The agent (or a proxy in between) sent an answer this client refuses:
    malformed HTTP/1.1 framing, or over one of the response limits.  The
    connection is dropped; retrying is unlikely to help.
    """


class ResponseTooLarge(ConsulProtocolError):
    """The answer's body is over the client's ``max_response_body``."""


class HeadersTooLarge(ConsulProtocolError):
    """
    The answer's header block is over ``max_header_bytes``, or its chunked
    framing and trailers over ``max_trailer_bytes``.
    """


class TooManyInterimResponses(ConsulProtocolError):
    """More ``1xx`` interim answers than ``max_interim_responses``."""


class UndecodableResponse(ConsulException):
    """
    The answer's body is not the JSON the endpoint returns (or nests too
    deeply to decode).  The message names the method and path; ``body`` holds
    the raw bytes.
    """


def error_for_status(
    status: int, method: str, path: str, body: bytes, redact: Iterable[str] = ()
) -> ConsulException:
    """
    Build the exception that matches an unexpected HTTP status.

    :param status: the HTTP status code Consul answered with.
    :param method: the request method.
    :param path: the request path (no query string).
    :param body: the response body; Consul's error bodies are plain text.
    :param redact: secrets the request carried (its token, credentials):
        replaced by ``<redacted>`` in the message, should the answer echo
        them (a proxy's error page showing the request).  ``body`` is kept
        as it came.
    """
    text = body.decode("utf-8", "replace").strip()
    for secret in redact:
        if secret and secret in text:
            text = text.replace(secret, "<redacted>")
    if len(text) > 512:
        text = text[:512] + "..."
    message = f"{method} {path}: {status} {text}".rstrip()
    cls: type[ConsulException]
    if status == 400:
        cls = BadRequest
    elif status == 401:
        cls = ACLDisabled
    elif status == 403:
        cls = ACLPermissionDenied
    elif status == 404:
        cls = NotFound
    elif 400 <= status < 500:
        cls = ClientError
    else:
        cls = ConsulException
    return cls(message, method=method, path=path, status=status, body=body)
