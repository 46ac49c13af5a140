# -*- test-case-name: tests.test_discovery_docs -*-
"""
Every Python example of docs/discovery.md, run against a FakeConsul on a
loopback port (as ``CONSUL_HTTP_ADDR``), printing what the document says it
prints.

Real reactor and loopback sockets on purpose: the examples are programs
that listen and connect.  Each runs with trial's timeout as its bound.
"""

from __future__ import annotations

import os
import re
from typing import Any

from twisted.internet import reactor, task
from twisted.internet.defer import ensureDeferred, inlineCallbacks
from twisted.trial.unittest import TestCase
from twisted.web.server import Site

from txconsul.discovery import close_shared
from txconsul.testing import FakeConsul

DOC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "discovery.md")

_BLOCK = re.compile(r"```python\n(.*?)```\n\nprints:\n\n```text\n(.*?)```", re.S)


def examples() -> list[tuple[str, str]]:
    """(code, expected output) of each Python example of the document."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    return _BLOCK.findall(text)


class DocExampleTests(TestCase):
    """The examples of docs/discovery.md run and print what it shows."""

    timeout = 60

    def test_every_python_block_is_checked(self) -> None:
        """Every python block of the document is followed by the output it prints."""
        with open(DOC, encoding="utf-8") as f:
            blocks = f.read().count("```python\n")
        self.assertEqual(len(examples()), blocks)
        self.assertGreaterEqual(blocks, 5)

    @inlineCallbacks
    def run_example(self, n: int) -> Any:
        code, expected = examples()[n]
        fake = FakeConsul(reactor)
        self.addCleanup(fake.agent_state.stop)
        site = reactor.listenTCP(0, Site(fake.resource()), interface="127.0.0.1")
        self.addCleanup(site.stopListening)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        env["CONSUL_HTTP_ADDR"] = f"127.0.0.1:{site.getHost().port}"
        self.patch(os, "environ", env)
        self.addCleanup(close_shared)
        mains: list[Any] = []
        self.patch(task, "react", lambda main, *a, **kw: mains.append(main))
        printed: list[str] = []

        def capture(*args: Any, sep: str = " ", end: str = "\n") -> None:
            printed.append(sep.join(str(a) for a in args) + end)

        namespace: dict[str, Any] = {"__name__": f"discovery_example_{n}", "print": capture}
        exec(compile(code, f"{DOC} example {n + 1}", "exec"), namespace)
        self.assertEqual(len(mains), 1, "the example ends with task.react(...)")
        yield ensureDeferred(mains[0](reactor))
        self.assertEqual("".join(printed), expected)


def _make(n: int) -> Any:
    @inlineCallbacks
    def test(self: DocExampleTests) -> Any:
        yield self.run_example(n)

    test.__doc__ = f"Example {n + 1} of docs/discovery.md prints what the document shows."
    return test


for _n in range(len(examples())):
    setattr(DocExampleTests, f"test_example_{_n + 1}", _make(_n))
