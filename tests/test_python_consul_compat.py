"""
Conformance with python-consul 1.1.0's public API.

The table below lists every public method of python-consul 1.1.0 (read from
its ``consul/base.py``) with its positional parameters, in order, and their
defaults.  The first group of tests checks txconsul's signatures against it;
the second calls each method against an in-memory FakeConsul the way a
python-consul user would (positionally where they pass arguments so) and
checks the shape of the answer python-consul gives.
"""

from __future__ import annotations

import inspect
from base64 import b64encode
from typing import Any, Callable

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

import txconsul
from txconsul import (
    ACLDisabled,
    ACLPermissionDenied,
    BadRequest,
    ClientError,
    Consul,
    ConsulException,
    NotFound,
    Timeout,
)
from txconsul.testing import FakeConsul

#: A parameter python-consul declares without a default.
REQUIRED = inspect.Parameter.empty


class Differs:
    """
    A default txconsul changes on purpose: ``python_consul`` is
    python-consul's, ``txconsul`` is txconsul's, ``why`` says why.
    """

    def __init__(self, python_consul: Any, txconsul: Any, why: str) -> None:
        self.python_consul = python_consul
        self.txconsul = txconsul
        self.why = why


# "None: CONSUL_* environment first, then python-consul's default."
_ENV = "None means: the CONSUL_* environment, then python-consul's default"

#: (path on a client, [(positional parameter, python-consul default)]).
#: ``Consul`` is the constructor; ``Check.x`` is ``Consul.Check.x``.
SIGNATURES: list[tuple[str, list[tuple[str, Any]]]] = [
    (
        "Consul",
        [
            ("host", Differs("127.0.0.1", None, _ENV)),  # CONSUL_HTTP_ADDR
            ("port", Differs(8500, None, _ENV)),  # CONSUL_HTTP_ADDR
            ("token", None),  # None also reads CONSUL_HTTP_TOKEN(_FILE)
            ("scheme", Differs("http", None, _ENV)),  # CONSUL_HTTP_SSL / ADDR
            ("consistency", "default"),
            ("dc", None),
            ("verify", Differs(True, None, _ENV)),  # CONSUL_HTTP_SSL_VERIFY
            ("cert", None),
        ],
    ),
    # -- Check ---------------------------------------------------------------
    ("Check.script", [("args", REQUIRED), ("interval", REQUIRED)]),
    (
        "Check.http",
        [
            ("url", REQUIRED),
            ("interval", REQUIRED),
            ("timeout", None),
            ("deregister", None),
            ("header", None),
        ],
    ),
    (
        "Check.tcp",
        [
            ("host", REQUIRED),
            ("port", REQUIRED),
            ("interval", REQUIRED),
            ("timeout", None),
            ("deregister", None),
        ],
    ),
    ("Check.ttl", [("ttl", REQUIRED)]),
    (
        "Check.docker",
        [
            ("container_id", REQUIRED),
            ("shell", REQUIRED),
            ("script", REQUIRED),
            ("interval", REQUIRED),
            ("deregister", None),
        ],
    ),
    # -- kv, txn -------------------------------------------------------------
    (
        "kv.get",
        [
            ("key", REQUIRED),
            ("index", None),
            ("recurse", False),
            ("wait", None),
            ("token", None),
            ("consistency", None),
            ("keys", False),
            ("separator", None),
            ("dc", None),
        ],
    ),
    (
        "kv.put",
        [
            ("key", REQUIRED),
            ("value", REQUIRED),
            ("cas", None),
            ("flags", None),
            ("acquire", None),
            ("release", None),
            ("token", None),
            ("dc", None),
        ],
    ),
    ("kv.delete", [("key", REQUIRED), ("recurse", None), ("cas", None), ("token", None), ("dc", None)]),
    ("txn.put", [("payload", REQUIRED)]),
    # -- agent ---------------------------------------------------------------
    ("agent.self", []),
    ("agent.services", []),
    ("agent.checks", []),
    ("agent.members", [("wan", False)]),
    ("agent.maintenance", [("enable", REQUIRED), ("reason", None)]),
    ("agent.join", [("address", REQUIRED), ("wan", False)]),
    ("agent.force_leave", [("node", REQUIRED)]),
    # python-consul 1.1.0 has no ``meta`` here: txconsul's is keyword only.
    (
        "agent.service.register",
        [
            ("name", REQUIRED),
            ("service_id", None),
            ("address", None),
            ("port", None),
            ("tags", None),
            ("check", None),
            ("token", None),
            ("script", None),
            ("interval", None),
            ("ttl", None),
            ("http", None),
            ("timeout", None),
            ("enable_tag_override", False),
        ],
    ),
    ("agent.service.deregister", [("service_id", REQUIRED)]),
    ("agent.service.maintenance", [("service_id", REQUIRED), ("enable", REQUIRED), ("reason", None)]),
    (
        "agent.check.register",
        [
            ("name", REQUIRED),
            ("check", None),
            ("check_id", None),
            ("notes", None),
            ("service_id", None),
            ("token", None),
            ("script", None),
            ("interval", None),
            ("ttl", None),
            ("http", None),
            ("timeout", None),
        ],
    ),
    ("agent.check.deregister", [("check_id", REQUIRED)]),
    ("agent.check.ttl_pass", [("check_id", REQUIRED), ("notes", None)]),
    ("agent.check.ttl_fail", [("check_id", REQUIRED), ("notes", None)]),
    ("agent.check.ttl_warn", [("check_id", REQUIRED), ("notes", None)]),
    # -- catalog -------------------------------------------------------------
    (
        "catalog.register",
        [
            ("node", REQUIRED),
            ("address", REQUIRED),
            ("service", None),
            ("check", None),
            ("dc", None),
            ("token", None),
        ],
    ),
    (
        "catalog.deregister",
        [("node", REQUIRED), ("service_id", None), ("check_id", None), ("dc", None), ("token", None)],
    ),
    ("catalog.datacenters", []),
    (
        "catalog.nodes",
        [
            ("index", None),
            ("wait", None),
            ("consistency", None),
            ("dc", None),
            ("near", None),
            ("token", None),
            ("node_meta", None),
        ],
    ),
    (
        "catalog.services",
        [
            ("index", None),
            ("wait", None),
            ("consistency", None),
            ("dc", None),
            ("token", None),
            ("node_meta", None),
        ],
    ),
    (
        "catalog.node",
        [
            ("node", REQUIRED),
            ("index", None),
            ("wait", None),
            ("consistency", None),
            ("dc", None),
            ("token", None),
        ],
    ),
    (
        "catalog.service",
        [
            ("service", REQUIRED),
            ("index", None),
            ("wait", None),
            ("tag", None),
            ("consistency", None),
            ("dc", None),
            ("near", None),
            ("token", None),
        ],
    ),
    # -- health --------------------------------------------------------------
    (
        "health.service",
        [
            ("service", REQUIRED),
            ("index", None),
            ("wait", None),
            ("passing", None),
            ("tag", None),
            ("dc", None),
            ("near", None),
            ("token", None),
            ("node_meta", None),
        ],
    ),
    (
        "health.checks",
        [
            ("service", REQUIRED),
            ("index", None),
            ("wait", None),
            ("dc", None),
            ("near", None),
            ("token", None),
            ("node_meta", None),
        ],
    ),
    (
        "health.state",
        [
            ("name", REQUIRED),
            ("index", None),
            ("wait", None),
            ("dc", None),
            ("near", None),
            ("token", None),
            ("node_meta", None),
        ],
    ),
    ("health.node", [("node", REQUIRED), ("index", None), ("wait", None), ("dc", None), ("token", None)]),
    # -- session -------------------------------------------------------------
    (
        "session.create",
        [
            ("name", None),
            ("node", None),
            ("checks", None),
            ("lock_delay", 15),
            ("behavior", "release"),
            ("ttl", None),
            ("dc", None),
        ],
    ),
    ("session.destroy", [("session_id", REQUIRED), ("dc", None)]),
    ("session.list", [("index", None), ("wait", None), ("consistency", None), ("dc", None)]),
    (
        "session.node",
        [("node", REQUIRED), ("index", None), ("wait", None), ("consistency", None), ("dc", None)],
    ),
    (
        "session.info",
        [("session_id", REQUIRED), ("index", None), ("wait", None), ("consistency", None), ("dc", None)],
    ),
    ("session.renew", [("session_id", REQUIRED), ("dc", None)]),
    # -- acl (legacy) --------------------------------------------------------
    ("acl.list", [("token", None)]),
    ("acl.info", [("acl_id", REQUIRED), ("token", None)]),
    ("acl.create", [("name", None), ("type", "client"), ("rules", None), ("acl_id", None), ("token", None)]),
    ("acl.update", [("acl_id", REQUIRED), ("name", None), ("type", None), ("rules", None), ("token", None)]),
    ("acl.clone", [("acl_id", REQUIRED), ("token", None)]),
    ("acl.destroy", [("acl_id", REQUIRED), ("token", None)]),
    # -- event, status -------------------------------------------------------
    (
        "event.fire",
        [("name", REQUIRED), ("body", ""), ("node", None), ("service", None), ("tag", None), ("token", None)],
    ),
    ("event.list", [("name", None), ("index", None), ("wait", None)]),
    ("status.leader", []),
    ("status.peers", []),
    # -- query ---------------------------------------------------------------
    ("query.list", [("dc", None), ("token", None)]),
    (
        "query.create",
        [
            ("service", REQUIRED),
            ("name", None),
            ("dc", None),
            ("session", None),
            ("token", None),
            ("nearestn", None),
            ("datacenters", None),
            ("onlypassing", None),
            ("tags", None),
            ("ttl", None),
            ("regexp", None),
        ],
    ),
    (
        "query.update",
        [
            ("query_id", REQUIRED),
            ("service", None),
            ("name", None),
            ("dc", None),
            ("session", None),
            ("token", None),
            ("nearestn", None),
            ("datacenters", None),
            ("onlypassing", None),
            ("tags", None),
            ("ttl", None),
            ("regexp", None),
        ],
    ),
    ("query.get", [("query_id", REQUIRED), ("token", None), ("dc", None)]),
    ("query.delete", [("query_id", REQUIRED), ("token", None), ("dc", None)]),
    ("query.execute", [("query", REQUIRED), ("token", None), ("dc", None), ("near", None), ("limit", None)]),
    ("query.explain", [("query", REQUIRED), ("token", None), ("dc", None)]),
    # -- coordinate, operator ------------------------------------------------
    ("coordinate.datacenters", []),
    ("coordinate.nodes", [("dc", None), ("index", None), ("wait", None), ("consistency", None)]),
    ("operator.raft_config", []),
]

