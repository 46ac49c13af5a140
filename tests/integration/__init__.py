"""
Integration tests: the client against an agent on a real loopback port.

Each suite is written once as a mixin and run twice: ``...FakeTests`` serve a
FakeConsul on 127.0.0.1 (an ephemeral port) in this process; ``...RealTests``
run the same tests against the real agent ``CONSUL_HTTP_ADDR`` points at, and
are skipped when it is not set.  Tests that need FakeConsul-only controls call
``self.need_fake()``, which skips them against a real agent.
"""
