"""
Testing support: :class:`FakeConsul`, an in-memory Consul agent.

Use it in memory with a :class:`~twisted.internet.task.Clock`::

    clock = Clock()
    fake = FakeConsul(clock)
    consul = fake.client()
    d = consul.kv.put("foo", b"bar")

or on a real port with ``twistd -n consul-fake``.
"""

from ._core import HTTPError, Reply, Route
from ._fake import FakeConsul, MemoryAgent
from ._journal import RecordedRequest

__all__ = ["FakeConsul", "HTTPError", "MemoryAgent", "RecordedRequest", "Reply", "Route"]
