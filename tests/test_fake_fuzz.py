# -*- test-case-name: tests.test_fake_fuzz -*-
"""
Fuzzing FakeConsul's HTTP surface (issue 10): generated methods, paths,
query strings and bodies (of the wrong types and sizes) always get a valid
HTTP answer, never a 500 from a Python exception, and a refused request
leaves the state as it was.
"""

from __future__ import annotations

import json
from typing import Any, Optional
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.task import Clock
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase
from treq.testing import StubTreq

from txconsul.testing import FakeConsul

MASTER = "fuzz-master-token"

METHODS = st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"])

#: Query parameters the fake reads somewhere.
PARAM_NAMES = [
    "index",
    "wait",
    "dc",
    "filter",
    "recurse",
    "keys",
    "separator",
    "raw",
    "cas",
    "flags",
    "acquire",
    "release",
    "token",
    "peer",
    "node-meta",
    "passing",
    "tag",
    "near",
    "stale",
    "consistent",
    "cached",
    "max_stale",
    "enable",
    "reason",
    "note",
    "name",
    "node",
    "service",
    "wan",
    "segment",
    "hash",
    "format",
    "replace-existing-checks",
    "policy",
    "role",
    "authmethod",
    "servicename",
    "ns",
    "partition",
]

TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70).map(str), st.sampled_from(["1.5", "1e3", "-0", "10s", "5m", "abc", ""])
)
PARAM_VALUES = st.one_of(
    TEXT,
    NUMBERS,
    st.sampled_from(
        [
            "true",
            "false",
            "1",
            "0",
            'Service.Tags contains "a"',
            "(" * 1500,
            "not " * 1500 + "Node",
            "(" * 3000,
        ]
    ),
)
QUERIES = st.lists(st.tuples(st.sampled_from(PARAM_NAMES), PARAM_VALUES), max_size=4)

JSON = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**65), 2**65),
        st.floats(allow_nan=False, allow_infinity=False),
        TEXT,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(TEXT, st.sampled_from(["Name", "ID", "Node", "Tags"])), children, max_size=4
        ),
    ),
    max_leaves=12,
)

#: Valid bodies of the endpoints that decode one: mutated below.
TEMPLATES: list[Any] = [
    {
        "Name": "web",
        "ID": "web1",
        "Tags": ["a"],
        "Port": 80,
        "Meta": {"k": "v"},
        "Check": {"TTL": "10s"},
        "Weights": {"Passing": 2, "Warning": 1},
        "TaggedAddresses": {"lan": {"Address": "10.0.0.1", "Port": 80}},
    },
    {"Name": "chk", "TTL": "10s", "Notes": "n", "ServiceID": "", "Status": "passing"},
    {
        "Node": "n1",
        "Address": "10.0.0.2",
        "NodeMeta": {"a": "b"},
        "Service": {"Service": "db", "Port": 5432, "Tags": ["p"]},
        "Checks": [{"CheckID": "c1", "Name": "c1", "Status": "passing"}],
    },
    {"Node": "n1", "ServiceID": "db"},
    {"Name": "s", "TTL": "15s", "LockDelay": "1s", "Behavior": "delete", "NodeChecks": ["serfHealth"]},
    [
        {"KV": {"Verb": "set", "Key": "k", "Value": "aGVsbG8="}},
        {"Node": {"Verb": "set", "Node": {"Node": "n2", "Address": "10.0.0.3"}}},
        {"Service": {"Verb": "set", "Node": "n2", "Service": {"ID": "x", "Service": "x", "Tags": ["t"]}}},
        {
            "Check": {
                "Verb": "set",
                "Check": {"Node": "n2", "CheckID": "cx", "Name": "cx", "Status": "passing"},
            }
        },
    ],
    {
        "Name": "q",
        "Service": {"Service": "web", "Tags": ["a"], "Failover": {"NearestN": 1}},
        "DNS": {"TTL": "10s"},
    },
    {"Node": "fake-consul", "Coord": {"Vec": [0.0] * 8, "Error": 1.5, "Adjustment": 0.0, "Height": 1e-05}},
    {"Status": "passing", "Output": "ok"},
    {"Name": "p", "Rules": 'key "" { policy = "read" }'},
    {"Description": "t", "Policies": [{"Name": "global-management"}]},
]


