"""
Tests for sessions: the client (txconsul.api.session) and FakeConsul's
session rules (txconsul.testing._session, ._kv): TTLs, invalidation,
lock-delay and locks, in memory.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from txconsul import ConsulException, NotFound, QueryMeta
from txconsul.api.session import session_body
from .fakecase import FakeConsulCase


class SessionTestCase(FakeConsulCase):
    """A FakeConsul on a Clock and a client wired to it."""

    def create(self, **kw: Any) -> str:
        """Create a session, return its ID."""
        return self.ok(self.consul.session.create(**kw))

    def info(self, sid: str) -> Any:
        """The session dict, or None."""
        return self.ok(self.consul.session.info(sid))[1]

    def entry(self, key: str) -> Any:
        """The KV entry at key, or None."""
        return self.ok(self.consul.kv.get(key))[1]


class BodyTests(SynchronousTestCase):
    """session_body validates create()'s arguments and builds Consul's JSON."""

    def test_defaults(self) -> None:
        """Defaults send a 15s lock delay and release behaviour, no checks key."""
        self.assertEqual(session_body(), {"LockDelay": "15s", "Behavior": "release"})

    def test_durations(self) -> None:
        """lock_delay and ttl accept seconds or Go duration strings."""
        body = session_body(lock_delay="1.5s", ttl=30)
        self.assertEqual((body["LockDelay"], body["TTL"]), ("1500ms", "30s"))
        self.assertEqual(session_body(lock_delay=0, ttl="2m")["TTL"], "120s")
        self.assertEqual(session_body(lock_delay=0)["LockDelay"], "0s")

    def test_checks_sent_as_checks(self) -> None:
        """checks travel as 'Checks' (an empty list drops serfHealth)."""
        self.assertEqual(session_body(checks=[])["Checks"], [])
        self.assertEqual(session_body(checks=("a", b"b"))["Checks"], ["a", "b"])
        self.assertEqual(
            session_body(service_checks=["c", {"ID": "d", "Namespace": ""}])["ServiceChecks"],
            [{"ID": "c"}, {"ID": "d", "Namespace": ""}],
        )

    def test_bad_arguments(self) -> None:
        """Bad behavior, a TTL above 24h, negative lock delay and check types are refused."""
        self.assertRaises(ValueError, session_body, behavior="keep")
        self.assertEqual(session_body(ttl=9)["TTL"], "9s")
        self.assertRaises(ValueError, session_body, ttl="86401s")
        self.assertRaises(ValueError, session_body, ttl="ten")
        self.assertRaises(ValueError, session_body, lock_delay=-1)
        self.assertRaises(TypeError, session_body, checks="serfHealth")
        self.assertRaises(TypeError, session_body, checks=[1])
        self.assertRaises(TypeError, session_body, name=3)

    def test_zero_ttl_means_none(self) -> None:
        """ttl=0 (like python-consul's falsy ttl) sends no TTL."""
        self.assertNotIn("TTL", session_body(ttl=0))
        self.assertEqual(session_body(ttl="10s")["TTL"], "10s")
        self.assertEqual(session_body(ttl=86400)["TTL"], "86400s")


class ClientTests(SessionTestCase):
    """Return shapes and argument handling of consul.session."""

    def test_create_and_info(self) -> None:
        """create fires with an ID; info shows Consul's session fields."""
        sid = self.create(name="job", lock_delay="5s", behavior="delete", ttl=20)
        self.assertIsInstance(sid, str)
        index, s = self.ok(self.consul.session.info(sid))
        self.assertEqual(s["ID"], sid)
        self.assertEqual(s["Name"], "job")
        self.assertEqual(s["Node"], self.fake.core.node_name)
        self.assertEqual(s["LockDelay"], 5_000_000_000)
        self.assertEqual(s["Behavior"], "delete")
        self.assertEqual(s["TTL"], "20s")
        self.assertEqual(s["NodeChecks"], ["serfHealth"])
        self.assertEqual(index, s["CreateIndex"])

    def test_checks_empty_removes_serf(self) -> None:
        """checks=[] creates a session linked to no check."""
        self.assertEqual(self.info(self.create(checks=[]))["NodeChecks"], [])

    def test_bad_arguments_before_io(self) -> None:
        """A bad argument raises at the call and creates nothing."""
        before = self.fake.index
        self.assertRaises(ValueError, self.consul.session.create, behavior="x")
        self.assertRaises(ValueError, self.consul.session.create, ttl="25h")
        self.assertRaises(ValueError, self.consul.session.info, "s", index=-1)
        self.assertRaises(ValueError, self.consul.session.list, wait="forever")
        self.assertRaises(ValueError, self.consul.session.list, consistency="eventual")
        self.assertRaises(ValueError, self.consul.session.destroy, "")
        self.assertEqual(self.fake.index, before)

    def test_info_unknown(self) -> None:
        """info of an unknown ID is (index, None)."""
        index, data = self.ok(self.consul.session.info("00000000-0000-0000-0000-000000000000"))
        self.assertIsNone(data)
        self.assertGreaterEqual(index, 1)

    def test_odd_ids_are_escaped(self) -> None:
        """IDs with '/', '?' or '#' stay one path segment."""
        self.assertIsNone(self.ok(self.consul.session.info("a/b?c#d"))[1])
        self.assertIs(self.ok(self.consul.session.destroy("a/b?c")), True)

    def test_list_and_node(self) -> None:
        """list gives every session, node(name) those of one node."""
        a, b = self.create(name="a"), self.create(name="b")
        index, sessions = self.ok(self.consul.session.list())
        self.assertEqual([s["ID"] for s in sessions], [a, b])
        self.assertEqual(index, self.info(b)["CreateIndex"])
        _, mine = self.ok(self.consul.session.node(self.fake.core.node_name))
        self.assertEqual(len(mine), 2)
        self.assertEqual(self.ok(self.consul.session.node("other"))[1], [])

    def test_meta(self) -> None:
        """meta=True gives a QueryMeta."""
        self.create()
        meta, sessions = self.ok(self.consul.session.list(meta=True))
        self.assertIsInstance(meta, QueryMeta)
        self.assertIs(meta.known_leader, True)

    def test_destroy_idempotent(self) -> None:
        """destroy fires True, and again for an already-destroyed session."""
        sid = self.create()
        self.assertIs(self.ok(self.consul.session.destroy(sid)), True)
        self.assertIsNone(self.info(sid))
        self.assertIs(self.ok(self.consul.session.destroy(sid)), True)

    def test_renew(self) -> None:
        """renew fires with the session dict (not a list)."""
        sid = self.create(ttl=10)
        s = self.ok(self.consul.session.renew(sid))
        self.assertEqual(s["ID"], sid)
        self.assertEqual(s["TTL"], "10s")

    def test_renew_gone(self) -> None:
        """renew of an unknown session fails with NotFound."""
        f = self.failureResultOf(self.consul.session.renew("nope"), NotFound)
        self.assertIn("Session id 'nope' not found", str(f.value))

    def test_unknown_node(self) -> None:
        """A session on an unregistered node fails with 'Missing node registration'."""
        f = self.failureResultOf(self.consul.session.create(node="ghost"), ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertIn("Missing node registration", str(f.value))

    def test_unknown_check(self) -> None:
        """Linking an unknown check fails with Consul's text."""
        f = self.failureResultOf(self.consul.session.create(checks=["nope"]), ConsulException)
        self.assertIn("Missing check 'nope' registration", str(f.value))

    def test_short_ttl_is_the_servers_call(self) -> None:
        """create(ttl=5) is sent; Consul (here the fake, session_ttl_min 10s) refuses it."""
        f = self.failureResultOf(self.consul.session.create(ttl=5), ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertIn("Invalid Session TTL '5000000000'", str(f.value))

    def test_server_ttl_bounds(self) -> None:
        """The fake enforces the TTL bounds, printing nanoseconds like Consul."""
        d = self.consul.http.request("PUT", "/v1/session/create", json_body={"TTL": "5s"})
        f = self.failureResultOf(d, ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertIn("Invalid Session TTL '5000000000', must be between [10s=24h0m0s]", str(f.value))

    def test_numeric_lock_delay(self) -> None:
        """A small number is seconds and a large one nanoseconds, as Consul reads LockDelay."""
        d = self.consul.http.request("PUT", "/v1/session/create", json_body={"LockDelay": 7})
        sid = self.ok(d).json()["ID"]
        self.assertEqual(self.info(sid)["LockDelay"], 7_000_000_000)
        d = self.consul.http.request("PUT", "/v1/session/create", json_body={"LockDelay": 2_000_000_000})
        self.assertEqual(self.info(self.ok(d).json()["ID"])["LockDelay"], 2_000_000_000)

    def test_blocking_list_wakes_on_create(self) -> None:
        """A blocking session.list returns when a session is created."""
        index, _ = self.ok(self.consul.session.list())
        d = self.consul.session.list(index=index, wait="1m")
        self.assertNoResult(d)
        sid = self.create()
        new_index, sessions = self.ok(d)
        self.assertGreater(new_index, index)
        self.assertEqual([s["ID"] for s in sessions], [sid])

    def test_blocking_info_times_out(self) -> None:
        """A blocking info with no change answers after wait (plus jitter)."""
        sid = self.create()
        index, _ = self.ok(self.consul.session.info(sid))
        d = self.consul.session.info(sid, index=index, wait=30)
        self.clock.advance(29)
        self.assertNoResult(d)
        self.clock.advance(1 + 30 / 16 + 0.01)
        self.assertEqual(self.ok(d)[0], index)


class TTLTests(SessionTestCase):
    """TTL expiry on the fake's clock."""

    def test_expires_at_twice_ttl(self) -> None:
        """A TTL session survives past its TTL and is reaped at 2x TTL."""
        sid = self.create(ttl=10)
        self.clock.advance(19.9)
        self.assertIsNotNone(self.info(sid))
        self.clock.advance(0.2)
        self.assertIsNone(self.info(sid))

    def test_renew_resets_timer(self) -> None:
        """Renewing restarts the 2x TTL countdown."""
        sid = self.create(ttl=10)
        self.clock.advance(15)
        self.ok(self.consul.session.renew(sid))
        self.clock.advance(15)
        self.assertIsNotNone(self.info(sid))
        self.clock.advance(5.1)
        self.assertIsNone(self.info(sid))
        self.failureResultOf(self.consul.session.renew(sid), NotFound)

    def test_expiry_wakes_blocked_info(self) -> None:
        """Expiry wakes a blocking info, which then sees None."""
        sid = self.create(ttl=10)
        index, _ = self.ok(self.consul.session.info(sid))
        d = self.consul.session.info(sid, index=index, wait="5m")
        self.clock.advance(20)
        new_index, data = self.ok(d)
        self.assertIsNone(data)
        self.assertGreater(new_index, index)

    def test_expiry_releases_lock_with_lock_delay(self) -> None:
        """Expiry releases held keys and blocks re-acquisition for the lock-delay."""
        holder = self.create(ttl=10, lock_delay=5, checks=[])
        self.assertIs(self.ok(self.consul.kv.put("lock", "me", acquire=holder)), True)
        before = self.entry("lock")["ModifyIndex"]
        self.clock.advance(20)
        entry = self.entry("lock")
        self.assertNotIn("Session", entry)
        self.assertEqual(entry["Value"], b"me")
        self.assertGreater(entry["ModifyIndex"], before)
        other = self.create()
        self.assertIs(self.ok(self.consul.kv.put("lock", "you", acquire=other)), False)
        self.clock.advance(4.9)
        self.assertIs(self.ok(self.consul.kv.put("lock", "you", acquire=other)), False)
        self.clock.advance(0.2)
        self.assertIs(self.ok(self.consul.kv.put("lock", "you", acquire=other)), True)
        self.assertEqual(self.entry("lock")["Session"], other)

    def test_expiry_with_delete_behavior(self) -> None:
        """A 'delete' session's held keys are deleted when it expires."""
        sid = self.create(ttl=10, behavior="delete")
        self.ok(self.consul.kv.put("gone", "v", acquire=sid))
        self.ok(self.consul.kv.put("kept", "v"))
        self.clock.advance(20)
        self.assertIsNone(self.entry("gone"))
        self.assertIsNotNone(self.entry("kept"))


class LockTests(SessionTestCase):
    """kv.put(acquire=/release=) with sessions."""

    def test_acquire_release(self) -> None:
        """Acquire sets Session and LockIndex; release clears Session and replaces the value."""
        sid = self.create()
        self.assertIs(self.ok(self.consul.kv.put("l", "held", acquire=sid)), True)
        e = self.entry("l")
        self.assertEqual((e["Session"], e["LockIndex"], e["Value"]), (sid, 1, b"held"))
        self.assertIs(self.ok(self.consul.kv.put("l", "free", release=sid)), True)
        e = self.entry("l")
        self.assertNotIn("Session", e)
        self.assertEqual((e["LockIndex"], e["Value"]), (1, b"free"))
        self.assertIs(self.ok(self.consul.kv.put("l", "again", acquire=sid)), True)
        self.assertEqual(self.entry("l")["LockIndex"], 2)

    def test_contention(self) -> None:
        """Another session cannot acquire or release a held lock."""
        a, b = self.create(), self.create()
        self.ok(self.consul.kv.put("c", "a", acquire=a))
        self.assertIs(self.ok(self.consul.kv.put("c", "b", acquire=b)), False)
        self.assertIs(self.ok(self.consul.kv.put("c", "b", release=b)), False)
        self.assertEqual(self.entry("c")["Session"], a)

    def test_reacquire_by_holder(self) -> None:
        """Re-acquiring by the holder keeps LockIndex; identical data keeps ModifyIndex."""
        sid = self.create()
        self.ok(self.consul.kv.put("r", "v", acquire=sid))
        first = self.entry("r")
        self.assertIs(self.ok(self.consul.kv.put("r", "v", acquire=sid)), True)
        again = self.entry("r")
        self.assertEqual(again["LockIndex"], 1)
        self.assertEqual(again["ModifyIndex"], first["ModifyIndex"])
        self.ok(self.consul.kv.put("r", "v2", acquire=sid))
        self.assertEqual(self.entry("r")["LockIndex"], 1)
        self.assertEqual(self.entry("r")["Value"], b"v2")

    def test_invalid_session_is_error(self) -> None:
        """Acquiring with an unknown session is a 500 error, not False."""
        f = self.failureResultOf(self.consul.kv.put("x", "v", acquire="nope"), ConsulException)
        self.assertEqual(f.value.status, 500)
        self.assertIn('invalid session "nope"', str(f.value))

    def test_destroy_installs_lock_delay(self) -> None:
        """Destroying the holder releases the key and sets the default 15s lock-delay."""
        a = self.create()
        self.ok(self.consul.kv.put("d", "v", acquire=a))
        self.ok(self.consul.session.destroy(a))
        self.assertNotIn("Session", self.entry("d"))
        b = self.create()
        self.assertIs(self.ok(self.consul.kv.put("d", "v", acquire=b)), False)
        self.clock.advance(15)
        self.assertIs(self.ok(self.consul.kv.put("d", "v", acquire=b)), True)

    def test_release_sets_no_lock_delay(self) -> None:
        """An explicit release does not set a lock-delay."""
        a, b = self.create(), self.create()
        self.ok(self.consul.kv.put("e", "v", acquire=a))
        self.ok(self.consul.kv.put("e", "v", release=a))
        self.assertIs(self.ok(self.consul.kv.put("e", "v", acquire=b)), True)

    def test_zero_lock_delay(self) -> None:
        """A session with lock_delay=0 leaves no lock-delay behind."""
        a, b = self.create(lock_delay=0), self.create()
        self.ok(self.consul.kv.put("z", "v", acquire=a))
        self.ok(self.consul.session.destroy(a))
        self.assertIs(self.ok(self.consul.kv.put("z", "v", acquire=b)), True)

    def test_destroy_delete_behavior(self) -> None:
        """Destroying a 'delete' session deletes its held keys."""
        a = self.create(behavior="delete")
        self.ok(self.consul.kv.put("del/1", "v", acquire=a))
        self.ok(self.consul.session.destroy(a))
        self.assertIsNone(self.entry("del/1"))
