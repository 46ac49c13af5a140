"""
twistd plugins of txconsul.  Only ServiceMaker lines: the code is loaded
lazily from :mod:`txconsul.tap`.
"""

from twisted.application.service import ServiceMaker

consulFake = ServiceMaker(
    "txconsul fake agent",
    "txconsul.tap.fake",
    "Run an in-memory FakeConsul agent (a test double) on a Twisted endpoint.",
    "consul-fake",
)

consulWatch = ServiceMaker(
    "txconsul watch",
    "txconsul.tap.watch",
    "Watch Consul data and run a handler on every change, like 'consul watch'.",
    "consul-watch",
)


# -- endpoint string parsers: ``consul:`` for clientFromString and
# serverFromString.  The work is in txconsul.discovery._parsers, imported
# only when a consul: description is parsed.

from twisted.internet.interfaces import (  # noqa: E402
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpointStringParser,
)
from twisted.plugin import IPlugin  # noqa: E402
from zope.interface import implementer  # noqa: E402


@implementer(IPlugin, IStreamClientEndpointStringParserWithReactor)
class ConsulClientParser:
    """
    consul:<service>[:tag=<t1,t2>][:passing=yes|no][:near=<node>][:dc=<dc>]
    [:pick=random|round-robin|weighted][:attempts=3][:timeout=10][:tls=yes]...
    -- connect to a healthy instance of a service found in Consul
    (python -m txconsul.discovery prints every option).
    """

    prefix = "consul"

    def parseStreamClient(self, reactor, *args, **kwargs):
        """Build a txconsul.discovery.ConsulClientEndpoint."""
        from txconsul.discovery._parsers import parse_client

        return parse_client(reactor, *args, **kwargs)


@implementer(IPlugin, IStreamServerEndpointStringParser)
class ConsulServerParser:
    """
    consul:<endpoint, colons escaped>:name=<service>[:id=..][:tags=..][:ttl=10s]
    -- listen on the wrapped endpoint and keep the service registered in
    Consul while listening (python -m txconsul.discovery prints every option).
    """

    prefix = "consul"

    def parseStreamServer(self, reactor, *args, **kwargs):
        """Build a txconsul.discovery.ConsulServerEndpoint."""
        from txconsul.discovery._parsers import parse_server

        return parse_server(reactor, *args, **kwargs)


consulClientEndpoint = ConsulClientParser()
consulServerEndpoint = ConsulServerParser()