def _paths_in(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a JSON value (lists by index)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths_in(v, prefix + (k,)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths_in(v, prefix + (i,)))
    return out


@st.composite
def mutated(draw: Any) -> Any:
    """A template with one field replaced by any JSON value (often of the wrong type)."""
    template = json.loads(json.dumps(draw(st.sampled_from(TEMPLATES))))
    paths = _paths_in(template)
    if not paths:
        return template
    path = draw(st.sampled_from(paths))
    target = template
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = draw(JSON)
    return template


BODIES = st.one_of(
    st.just(b""),
    st.binary(max_size=64),
    JSON.map(lambda v: json.dumps(v).encode()),
    mutated().map(lambda v: json.dumps(v).encode()),
    st.sampled_from(TEMPLATES).map(lambda v: json.dumps(v).encode()),
    st.integers(0, 3).map(lambda n: b"[" * (10**n)),
    # Balanced deep nesting (beyond what Python's parser walks) is added
    # for the non-ACL routes in check() below.
    st.integers(1, 4).map(lambda n: b"x" * (200 * 10**n)),
)


@st.composite
def paths(draw: Any) -> str:
    """A route of the fake (a prefix gets a generated tail), or something else."""
    patterns = sorted(FakeConsul(seed=1).patterns)
    choice = draw(st.integers(0, 9))
    if choice == 0:
        return "/" + quote(draw(TEXT), safe="/")
    pattern = draw(st.sampled_from(patterns))
    if pattern.endswith("/"):
        tail = draw(
            st.one_of(
                st.sampled_from(
                    [
                        "web",
                        "web1",
                        "n1",
                        "fake-consul",
                        "k",
                        "chk",
                        "any",
                        "passing",
                        "a/b",
                        "x/execute",
                        "token/self",
                        "policy",
                        "bootstrap",
                        "",
                    ]
                ),
                TEXT,
            )
        )
        pattern += quote(tail, safe="/")
    return pattern


#: Attributes that point at the core or at another part (a part's peers and
#: listeners), not at the part's own state.
_LINKS = frozenset({"core", "acl", "catalog", "sessions", "kv", "status", "listeners"})


def digest(fake: FakeConsul) -> str:
    """The fake's whole state as text (what a refused request must leave alone)."""
    state = {}
    for part in fake._parts:
        for name, value in vars(part).items():
            if name in _LINKS or name.startswith("_") or callable(value):
                continue
            state[f"{type(part).__name__}.{name}"] = value
    state["index"] = fake.core.index
    return json.dumps(_plain(state), default=repr, sort_keys=True)


def _plain(value: Any) -> Any:
    """JSON-able: dicts keyed by the repr of non-string keys, sets sorted."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else repr(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(repr(v) for v in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {
            "<" + type(value).__name__ + ">": _plain(
                {k: v for k, v in vars(value).items() if not k.startswith("_") and k not in _LINKS}
            )
        }
    return value


class FuzzTests(SynchronousTestCase):
    """Generated requests against FakeConsul."""

    acl = False

    def setUp(self) -> None:
        self.clock = Clock()
        kwargs: dict[str, Any] = (
            {"acl_master_token": MASTER, "acl_default_policy": "deny"} if self.acl else {}
        )
        self.fake = FakeConsul(self.clock, seed=3, **kwargs)
        self.treq = StubTreq(self.fake.resource())
        self.failures: list[Any] = []

        def observer(event: dict[str, Any]) -> None:
            if event.get("log_failure") is not None:
                self.failures.append(event["log_failure"])

        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)

    def send(
        self, method: str, path: str, query: list[tuple[str, str]], body: bytes, token: Optional[str]
    ) -> tuple[int, bytes, bool]:
        """(status, body, answered without the clock moving)."""
        # The in-memory server is twisted.web's, whose request line limit
        # is 16 KB (the process allows Go's 1 MB).
        while query and len("&".join(f"{quote(k)}={quote(v)}" for k, v in query)) > 12000:
            query = query[:-1]
        qs = "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
        url = "http://127.0.0.1:8500" + path + ("?" + qs if qs else "")
        headers = {"X-Consul-Token": token} if token else {}
        d = self.treq.request(method, url, data=body or None, headers=headers)
        self.treq.flush()
        immediate = d.called
        if not immediate:
            self.clock.advance(700)  # past any blocking wait (10 min + jitter)
            self.treq.flush()
        response = self.successResultOf(d)
        content = self.successResultOf(response.content())
        return response.code, content, immediate

    def check(
        self, method: str, path: str, query: list[tuple[str, str]], body: bytes, token: Optional[str] = None
    ) -> None:
        """One request: a valid status, no Python exception, no change when refused."""
        if body.startswith(b"[[[[") and not path.startswith("/v1/acl"):
            body = b"[" * 20000 + b"]" * 20000
        before = digest(self.fake)
        status, content, immediate = self.send(method, path, query, body, token)
        where = (method, path, query, body[:200])
        self.assertTrue(100 <= status <= 599, where)
        self.assertEqual(self.failures, [], where)
        self.assertNotIn(b"Processing Failed", content, where)
        self.assertNotIn(b"Traceback", content, where)
        if immediate and status in (400, 403, 404, 405, 413):
            self.assertEqual(digest(self.fake), before, (where, status, content[:300]))
        # Whatever happened, the reads still answer.
        for read in ("/v1/agent/services", "/v1/catalog/services", "/v1/health/state/any", "/v1/kv/?recurse"):
            code, text, _ = self.send(
                "GET",
                read.split("?")[0],
                [("recurse", "")] if "?" in read else [],
                b"",
                MASTER if self.acl else None,
            )
            self.assertIn(code, (200, 404), (where, read, text[:300]))

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(METHODS, paths(), QUERIES, BODIES)
    def test_any_request(self, method: str, path: str, query: list[tuple[str, str]], body: bytes) -> None:
        """Any method, path, query and body gets a valid answer and no Python error."""
        self.check(method, path, query, body, MASTER if self.acl else None)

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(
        st.sampled_from(
            [
                ("PUT", "/v1/agent/service/register"),
                ("PUT", "/v1/agent/check/register"),
                ("PUT", "/v1/catalog/register"),
                ("PUT", "/v1/catalog/deregister"),
                ("PUT", "/v1/session/create"),
                ("PUT", "/v1/txn"),
                ("POST", "/v1/query"),
                ("PUT", "/v1/coordinate/update"),
                ("PUT", "/v1/agent/check/update/chk"),
                ("PUT", "/v1/event/fire/e"),
                ("PUT", "/v1/kv/k"),
            ]
        ),
        st.one_of(
            mutated().map(lambda v: json.dumps(v).encode()), JSON.map(lambda v: json.dumps(v).encode())
        ),
    )
    def test_mistyped_bodies(self, route: tuple[str, str], body: bytes) -> None:
        """Bodies with fields of the wrong type never poison the state."""
        self.check(route[0], route[1], [], body, MASTER if self.acl else None)


class ACLFuzzTests(FuzzTests):
    """The same with ACLs enabled (default deny), as the management token."""

    acl = True
