"""
The streaming endpoints (agent monitor, snapshot save/restore) against the
real ``twistd -n consul-fake`` process over TCP.  Real time and a real
port; every wait is bounded.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase

from txconsul import Consul
from tests.processcase import start_consul_fake

ROOT = "stream-root-token"


def _soon(seconds: float) -> "Deferred[None]":
    """A Deferred firing after ``seconds`` of real time."""
    d: Deferred[None] = Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


class StreamProcessTests(TestCase):
    """Monitor and snapshot through a real socket to the consul-fake process."""

    timeout = 60

    def setUp(self) -> None:
        _, port, _ = start_consul_fake(self, "--acl-master-token", ROOT, "--acl-default-policy", "deny")
        self.consul = Consul("127.0.0.1", port, token=ROOT, reactor=reactor, environ={})
        self.addCleanup(self.consul.close)

    @inlineCallbacks
    def test_monitor_streams_and_stops(self) -> Any:
        """Debug lines of the process's own requests arrive while the stream is open; stop() ends it."""
        lines: list[str] = []
        mon = self.consul.agent.monitor(lines.append, loglevel="debug")
        # The stream is open once the process logs requests made after it.
        for _ in range(100):
            yield self.consul.kv.put("stream/key", "v")
            if any("url=/v1/kv/stream/key" in line for line in lines):
                break
            yield _soon(0.05)
        self.assertTrue(
            any(
                "[DEBUG] agent.http: Request finished: method=PUT url=/v1/kv/stream/key" in line
                for line in lines
            ),
            lines[-3:],
        )
        self.assertNoResult(mon.done)
        mon.stop()
        result = yield mon.done
        self.assertIsNone(result)

    @inlineCallbacks
    def test_monitor_logjson(self) -> Any:
        """With logjson every line is a JSON object with hclog's keys."""
        import json

        lines: list[str] = []
        mon = self.consul.agent.monitor(lines.append, loglevel="debug", logjson=True)
        for _ in range(100):
            yield self.consul.kv.get("stream/json")
            if lines:
                break
            yield _soon(0.05)
        mon.stop()
        yield mon.done
        record = json.loads(lines[0])
        self.assertEqual((record["@level"], record["@module"]), ("debug", "agent.http"))

    @inlineCallbacks
    def test_snapshot_round_trip_through_file(self) -> Any:
        """save() into a file, change things, restore() from the file: the old state is back."""
        yield self.consul.kv.put("snap/a", "before")
        path = self.mktemp()
        with open(path, "wb") as f:
            meta = yield self.consul.snapshot.save(f)
        self.assertGreater(meta.index, 0)
        self.assertGreater(os.path.getsize(path), 100)
        yield self.consul.kv.put("snap/a", "after")
        yield self.consul.kv.put("snap/b", "new")
        with open(path, "rb") as f:
            ok = yield self.consul.snapshot.restore(f)
        self.assertIs(ok, True)
        _, a = yield self.consul.kv.get("snap/a")
        _, b = yield self.consul.kv.get("snap/b")
        self.assertEqual(a["Value"], b"before")
        self.assertIsNone(b)

    @inlineCallbacks
    def test_snapshot_needs_management(self) -> Any:
        """Anonymous on a default-deny agent: save is refused with 403."""
        from txconsul import ACLPermissionDenied

        anon = Consul(
            self.consul.http.address.split(":")[0],
            int(self.consul.http.address.split(":")[1]),
            reactor=reactor,
            environ={},
        )
        self.addCleanup(anon.close)
        with self.assertRaises(ACLPermissionDenied):
            yield anon.snapshot.save()
