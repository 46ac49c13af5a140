# -*- test-case-name: tests.test_discovery_help -*-
"""
The endpoint syntax help: the plugins Twisted finds, their docstrings, and
``python -m txconsul.discovery``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

from twisted.internet.interfaces import (
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import getPlugins
from twisted.trial.unittest import SynchronousTestCase

from txconsul.discovery.__main__ import help_endpoints, main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class HelpTests(SynchronousTestCase):
    """Where a user finds the consul: syntax."""

    def test_plugins_found_with_syntax_docstrings(self) -> None:
        """Twisted finds one consul client and one consul server parser, each documenting its syntax."""
        clients = [
            p for p in getPlugins(IStreamClientEndpointStringParserWithReactor) if p.prefix == "consul"
        ]
        servers = [p for p in getPlugins(IStreamServerEndpointStringParser) if p.prefix == "consul"]
        self.assertEqual((len(clients), len(servers)), (1, 1))
        self.assertIn("consul:<service>", type(clients[0]).__doc__)
        self.assertIn("name=<service>", type(servers[0]).__doc__)

    def test_help_lists_both_syntaxes_and_other_plugins(self) -> None:
        """The help text has both consul: syntaxes and Twisted's other endpoint plugins."""
        out = io.StringIO()
        help_endpoints(out)
        text = out.getvalue()
        for needle in (
            "consul:<service>",
            "pick=random|round-robin|weighted",
            "trustRoots",
            "name=<service>",
            "ttl=10s",
            "CONSUL_HTTP_ADDR",
            "  tls: (client)",
        ):
            self.assertIn(needle, text)

    def test_module_runs(self) -> None:
        """python -m txconsul.discovery prints the help and exits 0; a bad argument exits 2."""
        env = dict(os.environ, PYTHONPATH=ROOT)
        done = subprocess.run(
            [sys.executable, "-m", "txconsul.discovery"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("consul:<service>", done.stdout)
        self.assertEqual(main(["--bogus"]), 2)
