"""
Tests for txconsul.testing._gojson: request bodies decoded as Go's
encoding/json decodes them into Consul's structs.
"""

from twisted.trial import unittest

from txconsul.testing._core import HTTPError
from txconsul.testing._gojson import (
    AnyValue,
    Bool,
    Duration,
    Field,
    Float,
    GoDuration,
    GoJSONError,
    Int,
    List,
    Map,
    Opaque,
    Ptr,
    String,
    Struct,
    Uint,
    decode,
    decode_body,
    parse_duration,
)

WEIGHTS = Struct("Weights", [Field("Passing", Int()), Field("Warning", Int())], "structs.Weights")
CHECK = Struct(
    "",
    [
        Field("Name", String()),
        Field("TTL", Duration()),
        Field("Args", List(String()), "args"),
        Field("OutputMaxSize", Int()),
    ],
    "struct { TTL interface {} }",
    custom=True,
)
SERVICE = Struct(
    "",
    [
        Field("Name", String()),
        Field("Tags", List(String())),
        Field("Meta", Map(String())),
        Field("Port", Int()),
        Field("EnableTagOverride", Bool()),
        Field("Weights", Ptr(WEIGHTS)),
        Field("Check", CHECK),
        Field("Checks", List(Ptr(CHECK), "structs.CheckTypes")),
        Field("Proxy", Ptr(Opaque("structs.ConnectProxyConfig"))),
        Field("Index", Uint()),
        Field("Ratio", Float()),
        Field("Extra", AnyValue()),
        Field("Wait", GoDuration()),
    ],
    "struct { *structs.Alias }",
    custom=True,
)


def err(shape, body, strict=True):
    """Go's error text for decoding ``body`` into ``shape``."""
    try:
        decode(shape, body, strict=strict)
    except GoJSONError as e:
        return str(e)
    raise AssertionError("no error")


class FieldMatchingTests(unittest.TestCase):
    """Keys select fields as Go does."""

    def test_exact_and_case_insensitive(self):
        """Keys match fields ignoring case; the result is keyed by Go names."""
        self.assertEqual(
            decode(SERVICE, b'{"name": "web", "PORT": 80, "tags": ["a"]}'),
            {"Name": "web", "Port": 80, "Tags": ["a"]},
        )

    def test_exact_match_preferred_and_last_wins(self):
        """Two keys selecting one field: the later value is kept, as Go assigns in order."""
        self.assertEqual(decode(SERVICE, b'{"Name": "a", "name": "b"}'), {"Name": "b"})

    def test_tagged_name(self):
        """A json tag renames the field's key (``args`` -> Args)."""
        self.assertEqual(decode(CHECK, b'{"ARGS": ["x"]}'), {"Args": ["x"]})

    def test_unknown_field_strict(self):
        """DisallowUnknownFields (Consul's decodeBody): an unknown key is an error."""
        self.assertEqual(err(SERVICE, b'{"Name": "a", "Bogus": 1}'), 'json: unknown field "Bogus"')

    def test_unknown_field_lenient(self):
        """Without DisallowUnknownFields an unknown key is ignored."""
        self.assertEqual(decode(SERVICE, b'{"Name": "a", "Bogus": 1}', strict=False), {"Name": "a"})

    def test_underscore_is_not_folded(self):
        """Go folds case only: ``enable_tag_override`` is not EnableTagOverride."""
        self.assertEqual(
            err(SERVICE, b'{"enable_tag_override": true}'), 'json: unknown field "enable_tag_override"'
        )


