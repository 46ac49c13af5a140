"""
Integration tests for sessions, locks and transactions over real TCP,
against FakeConsul and (when CONSUL_HTTP_ADDR is set) a real agent.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import inlineCallbacks

from txconsul import Consul, ConsulException, NotFound
from txconsul.api.txn import Txn, TxnFailed

from .base import FakeAgentCase, RealAgentCase


class SessionTxnMixin:
    """Tests that hold on FakeConsul and on a real agent alike."""

    consul: Consul
    prefix: str

    @inlineCallbacks
    def new_session(self, **kw: Any) -> Any:
        """Create a session destroyed at cleanup; fire with its ID."""
        kw.setdefault("name", self.prefix)
        kw.setdefault("lock_delay", 0)
        sid = yield self.consul.session.create(**kw)
        self.addCleanup(self._destroy_quietly, sid)
        return sid

    def _destroy_quietly(self, sid: str) -> Any:
        """Destroy a session that a test may have destroyed already."""

        def gone(failure: Any) -> None:
            # With ACLs on, Consul answers 500 'Unknown session' for a session
            # that no longer exists instead of an idempotent true.
            failure.trap(ConsulException)
            if "Unknown session" not in str(failure.value):
                failure.raiseException()

        return self.consul.session.destroy(sid).addErrback(gone)

    @inlineCallbacks
    def test_session_lifecycle(self) -> Any:
        """create, info, renew, list and destroy a TTL session."""
        sid = yield self.new_session(ttl=30, checks=[])
        index, info = yield self.consul.session.info(sid)
        self.assertEqual(info["ID"], sid)
        self.assertEqual(info["Name"], self.prefix)
        self.assertGreaterEqual(index, 1)
        renewed = yield self.consul.session.renew(sid)
        self.assertEqual(renewed["ID"], sid)
        _, sessions = yield self.consul.session.list()
        self.assertIn(sid, [s["ID"] for s in sessions])
        destroyed = yield self.consul.session.destroy(sid)
        self.assertIs(destroyed, True)
        _, info = yield self.consul.session.info(sid)
        self.assertIsNone(info)
        try:
            yield self.consul.session.renew(sid)
        except NotFound:
            pass
        else:
            self.fail("renew of a destroyed session did not fail")

    @inlineCallbacks
    def test_lock_acquire_release(self) -> Any:
        """Two sessions contend for a key; release lets the other take it."""
        key = self.prefix + "lock"
        a = yield self.new_session()
        b = yield self.new_session()
        got = yield self.consul.kv.put(key, "a", acquire=a)
        self.assertIs(got, True)
        got = yield self.consul.kv.put(key, "b", acquire=b)
        self.assertIs(got, False)
        _, entry = yield self.consul.kv.get(key)
        self.assertEqual((entry["Session"], entry["LockIndex"]), (a, 1))
        released = yield self.consul.kv.put(key, "", release=a)
        self.assertIs(released, True)
        got = yield self.consul.kv.put(key, "b", acquire=b)
        self.assertIs(got, True)
        _, entry = yield self.consul.kv.get(key)
        self.assertEqual((entry["Session"], entry["LockIndex"], entry["Value"]), (b, 2, b"b"))

    @inlineCallbacks
    def test_txn_commit_and_rollback(self) -> Any:
        """A good txn applies at one index; a failing one changes nothing."""
        a, b = self.prefix + "a", self.prefix + "b"
        result = yield self.consul.txn.put([Txn.kv_set(a, "1"), Txn.kv_get(a)])
        first, second = result["Results"]
        self.assertIsNone(first["KV"]["Value"])
        self.assertEqual(second["KV"]["Value"], b"1")
        index = first["KV"]["ModifyIndex"]
        try:
            yield self.consul.txn.put(
                [
                    Txn.kv_set(b, "2"),
                    Txn.kv_check_index(a, index + 1000),
                    Txn.kv_get(self.prefix + "missing"),
                ]
            )
        except TxnFailed as e:
            self.assertEqual([x["OpIndex"] for x in e.errors], [1, 2])
            self.assertIn("failed index check", e.errors[0]["What"])
        else:
            self.fail("the transaction was not rolled back")
        _, entry = yield self.consul.kv.get(b)
        self.assertIsNone(entry)
        yield self.consul.txn.put([Txn.kv_delete_tree(self.prefix)])

    @inlineCallbacks
    def test_txn_lock(self) -> Any:
        """A txn can take a lock and check who holds it."""
        key = self.prefix + "txnlock"
        sid = yield self.new_session()
        result = yield self.consul.txn.put([Txn.kv_lock(key, "v", sid), Txn.kv_check_session(key, sid)])
        self.assertEqual(result["Results"][0]["KV"]["Session"], sid)
        yield self.consul.txn.put([Txn.kv_unlock(key, "v", sid), Txn.kv_check_session(key, None)])

    @inlineCallbacks
    def test_status(self) -> Any:
        """The agent reports a leader that is among the peers."""
        leader = yield self.consul.status.leader()
        peers = yield self.consul.status.peers()
        self.assertIn(leader, peers)


class SessionTxnFakeTests(SessionTxnMixin, FakeAgentCase):
    """Against FakeConsul on loopback."""


class SessionTxnRealTests(SessionTxnMixin, RealAgentCase):
    """Against a real agent (CONSUL_HTTP_ADDR)."""
