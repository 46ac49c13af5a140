"""
The hot path's shortcuts give what the general code gives: JSON decoding,
KV paths, query strings, health service paths.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from twisted.trial.unittest import SynchronousTestCase

from txconsul._http import _loads, encode_params, quote_key
from txconsul._request import describe
from txconsul.api.health import Health
from txconsul.api.kv import KV, decode_entry, kv_path


def outcome(f: Any, *args: Any) -> Any:
    """What ``f(*args)`` returns, or the type and text of what it raises."""
    try:
        return ("ok", f(*args))
    except Exception as e:  # noqa: BLE001 - compared, not handled
        return (type(e).__name__, str(e))


class FastPathTests(SynchronousTestCase):
    """Each shortcut against the general code it skips."""

    def test_loads_is_json_loads(self) -> None:
        """_loads answers and fails exactly as json.loads on edge cases."""
        texts = [
            "[1]",
            "[1]\n",
            " [1]",
            "[1] x",
            "",
            "x",
            '{"a": 1} \r\n\t',
            "[1]\u00a0",
            "[1]\u2028",
            "NaN",
            "1 2",
            "[[[]]]",
            '"\\ud800"',
            "[1",
            "tru",
        ]
        for text in texts:
            self.assertEqual(outcome(_loads, text), outcome(json.loads, text), text)

    def test_plain_keys_need_no_escaping(self) -> None:
        """kv_path's fast path gives the escaped path of the general rule."""
        for key in ["foo", "a/b/", "a-b_c~d/e.f", "x.y", "a/b.", "Z9/"]:
            self.assertEqual(kv_path(key), "/v1/kv/" + quote_key(key))
            self.assertEqual(kv_path(key.encode()), "/v1/kv/" + quote_key(key))

    def test_other_keys_take_the_general_rule(self) -> None:
        """Keys outside the fast path are still escaped or refused."""
        self.assertEqual(kv_path("a b/ä"), "/v1/kv/a%20b/%C3%A4")
        self.assertEqual(kv_path("a/.hidden"), "/v1/kv/a/.hidden")
        self.assertEqual(kv_path(".x"), "/v1/kv/.x")
        for bad in ["a//b", "a/./b", "a/..", "..", ".", "/a"]:
            self.assertRaises(ValueError, kv_path, bad)

    def test_query_string(self) -> None:
        """encode_params escapes exactly what quote(safe='') escapes."""
        params = [
            ("passing", "1"),
            ("near", "_agent"),
            ("filter", 'Service == "web"'),
            ("recurse", None),
            ("tag", "a/b"),
            ("q", "~.-_"),
            ("node-meta", "k:v"),
        ]
        want = "&".join(
            quote(n, safe="") if v is None else quote(n, safe="") + "=" + quote(v, safe="") for n, v in params
        )
        self.assertEqual(encode_params(params), want.encode("ascii"))

    def test_health_service_path(self) -> None:
        """A plain service name is used as is; others are escaped or refused."""
        self.assertEqual(
            describe(Health.service, "web-1.v2", passing=True).path, "/v1/health/service/web-1.v2"
        )
        self.assertEqual(describe(Health.service, "a b/c").path, "/v1/health/service/a%20b%2Fc")
        self.assertEqual(describe(Health.service, b"web").path, "/v1/health/service/web")
        self.assertEqual(describe(Health.service, "web", passing=True).params, [("passing", "1")])
        self.assertRaises(ValueError, describe, Health.service, "")
        self.assertRaises(TypeError, describe, Health.service, 3)
        self.assertRaises(TypeError, describe, Health.service, "web", node_meta="x")

    def test_listing_values_decoded(self) -> None:
        """A listing's values are decoded as decode_entry decodes one entry."""
        from txconsul._http import ConsulResponse, QueryMeta
        from txconsul.api.kv import decode_list

        body = json.dumps([{"Key": "a", "Value": "YmFy"}, {"Key": "b", "Value": None}]).encode()
        got = decode_list(ConsulResponse(200, None, body, QueryMeta(1, True, 0)))
        want = [decode_entry({"Key": "a", "Value": "YmFy"}), decode_entry({"Key": "b", "Value": None})]
        self.assertEqual(got, want)
        self.assertEqual(got[0]["Value"], b"bar")
        self.assertEqual(describe(KV.get, "big/", recurse=True).params, [("recurse", None)])

    def test_meta_follows_the_headers(self) -> None:
        """parse_meta answers each response's own values, repeated or changed."""
        from txconsul._http import QueryMeta, parse_meta
        from txconsul._wire import RawHeaders

        def headers(index: bytes, leader: bytes = b"true") -> RawHeaders:
            return RawHeaders(
                {
                    b"x-consul-index": [index],
                    b"x-consul-knownleader": [leader],
                    b"x-consul-lastcontact": [b"0"],
                }
            )

        self.assertEqual(parse_meta(headers(b"7")), QueryMeta(7, True, 0))
        self.assertEqual(parse_meta(headers(b"7")), QueryMeta(7, True, 0))
        self.assertEqual(parse_meta(headers(b"8")), QueryMeta(8, True, 0))
        self.assertEqual(parse_meta(headers(b"8", b"false")), QueryMeta(8, False, 0))
        self.assertEqual(parse_meta(RawHeaders({})), QueryMeta(None, None, None))
        self.assertEqual(parse_meta(headers(b"x")), QueryMeta(None, True, 0))