#: The endpoint groups python-consul's ``Consul`` has.
GROUPS = (
    "kv",
    "txn",
    "agent",
    "catalog",
    "health",
    "session",
    "acl",
    "event",
    "status",
    "query",
    "coordinate",
    "operator",
)

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _resolve(client: Consul, path: str) -> Callable[..., Any]:
    """The txconsul callable at ``path`` (``'Consul'`` is the class)."""
    if path == "Consul":
        return Consul
    obj: Any = Consul if path.startswith("Check.") else client
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def signature_problems(func: Callable[..., Any], expected: list[tuple[str, Any]]) -> list[str]:
    """
    Every way ``func``'s signature breaks python-consul's ``expected``
    positional parameters: a name or default that differs at a position, a
    missing parameter, or an added parameter a python-consul call would
    have to fill.  Extra trailing parameters with defaults (and keyword-only
    ones) are allowed.
    """
    params = list(inspect.signature(func).parameters.values())
    positional = [p for p in params if p.kind in _POSITIONAL]
    problems = []
    for i, (name, default) in enumerate(expected):
        if i >= len(positional):
            problems.append(f"missing positional parameter {i} {name!r}")
            continue
        got = positional[i]
        if got.name != name:
            problems.append(f"position {i}: {got.name!r} where python-consul has {name!r}")
            continue
        want = default.txconsul if isinstance(default, Differs) else default
        if want is REQUIRED:
            if got.default is not REQUIRED:
                problems.append(f"{name!r} has default {got.default!r}, python-consul has none")
        elif got.default is REQUIRED:
            problems.append(f"{name!r} is required, python-consul's default is {want!r}")
        elif type(got.default) is not type(want) or got.default != want:
            problems.append(f"{name!r} defaults to {got.default!r}, expected {want!r}")
    for extra in positional[len(expected) :]:
        if extra.default is REQUIRED:
            problems.append(f"added required parameter {extra.name!r}")
    for p in params:
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is REQUIRED:
            problems.append(f"added required keyword-only parameter {p.name!r}")
    return problems


