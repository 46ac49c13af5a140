"""
The README's tour (``python -m txconsul.demo``) runs and shows what it says.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import ensureDeferred, inlineCallbacks
from twisted.trial.unittest import TestCase

from txconsul import demo


class DemoTests(TestCase):
    """
    Runs the tour on the real reactor: it serves FakeConsul on loopback,
    pauses briefly on the real clock between writes (to show a watch firing
    as a person would see it), and spawns twistd; about two seconds.
    """

    timeout = 60

    @inlineCallbacks
    def test_tour(self) -> Any:
        """The tour long-polls, the watch fires only on real changes, consul-watch prints once and exits 0."""
        lines: list[str] = []
        yield ensureDeferred(demo.main(reactor, lines.append))
        text = "\n".join(lines)
        self.assertIn("long-poll woke when another client wrote", text)
        fired = [line for line in lines if "handler fired:" in line]
        self.assertEqual(
            [line.split("value ")[1] for line in fired],
            ["None", "b'v1'", "b'v2'", "b'v3'", "None", "b'final'"],
        )
        self.assertIn('"Key": "demo/config"', text)
        self.assertIn("consul-watch exited with 0", text)
        self.assertEqual(lines[-1].strip(), "done")
