"""
Tests for user events: the client (txconsul.api.event) and FakeConsul's
``/v1/event/*`` (txconsul.testing._event), in memory.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import succeed
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from txconsul import ACLPermissionDenied, BadRequest, ConsulException, QueryMeta
from txconsul._http import ConsulResponse, QueryMeta as _QM
from txconsul.api.event import Event, event_path
from txconsul.testing._event import EVENT_BUFFER_SIZE, uuid_to_uint64

from .fakecase import Denier, FakeConsulCase, add_service


class RecordingTransport:
    """Records each request and answers with a canned response."""

    def __init__(self, body: bytes = b"{}", index: Any = None) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.body = body
        self.index = index

    def request(self, *args: Any, **kwargs: Any) -> Any:
        """Record the call; fire with the canned response."""
        self.calls.append((args, kwargs))
        d = succeed(ConsulResponse(200, Headers(), self.body, _QM(self.index, None, None)))
        then = kwargs.get("then")
        return d if then is None else d.addCallback(then, *kwargs.get("then_args", ()))


class EventCase(FakeConsulCase):
    """A FakeConsul on a Clock and a client wired to it."""

    seed = 3


class RequestShapeTests(SynchronousTestCase):
    """What event.fire and event.list send."""

    def test_fire_request(self) -> None:
        """fire PUTs the body bytes to the escaped name with filter params and token."""
        t = RecordingTransport(b'{"ID":"x","Name":"a b","Payload":"aGk=","LTime":0}')
        result = self.successResultOf(
            Event(t).fire("a b", "hi", node="n.*", service="web", tag="v1", token="tok", dc="dc2")
        )
        ((args, kwargs),) = t.calls
        self.assertEqual(args[0], "PUT")
        self.assertEqual(args[1], "/v1/event/fire/a%20b")
        self.assertEqual(args[2], [("node", "n.*"), ("service", "web"), ("tag", "v1")])
        self.assertEqual(kwargs["body"], b"hi")
        self.assertEqual(kwargs["token"], "tok")
        self.assertEqual(kwargs["dc"], "dc2")
        self.assertEqual(result["Payload"], b"hi")

    def test_fire_empty_body(self) -> None:
        """The default body is empty and a null Payload stays None."""
        t = RecordingTransport(b'{"ID":"x","Name":"n","Payload":null,"LTime":0}')
        result = self.successResultOf(Event(t).fire("n"))
        self.assertEqual(t.calls[0][1]["body"], b"")
        self.assertEqual(t.calls[0][0][2], [])
        self.assertIsNone(result["Payload"])

    def test_list_request(self) -> None:
        """list GETs /v1/event/list with ?name, no dc, and the index."""
        t = RecordingTransport(b"[]", index=1)
        self.assertEqual(self.successResultOf(Event(t).list("deploy", index=77, wait="5s")), (1, []))
        ((args, kwargs),) = t.calls
        self.assertEqual(args[:3], ("GET", "/v1/event/list", [("name", "deploy")]))
        self.assertEqual(kwargs["index"], 77)
        self.assertEqual(kwargs["wait"], 5.0)
        self.assertIs(kwargs["use_dc"], False)
        self.assertIs(kwargs["require_index"], True)

    def test_list_default_wait_is_ten_minutes(self) -> None:
        """A blocking list without wait asks for Consul's 10-minute event wait."""
        t = RecordingTransport(b"[]", index=1)
        Event(t).list(index=5)
        self.assertEqual(t.calls[0][1]["wait"], 600.0)

    def test_list_non_blocking_sends_no_wait(self) -> None:
        """Without an index nothing about waiting is sent."""
        t = RecordingTransport(b"[]", index=1)
        Event(t).list()
        self.assertIsNone(t.calls[0][1]["wait"])
        self.assertIsNone(t.calls[0][1]["index"])

    def test_tag_without_service(self) -> None:
        """tag without service is a ValueError before any request."""
        t = RecordingTransport()
        self.assertRaises(ValueError, Event(t).fire, "n", tag="v1")
        self.assertEqual(t.calls, [])

    def test_bad_arguments(self) -> None:
        """Bad names, bodies and indexes fail synchronously."""
        t = RecordingTransport()
        e = Event(t)
        self.assertRaises(ValueError, e.fire, "")
        self.assertRaises(ValueError, e.fire, "/lead")
        self.assertRaises(ValueError, e.fire, "a//b")
        self.assertRaises(TypeError, e.fire, 5)
        self.assertRaises(TypeError, e.fire, "n", body=3)
        self.assertRaises(ValueError, e.list, index=-1)
        self.assertRaises(ValueError, e.list, wait="soon")
        self.assertEqual(t.calls, [])

    def test_event_path(self) -> None:
        """Names are escaped whole: '/', '?', '#' and spaces survive."""
        self.assertEqual(event_path("a/b?c#d e"), "/v1/event/fire/a%2Fb%3Fc%23d%20e")


