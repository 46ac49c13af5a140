"""
Tests for requests as values (txconsul._request) and the shared validators
(txconsul._validate).
"""

from __future__ import annotations

import attr

import inspect
from typing import Any, Optional

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from txconsul import ConsulException, QueryMeta
from txconsul._http import ConsulResponse
from txconsul._request import NO_BODY, Endpoint, Request, describe, endpoint, read, send
from txconsul._validate import check_index, check_str_map, check_uint
from txconsul.api.kv import KV, decode_get, decode_list

from .fakecase import FakeConsulCase


class Capture:
    """A transport that keeps what ``request`` was given and answers a canned response."""

    def __init__(self, code: int = 200, body: bytes = b"true", index: Optional[int] = 7) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.response = ConsulResponse(code, Headers(), body, QueryMeta(index, True, 0))

    def request(self, *args: Any, **kwargs: Any) -> "Deferred[Any]":
        """Record the call; fire with the canned response (and ``then``'s result of it)."""
        self.calls.append((args, kwargs))
        then = kwargs.get("then")
        if then is None:
            return succeed(self.response)
        return succeed(self.response).addCallback(then, *kwargs.get("then_args", ()))


class Sample(Endpoint):
    """An endpoint group with shared options at positions and keyword only."""

    @endpoint
    def thing(
        self,
        name: str,
        index: Any = None,
        dc: Optional[str] = None,
        *,
        token: Optional[str] = None,
        meta: bool = False,
    ) -> Request:
        """Read a thing."""
        return read("/v1/thing/" + name)

    @endpoint
    def write(self, name: str, meta: Optional[dict[str, str]] = None) -> Request:
        """Write a thing whose ``meta`` is its own."""
        return Request("PUT", "/v1/thing/" + name, json_body={"Meta": meta})


class EndpointTests(SynchronousTestCase):
    """The endpoint decorator: signature kept, options picked by position or name."""

    def setUp(self) -> None:
        self.transport = Capture()
        self.sample = Sample(self.transport)  # type: ignore[arg-type]

    def test_signature_and_docstring_kept(self) -> None:
        """The sending method shows the described method's parameters and docstring."""
        params = list(inspect.signature(Sample.thing).parameters)
        self.assertEqual(params, ["self", "name", "index", "dc", "token", "meta"])
        self.assertEqual(Sample.thing.__doc__, "Read a thing.")
        self.assertEqual(inspect.signature(Sample.thing).return_annotation, "Deferred")

    def test_positional_options(self) -> None:
        """index and dc given by position reach the transport, validated."""
        result = self.successResultOf(self.sample.thing("a", "12", "dc2"))
        self.assertEqual(result, (7, True))
        args, kwargs = self.transport.calls[0]
        self.assertEqual(args[:2], ("GET", "/v1/thing/a"))
        self.assertEqual((kwargs["index"], kwargs["dc"], kwargs["require_index"]), (12, "dc2", True))

    def test_keyword_options(self) -> None:
        """Keyword options reach the transport; meta=True answers the QueryMeta."""
        head, data = self.successResultOf(self.sample.thing("a", token="t", meta=True, index=3))
        self.assertEqual(head, QueryMeta(7, True, 0))
        self.assertEqual(self.transport.calls[0][1]["token"], "t")
        self.assertEqual(self.transport.calls[0][1]["index"], 3)

    def test_bad_option_before_io(self) -> None:
        """A bad shared option raises at the call and sends nothing."""
        self.assertRaises(ValueError, self.sample.thing, "a", index=-1)
        self.assertEqual(self.transport.calls, [])

    def test_write_meta_is_the_methods_own(self) -> None:
        """A write's meta goes into its body; the answer is not an (index, data) pair."""
        self.assertIs(self.successResultOf(self.sample.write("a", {"k": "v"})), True)
        self.assertEqual(self.transport.calls[0][1]["json_body"], {"Meta": {"k": "v"}})

    def test_describe_sends_nothing(self) -> None:
        """describe() answers the Request of a bound method without sending it."""
        req = describe(self.sample.thing, "b", index=4)
        self.assertEqual((req.method, req.path, req.blocking), ("GET", "/v1/thing/b", True))
        self.assertEqual(self.transport.calls, [])


class SendTests(SynchronousTestCase):
    """send(): the shared options and what a Request carries."""

    def test_filter_appended(self) -> None:
        """filter= is validated and sent after the request's own parameters."""
        transport = Capture()
        send(transport, read("/v1/x", params=[("tag", "a")]), filter="Service == web")  # type: ignore[arg-type]
        self.assertEqual(transport.calls[0][0][2], [("tag", "a"), ("filter", "Service == web")])
        self.assertRaises(TypeError, send, transport, read("/v1/x"), filter=5)

    def test_default_wait_only_with_index(self) -> None:
        """A request's default_wait is sent only with a non-zero index and no wait."""
        transport = Capture()
        req = read("/v1/event/list")._replace(default_wait=600.0)
        send(transport, req, index=5)  # type: ignore[arg-type]
        send(transport, req)  # type: ignore[arg-type]
        send(transport, req, index=5, wait="10s")  # type: ignore[arg-type]
        self.assertEqual([kw["wait"] for _, kw in transport.calls], [600.0, None, 10.0])

    def test_raw_and_json_bodies(self) -> None:
        """A raw body goes as body, a JSON body as json_body, never both."""
        transport = Capture()
        send(transport, Request("PUT", "/v1/a", body=b"x"))  # type: ignore[arg-type]
        send(transport, Request("PUT", "/v1/a", json_body=[1]))  # type: ignore[arg-type]
        self.assertEqual(transport.calls[0][1]["body"], b"x")
        self.assertNotIn("json_body", transport.calls[0][1])
        self.assertEqual(transport.calls[1][1]["json_body"], [1])

    def test_repr_hides_body_and_secret_path(self) -> None:
        """A Request's repr shows neither its body nor a secret-bearing path."""
        req = Request(
            "PUT", "/v1/acl/info/s3cret", json_body={"SecretID": "s3cret"}, shown_path="/v1/acl/info/<acl-id>"
        )
        self.assertNotIn("s3cret", repr(req))
        self.assertIn("<acl-id>", repr(req))
        self.assertIs(Request("GET", "/v1/x").json_body, NO_BODY)


