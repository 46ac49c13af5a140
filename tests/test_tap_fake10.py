"""
``twistd consul-fake`` (issue 10): the agent's configuration options, the
header-read timeout, and PUT /v1/agent/leave stopping the process.
"""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import inlineCallbacks
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.usage import UsageError
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from txconsul import Consul
from txconsul.tap import fake as tap
from tests.processcase import start_consul_fake

NODE_ID = "0b3b2a4e-6c1f-4c43-9d43-6a4f1b3c2d10"


class OptionTests(SynchronousTestCase):
    """The new options reach the FakeConsul, and bad values are usage errors."""

    def parse(self, *args: str) -> tap.Options:
        """Parsed options."""
        o = tap.Options()
        o.parseOptions(list(args))
        return o

    def test_node_id_meta_ttl_min(self) -> None:
        """--node-id, --node-meta (repeated) and --session-ttl-min configure the fake."""
        o = self.parse(
            "--node-id",
            NODE_ID,
            "--node-meta",
            "rack:r1",
            "--node-meta",
            "zone:a:b",
            "--session-ttl-min",
            "1s",
        )
        fake = tap.build_fake(o, Clock())
        node = fake.catalog.nodes[fake.core.node_name]
        self.assertEqual(node["ID"], NODE_ID)
        self.assertEqual((node["Meta"]["rack"], node["Meta"]["zone"]), ("r1", "a:b"))
        self.assertEqual(fake.core.session_ttl_min, 1.0)

    def test_defaults(self) -> None:
        """Without them: random node ID, no extra meta, Consul's 10s minimum, a 5s header timeout."""
        o = self.parse()
        self.assertEqual(
            (o["node-id"], o["node-meta"], o["session-ttl-min"], o["read-header-timeout"]),
            (None, {}, 10.0, 5.0),
        )

    def test_bad_values(self) -> None:
        """Malformed values are refused before anything runs."""
        for args in (
            ["--node-id", "not-a-uuid"],
            ["--node-meta", "novalue"],
            ["--node-meta", "consul-x:y"],
            ["--node-meta", "bad key:y"],
            ["--session-ttl-min", "10"],
            ["--session-ttl-min", "0s"],
            ["--read-header-timeout", "soon"],
            ["--read-header-timeout", "-1"],
        ):
            self.assertRaises(UsageError, tap.Options().parseOptions, args)


class ACLEnabledOptionTests(SynchronousTestCase):
    """--acl-enabled: ACLs on, not yet bootstrapped."""

    def test_excludes_master_token(self) -> None:
        """With a master token ACLs are bootstrapped already: the two options conflict."""
        self.assertRaises(
            UsageError, tap.Options().parseOptions, ["--acl-enabled", "--acl-master-token", "root"]
        )

    def test_fresh_cluster(self) -> None:
        """The fake has ACLs enabled and PUT /v1/acl/bootstrap hands out the first token."""
        if not tap._fake_accepts("acl_enabled"):
            raise SkipTest("this FakeConsul has no acl_enabled (ACLs on, not bootstrapped)")
        from treq.testing import StubTreq

        o = tap.Options()
        o.parseOptions(["--acl-enabled"])
        fake = tap.build_fake(o, Clock())
        self.assertTrue(fake.acl.enabled)
        treq = StubTreq(fake.resource())
        d = treq.put("http://127.0.0.1:8500/v1/acl/bootstrap")
        treq.flush()
        response = self.successResultOf(d)
        self.assertEqual(response.code, 200)