class SignatureTableTests(SynchronousTestCase):
    """The table itself: complete and well-formed."""

    def test_every_group_is_listed(self) -> None:
        """The table has at least one method of every python-consul group, plus Check and Consul."""
        prefixes = {path.split(".")[0] for path, _ in SIGNATURES}
        self.assertEqual(prefixes, set(GROUPS) | {"Check", "Consul"})

    def test_counts(self) -> None:
        """The table lists all 61 public methods of python-consul 1.1.0 and its constructor, once each."""
        paths = [path for path, _ in SIGNATURES]
        self.assertEqual(len(paths), len(set(paths)))
        self.assertEqual(len(paths), 62)

    def test_differs_only_on_constructor(self) -> None:
        """Deliberate default differences are only the constructor's environment-aware ones."""
        differing = [
            (path, name)
            for path, params in SIGNATURES
            for name, default in params
            if isinstance(default, Differs)
        ]
        self.assertEqual(
            differing, [("Consul", "host"), ("Consul", "port"), ("Consul", "scheme"), ("Consul", "verify")]
        )

    def test_checker_catches_a_renamed_parameter(self) -> None:
        """signature_problems reports a parameter renamed at a position."""

        def f(key, idx=None):  # type: ignore[no-untyped-def]
            pass

        self.assertEqual(
            signature_problems(f, [("key", REQUIRED), ("index", None)]),
            ["position 1: 'idx' where python-consul has 'index'"],
        )

    def test_checker_catches_a_changed_default(self) -> None:
        """signature_problems reports a default that differs, even False vs None."""

        def f(key, recurse=None):  # type: ignore[no-untyped-def]
            pass

        self.assertEqual(len(signature_problems(f, [("key", REQUIRED), ("recurse", False)])), 1)

    def test_checker_catches_an_inserted_parameter(self) -> None:
        """signature_problems reports a parameter inserted before python-consul's."""

        def f(name, meta=None, script=None):  # type: ignore[no-untyped-def]
            pass

        self.assertTrue(signature_problems(f, [("name", REQUIRED), ("script", None)]))

    def test_checker_allows_trailing_and_keyword_only_extras(self) -> None:
        """Extra trailing defaults and keyword-only parameters are not problems."""

        def f(key, token=None, *, meta=False):  # type: ignore[no-untyped-def]
            pass

        self.assertEqual(signature_problems(f, [("key", REQUIRED)]), [])


def _signature_test(path: str, expected: list[tuple[str, Any]]) -> Callable[[Any], None]:
    def test(self: SynchronousTestCase) -> None:
        client = Consul(environ={}, reactor=Clock())
        func = _resolve(client, path)
        self.assertEqual(signature_problems(func, expected), [], path)

    test.__doc__ = f"{path} takes python-consul's positional parameters, in order, with its defaults."
    return test


class SignatureTests(SynchronousTestCase):
    """txconsul's signatures against python-consul 1.1.0's (one test per method)."""


for _path, _expected in SIGNATURES:
    setattr(SignatureTests, "test_" + _path.replace(".", "_"), _signature_test(_path, _expected))
del _path, _expected


# -- behaviour -------------------------------------------------------------


class _Case(SynchronousTestCase):
    """A FakeConsul on a Clock and a client; the fake journals the requests (fake.requests)."""

    fake_kwargs: dict[str, Any] = {}
    client_kwargs: dict[str, Any] = {}

    def setUp(self) -> None:
        self.clock = Clock()
        self.fake = FakeConsul(self.clock, **self.fake_kwargs)
        self.c = self.fake.client(**self.client_kwargs)

    def ok(self, d: Any) -> Any:
        """The result of a Deferred that must have fired."""
        self.clock.advance(0)
        return self.successResultOf(d)

    def assertIndex(self, index: Any) -> None:
        """``index`` is usable as a python-consul index: a non-negative int."""
        self.assertIsInstance(index, int)
        self.assertGreaterEqual(index, 0)


class ClientTests(_Case):
    """The constructor and module surface."""

    def test_defaults_are_python_consuls(self) -> None:
        """With no arguments and no environment: http://127.0.0.1:8500, no token, default consistency."""
        c = Consul(environ={}, reactor=Clock())
        self.assertEqual(c.config.base_url, "http://127.0.0.1:8500")
        self.assertIs(c.config.verify, True)
        self.assertIsNone(c.token)
        self.assertIsNone(c.dc)
        self.assertEqual(c.consistency, "default")

    def test_positional_arguments(self) -> None:
        """Consul(host, port, token, scheme, consistency, dc, verify) lands each where python-consul does."""
        c = Consul("10.0.0.1", 8501, "tok", "https", "stale", "dc2", False, environ={}, reactor=Clock())
        self.assertEqual(c.config.base_url, "https://10.0.0.1:8501")
        self.assertEqual(c.token, "tok")
        self.assertEqual(c.consistency, "stale")
        self.assertEqual(c.dc, "dc2")
        self.assertIs(c.config.verify, False)

    def test_explicit_token_beats_environment(self) -> None:
        """An explicit token wins over CONSUL_HTTP_TOKEN (python-consul gets this backwards)."""
        c = Consul(token="mine", environ={"CONSUL_HTTP_TOKEN": "env"}, reactor=Clock())
        self.assertEqual(c.token, "mine")

    def test_exceptions(self) -> None:
        """python-consul's exception names exist and derive from ConsulException."""
        for exc in (ACLDisabled, ACLPermissionDenied, NotFound, Timeout, BadRequest, ClientError):
            self.assertTrue(issubclass(exc, ConsulException), exc)
            self.assertIs(getattr(txconsul, exc.__name__), exc)

    def test_check_on_class(self) -> None:
        """Consul.Check builds check dicts without a client, as consul.Check does."""
        self.assertEqual(Consul.Check.ttl("10s"), {"TTL": "10s"})
        self.assertIs(self.c.Check, Consul.Check)

    def test_groups(self) -> None:
        """A client has every python-consul endpoint group, plus agent.service and agent.check."""
        for name in GROUPS:
            self.assertTrue(hasattr(self.c, name), name)
        self.assertTrue(hasattr(self.c.agent, "service"))
        self.assertTrue(hasattr(self.c.agent, "check"))

    def test_token_never_in_url(self) -> None:
        """A token travels in a header, never as ?token= (python-consul puts it in the URL)."""
        self.ok(self.c.kv.get("foo", token="secret"))
        self.assertNotIn("token", self.fake.requests[-1].params())


