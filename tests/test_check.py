"""
Tests for :mod:`txconsul.api.check`: the check definition builders.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from txconsul import Consul
from txconsul.api.check import Check, legacy_check


class CheckBuilderTests(SynchronousTestCase):
    """Each builder returns the dict Consul's API expects."""

    def test_client_exposes_check(self):
        """``Consul.Check`` is the builder class, as in python-consul."""
        self.assertIs(Consul.Check, Check)

    def test_script_list(self):
        """A list of args becomes ``Args``."""
        self.assertEqual(
            Check.script(["/bin/check", "-v"], "10s"),
            {"Args": ["/bin/check", "-v"], "Interval": "10s"},
        )

    def test_script_string_runs_through_shell(self):
        """A single string is run as ``sh -c``."""
        self.assertEqual(
            Check.script("exit 0", 5),
            {"Args": ["sh", "-c", "exit 0"], "Interval": "5s"},
        )

    def test_script_empty_args(self):
        """Empty args are refused."""
        self.assertRaises(ValueError, Check.script, [], "10s")
        self.assertRaises(ValueError, Check.script, "", "10s")
        self.assertRaises(TypeError, Check.script, 42, "10s")

    def test_http(self):
        """HTTP checks carry URL, interval and optional fields under Consul's names."""
        self.assertEqual(
            Check.http("http://x/h", "10s", timeout=1.5, deregister="1m", header={"X-A": ["b"]}),
            {
                "HTTP": "http://x/h",
                "Interval": "10s",
                "Timeout": "1500ms",
                "DeregisterCriticalServiceAfter": "1m",
                "Header": {"X-A": ["b"]},
            },
        )

    def test_http_minimal(self):
        """Optional fields are omitted when not given."""
        self.assertEqual(Check.http("http://x", "1s"), {"HTTP": "http://x", "Interval": "1s"})

    def test_http_header_string_value(self):
        """A single header string is wrapped in a list."""
        self.assertEqual(Check.http("http://x", 1, header={"A": "b"})["Header"], {"A": ["b"]})

    def test_tcp(self):
        """TCP checks join host and port."""
        self.assertEqual(
            Check.tcp("10.0.0.1", 80, "10s", timeout="2s", deregister=60),
            {
                "TCP": "10.0.0.1:80",
                "Interval": "10s",
                "Timeout": "2s",
                "DeregisterCriticalServiceAfter": "60s",
            },
        )

    def test_tcp_ipv6(self):
        """An IPv6 host is bracketed."""
        self.assertEqual(Check.tcp("::1", 22, 1)["TCP"], "[::1]:22")

    def test_tcp_bad_port(self):
        """Ports must be ints in range."""
        self.assertRaises(ValueError, Check.tcp, "h", 0, 1)
        self.assertRaises(ValueError, Check.tcp, "h", 70000, 1)
        self.assertRaises(TypeError, Check.tcp, "h", "80", 1)

    def test_ttl(self):
        """TTL checks have only ``TTL``."""
        self.assertEqual(Check.ttl("30s"), {"TTL": "30s"})
        self.assertEqual(Check.ttl(0.1), {"TTL": "100ms"})

    def test_docker(self):
        """Docker checks run the script through the shell as ``Args``."""
        self.assertEqual(
            Check.docker("abc", "/bin/bash", "check.sh", "10s", deregister="5m"),
            {
                "DockerContainerID": "abc",
                "Shell": "/bin/bash",
                "Args": ["/bin/bash", "-c", "check.sh"],
                "Interval": "10s",
                "DeregisterCriticalServiceAfter": "5m",
            },
        )

    def test_grpc(self):
        """gRPC checks carry ``GRPC``."""
        self.assertEqual(
            Check.grpc("127.0.0.1:9000/svc", "5s"), {"GRPC": "127.0.0.1:9000/svc", "Interval": "5s"}
        )

    def test_bad_durations(self):
        """Malformed, negative or zero durations are ValueErrors."""
        self.assertRaises(ValueError, Check.ttl, "10")
        self.assertRaises(ValueError, Check.ttl, "ten seconds")
        self.assertRaises(ValueError, Check.ttl, -1)
        self.assertRaises(ValueError, Check.http, "http://x", "0s")
        self.assertRaises(ValueError, Check.http, "http://x", "1s", timeout="soon")
        self.assertRaises(ValueError, Check.tcp, "h", 1, "1s", deregister="x")


class CompatTests(SynchronousTestCase):
    """python-consul's deprecated script/interval/ttl/http/timeout arguments."""

    def test_none(self):
        """No legacy argument means no check."""
        self.assertIsNone(legacy_check())

    def test_ttl(self):
        """ttl alone builds a TTL check."""
        self.assertEqual(legacy_check(ttl="10s"), {"TTL": "10s"})

    def test_http_with_timeout(self):
        """http with interval and timeout builds an HTTP check."""
        self.assertEqual(
            legacy_check(http="http://x", interval="5s", timeout="1s"),
            {"HTTP": "http://x", "Interval": "5s", "Timeout": "1s"},
        )

    def test_script(self):
        """script with interval builds an Args check."""
        self.assertEqual(
            legacy_check(script="true", interval="5s"),
            {"Args": ["sh", "-c", "true"], "Interval": "5s"},
        )

    def test_violations(self):
        """The combinations python-consul asserts against are ValueErrors."""
        self.assertRaises(ValueError, legacy_check, script="x")
        self.assertRaises(ValueError, legacy_check, http="http://x")
        self.assertRaises(ValueError, legacy_check, ttl="1s", interval="1s")
        self.assertRaises(ValueError, legacy_check, ttl="1s", http="http://x", interval="1s")
        self.assertRaises(ValueError, legacy_check, ttl="1s", timeout="1s")
        self.assertRaises(ValueError, legacy_check, interval="1s")
