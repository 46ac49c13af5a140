"""
The rest of Go's QueryMeta (content hash, agent cache, query backend,
default ACL policy, ACL filtering), read from answers.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.http_headers import Headers

from txconsul._http import QueryMeta, parse_meta
from txconsul._wire import RawHeaders

from .modern_case import ModernCase


def _meta(pairs: dict[bytes, bytes]) -> QueryMeta:
    """The QueryMeta of raw headers (as the pool's parser stores them)."""
    raw = RawHeaders({k: [v] for k, v in pairs.items()})
    return parse_meta(raw)


class ExtrasTests(SynchronousTestCase):
    """Parsing each extra header."""

    def test_all_headers(self) -> None:
        """Every extra header lands in its field, typed as Go's client types it."""
        meta = _meta(
            {
                b"x-consul-index": b"7",
                b"x-consul-contenthash": b"abc123",
                b"x-cache": b"HIT",
                b"age": b"12",
                b"x-consul-query-backend": b"blocking-query",
                b"x-consul-default-acl-policy": b"deny",
                b"x-consul-results-filtered-by-acls": b"true",
            }
        )
        self.assertEqual(meta.index, 7)
        self.assertEqual(meta.last_content_hash, "abc123")
        self.assertIs(meta.cache_hit, True)
        self.assertEqual(meta.cache_age, 12.0)
        self.assertEqual(meta.query_backend, "blocking-query")
        self.assertEqual(meta.default_acl_policy, "deny")
        self.assertIs(meta.results_filtered_by_acls, True)

    def test_absent_headers_keep_defaults(self) -> None:
        """Without the headers the fields are None/False, and MISS is no hit."""
        meta = _meta({b"x-consul-index": b"3", b"x-cache": b"MISS"})
        self.assertEqual(meta, QueryMeta(3, None, None))
        self.assertIs(meta.cache_hit, False)
        self.assertIsNone(meta.cache_age)

    def test_twisted_headers(self) -> None:
        """An IAgent's Headers object is read the same way."""
        h = Headers({b"X-Cache": [b"HIT"], b"Age": [b"4"]})
        meta = parse_meta(h)
        self.assertEqual((meta.cache_hit, meta.cache_age), (True, 4.0))

    def test_bad_age_ignored(self) -> None:
        """A non-numeric Age is left out rather than failing the read."""
        self.assertIsNone(_meta({b"age": b"soon"}).cache_age)


class FakeMetaTests(ModernCase):
    """FakeConsul's answers carry the headers Consul sends."""

    def test_default_acl_policy(self) -> None:
        """Every answer names the default ACL policy."""
        meta, _ = self.ok(self.consul.kv.get("missing", meta=True))
        self.assertEqual(meta.default_acl_policy, "allow")

    def test_content_hash(self) -> None:
        """agent/service/:id answers its content hash as X-Consul-ContentHash."""
        self.ok(self.consul.agent.service.register("web", service_id="web1"))
        resp = self.ok(self.consul.http.request("GET", "/v1/agent/service/web1", use_dc=False))
        self.assertEqual(resp.meta.last_content_hash, resp.json()["ContentHash"])