class KVTests(_Case):
    """kv.* and txn.put."""

    def test_put_true(self) -> None:
        """kv.put(key, value) fires True."""
        self.assertIs(self.ok(self.c.kv.put("foo", "bar")), True)

    def test_put_cas_false(self) -> None:
        """kv.put(key, value, cas) positionally fires False when the index does not match."""
        self.ok(self.c.kv.put("foo", "bar"))
        self.assertIs(self.ok(self.c.kv.put("foo", "baz", 1)), False)

    def test_put_flags_positional(self) -> None:
        """kv.put(key, value, None, flags) stores the flags."""
        self.ok(self.c.kv.put("foo", "bar", None, 42))
        _, entry = self.ok(self.c.kv.get("foo"))
        self.assertEqual(entry["Flags"], 42)

    def test_get_entry(self) -> None:
        """kv.get(key) fires (index, entry) with Value as bytes."""
        self.ok(self.c.kv.put("foo", "bar"))
        index, entry = self.ok(self.c.kv.get("foo"))
        self.assertIndex(index)
        self.assertEqual(entry["Key"], "foo")
        self.assertEqual(entry["Value"], b"bar")
        for field in ("CreateIndex", "ModifyIndex", "LockIndex", "Flags"):
            self.assertIn(field, entry)

    def test_get_empty_value_none(self) -> None:
        """A key put with None reads back with Value None."""
        self.ok(self.c.kv.put("dir/", None))
        _, entry = self.ok(self.c.kv.get("dir/"))
        self.assertIsNone(entry["Value"])

    def test_get_missing(self) -> None:
        """kv.get of a missing key fires (index, None)."""
        index, data = self.ok(self.c.kv.get("nope"))
        self.assertIndex(index)
        self.assertIsNone(data)

    def test_get_recurse_positional(self) -> None:
        """kv.get(prefix, None, True) fires (index, [entries]) with bytes Values."""
        self.ok(self.c.kv.put("a/1", "x"))
        self.ok(self.c.kv.put("a/2", b"\xff"))
        _, entries = self.ok(self.c.kv.get("a/", None, True))
        self.assertEqual([(e["Key"], e["Value"]) for e in entries], [("a/1", b"x"), ("a/2", b"\xff")])

    def test_get_keys(self) -> None:
        """kv.get(prefix, keys=True) fires (index, [key strings])."""
        self.ok(self.c.kv.put("a/1", "x"))
        self.ok(self.c.kv.put("a/b/2", "x"))
        _, keys = self.ok(self.c.kv.get("a/", keys=True))
        self.assertEqual(keys, ["a/1", "a/b/2"])
        _, keys = self.ok(self.c.kv.get("a/", keys=True, separator="/"))
        self.assertEqual(keys, ["a/1", "a/b/"])

    def test_index_blocks(self) -> None:
        """The index from kv.get, passed back positionally (even as python-consul's str), blocks until a change."""
        self.ok(self.c.kv.put("foo", "1"))
        index, _ = self.ok(self.c.kv.get("foo"))
        d = self.c.kv.get("foo", str(index))
        self.clock.advance(1)
        self.assertNoResult(d)
        self.ok(self.c.kv.put("foo", "2"))
        new_index, entry = self.ok(d)
        self.assertGreater(new_index, index)
        self.assertEqual(entry["Value"], b"2")

    def test_delete(self) -> None:
        """kv.delete(key) fires True and the key is gone."""
        self.ok(self.c.kv.put("foo", "bar"))
        self.assertIs(self.ok(self.c.kv.delete("foo")), True)
        self.assertIsNone(self.ok(self.c.kv.get("foo"))[1])

    def test_delete_recurse_positional(self) -> None:
        """kv.delete(prefix, True) deletes every key under the prefix."""
        self.ok(self.c.kv.put("a/1", "x"))
        self.ok(self.c.kv.put("a/2", "x"))
        self.assertIs(self.ok(self.c.kv.delete("a/", True)), True)
        self.assertIsNone(self.ok(self.c.kv.get("a/", recurse=True))[1])

    def test_delete_cas_false(self) -> None:
        """kv.delete(key, None, cas) fires False when the index does not match."""
        self.ok(self.c.kv.put("foo", "bar"))
        self.assertIs(self.ok(self.c.kv.delete("foo", None, 1)), False)

    def test_lock_positional(self) -> None:
        """kv.put(key, value, None, None, session_id) acquires; release in position 5 releases."""
        sid = self.ok(self.c.session.create())
        self.assertIs(self.ok(self.c.kv.put("lock", "me", None, None, sid)), True)
        self.assertEqual(self.ok(self.c.kv.get("lock"))[1]["Session"], sid)
        self.assertIs(self.ok(self.c.kv.put("lock", "me", None, None, None, sid)), True)
        self.assertNotIn("Session", self.ok(self.c.kv.get("lock"))[1])

    def test_txn_put(self) -> None:
        """txn.put(payload) fires Consul's {'Results': [...], 'Errors': None}."""
        payload = [
            {"KV": {"Verb": "set", "Key": "t", "Value": b64encode(b"v").decode()}},
            {"KV": {"Verb": "get", "Key": "t"}},
        ]
        result = self.ok(self.c.txn.put(payload))
        self.assertIsNone(result["Errors"])
        self.assertEqual(len(result["Results"]), 2)
        self.assertEqual(result["Results"][1]["KV"]["Key"], "t")
        self.assertEqual(self.ok(self.c.kv.get("t"))[1]["Value"], b"v")

    def test_txn_rollback_client_error(self) -> None:
        """A rolled-back txn fails with a ClientError, as python-consul raises for the 409."""
        d = self.c.txn.put([{"KV": {"Verb": "get", "Key": "missing"}}])
        self.clock.advance(0)
        self.failureResultOf(d, ClientError)


