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
