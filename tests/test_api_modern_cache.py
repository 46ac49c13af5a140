"""
The agent cache options (``cached``, ``max_age``, ``stale_if_error``) of
catalog and health service reads, and FakeConsul's ``X-Cache``/``Age``.
"""

from __future__ import annotations

from txconsul import BadRequest
from txconsul.api.catalog import Catalog
from txconsul.api.health import Health
from txconsul._request import describe

from .modern_case import ModernCase


class RequestTests(ModernCase):
    """What the options put on the wire."""

    def test_cached_flag_and_header(self) -> None:
        """cached=True sends ?cached; max_age/stale_if_error become one Cache-Control header."""
        r = describe(Health.service, "web", cached=True, max_age="30s", stale_if_error=120)
        self.assertIn(("cached", None), list(r.params))
        self.assertEqual(r.headers, (("Cache-Control", "max-age=30, stale-if-error=120"),))

    def test_not_cached_sends_nothing(self) -> None:
        """Without cached there is no flag and no header."""
        r = describe(Catalog.services)
        self.assertNotIn(("cached", None), list(r.params))
        self.assertEqual(r.headers, ())

    def test_max_age_needs_cached(self) -> None:
        """max_age without cached=True is a ValueError before any request."""
        with self.assertRaises(ValueError):
            self.consul.health.service("web", max_age=5)

    def test_cached_with_consistent_refused(self) -> None:
        """cached with consistency='consistent' is refused, as Consul's 400 would."""
        with self.assertRaises(ValueError):
            self.consul.catalog.service("web", consistency="consistent", cached=True)

    def test_bad_values(self) -> None:
        """A non-bool cached or a malformed duration is refused."""
        with self.assertRaises(TypeError):
            self.consul.catalog.services(cached="yes")
        with self.assertRaises(ValueError):
            self.consul.catalog.services(cached=True, max_age="soon")

    def test_header_reaches_agent(self) -> None:
        """The header goes out with the request (in memory, the production path)."""
        self.ok(self.consul.catalog.service("consul", cached=True, max_age=10))
        rec = self.fake.requests[-1]
        self.assertEqual(rec.query, [("cached", "")])
        self.assertEqual(rec.headers["cache-control"], "max-age=10")


class FakeCacheTests(ModernCase):
    """X-Cache and Age from FakeConsul, read into QueryMeta."""

    def meta(self, **kw: object) -> object:
        """The QueryMeta of a cached health read of the consul service."""
        return self.ok(self.consul.health.service("consul", cached=True, meta=True, **kw))[0]

    def test_miss_then_hit_with_age(self) -> None:
        """The first cached read misses; the next hits, Age counting from the first."""
        first = self.meta()
        self.assertIs(first.cache_hit, False)
        self.assertIsNone(first.cache_age)
        self.clock.advance(7)
        second = self.meta()
        self.assertIs(second.cache_hit, True)
        self.assertEqual(second.cache_age, 7.0)

    def test_change_refreshes_age(self) -> None:
        """New data (the background refresh) resets Age; it is still a hit."""
        self.meta()
        self.clock.advance(30)
        self.ok(self.consul.agent.service.register("consul-extra", service_id="x"))
        self.ok(self.consul.catalog.register("n2", "10.0.0.2", service={"Service": "consul", "ID": "c2"}))
        m = self.meta()
        self.assertEqual((m.cache_hit, m.cache_age), (True, 0.0))

    def test_max_age_expires(self) -> None:
        """An entry older than max_age is a miss."""
        self.meta()
        self.clock.advance(10)
        self.assertIs(self.meta(max_age=5).cache_hit, False)
        self.assertIs(self.meta(max_age=5).cache_hit, True)

    def test_uncached_read_has_no_header(self) -> None:
        """Without ?cached there is no X-Cache; an uncacheable endpoint ignores ?cached."""
        m, _ = self.ok(self.consul.health.service("consul", meta=True))
        self.assertIs(m.cache_hit, False)
        resp = self.ok(self.consul.http.request("GET", "/v1/kv/x", [("cached", None)], expect=(200, 404)))
        self.assertIsNone(resp.headers.getRawHeaders(b"x-cache"))

    def test_bad_cache_control(self) -> None:
        """A malformed max-age is Consul's 400 Invalid Cache-Control header. (agent/http.go parseCacheControl)."""
        d = self.consul.http.request(
            "GET", "/v1/catalog/services", [("cached", None)], headers=[("Cache-Control", "max-age=soon")]
        )
        e = self.fails(d, BadRequest)
        self.assertIn("Invalid Cache-Control header.", str(e))

    def test_tokens_do_not_share_entries(self) -> None:
        """Entries are per token: another token's first read misses."""
        self.meta()
        other = self.fake.client(token="someone-else")
        m, _ = self.ok(other.health.service("consul", cached=True, meta=True))
        self.assertIs(m.cache_hit, False)

    def test_query_backend(self) -> None:
        """Blocking-capable reads name the blocking-query backend."""
        m, _ = self.ok(self.consul.catalog.services(meta=True))
        self.assertEqual(m.query_backend, "blocking-query")