class AgentTests(_Case):
    """agent.*, agent.service.*, agent.check.*."""

    def test_self(self) -> None:
        """agent.self() fires a dict with Config and Member."""
        data = self.ok(self.c.agent.self())
        self.assertIn("Config", data)
        self.assertIn("Member", data)

    def test_services_checks_dicts(self) -> None:
        """agent.services() and agent.checks() fire dicts keyed by ID."""
        self.ok(self.c.agent.service.register("web", "web1", None, None, None, Consul.Check.ttl("10s")))
        self.assertIn("web1", self.ok(self.c.agent.services()))
        self.assertIn("service:web1", self.ok(self.c.agent.checks()))

    def test_members(self) -> None:
        """agent.members() and agent.members(True) fire lists of members with Name and Addr."""
        for wan in (False, True):
            members = self.ok(self.c.agent.members(wan))
            self.assertIsInstance(members, list)
            self.assertIn("Name", members[0])
            self.assertIn("Addr", members[0])

    def test_maintenance(self) -> None:
        """agent.maintenance('true', reason) and ('false') fire True and toggle _node_maintenance."""
        self.assertIs(self.ok(self.c.agent.maintenance("true", "upgrade")), True)
        self.assertEqual(self.ok(self.c.agent.checks())["_node_maintenance"]["Notes"], "upgrade")
        self.assertIs(self.ok(self.c.agent.maintenance("false")), True)
        self.assertNotIn("_node_maintenance", self.ok(self.c.agent.checks()))

    def test_join_put(self) -> None:
        """agent.join(address) fires True, sent as PUT (python-consul's GET is refused by Consul 1.0+)."""
        self.assertIs(self.ok(self.c.agent.join("127.0.0.1")), True)
        self.assertEqual(self.fake.requests[-1].method, "PUT")

    def test_force_leave(self) -> None:
        """agent.force_leave(node) fires True for a member."""
        node = self.ok(self.c.agent.self())["Config"]["NodeName"]
        self.assertIs(self.ok(self.c.agent.force_leave(node)), True)

    def test_service_register_positional(self) -> None:
        """service.register(name, id, address, port, tags, check) registers that service and fires True."""
        result = self.ok(
            self.c.agent.service.register("web", "web1", "10.0.0.1", 80, ["v1"], Consul.Check.ttl("10s"))
        )
        self.assertIs(result, True)
        svc = self.ok(self.c.agent.services())["web1"]
        self.assertEqual(
            (svc["Service"], svc["Address"], svc["Port"], svc["Tags"]), ("web", "10.0.0.1", 80, ["v1"])
        )

    def test_service_register_legacy_ttl_positional(self) -> None:
        """The deprecated ttl sits at python-consul's position 9 (after token, script, interval)."""
        self.ok(self.c.agent.service.register("w", "w", None, None, None, None, None, None, None, "10s"))
        self.assertEqual(self.fake.requests[-1].json()["Check"]["TTL"], "10s")
        # An agent check carries no Definition (agent/agent.go), so its type tells.
        check = self.ok(self.c.agent.checks())["service:w"]
        self.assertEqual(check["Type"], "ttl")

    def test_service_register_enable_tag_override_positional(self) -> None:
        """enable_tag_override is python-consul's 14th positional parameter."""
        args: list[Any] = ["w", "w", None, None, None, None, None, None, None, None, None, None, True]
        self.ok(self.c.agent.service.register(*args))
        self.assertTrue(self.fake.requests[-1].json()["EnableTagOverride"])

    def test_service_register_meta_keyword(self) -> None:
        """meta (not in python-consul 1.1.0) is accepted as a keyword."""
        self.ok(self.c.agent.service.register("w", meta={"k": "v"}))
        self.assertEqual(self.ok(self.c.agent.services())["w"]["Meta"], {"k": "v"})

    def test_service_python_consul_check_dict(self) -> None:
        """A check dict in python-consul's lower-case spelling registers the same check."""
        self.ok(self.c.agent.service.register("w", check={"ttl": "10s"}))
        self.assertEqual(self.ok(self.c.agent.checks())["service:w"]["Type"], "ttl")

    def test_service_deregister(self) -> None:
        """service.deregister(service_id) fires True."""
        self.ok(self.c.agent.service.register("w"))
        self.assertIs(self.ok(self.c.agent.service.deregister("w")), True)
        self.assertEqual(self.ok(self.c.agent.services()), {})

    def test_service_maintenance_positional(self) -> None:
        """service.maintenance(service_id, 'true', reason) fires True."""
        self.ok(self.c.agent.service.register("w"))
        self.assertIs(self.ok(self.c.agent.service.maintenance("w", "true", "why")), True)
        self.assertEqual(self.ok(self.c.agent.checks())["_service_maintenance:w"]["Notes"], "why")

    def test_unknown_id_not_found(self) -> None:
        """An unknown service or check ID fails with NotFound (documented: python-consul returns False)."""
        for d in (
            self.c.agent.service.deregister("nope"),
            self.c.agent.service.maintenance("nope", "true"),
            self.c.agent.check.deregister("nope"),
            self.c.agent.check.ttl_pass("nope"),
        ):
            self.clock.advance(0)
            self.failureResultOf(d, NotFound)

    def test_check_register_positional(self) -> None:
        """check.register(name, check, check_id, notes, service_id) fires True and links the service."""
        self.ok(self.c.agent.service.register("w"))
        result = self.ok(self.c.agent.check.register("c", Consul.Check.ttl("10s"), "cid", "n", "w"))
        self.assertIs(result, True)
        check = self.ok(self.c.agent.checks())["cid"]
        self.assertEqual((check["Name"], check["Notes"], check["ServiceID"]), ("c", "n", "w"))

    def test_check_register_legacy_ttl_positional(self) -> None:
        """The deprecated ttl is check.register's 9th positional parameter."""
        self.ok(self.c.agent.check.register("c", None, None, None, None, None, None, None, "10s"))
        self.assertEqual(self.ok(self.c.agent.checks())["c"]["Type"], "ttl")

    def test_check_register_python_consul_dict(self) -> None:
        """A check dict spelled as python-consul builds it ({'ttl': ...}) is accepted."""
        self.assertIs(self.ok(self.c.agent.check.register("c", {"ttl": "10s"})), True)

    def test_ttl_updates(self) -> None:
        """ttl_pass/ttl_warn/ttl_fail(check_id, notes) fire True and set status and output."""
        self.ok(self.c.agent.check.register("c", Consul.Check.ttl("10s")))
        for method, status in (
            (self.c.agent.check.ttl_pass, "passing"),
            (self.c.agent.check.ttl_warn, "warning"),
            (self.c.agent.check.ttl_fail, "critical"),
        ):
            self.assertIs(self.ok(method("c", status + "!")), True)
            check = self.ok(self.c.agent.checks())["c"]
            self.assertEqual((check["Status"], check["Output"]), (status, status + "!"))

    def test_check_deregister(self) -> None:
        """check.deregister(check_id) fires True."""
        self.ok(self.c.agent.check.register("c", Consul.Check.ttl("10s")))
        self.assertIs(self.ok(self.c.agent.check.deregister("c")), True)
        self.assertNotIn("c", self.ok(self.c.agent.checks()))


