"""
Property tests (hypothesis): any valid key round-trips byte-exact through the
client's escaping and FakeConsul's decoding.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from urllib.parse import unquote

from txconsul.api.kv import kv_path
from txconsul.testing import FakeConsul

# Characters Consul keys use in the wild, plus everything URL-special.  Only
# printable ones: Consul refuses a path with any other (go-cleanhttp's
# PrintablePathCheckHandler), and so does the fake.
_alphabet = st.characters(
    blacklist_categories=("Cs", "Cc"),  # surrogates and control characters
    blacklist_characters="/",
).filter(str.isprintable)
_segment = st.text(_alphabet, min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
keys = st.lists(_segment, min_size=1, max_size=4).map("/".join)


class KeyEscapingProperties(SynchronousTestCase):
    """Escaping is lossless."""

    @given(keys)
    def test_path_decodes_to_key(self, key: str) -> None:
        """Percent-decoding the escaped path gives back exactly the key."""
        path = kv_path(key)
        self.assertTrue(path.isascii())
        self.assertEqual(unquote(path[len("/v1/kv/") :], errors="strict"), key)

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(keys, st.binary(max_size=64))
    def test_round_trip_through_fake(self, key: str, value: bytes) -> None:
        """put then get through FakeConsul returns the same key and value."""
        fake = FakeConsul(Clock())
        consul = fake.client()
        self.assertIs(self.successResultOf(consul.kv.put(key, value)), True)
        _, data = self.successResultOf(consul.kv.get(key))
        self.assertEqual(data["Key"], key)
        self.assertEqual(data["Value"], value or None)
        _, listed = self.successResultOf(consul.kv.get("", keys=True))
        self.assertEqual(listed, [key])