class HeaderTimeoutTests(SynchronousTestCase):
    """The channel drops clients too slow to send their request headers."""

    def channel(self, timeout: float = 5.0) -> tuple[Any, StringTransport, Clock]:
        """A consul-fake channel on a fake transport and clock."""
        clock = Clock()
        o = tap.Options()
        o.parseOptions(["--listen", "tcp:0"])
        site = tap.QuietSite(tap.build_fake(o, clock).resource())
        site.header_timeout = timeout
        proto = site.buildProtocol(None)
        proto.callLater = clock.callLater
        transport = StringTransport()
        proto.makeConnection(transport)
        return proto, transport, clock

    def test_slow_headers_dropped(self) -> None:
        """Header bytes dribbling in past the timeout: the connection is aborted."""
        proto, transport, clock = self.channel()
        for byte in b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n":
            proto.dataReceived(bytes([byte]))
            clock.advance(0.1)
        self.assertFalse(transport.disconnecting)
        clock.advance(1.0)
        self.assertTrue(transport.disconnected or transport.disconnecting)

    def test_prompt_request_answered_and_idle_kept(self) -> None:
        """A request sent at once is answered; an idle keep-alive connection is not timed."""
        proto, transport, clock = self.channel()
        proto.dataReceived(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", transport.value())
        clock.advance(30)  # (twisted.web's own idle timeout is 60s)
        self.assertFalse(transport.disconnecting)
        proto.connectionLost(None)

    def test_long_request_line_served(self) -> None:
        """A 100 KB request line is served, as Go's 1 MB header limit allows (twisted's default is 16 KB)."""
        proto, transport, clock = self.channel()
        proto.dataReceived(b"GET /v1/status/leader?x=" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertIn(b"200 OK", transport.value())
        proto.connectionLost(None)

    def test_zero_disables(self) -> None:
        """A timeout of 0 never drops anyone."""
        proto, transport, clock = self.channel(timeout=0)
        proto.dataReceived(b"GET /v1/status")
        clock.advance(30)
        self.assertFalse(transport.disconnecting)


class LeaveProcessTests(TestCase):
    """
    The real ``twistd -n consul-fake`` process.  Real time and a real port:
    these test the process itself (bounded waits).
    """

    def start(self, *args: str) -> tuple[subprocess.Popen, int]:
        """Start consul-fake on a free port; (process, port)."""
        proc, port, _ = start_consul_fake(self, *args)
        return proc, port

    @inlineCallbacks
    def test_leave_stops_serving(self) -> Any:
        """After PUT /v1/agent/leave answers 200, the process exits 0 and the port closes."""
        proc, port = self.start()
        c = Consul("127.0.0.1", port, reactor=reactor, environ={})
        self.addCleanup(c.close)
        yield c.agent.leave()
        yield c.close()
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("consul-fake kept running after leave")
        self.assertEqual(code, 0)
        self.assertRaises(OSError, socket.create_connection, ("127.0.0.1", port), 1)

    def test_slow_client_dropped(self) -> None:
        """A client sending header bytes slowly is disconnected after --read-header-timeout."""
        proc, port = self.start("--read-header-timeout", "0.5")
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /v1/status/leader HTTP/1.1\r\n")
            start = time.monotonic()
            closed = False
            while time.monotonic() - start < 5:
                try:
                    s.sendall(b"X")
                    time.sleep(0.1)
                except OSError:
                    closed = True
                    break
                try:
                    s.settimeout(0.05)
                    if s.recv(1) == b"":
                        closed = True
                        break
                except socket.timeout:
                    pass
                except OSError:
                    closed = True
                    break
            self.assertTrue(closed, "the slow client was not disconnected")


class ConnectionLimitTests(SynchronousTestCase):
    """Consul's per-client connection limit (limits.http_max_conns_per_client)."""

    def connect(self, site: Any, host: str) -> tuple[Any, StringTransport]:
        """One connection from ``host``."""
        from twisted.internet.address import IPv4Address

        proto = site.buildProtocol(None)
        proto.callLater = Clock().callLater
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        proto.makeConnection(transport)
        return proto, transport

    def site(self, limit: int) -> Any:
        """A consul-fake site with the given limit."""
        o = tap.Options()
        o.parseOptions(["--http-max-conns-per-client", str(limit)])
        site = tap.QuietSite(tap.build_fake(o, Clock()).resource())
        site.max_conns_per_client = o["http-max-conns-per-client"]
        return site

    def test_over_limit_gets_429(self) -> None:
        """The connection past the limit gets a bare 429 and is closed; other clients are not affected."""
        site = self.site(2)
        first = [self.connect(site, "10.0.0.1") for _ in range(2)]
        proto, transport = self.connect(site, "10.0.0.1")
        self.assertEqual(transport.value(), b"HTTP/1.1 429 Too Many Requests\r\n\r\n")
        self.assertTrue(transport.disconnecting)
        proto.dataReceived(b"GET /v1/status/leader HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(transport.value(), b"HTTP/1.1 429 Too Many Requests\r\n\r\n")
        _, other = self.connect(site, "10.0.0.2")
        self.assertFalse(other.disconnecting)
        # One closes: the client may connect again.
        first[0][0].connectionLost(None)
        _, again = self.connect(site, "10.0.0.1")
        self.assertFalse(again.disconnecting)

    def test_zero_is_unlimited(self) -> None:
        """0 disables the limit."""
        site = self.site(0)
        transports = [self.connect(site, "10.0.0.1")[1] for _ in range(300)]
        self.assertFalse(any(t.disconnecting for t in transports))

    def test_default_and_bad_values(self) -> None:
        """The default is Consul's 200; negative or non-numbers are usage errors."""
        o = tap.Options()
        o.parseOptions([])
        self.assertEqual(o["http-max-conns-per-client"], 200)
        for bad in ("-1", "many", "1.5"):
            self.assertRaises(UsageError, tap.Options().parseOptions, ["--http-max-conns-per-client", bad])