class CatalogHealthTests(_Case):
    """catalog.* and health.*."""

    def setUp(self) -> None:
        super().setUp()
        self.ok(
            self.c.catalog.register(
                "n1",
                "10.1.1.1",
                {"Service": "redis", "ID": "r1", "Tags": ["v1"], "Port": 8000},
                {"CheckID": "chk", "Name": "chk", "Status": "passing", "ServiceID": "r1"},
            )
        )

    def test_register_true(self) -> None:
        """catalog.register(node, address, service, check) fires True."""
        self.assertIs(self.ok(self.c.catalog.register("n2", "10.1.1.2")), True)

    def test_register_client_dc_in_body(self) -> None:
        """The client's dc goes in the register/deregister body, where Consul reads it (as python-consul sends it)."""
        c = self.fake.client(dc="dc1")
        self.ok(c.catalog.register("n2", "10.1.1.2"))
        self.assertEqual(self.fake.requests[-1].json()["Datacenter"], "dc1")
        self.ok(c.catalog.deregister("n2"))
        self.assertEqual(self.fake.requests[-1].json()["Datacenter"], "dc1")

    def test_deregister_positional(self) -> None:
        """catalog.deregister(node, service_id) and (node, None, check_id) fire True and remove only that."""
        self.assertIs(self.ok(self.c.catalog.deregister("n1", None, "chk")), True)
        self.assertEqual(self.ok(self.c.health.node("n1"))[1], [])
        self.assertIs(self.ok(self.c.catalog.deregister("n1", "r1")), True)
        self.assertEqual(self.ok(self.c.catalog.service("redis"))[1], [])
        self.assertIs(self.ok(self.c.catalog.deregister("n1")), True)
        self.assertIsNone(self.ok(self.c.catalog.node("n1"))[1])

    def test_datacenters(self) -> None:
        """catalog.datacenters() fires a list of names."""
        self.assertEqual(self.ok(self.c.catalog.datacenters()), ["dc1"])

    def test_nodes(self) -> None:
        """catalog.nodes() fires (index, [{'Node', 'Address'}])."""
        index, nodes = self.ok(self.c.catalog.nodes())
        self.assertIndex(index)
        self.assertIn(("n1", "10.1.1.1"), [(n["Node"], n["Address"]) for n in nodes])

    def test_nodes_index_positional(self) -> None:
        """catalog.nodes(index, wait) positionally blocks until the catalog changes."""
        index, _ = self.ok(self.c.catalog.nodes())
        d = self.c.catalog.nodes(index, "1m")
        self.clock.advance(1)
        self.assertNoResult(d)
        self.ok(self.c.catalog.register("n2", "10.1.1.2"))
        self.assertIn("n2", [n["Node"] for n in self.ok(d)[1]])

    def test_services(self) -> None:
        """catalog.services() fires (index, {name: [tags]})."""
        index, services = self.ok(self.c.catalog.services())
        self.assertIndex(index)
        self.assertEqual(services["redis"], ["v1"])

    def test_node(self) -> None:
        """catalog.node(node) fires (index, {'Node': {...}, 'Services': {id: {...}}})."""
        index, data = self.ok(self.c.catalog.node("n1"))
        self.assertIndex(index)
        self.assertEqual(data["Node"]["Address"], "10.1.1.1")
        self.assertEqual(data["Services"]["r1"]["Port"], 8000)

    def test_node_unknown(self) -> None:
        """catalog.node of an unknown node fires (index, None)."""
        index, data = self.ok(self.c.catalog.node("nope"))
        self.assertIndex(index)
        self.assertIsNone(data)

    def test_service_tag_positional(self) -> None:
        """catalog.service(service, None, None, tag) filters by tag."""
        index, nodes = self.ok(self.c.catalog.service("redis", None, None, "v1"))
        self.assertIndex(index)
        self.assertEqual([(n["Node"], n["ServiceID"], n["ServicePort"]) for n in nodes], [("n1", "r1", 8000)])
        self.assertEqual(self.ok(self.c.catalog.service("redis", None, None, "v2"))[1], [])

    def test_health_service(self) -> None:
        """health.service(service) fires (index, [{'Node', 'Service', 'Checks'}])."""
        index, entries = self.ok(self.c.health.service("redis"))
        self.assertIndex(index)
        self.assertEqual(entries[0]["Service"]["ID"], "r1")
        self.assertEqual(entries[0]["Node"]["Node"], "n1")
        self.assertIn("chk", [c["CheckID"] for c in entries[0]["Checks"]])

    def test_health_service_passing_positional(self) -> None:
        """health.service(service, None, None, True) keeps only passing instances."""
        self.ok(
            self.c.catalog.register(
                "n2",
                "10.1.1.2",
                {"Service": "redis", "ID": "r2"},
                {"CheckID": "bad", "Name": "bad", "Status": "critical", "ServiceID": "r2"},
            )
        )
        _, entries = self.ok(self.c.health.service("redis", None, None, True))
        self.assertEqual([e["Service"]["ID"] for e in entries], ["r1"])
        _, entries = self.ok(self.c.health.service("redis"))
        self.assertEqual(len(entries), 2)

    def test_health_checks(self) -> None:
        """health.checks(service) fires (index, [check])."""
        index, checks = self.ok(self.c.health.checks("redis"))
        self.assertIndex(index)
        self.assertEqual([c["CheckID"] for c in checks], ["chk"])

    def test_health_state(self) -> None:
        """health.state(name) fires (index, [check]) for 'any' and 'passing'; 'critical' is empty here."""
        for state in ("any", "passing"):
            index, checks = self.ok(self.c.health.state(state))
            self.assertIndex(index)
            self.assertIn("chk", [c["CheckID"] for c in checks])
        self.assertEqual(self.ok(self.c.health.state("critical"))[1], [])

    def test_health_node(self) -> None:
        """health.node(node) fires (index, [check])."""
        index, checks = self.ok(self.c.health.node("n1"))
        self.assertIndex(index)
        self.assertEqual([c["CheckID"] for c in checks], ["chk"])


