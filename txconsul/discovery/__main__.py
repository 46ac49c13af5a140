"""
``python -m txconsul.discovery``: print the syntax of the endpoint string
types installed as plugins, ``consul:`` included (what a twistd
``--help-endpoints`` would show; twistd has no such option).
"""

from __future__ import annotations

import sys
from typing import Any, TextIO


def help_endpoints(out: TextIO) -> None:
    """Write the ``consul:`` syntax, then every other endpoint plugin's prefix and docstring."""
    from twisted.internet.interfaces import (
        IStreamClientEndpointStringParserWithReactor,
        IStreamServerEndpointStringParser,
    )
    from twisted.plugin import getPlugins

    from ._parsers import CLIENT_HELP, SERVER_HELP

    out.write("Client endpoint (clientFromString):\n\n" + CLIENT_HELP + "\n\n")
    out.write("Server endpoint (serverFromString, twistd --listen):\n\n" + SERVER_HELP + "\n\n")
    seen: set[Any] = set()
    others = []
    for iface, kind in (
        (IStreamClientEndpointStringParserWithReactor, "client"),
        (IStreamServerEndpointStringParser, "server"),
    ):
        plugin: Any
        for plugin in getPlugins(iface):
            if plugin.prefix == "consul" or (plugin.prefix, kind) in seen:
                continue
            seen.add((plugin.prefix, kind))
            doc = " ".join((type(plugin).__doc__ or "").split())
            others.append(f"  {plugin.prefix}: ({kind}) {doc}".rstrip())
    if others:
        out.write("Other endpoint plugins installed:\n\n" + "\n".join(sorted(others)) + "\n")


def main(argv: list[str]) -> int:
    """Print the endpoint help; any argument but ``--help-endpoints``/``-h`` is an error."""
    if any(a not in ("--help-endpoints", "--help", "-h") for a in argv):
        sys.stderr.write("usage: python -m txconsul.discovery [--help-endpoints]\n")
        return 2
    help_endpoints(sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
