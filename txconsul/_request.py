# -*- test-case-name: tests.test_request -*-
"""
Requests as values.

An endpoint method validates its arguments and *describes* its request as a
:class:`Request` (method, path, parameters, body, decoder, whether it blocks);
one mechanism, :func:`endpoint`, sends it through the transport with the
options every endpoint shares: ``index``, ``wait``, ``consistency``,
``token``, ``dc``, ``filter``, ``peer`` and ``meta``.  Watches reuse the same values
(:func:`describe`) so that nobody else writes Consul paths.

An endpoint method reads like this::

    class Status(Endpoint):
        @endpoint
        def leader(self, dc=None):
            '''The Raft leader's address.'''
            return Request("GET", "/v1/status/leader", decode=decode_leader)

The shared options are picked out of the call by :func:`endpoint`, at
positions worked out once, when the class is defined; the method keeps its
exact signature and docstring.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, Concatenate, NamedTuple, Optional, ParamSpec, Sequence, TypeVar

from twisted.internet.defer import Deferred

from ._errors import ConsulException, UndecodableResponse
from ._http import BLOCKING_MARGIN, ConsulResponse, HTTPTransport, Param
from ._validate import check_consistency, check_index, check_str, check_wait

__all__ = [
    "NO_BODY",
    "SHARED_OPTIONS",
    "Endpoint",
    "Request",
    "decode_json",
    "decode_true",
    "describe",
    "endpoint",
    "read",
    "send",
]

P = ParamSpec("P")
S = TypeVar("S", bound="Endpoint")

#: ``Request.json_body`` when the request has no JSON body.
NO_BODY: Any = object()

#: The options :func:`endpoint` applies, when the method's signature has them.
SHARED_OPTIONS = ("index", "wait", "consistency", "token", "dc", "filter", "peer", "meta")


def decode_json(response: ConsulResponse) -> Any:
    """The body as JSON."""
    return response.json()


def decode_true(response: ConsulResponse) -> bool:
    """``True`` for an empty 200 body, else the JSON boolean."""
    if not response.body.strip():
        return True
    return bool(response.json())


class Request(NamedTuple):
    """
    One Consul HTTP API request, described and not yet sent.

    :ivar method: ``'GET'``, ``'PUT'``, ``'POST'`` or ``'DELETE'``.
    :ivar path: the escaped path, starting with ``/v1/``.
    :ivar params: query parameters in order (a ``None`` value is a flag);
        ``filter``, ``dc``, consistency and blocking ones are added by
        :func:`send`.
    :ivar body: a raw body (sent as ``application/octet-stream``).
    :ivar json_body: an object sent as JSON, or :data:`NO_BODY`.
    :ivar decode: turns the :class:`~txconsul._http.ConsulResponse` into
        what the method fires with.
    :ivar blocking: a blocking-capable read: the answer must carry
        ``X-Consul-Index`` and the method fires with ``(index, data)``
        (``(QueryMeta, data)`` with ``meta=True``).
    :ivar expect: the statuses that are answers rather than errors.
    :ivar use_dc: whether ``dc`` (given or the client's) applies.
    :ivar default_wait: the ``wait`` sent with an ``index`` when none is
        given (the event list blocks 10 minutes, not Consul's usual 5).
    :ivar shown_path: how errors show the path when it holds a secret.
    :ivar long_poll: a read that blocks without an index (``?hash=`` on
        agent-local state): its client-side timeout allows for the wait.
    :ivar headers: extra ``(name, value)`` request headers (the agent
        cache's ``Cache-Control``).
    """

    method: str
    path: str
    params: Sequence[Param] = ()
    body: Optional[bytes] = None
    json_body: Any = NO_BODY
    decode: Callable[[ConsulResponse], Any] = decode_json
    blocking: bool = False
    expect: tuple[int, ...] = (200,)
    use_dc: bool = True
    default_wait: Optional[float] = None
    shown_path: Optional[str] = None
    long_poll: bool = False
    headers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        # Neither the body nor a secret-bearing path: ACL bodies hold secrets.
        kind = " blocking" if self.blocking else ""
        return f"<Request {self.method} {self.shown_path or self.path}{kind}>"


def read(
    path: str,
    decode: Callable[[ConsulResponse], Any] = decode_json,
    params: Sequence[Param] = (),
    expect: tuple[int, ...] = (200,),
) -> Request:
    """A blocking-capable ``GET``: the shape of most reads."""
    return Request("GET", path, params, None, NO_BODY, decode, True, expect)


def _hide_secret(failure: Any, real: str, shown: str) -> Any:
    """Replace a secret-bearing path in a failure's message with ``shown``."""
    exc = failure.value
    if isinstance(exc, ConsulException):
        exc.args = tuple(a.replace(real, shown) if isinstance(a, str) else a for a in exc.args)
        if exc.path == real:
            exc.path = shown
    return failure


def send(
    transport: HTTPTransport,
    request: Request,
    *,
    index: Any = None,
    wait: Any = None,
    consistency: Optional[str] = None,
    token: Optional[str] = None,
    dc: Optional[str] = None,
    filter: Optional[str] = None,
    peer: Optional[str] = None,
) -> "Deferred[ConsulResponse]":
    """
    Validate the shared options, send ``request`` and fire with the
    undecoded :class:`~txconsul._http.ConsulResponse`.

    :param peer: read what was imported from this cluster peer (catalog and
        health reads); a peer Consul does not know answers empty.
    :raises ValueError: or ``TypeError`` for a bad option, before any I/O.
    """
    return _send(transport, request, index, wait, consistency, token, dc, filter, peer)


def _send(
    transport: HTTPTransport,
    request: Request,
    index: Any,
    wait: Any,
    consistency: Any,
    token: Any,
    dc: Any,
    filter: Any,
    peer: Any = None,
    then: Optional[Callable[..., Any]] = None,
    then_args: tuple[Any, ...] = (),
) -> "Deferred[Any]":
    # send(), with positional arguments: the hot path of every call.  The
    # transport applies ``then`` (an endpoint's decoder) to the response in
    # its own callback.
    params = request.params
    if filter is not None:
        params = [*params, ("filter", check_str(filter, "filter"))]
    if peer is not None:
        params = [*params, ("peer", check_str(peer, "peer"))]
    idx = None if index is None else check_index(index)
    seconds = None if wait is None else check_wait(wait)
    if seconds is None and idx:
        seconds = request.default_wait
    if consistency is not None:
        check_consistency(consistency)
    if request.long_poll:
        d = _long_poll(transport, request, token, seconds, then, then_args)
    elif request.json_body is NO_BODY:
        # Two spelled-out calls rather than one with ``**{"body": ...}``:
        # building and unpacking that dict costs ~1 µs a call
        # (benchmarks/hotpath.py).
        d = transport.request(
            request.method,
            request.path,
            params,
            body=request.body,
            token=token,
            dc=dc,
            consistency=consistency,
            index=idx,
            wait=seconds,
            expect=request.expect,
            require_index=request.blocking,
            use_dc=request.use_dc,
            headers=request.headers or None,
            then=then,
            then_args=then_args,
        )
    else:
        d = transport.request(
            request.method,
            request.path,
            params,
            json_body=request.json_body,
            token=token,
            dc=dc,
            consistency=consistency,
            index=idx,
            wait=seconds,
            expect=request.expect,
            require_index=request.blocking,
            use_dc=request.use_dc,
            headers=request.headers or None,
            then=then,
            then_args=then_args,
        )
    if request.shown_path is not None:
        d.addErrback(_hide_secret, request.path, request.shown_path)
    return d


def _long_poll(
    transport: HTTPTransport,
    request: Request,
    token: Any,
    seconds: Optional[float],
    then: Optional[Callable[..., Any]],
    then_args: tuple[Any, ...],
) -> "Deferred[Any]":
    # A hash-blocking read: Consul waits up to ``wait`` (5 minutes by
    # default) plus jitter, so the client timeout is a blocking query's.
    w = 300.0 if seconds is None else seconds
    return transport.request(
        request.method,
        request.path,
        request.params,
        token=token,
        wait=seconds,
        expect=request.expect,
        use_dc=False,
        timeout=w + w / 16.0 + BLOCKING_MARGIN,
        then=then,
        then_args=then_args,
    )


#: What a decoder raises on JSON of another shape than its endpoint's (a
#: dict for a list, a number for a string, a missing key...).
_SHAPE_ERRORS = (KeyError, TypeError, AttributeError, IndexError, ValueError)


def _misshapen(response: ConsulResponse, error: Exception) -> UndecodableResponse:
    """The error for an answer whose JSON the endpoint's decoder cannot read."""
    # Only the exception's type: its text may quote the body.
    return UndecodableResponse(
        f"{response.method} {response.path}: the {response.code} answer's body is not what this "
        f"endpoint returns ({type(error).__name__} decoding it)",
        method=response.method,
        path=response.path,
        status=response.code,
        body=response.body,
    )


def _decoded(response: ConsulResponse, decode: Callable[[ConsulResponse], Any]) -> Any:
    try:
        return decode(response)
    except _SHAPE_ERRORS as e:
        raise _misshapen(response, e) from e


def _blocking_result(
    response: ConsulResponse, decode: Callable[[ConsulResponse], Any], meta: Any
) -> tuple[Any, Any]:
    # _decoded, inlined: every kv.get comes here, and the call costs
    # ~0.4 µs (benchmarks/hotpath.py).
    try:
        data = decode(response)
    except _SHAPE_ERRORS as e:
        raise _misshapen(response, e) from e
    return (response.meta if meta else response.meta.index), data


#: A position no call reaches: how keyword-only options are marked.
_KEYWORD = 1 << 30


def endpoint(
    describer: Callable[Concatenate[S, P], Request],
) -> Callable[Concatenate[S, P], "Deferred[Any]"]:
    """
    Turn a method that returns a :class:`Request` into one that sends it.

    The method keeps its name, signature and docstring.  Of
    :data:`SHARED_OPTIONS`, those in its signature are taken from each call
    (by position or keyword; the positions are worked out here, once) and
    applied by :func:`send`; ``meta`` only shapes a blocking read's answer
    (a write's ``meta``, like a service's metadata, is the method's own).
    The original method stays available as ``.describe``.
    """
    signature = inspect.signature(describer)
    where = {}
    for pos, p in enumerate(list(signature.parameters.values())[1:]):
        if p.name in SHARED_OPTIONS:
            keyword = p.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD
            default = None if p.default is inspect.Parameter.empty else p.default
            where[p.name] = (_KEYWORD if keyword else pos, default)
    # An option the method does not take is never in a call's arguments.
    (
        (i_at, i_def),
        (w_at, w_def),
        (c_at, c_def),
        (t_at, t_def),
        (d_at, d_def),
        (f_at, f_def),
        (_, p_def),  # keyword-only wherever a method takes it
        (m_at, m_def),
    ) = (where.get(name, (_KEYWORD, None)) for name in SHARED_OPTIONS)

    @functools.wraps(describer)
    def method(self: S, *args: P.args, **kwargs: P.kwargs) -> "Deferred[Any]":
        request = describer(self, *args, **kwargs)
        n = len(args)
        if request.blocking:
            then: Any = _blocking_result
            meta = args[m_at] if m_at < n else kwargs.get("meta", m_def) if kwargs else m_def
            then_args: tuple[Any, ...] = (request.decode, meta)
        else:
            then, then_args = _decoded, (request.decode,)
        if kwargs:
            get: Any = kwargs.get
            d = _send(
                self._transport,
                request,
                args[i_at] if i_at < n else get("index", i_def),
                args[w_at] if w_at < n else get("wait", w_def),
                args[c_at] if c_at < n else get("consistency", c_def),
                args[t_at] if t_at < n else get("token", t_def),
                args[d_at] if d_at < n else get("dc", d_def),
                args[f_at] if f_at < n else get("filter", f_def),
                get("peer", p_def),
                then,
                then_args,
            )
        else:  # the same, without looking in an empty dict six times
            d = _send(
                self._transport,
                request,
                args[i_at] if i_at < n else i_def,
                args[w_at] if w_at < n else w_def,
                args[c_at] if c_at < n else c_def,
                args[t_at] if t_at < n else t_def,
                args[d_at] if d_at < n else d_def,
                args[f_at] if f_at < n else f_def,
                None,
                then,
                then_args,
            )
        return d

    method.describe = describer  # type: ignore[attr-defined]
    # What help() and the docs show: the call fires a Deferred.
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        return_annotation="Deferred"
    )
    return method


def describe(method: Callable[..., Any], *args: Any, **kwargs: Any) -> Request:
    """
    The :class:`Request` an endpoint method would send for these arguments,
    validated but not sent.

    ``method`` is bound (``consul.kv.get``) or taken from its class
    (``KV.get``): a read's description does not depend on the client, so
    watches describe their queries without one.
    """
    func: Any = getattr(method, "__func__", method)
    return func.describe(getattr(method, "__self__", None), *args, **kwargs)


class Endpoint:
    """
    Base of every endpoint group: holds the transport.

    :param transport: the client's :class:`~txconsul._http.HTTPTransport`.
    """

    def __init__(self, transport: HTTPTransport) -> None:
        self._transport = transport