class FireTests(EventCase):
    """event.fire against FakeConsul."""

    def test_fire_response(self) -> None:
        """The fire answer has LTime 0, Version 1, the filters and the payload."""
        event = self.ok(self.consul.event.fire("deploy", b"\x00\xffpayload", node=".*"))
        self.assertEqual(event["Name"], "deploy")
        self.assertEqual(event["Payload"], b"\x00\xffpayload")
        self.assertEqual(event["LTime"], 0)
        self.assertEqual(event["Version"], 1)
        self.assertEqual(event["NodeFilter"], ".*")
        self.assertEqual((event["ServiceFilter"], event["TagFilter"]), ("", ""))
        self.assertEqual(len(event["ID"]), 36)

    def test_fire_does_not_move_raft_index(self) -> None:
        """Events are gossip: firing one leaves the shared index alone."""
        before = self.fake.index
        self.ok(self.consul.event.fire("x"))
        self.assertEqual(self.fake.index, before)

    def test_payload_round_trip(self) -> None:
        """str and bytes payloads come back from the list as bytes; empty as None."""
        self.ok(self.consul.event.fire("a", "h\u00e9"))
        self.ok(self.consul.event.fire("b", bytes(range(256))))
        self.ok(self.consul.event.fire("c"))
        _, events = self.ok(self.consul.event.list())
        self.assertEqual([e["Payload"] for e in events], ["h\u00e9".encode(), bytes(range(256)), None])

    def test_tag_without_service_server_side(self) -> None:
        """The fake answers 500 with Consul's text for tag without service."""
        f = self.failureResultOf(
            self.consul.http.request("PUT", "/v1/event/fire/x", [("tag", "v1")], body=b""),
            ConsulException,
        )
        self.assertEqual(f.value.status, 500)
        self.assertIn(b"Cannot provide tag filter without service filter", f.value.body)

    def test_bad_regex(self) -> None:
        """A bad node regex is a 500 'Invalid node filter: ...'."""
        f = self.failureResultOf(self.consul.event.fire("x", node="("), ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertTrue(f.value.body.startswith(b"Invalid node filter: "))
        f = self.failureResultOf(self.consul.event.fire("x", service="[", tag="a"), ConsulException)
        self.assertTrue(f.value.body.startswith(b"Invalid service filter: "))

    def test_missing_name(self) -> None:
        """PUT /v1/event/fire/ without a name is 400 'Missing name'."""
        f = self.failureResultOf(self.consul.http.request("PUT", "/v1/event/fire/", body=b""), BadRequest)
        self.assertEqual(f.value.body, b"Missing name")

    def test_get_not_allowed(self) -> None:
        """fire is PUT only."""
        f = self.failureResultOf(self.consul.http.request("GET", "/v1/event/fire/x"), ConsulException)
        self.assertEqual(f.value.status, 405)

    def test_fire_denied(self) -> None:
        """Without event:write on the name, fire is 403 and nothing is listed."""
        self.fake.acl.authorizer = lambda req: Denier(("event", "secret", "write"))
        self.failureResultOf(self.consul.event.fire("secret"), ACLPermissionDenied)
        self.assertEqual(self.ok(self.consul.event.list())[1], [])

    def test_unknown_dc(self) -> None:
        """Firing into an unknown datacenter is 'No path to datacenter'."""
        f = self.failureResultOf(self.consul.event.fire("x", dc="nowhere"), ConsulException)
        self.assertIn(b"No path to datacenter", f.value.body)


class FilterTests(EventCase):
    """Events are kept only when their filters match this agent."""

    def names(self) -> list[str]:
        """The names of the listed events."""
        return [e["Name"] for e in self.ok(self.consul.event.list())[1]]

    def test_node_filter(self) -> None:
        """A node regex that misses this node's name drops the event (unanchored search)."""
        self.ok(self.consul.event.fire("hit", node="fake"))
        self.ok(self.consul.event.fire("miss", node="^other$"))
        self.assertEqual(self.names(), ["hit"])

    def test_service_filter(self) -> None:
        """A service regex must match one of this agent's services (not 'consul')."""
        self.ok(self.consul.event.fire("none", service="web"))
        self.ok(self.consul.event.fire("consul", service="^consul$"))
        add_service(self.fake, "web1", "web", ["v1", "blue"])
        add_service(self.fake, "db1", "db", [], node="elsewhere")
        self.ok(self.consul.event.fire("web", service="^we"))
        self.ok(self.consul.event.fire("db", service="db"))
        self.assertEqual(self.names(), ["web"])

    def test_tag_filter(self) -> None:
        """A tag regex must match a tag of a matching service."""
        add_service(self.fake, "web1", "web", ["v1", "blue"])
        add_service(self.fake, "api1", "api", ["green"])
        self.ok(self.consul.event.fire("blue", service="web", tag="^bl"))
        self.ok(self.consul.event.fire("green-on-web", service="web", tag="green"))
        self.ok(self.consul.event.fire("green-any", service=".", tag="green"))
        self.assertEqual(self.names(), ["blue", "green-any"])

    def test_rexec_never_listed(self) -> None:
        """_rexec events are consumed by the agent, never listed."""
        self.ok(self.consul.event.fire("_rexec", "{}"))
        self.assertEqual(self.names(), [])


class ListTests(EventCase):
    """event.list: the ring buffer, names, LTime and the hash index."""

    def test_empty_index_is_one(self) -> None:
        """An empty list has index 1."""
        self.assertEqual(self.ok(self.consul.event.list()), (1, []))

    def test_index_is_uuid_hash(self) -> None:
        """The index is the XOR hash of the newest event's UUID."""
        self.ok(self.consul.event.fire("a"))
        last = self.ok(self.consul.event.fire("b"))
        index, events = self.ok(self.consul.event.list())
        self.assertEqual(index, uuid_to_uint64(last["ID"]))
        self.assertEqual(events[-1]["ID"], last["ID"])

    def test_uuid_hash_known_value(self) -> None:
        """uuidToUint64 XORs chars 0-7,9-12,14-17 with 19-22,24-35."""
        self.assertEqual(uuid_to_uint64("00000000-0000-0001-0000-000000000003"), 1 ^ 3)
        self.assertEqual(uuid_to_uint64("ffffffff-ffff-ffff-0000-000000000000"), 2**64 - 1)

    def test_name_filter_exact(self) -> None:
        """?name is an exact match, and the index follows the filtered list."""
        a = self.ok(self.consul.event.fire("deploy"))
        self.ok(self.consul.event.fire("deploy-2"))
        self.ok(self.consul.event.fire("other"))
        index, events = self.ok(self.consul.event.list("deploy"))
        self.assertEqual([e["ID"] for e in events], [a["ID"]])
        self.assertEqual(index, uuid_to_uint64(a["ID"]))
        self.assertEqual(self.ok(self.consul.event.list("nothing")), (1, []))

    def test_ltime_increases(self) -> None:
        """Listed events carry increasing Lamport times, oldest first."""
        for i in range(3):
            self.ok(self.consul.event.fire(f"e{i}"))
        _, events = self.ok(self.consul.event.list())
        times = [e["LTime"] for e in events]
        self.assertEqual(times, sorted(times))
        self.assertEqual(len(set(times)), 3)
        self.assertGreaterEqual(times[0], 1)

    def test_buffer_bound(self) -> None:
        """Only the last 256 events are kept, oldest first."""
        for i in range(EVENT_BUFFER_SIZE + 10):
            self.fake.events.fire(f"e{i}")
        _, events = self.ok(self.consul.event.list())
        self.assertEqual(len(events), EVENT_BUFFER_SIZE)
        self.assertEqual(events[0]["Name"], "e10")
        self.assertEqual(events[-1]["Name"], f"e{EVENT_BUFFER_SIZE + 9}")

    def test_no_leader_headers(self) -> None:
        """The list answers X-Consul-Index but no KnownLeader/LastContact."""
        meta, _ = self.ok(self.consul.event.list(meta=True))
        self.assertIsInstance(meta, QueryMeta)
        self.assertEqual(meta.index, 1)
        self.assertIsNone(meta.known_leader)
        self.assertIsNone(meta.last_contact)

    def test_list_ignores_dc(self) -> None:
        """The agent-local list ignores ?dc (a client default dc does not break it)."""
        c = self.fake.client(dc="elsewhere")
        self.assertEqual(self.ok(c.event.list()), (1, []))

    def test_acl_filter(self) -> None:
        """Events the token may not read are dropped, and flagged when a token was sent."""
        self.ok(self.consul.event.fire("public"))
        self.ok(self.consul.event.fire("secret"))
        self.fake.acl.authorizer = lambda req: Denier(("event", "secret", "read"))
        c = self.fake.client(token="t")
        d = c.http.request("GET", "/v1/event/list")
        response = self.ok(d)
        self.assertEqual([e["Name"] for e in response.json()], ["public"])
        self.assertEqual(response.headers.getRawHeaders(b"x-consul-results-filtered-by-acls"), [b"true"])


class BlockingTests(EventCase):
    """Blocking on the event hash index (equality semantics)."""

    def test_wakes_on_new_event(self) -> None:
        """A list blocked on the current hash answers when a new event arrives."""
        self.ok(self.consul.event.fire("first"))
        index, _ = self.ok(self.consul.event.list())
        d = self.consul.event.list(index=index)
        self.assertNoResult(d)
        self.clock.advance(30)
        self.assertNoResult(d)
        new = self.ok(self.consul.event.fire("second"))
        new_index, events = self.ok(d)
        self.assertEqual(new_index, uuid_to_uint64(new["ID"]))
        self.assertEqual(events[-1]["Name"], "second")

    def test_different_index_returns_at_once(self) -> None:
        """Any index other than the current hash answers at once (not ordered)."""
        self.ok(self.consul.event.fire("first"))
        index, _ = self.ok(self.consul.event.list())
        other = index - 1 if index > 1 else index + 1
        self.assertEqual(self.ok(self.consul.event.list(index=other))[0], index)
        self.assertEqual(self.ok(self.consul.event.list(index=2**64 - 1))[0], index)

    def test_empty_list_blocks_on_one(self) -> None:
        """An empty list's index 1 blocks until the first event."""
        d = self.consul.event.list(index=1)
        self.assertNoResult(d)
        self.ok(self.consul.event.fire("x"))
        self.assertEqual(len(self.ok(d)[1]), 1)

    def test_filtered_event_does_not_wake(self) -> None:
        """An event for another name leaves a name-filtered wait blocked."""
        d = self.consul.event.list("mine", index=1)
        self.ok(self.consul.event.fire("theirs"))
        self.assertNoResult(d)
        self.ok(self.consul.event.fire("mine"))
        self.assertEqual([e["Name"] for e in self.ok(d)[1]], ["mine"])

    def test_default_wait_is_ten_minutes_without_jitter(self) -> None:
        """Without wait the fake holds an event list exactly 10 minutes."""
        d = self.consul.event.list(index=1)
        self.clock.advance(599.9)
        self.assertNoResult(d)
        self.clock.advance(0.1)
        self.assertEqual(self.ok(d), (1, []))

    def test_wait_expires(self) -> None:
        """An explicit wait answers with the same index when nothing arrives."""
        d = self.consul.event.list(index=1, wait="10s")
        self.clock.advance(10)
        self.assertEqual(self.ok(d), (1, []))
        self.assertEqual(self.fake.pending_queries(), 0)