class SessionTests(_Case):
    """session.*."""

    def test_create_returns_id(self) -> None:
        """session.create() fires the session ID string."""
        sid = self.ok(self.c.session.create())
        self.assertIsInstance(sid, str)
        self.assertEqual(len(sid), 36)

    def test_create_positional(self) -> None:
        """session.create(name, node, checks, lock_delay, behavior, ttl) lands each argument."""
        node = self.ok(self.c.agent.self())["Config"]["NodeName"]
        sid = self.ok(self.c.session.create("s", node, [], 5, "delete", 10))
        _, info = self.ok(self.c.session.info(sid))
        self.assertEqual(
            (info["Name"], info["Node"], info["Behavior"], info["TTL"], info["LockDelay"]),
            ("s", node, "delete", "10s", 5 * 10**9),
        )

    def test_list_node_info(self) -> None:
        """session.list(), session.node(node) fire (index, [session]); session.info(id) fires (index, session)."""
        sid = self.ok(self.c.session.create("s"))
        node = self.ok(self.c.agent.self())["Config"]["NodeName"]
        for index, sessions in (self.ok(self.c.session.list()), self.ok(self.c.session.node(node))):
            self.assertIndex(index)
            self.assertEqual([s["ID"] for s in sessions], [sid])
        index, info = self.ok(self.c.session.info(sid))
        self.assertIndex(index)
        self.assertEqual(info["ID"], sid)

    def test_info_unknown(self) -> None:
        """session.info of an unknown ID fires (index, None)."""
        index, info = self.ok(self.c.session.info("00000000-0000-0000-0000-000000000000"))
        self.assertIndex(index)
        self.assertIsNone(info)

    def test_renew(self) -> None:
        """session.renew(id) fires the session dict; a gone session fails with NotFound."""
        sid = self.ok(self.c.session.create(ttl=10))
        self.assertEqual(self.ok(self.c.session.renew(sid))["ID"], sid)
        self.ok(self.c.session.destroy(sid))
        d = self.c.session.renew(sid)
        self.clock.advance(0)
        self.failureResultOf(d, NotFound)

    def test_destroy(self) -> None:
        """session.destroy(id) fires True and the session is gone."""
        sid = self.ok(self.c.session.create())
        self.assertIs(self.ok(self.c.session.destroy(sid)), True)
        self.assertEqual(self.ok(self.c.session.list())[1], [])


class LegacyACLTests(_Case):
    """acl.* (the legacy API python-consul has), with ACLs enabled on the Consul 1.10 profile that has it."""

    fake_kwargs = {"acl_master_token": "root", "legacy_acl": True}
    client_kwargs = {"token": "root"}
    rules = 'key "" { policy = "read" }'

    def test_create_returns_id(self) -> None:
        """acl.create(name, type, rules) fires the new ACL's ID string."""
        acl_id = self.ok(self.c.acl.create("n", "client", self.rules))
        self.assertIsInstance(acl_id, str)
        info = self.ok(self.c.acl.info(acl_id))
        self.assertEqual((info["Name"], info["Type"], info["Rules"]), ("n", "client", self.rules))

    def test_create_with_id_positional(self) -> None:
        """acl.create(name, type, rules, acl_id) creates the ACL with that ID."""
        acl_id = "11111111-2222-3333-4444-555555555555"
        self.assertEqual(self.ok(self.c.acl.create("n", "client", None, acl_id)), acl_id)

    def test_list(self) -> None:
        """acl.list() fires a list of ACL dicts."""
        acl_id = self.ok(self.c.acl.create("n"))
        self.assertIn(acl_id, [a["ID"] for a in self.ok(self.c.acl.list())])

    def test_info_unknown(self) -> None:
        """acl.info of an unknown ID fires None."""
        self.assertIsNone(self.ok(self.c.acl.info("00000000-0000-0000-0000-000000000001")))

    def test_update_returns_id(self) -> None:
        """acl.update(acl_id, name) fires the ACL ID and renames it."""
        acl_id = self.ok(self.c.acl.create("n"))
        self.assertEqual(self.ok(self.c.acl.update(acl_id, "n2")), acl_id)
        self.assertEqual(self.ok(self.c.acl.info(acl_id))["Name"], "n2")

    def test_clone_returns_new_id(self) -> None:
        """acl.clone(acl_id) fires a new, different ID."""
        acl_id = self.ok(self.c.acl.create("n"))
        clone = self.ok(self.c.acl.clone(acl_id))
        self.assertIsInstance(clone, str)
        self.assertNotEqual(clone, acl_id)

    def test_destroy_true(self) -> None:
        """acl.destroy(acl_id) fires True and the ACL is gone."""
        acl_id = self.ok(self.c.acl.create("n"))
        self.assertIs(self.ok(self.c.acl.destroy(acl_id)), True)
        self.assertIsNone(self.ok(self.c.acl.info(acl_id)))

    def test_token_positional_denied(self) -> None:
        """acl.list(token) uses that token: a client token is denied with ACLPermissionDenied."""
        client_id = self.ok(self.c.acl.create("n", "client", self.rules))
        d = self.c.acl.list(client_id)
        self.clock.advance(0)
        self.failureResultOf(d, ACLPermissionDenied)


