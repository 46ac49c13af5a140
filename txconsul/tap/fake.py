# -*- test-case-name: tests.test_tap_fake -*-
"""
``twistd consul-fake``: serve a :class:`~txconsul.testing.FakeConsul` on any
Twisted server endpoint.
"""

from __future__ import annotations

from typing import Any, Optional

from twisted.application import strports
from twisted.application.service import MultiService
from twisted.internet.error import CannotListenError
from twisted.python import usage
from twisted.web.server import Site

from txconsul.tap._cli import CommandOptions, remove_own_pidfile, usage_exit
from txconsul.testing import FakeConsul


class Options(CommandOptions):
    """Command-line options of ``twistd consul-fake``."""

    tapname = "consul-fake"
    synopsis = "[options]"
    longdesc = (
        "Runs FakeConsul, an in-memory stand-in for a single-node "
        "'consul agent -dev', for tests and development. It is not Consul."
    )
    optParameters = [
        ["listen", "l", "tcp:8500:interface=127.0.0.1",
         "Twisted server endpoint description to listen on."],
        ["node-name", None, "fake-consul", "The agent's node name."],
        ["datacenter", None, "dc1", "The agent's datacenter."],
        ["address", None, "127.0.0.1", "The node address the catalog shows."],
        ["acl-master-token", None, None,
         "Enable ACLs with this management token (default: ACLs disabled)."],
        ["acl-default-policy", None, "allow", "ACL default policy: allow or deny."],
    ]
    optFlags = [
        ["enable-script-checks", None, "Allow script (Args) checks to run."],
    ]

    def postOptions(self) -> None:
        """Validate option combinations."""
        if self["acl-default-policy"] not in ("allow", "deny"):
            raise usage.UsageError("--acl-default-policy must be 'allow' or 'deny'")

    def __repr__(self) -> str:
        return "<consul-fake Options>"


class QuietSite(Site):
    """
    A Site without the access log: request lines can carry ``?token=``;
    FakeConsul logs each request itself, at debug level, without the query.
    """

    def log(self, request: Any) -> None:
        """Log nothing."""


def build_fake(options: Options, reactor: Any) -> FakeConsul:
    """The FakeConsul the options describe, on ``reactor``."""
    kwargs: dict[str, Any] = dict(
        node_name=options["node-name"],
        datacenter=options["datacenter"],
        address=options["address"],
        acl_master_token=options["acl-master-token"],
        acl_default_policy=options["acl-default-policy"],
        enable_script_checks=bool(options["enable-script-checks"]),
        reactor=reactor,
    )
    return FakeConsul(reactor, **kwargs)


class FakeConsulService(MultiService):
    """
    The ``consul-fake`` service: its listening port as a child, and on stop
    the fake's check timers and script processes are stopped as well.

    :ivar fake: the :class:`~txconsul.testing.FakeConsul` it serves.
    :ivar pidfile: twistd's pid file, removed when listening fails.
    :ivar listen: the ``--listen`` description, for error messages.
    """

    def __init__(self, fake: FakeConsul, *, pidfile: Optional[str] = None) -> None:
        super().__init__()
        self.fake = fake
        self.pidfile = pidfile
        self.listen = ""

    def privilegedStartService(self) -> None:
        """
        Start listening.  A port that cannot be had (in use, not allowed) is
        one line on stderr and exit status 2, not a traceback.
        """
        try:
            super().privilegedStartService()
        except CannotListenError as e:
            reason = e.socketError
            why = getattr(reason, "strerror", None) or str(reason)
            remove_own_pidfile(self.pidfile)
            usage_exit(Options.tapname, f"--listen {self.listen}: cannot listen: {why}")

    def stopService(self) -> Any:
        """Stop listening, then stop the fake's checks and reap their processes."""
        d = super().stopService()
        d.addCallback(lambda _: self.fake.agent_state.stop())
        return d


def makeService(options: Options) -> MultiService:
    """
    Build the service that serves FakeConsul on ``--listen``.  Run by twistd,
    an endpoint description it cannot use exits with one line on stderr.
    """
    from twisted.internet import reactor

    fake = build_fake(options, reactor)
    site = QuietSite(fake.resource())
    site.displayTracebacks = False
    top = FakeConsulService(fake, pidfile=options.twistd_option("pidfile"))
    top.listen = options["listen"]
    try:
        listener = strports.service(options["listen"], site)
    except (ValueError, TypeError, KeyError, ImportError) as e:
        if options.parent is None:
            raise
        usage_exit(Options.tapname, f"--listen {options['listen']}: {e}")
    listener.setServiceParent(top)
    return top