class TypeErrorTests(unittest.TestCase):
    """Wrong JSON kinds give Go's UnmarshalTypeError texts."""

    def test_number_into_string_of_anonymous_aux(self):
        """Consul's aux structs are anonymous: the struct name part is empty."""
        self.assertEqual(
            err(SERVICE, b'{"Name": 5}'),
            "json: cannot unmarshal number into Go struct field .Name of type string",
        )

    def test_each_kind_name(self):
        """The JSON kind is named: string, number, bool, array, object."""
        self.assertIn("unmarshal string into", err(SERVICE, b'{"Port": "80"}'))
        self.assertIn("unmarshal bool into", err(SERVICE, b'{"Name": true}'))
        self.assertIn("unmarshal array into", err(SERVICE, b'{"Name": []}'))
        self.assertIn("unmarshal object into", err(SERVICE, b'{"Tags": {}}'))
        self.assertIn("of type []string", err(SERVICE, b'{"Tags": "a"}'))

    def test_named_struct_path(self):
        """Inside a named struct: its name, then the whole field path."""
        self.assertEqual(
            err(SERVICE, b'{"Weights": {"Passing": "x"}}'),
            "json: cannot unmarshal string into Go struct field Weights.Weights.Passing of type int",
        )

    def test_number_literal_that_does_not_fit(self):
        """A fractional, exponent or overflowing number for an int names its literal."""
        self.assertIn("unmarshal number 1.5 into", err(SERVICE, b'{"Port": 1.5}'))
        self.assertIn("unmarshal number 1e2 into", err(SERVICE, b'{"Port": 1e2}'))
        self.assertIn(
            "unmarshal number 9223372036854775808 into", err(SERVICE, b'{"Port": 9223372036854775808}')
        )
        self.assertIn("unmarshal number -1 into", err(SERVICE, b'{"Index": -1}'))
        self.assertEqual(decode(SERVICE, b'{"Port": -9223372036854775808}'), {"Port": -(2**63)})

    def test_map_value(self):
        """A map value of the wrong kind reports the map's field."""
        self.assertEqual(
            err(SERVICE, b'{"Meta": {"k": 1}}'),
            "json: cannot unmarshal number into Go struct field .Meta of type string",
        )

    def test_custom_unmarshaler_relabelled(self):
        """An error inside a custom UnmarshalJSON is re-labelled with the outer field path."""
        self.assertEqual(
            err(SERVICE, b'{"Check": {"Name": 7}}'),
            "json: cannot unmarshal number into Go struct field .Check of type string",
        )
        self.assertEqual(
            err(SERVICE, b'{"Checks": [{"Name": 7}]}'),
            "json: cannot unmarshal number into Go struct field .Checks of type string",
        )

    def test_custom_unmarshaler_at_top(self):
        """At the top level the inner decoder's own context is kept."""
        self.assertEqual(
            err(CHECK, b'{"Name": 7}'),
            "json: cannot unmarshal number into Go struct field .Name of type string",
        )

    def test_wrong_kind_for_whole_value(self):
        """Outside any struct: ``into Go value of type``."""
        self.assertEqual(
            err(SERVICE, b"[1]"),
            "json: cannot unmarshal array into Go value of type struct { *structs.Alias }",
        )
        self.assertEqual(
            err(List(String()), b"[1]"), "json: cannot unmarshal number into Go value of type string"
        )

    def test_opaque_struct(self):
        """A struct the fake does not model still refuses a non-object."""
        self.assertEqual(decode(SERVICE, b'{"Proxy": {"Upstreams": []}}'), {"Proxy": {"Upstreams": []}})
        self.assertIn("of type structs.ConnectProxyConfig", err(SERVICE, b'{"Proxy": "x"}'))

    def test_first_error_wins(self):
        """The first error in document order is reported."""
        self.assertIn(".Name of type", err(SERVICE, b'{"Name": 1, "Port": "x"}'))


class NullTests(unittest.TestCase):
    """null follows Go's rules."""

    def test_null_ignored_for_primitives(self):
        """null leaves strings, numbers and bools alone (absent from the result)."""
        self.assertEqual(decode(SERVICE, b'{"Name": null, "Port": null, "EnableTagOverride": null}'), {})

    def test_null_sets_references_nil(self):
        """null sets pointers, slices, maps and interfaces to nil."""
        self.assertEqual(
            decode(SERVICE, b'{"Tags": null, "Meta": null, "Weights": null, "Extra": null}'),
            {"Tags": None, "Meta": None, "Weights": None, "Extra": None},
        )

    def test_null_body(self):
        """A null body leaves the struct at its zero value."""
        self.assertEqual(decode(SERVICE, b"null"), {})