class ACLDisabledTests(_Case):
    """acl.* against a Consul 1.10 agent without ACLs."""

    fake_kwargs = {"legacy_acl": True}

    def test_acl_disabled(self) -> None:
        """With ACLs off, acl.list() fails with ACLDisabled, as in python-consul."""
        d = self.c.acl.list()
        self.clock.advance(0)
        self.failureResultOf(d, ACLDisabled)


class EventStatusTests(_Case):
    """event.*, status.*."""

    def test_fire(self) -> None:
        """event.fire(name, body) fires the event dict with its ID and Name."""
        event = self.ok(self.c.event.fire("deploy", "v1"))
        self.assertEqual(event["Name"], "deploy")
        self.assertIsInstance(event["ID"], str)

    def test_fire_filters_positional(self) -> None:
        """event.fire(name, body, node, service, tag) sends the filters."""
        event = self.ok(self.c.event.fire("deploy", "", "n.*", "web", "v1"))
        self.assertEqual(
            (event["NodeFilter"], event["ServiceFilter"], event["TagFilter"]), ("n.*", "web", "v1")
        )

    def test_list_payload_bytes(self) -> None:
        """event.list() fires (index, [event]) with Payload as bytes (None when empty)."""
        self.ok(self.c.event.fire("deploy", "v1"))
        self.ok(self.c.event.fire("empty"))
        index, events = self.ok(self.c.event.list())
        self.assertIndex(index)
        self.assertEqual([(e["Name"], e["Payload"]) for e in events], [("deploy", b"v1"), ("empty", None)])

    def test_list_name_positional(self) -> None:
        """event.list(name) keeps only events of that name."""
        self.ok(self.c.event.fire("a"))
        self.ok(self.c.event.fire("b"))
        self.assertEqual([e["Name"] for e in self.ok(self.c.event.list("b"))[1]], ["b"])

    def test_status(self) -> None:
        """status.leader() fires 'host:port'; status.peers() a list of those."""
        leader = self.ok(self.c.status.leader())
        self.assertIsInstance(leader, str)
        self.assertIn(":", leader)
        self.assertEqual(self.ok(self.c.status.peers()), [leader])


class QueryCoordinateOperatorTests(_Case):
    """query.*, coordinate.*, operator.*."""

    def setUp(self) -> None:
        super().setUp()
        self.ok(self.c.agent.service.register("web", port=80))

    def test_query_lifecycle(self) -> None:
        """create fires {'ID'}; list and get fire lists; update and delete fire True."""
        created = self.ok(self.c.query.create("web", "q"))
        qid = created["ID"]
        self.assertIsInstance(qid, str)
        self.assertEqual([q["ID"] for q in self.ok(self.c.query.list())], [qid])
        got = self.ok(self.c.query.get(qid))
        self.assertEqual([(q["ID"], q["Name"]) for q in got], [(qid, "q")])
        self.assertIs(self.ok(self.c.query.update(qid, "web", "q2")), True)
        self.assertEqual(self.ok(self.c.query.get(qid))[0]["Name"], "q2")
        self.assertIs(self.ok(self.c.query.delete(qid)), True)
        self.assertEqual(self.ok(self.c.query.list()), [])

    def test_query_create_positional(self) -> None:
        """query.create(service, name, dc, session, token, nearestn, datacenters, onlypassing, tags, ttl)."""
        qid = self.ok(self.c.query.create("web", "q", None, None, None, 2, ["dc2"], True, ["v1"], "10s"))[
            "ID"
        ]
        q = self.ok(self.c.query.get(qid))[0]
        svc = q["Service"]
        self.assertEqual(
            (
                svc["Failover"]["NearestN"],
                svc["Failover"]["Datacenters"],
                svc["OnlyPassing"],
                svc["Tags"],
                q["DNS"]["TTL"],
            ),
            (2, ["dc2"], True, ["v1"], "10s"),
        )

    def test_query_execute_explain(self) -> None:
        """query.execute fires {'Service', 'Nodes', ...}; query.explain fires {'Query': {...}}."""
        self.ok(self.c.query.create("web", "q"))
        result = self.ok(self.c.query.execute("q"))
        self.assertEqual(result["Service"], "web")
        self.assertEqual([n["Service"]["Service"] for n in result["Nodes"]], ["web"])
        self.assertEqual(self.ok(self.c.query.explain("q"))["Query"]["Name"], "q")

    def test_query_execute_limit_positional(self) -> None:
        """query.execute(query, token, dc, near, limit) limits the nodes."""
        self.ok(self.c.query.create("web", "q"))
        self.ok(self.c.query.execute("q", None, None, None, 1))
        self.assertEqual(self.fake.requests[-1].params().get("limit"), "1")

    def test_coordinate(self) -> None:
        """coordinate.datacenters() fires a list; coordinate.nodes() fires (index, [{'Node', 'Coord'}])."""
        dcs = self.ok(self.c.coordinate.datacenters())
        self.assertEqual(dcs[0]["Datacenter"], "dc1")
        index, nodes = self.ok(self.c.coordinate.nodes())
        self.assertIndex(index)
        self.assertIn("Coord", nodes[0])

    def test_coordinate_nodes_dc_positional(self) -> None:
        """coordinate.nodes(dc) takes the datacenter first, as python-consul does."""
        self.ok(self.c.coordinate.nodes("dc1"))
        self.assertEqual(self.fake.requests[-1].params().get("dc"), "dc1")

    def test_raft_config(self) -> None:
        """operator.raft_config() fires {'Servers': [...], 'Index': n}."""
        config = self.ok(self.c.operator.raft_config())
        self.assertTrue(config["Servers"][0]["Leader"])
        self.assertIn("Index", config)
