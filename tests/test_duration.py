"""Tests for txconsul._duration."""

from twisted.trial.unittest import SynchronousTestCase

from txconsul._duration import format_duration, parse_duration, parse_wait
from txconsul.testing._core import parse_go_duration


class ParseTests(SynchronousTestCase):
    """parse_duration and parse_wait."""

    def test_units(self) -> None:
        """Go-style units and compound durations parse to seconds."""
        self.assertEqual(parse_duration("10s"), 10)
        self.assertEqual(parse_duration("250ms"), 0.25)
        self.assertEqual(parse_duration("5m"), 300)
        self.assertEqual(parse_duration("1h1m1s"), 3661)
        self.assertEqual(parse_duration("1.5s"), 1.5)
        self.assertEqual(parse_duration(7), 7.0)

    def test_malformed(self) -> None:
        """Garbage, bare numbers in strings and negatives are ValueErrors naming the value."""
        for bad in ["10", "s", "10x", "-5s", "", "1s2"]:
            e = self.assertRaises(ValueError, parse_duration, bad)
            self.assertIn(repr(bad), str(e))
        self.assertRaises(ValueError, parse_duration, -1)
        self.assertRaises(TypeError, parse_duration, [1])
        self.assertRaises(TypeError, parse_duration, True)

    def test_wait_cap(self) -> None:
        """wait is capped at Consul's 10 minutes."""
        self.assertEqual(parse_wait("10m"), 600)
        e = self.assertRaises(ValueError, parse_wait, "10m1s")
        self.assertIn("10 minutes", str(e))
        self.assertRaises(ValueError, parse_wait, 0)

    def test_format(self) -> None:
        """Durations go on the wire in milliseconds, at least 1ms."""
        self.assertEqual(format_duration(300), "300000ms")
        self.assertEqual(format_duration(0.0001), "1ms")

    def test_fake_parser_agrees(self) -> None:
        """FakeConsul's Go parser reads what the client sends, and refuses bare numbers."""
        self.assertEqual(parse_go_duration(format_duration(12.5)), 12.5)
        self.assertRaises(ValueError, parse_go_duration, "10")


class OneParserTests(SynchronousTestCase):
    """The client's parse_duration reads strings with the same Go parser FakeConsul uses."""

    def test_same_parser(self) -> None:
        """FakeConsul's parse_go_duration is txconsul._duration's."""
        from txconsul import _duration

        self.assertIs(parse_go_duration, _duration.parse_go_duration)

    def test_beyond_go_range_refused(self) -> None:
        """A duration Go cannot hold (over int64 nanoseconds) is refused, as Consul refuses it."""
        self.assertRaises(ValueError, parse_duration, "3000000h")
        self.assertEqual(parse_duration("2000000h"), 2000000 * 3600.0)

    def test_signs(self) -> None:
        """A leading '+' is Go syntax and accepted; a negative duration is refused."""
        self.assertEqual(parse_duration("+5s"), 5.0)
        self.assertRaises(ValueError, parse_duration, "-5s")
        self.assertRaises(ValueError, parse_duration, "-0")