class SecretPathTests(SynchronousTestCase):
    """Errors of a request whose path holds a secret never show the secret."""

    def test_undecodable_answer_hides_secret_path(self) -> None:
        """An answer that is not JSON fails naming the shown path, not the ACL ID in it."""
        from txconsul import UndecodableResponse
        from txconsul.api.acl import ACL

        transport = Capture(body=b"<html>proxy error</html>")
        transport.response = attr.evolve(transport.response, method="GET", path="/v1/acl/info/s3cret-id")
        failure = self.failureResultOf(ACL(transport).info("s3cret-id"), UndecodableResponse)  # type: ignore[arg-type]
        self.assertNotIn("s3cret-id", str(failure.value))
        self.assertNotIn("s3cret-id", failure.value.path)
        self.assertIn("<acl-id>", str(failure.value))


class KVRequestTests(FakeConsulCase):
    """KV methods described as values and sent through the shared mechanism."""

    def test_get_describes_single_and_listing_reads(self) -> None:
        """kv.get describes a single read or a listing, each with its decoder."""
        one = describe(self.consul.kv.get, "a/b")
        many = describe(self.consul.kv.get, "a/", recurse=True)
        self.assertEqual((one.path, one.decode, one.expect), ("/v1/kv/a/b", decode_get, (200, 404)))
        self.assertEqual((many.params, many.decode), ([("recurse", None)], decode_list))

    def test_positional_dc_reaches_consul(self) -> None:
        """kv.get's ninth positional argument is dc, and an unknown dc fails."""
        f = self.failureResultOf(
            self.consul.kv.get("k", None, False, None, None, None, False, None, "nowhere"),
            ConsulException,
        )
        self.assertIn("No path to datacenter", str(f.value))

    def test_round_trip(self) -> None:
        """put then get through the mechanism: the index and the bytes come back."""
        self.assertIs(self.ok(self.consul.kv.put("k", "v")), True)
        index, entry = self.ok(self.consul.kv.get("k"))
        self.assertEqual(entry["Value"], b"v")
        self.assertEqual(index, entry["ModifyIndex"])

    def test_class_attribute_is_a_function(self) -> None:
        """KV.get is a plain function with its describing original attached."""
        self.assertTrue(inspect.isfunction(KV.get))
        self.assertTrue(inspect.isfunction(KV.get.describe))  # type: ignore[attr-defined]


class ValidatorTests(SynchronousTestCase):
    """The shared validators."""

    def test_check_uint(self) -> None:
        """check_uint takes 0..2**64-1 ints and names the argument otherwise."""
        self.assertEqual(check_uint(2**64 - 1, "cas"), 2**64 - 1)
        self.assertRaises(TypeError, check_uint, True, "cas")
        e = self.assertRaises(ValueError, check_uint, -1, "flags")
        self.assertIn("flags", str(e))

    def test_check_str_map(self) -> None:
        """check_str_map copies a dict of strings and refuses other shapes."""
        self.assertEqual(check_str_map({b"k": ""}), {"k": ""})
        self.assertIsNone(check_str_map(None))
        self.assertRaises(TypeError, check_str_map, [("k", "v")], "node_meta")

    def test_check_index(self) -> None:
        """check_index reads ints, numeric strings and QueryMeta."""
        self.assertEqual(check_index("12"), 12)
        self.assertEqual(check_index(QueryMeta(3, None, None)), 3)
        self.assertRaises(ValueError, check_index, "x")


class EveryEndpointTests(FakeConsulCase):
    """Every endpoint method of every group goes through the one mechanism."""

    def test_every_method_describes_its_request(self) -> None:
        """Each public method of each endpoint group is an @endpoint (only builders are not)."""
        c = self.consul
        groups = [
            c.kv,
            c.txn,
            c.status,
            c.session,
            c.agent,
            c.agent.service,
            c.agent.check,
            c.catalog,
            c.health,
            c.acl,
            c.acl.token,
            c.acl.policy,
            c.acl.role,
            c.event,
            c.query,
            c.coordinate,
            c.operator,
        ]
        plain = []
        count = 0
        for group in groups:
            for name, member in vars(type(group)).items():
                if name.startswith("_") or isinstance(member, staticmethod):
                    continue
                if inspect.isfunction(member):
                    count += 1
                    if not hasattr(member, "describe"):
                        plain.append(f"{type(group).__name__}.{name}")
        self.assertEqual(plain, [])
        self.assertGreater(count, 80)