class DurationTests(unittest.TestCase):
    """Durations as Consul's structs accept them."""

    def test_interface_duration(self):
        """A string is parsed, a number is nanoseconds, other kinds are ignored."""
        self.assertEqual(decode(CHECK, b'{"TTL": "1m30s"}'), {"TTL": 90.0})
        self.assertEqual(decode(CHECK, b'{"TTL": 2000000000}'), {"TTL": 2.0})
        self.assertEqual(decode(CHECK, b'{"TTL": true}'), {"TTL": None})

    def test_parse_errors(self):
        """time.ParseDuration's three error texts."""
        self.assertEqual(err(CHECK, b'{"TTL": "10"}'), 'time: missing unit in duration "10"')
        self.assertEqual(err(CHECK, b'{"TTL": "10x"}'), 'time: unknown unit "x" in duration "10x"')
        self.assertEqual(err(CHECK, b'{"TTL": "abc"}'), 'time: invalid duration "abc"')
        self.assertEqual(err(CHECK, b'{"TTL": ""}'), 'time: invalid duration ""')

    def test_parse_duration(self):
        """Fractions, signs, micro signs and overflow as Go."""
        self.assertEqual(parse_duration("1.5h"), 5400.0)
        self.assertEqual(parse_duration("-2ms"), -0.002)
        self.assertEqual(parse_duration("3\u00b5s"), 3e-6)
        self.assertEqual(parse_duration("0"), 0.0)
        self.assertRaises(GoJSONError, parse_duration, "9223372036854775808ns")
        self.assertRaises(GoJSONError, parse_duration, ".s")

    def test_plain_duration(self):
        """A plain time.Duration wants int64 nanoseconds; a string is a type error."""
        self.assertEqual(decode(SERVICE, b'{"Wait": 1000000000}'), {"Wait": 1.0})
        self.assertIn("of type time.Duration", err(SERVICE, b'{"Wait": "1s"}'))


class DecodeBodyTests(unittest.TestCase):
    """decode_body: what a handler calls."""

    def test_type_error_is_400(self):
        """A type error is a 400 with Consul's prefix."""
        e = self.assertRaises(HTTPError, decode_body, SERVICE, b'{"Name": 5}')
        self.assertEqual(
            (e.status, e.text),
            (
                400,
                "Request decode failed: json: cannot unmarshal number into Go struct "
                "field .Name of type string",
            ),
        )

    def test_syntax_error_is_400(self):
        """Malformed JSON keeps Go's syntax error text."""
        e = self.assertRaises(HTTPError, decode_body, SERVICE, b'{"Name": ')
        self.assertEqual((e.status, e.text), (400, "Request decode failed: unexpected EOF"))

    def test_trailing_data_ignored(self):
        """Only the first JSON value is read, as json.Decoder.Decode."""
        self.assertEqual(decode_body(SERVICE, b'{"Name": "a"} garbage'), {"Name": "a"})


class FormatDurationTests(unittest.TestCase):
    """format_duration is Go's Duration.String."""

    def test_examples(self):
        """Units, fractions, and the h/m/s form above a second."""
        from txconsul.testing._gojson import format_duration

        cases = {
            0: "0s",
            10: "10s",
            0.5: "500ms",
            0.0015: "1.5ms",
            3e-9: "3ns",
            90: "1m30s",
            3600: "1h0m0s",
            5400.25: "1h30m0.25s",
            -2: "-2s",
        }
        for seconds, text in cases.items():
            self.assertEqual(format_duration(seconds), text)
