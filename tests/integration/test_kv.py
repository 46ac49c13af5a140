"""
KV over real loopback TCP, against FakeConsul and (when CONSUL_HTTP_ADDR is
set) a real agent.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import deferLater

from txconsul import ConsulConnectionError, Consul

from .base import FakeAgentCase, RealAgentCase


class KVMixin:
    """The same KV tests for every agent."""

    consul: Consul
    prefix: str

    @inlineCallbacks
    def test_put_get_delete(self) -> Any:
        """A value written over TCP reads back byte-exact, and delete removes it."""
        key = self.prefix + "greeting ü?#%"
        self.assertIs((yield self.consul.kv.put(key, b"\x00hello\xff")), True)
        index, data = yield self.consul.kv.get(key)
        self.assertEqual(data["Value"], b"\x00hello\xff")
        self.assertEqual(data["Key"], key)
        self.assertGreaterEqual(index, 1)
        self.assertIs((yield self.consul.kv.delete(key)), True)
        _, data = yield self.consul.kv.get(key)
        self.assertIsNone(data)

    @inlineCallbacks
    def test_recurse_and_keys(self) -> Any:
        """recurse and keys list what was written under a prefix."""
        for name in ("a", "b/c", "b/d"):
            yield self.consul.kv.put(self.prefix + name, name)
        _, entries = yield self.consul.kv.get(self.prefix, recurse=True)
        self.assertEqual([e["Key"] for e in entries], [self.prefix + n for n in ("a", "b/c", "b/d")])
        _, keys = yield self.consul.kv.get(self.prefix, keys=True, separator="/")
        self.assertEqual(keys, [self.prefix + "a", self.prefix + "b/"])

    @inlineCallbacks
    def test_polling_loop_wakes_on_put(self) -> Any:
        """The seed's polling loop wakes promptly when another client writes."""
        key = self.prefix + "foo"
        index, data = yield self.consul.kv.get(key)
        self.assertIsNone(data)
        other = self.make_client()
        d = self.consul.kv.get(key, index=index, wait="30s")
        fired: list[Any] = []
        d.addBoth(lambda r: fired.append(r) or r)
        yield deferLater(reactor, 0.05, lambda: None)
        self.assertEqual(fired, [])
        yield other.kv.put(key, "bar")
        index2, data = yield d
        self.assertGreater(index2, index)
        self.assertEqual(data["Value"], b"bar")

    @inlineCallbacks
    def test_cas(self) -> Any:
        """CAS works over TCP."""
        key = self.prefix + "cas"
        self.assertIs((yield self.consul.kv.put(key, "1", cas=0)), True)
        self.assertIs((yield self.consul.kv.put(key, "2", cas=0)), False)

    @inlineCallbacks
    def test_many_in_flight(self) -> Any:
        """Many concurrent requests over the pool all succeed."""
        from twisted.internet.defer import gatherResults

        yield gatherResults([self.consul.kv.put(self.prefix + f"n{i}", str(i)) for i in range(50)])
        results = yield gatherResults([self.consul.kv.get(self.prefix + f"n{i}") for i in range(50)])
        self.assertEqual([r[1]["Value"] for r in results], [str(i).encode() for i in range(50)])


class KVFakeTests(KVMixin, FakeAgentCase):
    """KV over TCP against FakeConsul."""

    @inlineCallbacks
    def test_connection_refused(self) -> Any:
        """A closed port fails with ConsulConnectionError naming the address."""
        port = self.port.getHost().port
        yield self.port.stopListening()
        c = self.make_client()
        with self.assertRaises(ConsulConnectionError) as ctx:
            yield c.kv.get("x")
        self.assertIn(f"127.0.0.1:{port}", str(ctx.exception))


class KVRealTests(KVMixin, RealAgentCase):
    """KV over TCP against a real agent."""
