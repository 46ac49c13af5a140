"""
The signature lists of docs/api.md match the real signatures.

docs/api.md opens each endpoint group with a ``<!-- not-run -->`` python
block listing the group's methods, such as::

    kv.get(key, index=None, recurse=False, wait=None, token=None, consistency=None,
           keys=False, separator=None, dc=None, *, meta=False)

The rule for what counts as a signature line:

- only lines of ```python blocks preceded by ``<!-- not-run -->`` are read;
- the line starts in column 0 with a dotted name directly followed by
  ``(``, and the name's first part is a public attribute of a ``Consul``
  client (``kv``, ``agent``, ``acl``, ``config``, ``Check``...), or the
  name is ``Consul`` itself (the constructor, checked against
  ``Consul.__init__``);
- the name may be preceded by an assignment (``mon = agent.monitor(...)``,
  not for ``Consul``) and followed by alternatives for its last part,
  possibly continued on the next line (``agent.token.set_default /
  set_agent(secret, token=None)``): each alternative is checked against the
  same parameters;
- it continues over the following lines until its parentheses balance; a
  ``# comment`` after the closing parenthesis is ignored;
- a list ending in ``...`` (``catalog.connect(service, ...)``, "the same
  arguments as ...") documents only a prefix: the parameters written must be
  the method's first ones, as they are, and the rest is not checked.

Usage examples (``yield c.kv.get(...)``, ``index, x = ...``,
``apply(entries)``) do not match this rule and are skipped.

Each signature is compared with ``inspect.signature`` of the method looked
up on a real client: the same parameter names in the same order, the same
kinds (positional, ``*args``, keyword-only after ``*``, ``**kwargs``), and
the same defaults (the doc's default is evaluated as a Python literal and
compared by value and type; a default that is not a literal is compared as
text with ``repr`` of the real one).
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any, Iterator, List, Optional, Tuple

import attr
from twisted.internet import task
from twisted.trial.unittest import SynchronousTestCase

import txconsul
from txconsul.testing import FakeConsul

API_MD = Path(__file__).resolve().parent.parent / "docs" / "api.md"

#: The marker of a fragment, on the line before its opening fence.
NOT_RUN = "<!-- not-run -->"

#: A candidate signature line: at column 0, optionally ``name = ``, a dotted
#: name, optionally `` / other / names`` (alternatives for its last part),
#: then ``(``.
_START = re.compile(
    r"^(?P<assign>[A-Za-z_]\w*\s*=\s*)?"
    r"(?P<path>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
    r"(?P<alts>(?:\s*/\s*[A-Za-z_]\w*)*)\("
)

#: A line that lists alternatives and goes on to the next line:
#: ``agent.token.set_default / set_agent /``.
_OPEN_ALTERNATIVES = re.compile(r"^[A-Za-z_][\w.]*(?:\s*/\s*[A-Za-z_]\w*)*\s*/\s*$")

#: No signature list of docs/api.md holds fewer than this many; a parser that
#: finds fewer is broken.
MIN_SIGNATURES = 120


@attr.s(auto_attribs=True, frozen=True)
class DocSignature:
    """One signature line of the docs: where it is and what it says."""

    lineno: int
    group: str
    path: str
    params: str
    text: str


def _close(text: str, start: int) -> Optional[int]:
    """
    The index of the parenthesis that closes the one at ``text[start]``,
    skipping strings and comments; ``None`` while it is not closed.
    """
    depth = 0
    i = start
    quote = None
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            nl = text.find("\n", i)
            if nl < 0:
                return None
            i = nl
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _blocks(markdown: str) -> Iterator[Tuple[int, str, List[str]]]:
    """
    Yield ``(first line number, heading, lines)`` for each not-run python
    block; the heading is the nearest ``#`` heading above it.
    """
    lines = markdown.splitlines()
    heading = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.strip() == "```python" and i > 0 and lines[i - 1].strip() == NOT_RUN:
            body = []
            j = i + 1
            while j < len(lines) and lines[j].strip() != "```":
                body.append(lines[j])
                j += 1
            yield i + 2, heading, body
            i = j
        i += 1


def _is_signature_name(path: str, client: Any) -> bool:
    """Whether a dotted name is one the rule treats as a signature."""
    if path == "Consul":
        return True
    first = path.split(".")[0]
    return not first.startswith("_") and hasattr(client, first)


def parse_signatures(markdown: str, client: Any) -> List[DocSignature]:
    """Every signature line of the not-run python blocks of ``markdown``."""
    found = []
    for first_lineno, heading, body in _blocks(markdown):
        k = 0
        while k < len(body):
            text = body[k]
            last = k
            while _OPEN_ALTERNATIVES.match(text) and last + 1 < len(body):
                last += 1
                text = text.rstrip() + " " + body[last].strip()
            m = _START.match(text)
            if (
                not m
                or not _is_signature_name(m.group("path"), client)
                or (m.group("assign") and m.group("path") == "Consul")
            ):
                k += 1
                continue
            end = _close(text, m.end() - 1)
            while end is None and last + 1 < len(body):
                last += 1
                text += "\n" + body[last]
                end = _close(text, m.end() - 1)
            if end is None:
                raise ValueError(f"docs line {first_lineno + k}: unbalanced parentheses in {text!r}")
            path = m.group("path")
            paths = [path]
            for alt in m.group("alts").split("/")[1:]:
                paths.append(path.rpartition(".")[0] + "." + alt.strip())
            for one in paths:
                found.append(
                    DocSignature(
                        lineno=first_lineno + k,
                        group=heading,
                        path=one,
                        params=text[m.end() : end],
                        text=text[: end + 1],
                    )
                )
            k = last + 1
    return found


def _resolve(path: str, client: Any) -> Tuple[Any, bool]:
    """
    The callable a doc name stands for, and whether its first parameter
    (``self``) is to be dropped.
    """
    if path == "Consul":
        return txconsul.Consul.__init__, True
    target = client
    for part in path.split("."):
        target = getattr(target, part)
    return target, False


def _doc_default(node: ast.expr) -> Tuple[bool, Any, str]:
    """``(is a literal, value, text)`` of a default in the docs."""
    text = ast.unparse(node)
    try:
        return True, ast.literal_eval(node), text
    except ValueError:
        return False, None, text


def compare(doc: DocSignature, client: Any) -> List[str]:
    """The differences between one doc signature and the real one."""
    try:
        target, drop_self = _resolve(doc.path, client)
    except AttributeError as e:
        return [f"no such method on the client ({e})"]
    try:
        real = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError) as e:
        return [f"has no signature ({e})"]
    if drop_self:
        real = real[1:]
    params = doc.params.rstrip()
    partial = params.endswith("...")
    if partial:
        params = params[: -len("...")].rstrip().rstrip(",")
    try:
        tree = ast.parse(f"def _({params}):\n    pass\n")
    except SyntaxError as e:
        return [f"the doc's parameters do not parse ({e.msg})"]
    args = tree.body[0].args  # type: ignore[attr-defined]
    documented: List[Tuple[str, Any, Any]] = []
    positional = args.posonlyargs + args.args
    pos_defaults = [None] * (len(positional) - len(args.defaults)) + args.defaults
    P = inspect.Parameter
    for a, d in zip(positional, pos_defaults, strict=True):
        kind = P.POSITIONAL_ONLY if a in args.posonlyargs else P.POSITIONAL_OR_KEYWORD
        documented.append((a.arg, kind, d))
    if args.vararg:
        documented.append((args.vararg.arg, P.VAR_POSITIONAL, None))
    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        documented.append((a.arg, P.KEYWORD_ONLY, d))
    if args.kwarg:
        documented.append((args.kwarg.arg, P.VAR_KEYWORD, None))

    problems = []
    doc_names = [n for n, _, _ in documented]
    if partial:
        real = real[: len(documented)]
    real_names = [p.name for p in real]
    if doc_names != real_names:
        missing = [n for n in real_names if n not in doc_names]
        extra = [n for n in doc_names if n not in real_names]
        detail = []
        if missing:
            detail.append(f"missing {missing}")
        if extra:
            detail.append(f"not in the code {extra}")
        if not missing and not extra:
            detail.append("order differs")
        problems.append("parameters differ: " + "; ".join(detail))
        return problems
    for (name, kind, default), p in zip(documented, real, strict=True):
        if kind != p.kind:
            problems.append(f"{name}: documented as {kind.description}, is {p.kind.description}")
        if default is None:
            if p.default is not P.empty:
                problems.append(f"{name}: no default documented, real default {p.default!r}")
            continue
        if p.default is P.empty:
            problems.append(f"{name}: documented default {ast.unparse(default)}, real has none")
            continue
        literal, value, text = _doc_default(default)
        if literal:
            same = type(value) is type(p.default) and value == p.default
        else:
            same = text == repr(p.default)
        if not same:
            problems.append(f"{name}: documented default {text}, real default {p.default!r}")
    return problems


def _real_text(doc: DocSignature, client: Any) -> str:
    """The real signature of a doc line, for the failure report."""
    try:
        target, drop_self = _resolve(doc.path, client)
        sig = inspect.signature(target)
    except (AttributeError, TypeError, ValueError):
        return f"(no {doc.path})"
    params = list(sig.parameters.values())
    if drop_self:
        params = params[1:]
    return f"{doc.path}{sig.replace(parameters=params, return_annotation=inspect.Signature.empty)}"


def mismatches(markdown: str, client: Any) -> List[str]:
    """A report line for every doc signature that differs from the code."""
    out = []
    for doc in parse_signatures(markdown, client):
        problems = compare(doc, client)
        if problems:
            out.append(
                f"docs/api.md:{doc.lineno} [{doc.group}] {doc.text}\n"
                f"    real: {_real_text(doc, client)}\n" + "".join(f"    - {p}\n" for p in problems)
            )
    return out


def _client() -> Any:
    """A client over FakeConsul; nothing is sent."""
    return FakeConsul(task.Clock()).client()


class DocsSignaturesTests(SynchronousTestCase):
    """docs/api.md's signature lists against the code."""

    def test_all_signatures_match(self) -> None:
        """Every signature line of docs/api.md matches the method's real signature."""
        report = mismatches(API_MD.read_text(encoding="utf-8"), _client())
        if report:
            self.fail(
                f"{len(report)} signature(s) of docs/api.md differ from the code:\n\n" + "\n".join(report)
            )

    def test_parser_finds_signatures(self) -> None:
        """The parser finds a plausible number of signatures in every main group."""
        client = _client()
        found = parse_signatures(API_MD.read_text(encoding="utf-8"), client)
        self.assertGreaterEqual(len(found), MIN_SIGNATURES)
        paths = {d.path for d in found}
        for expected in (
            "Consul",
            "kv.get",
            "agent.service.register",
            "Check.http",
            "acl.token.create",
            "health.service",
            "catalog.service",
        ):
            self.assertIn(expected, paths)

    def test_wrong_snippet_is_reported(self) -> None:
        """A wrong name, default, ``*``, method or elided prefix is reported; a right one is not."""
        client = _client()
        snippet = (
            "# KV\n"
            "<!-- not-run -->\n"
            "```python\n"
            "kv.get(key, index=None, recurse=True, wait=None, token=None, consistency=None,\n"
            "       keys=False, separator=None, dc=None, *, meta=False)\n"
            "kv.delete(key, recurse=None, cas=None, tokn=None, dc=None)\n"
            "txn.put(payload, token=None, dc=None, consistency=None)  # a comment\n"
            "kv.nope(key)\n"
            "kv.put(key, value, cas=None, flags=None, acquire=None, release=None, token=None,\n"
            "       dc=None)\n"
            "catalog.connect(service, index=None, ...)  # catalog.service's\n"
            "health.connect(service, wait=None, ...)\n"
            "d = kv.delete(key, recurse=None, cas=None, token=None, dc=None)\n"
            "agent.token.set_default / set_agent /\n"
            "    set_nope(secret, token=None)\n"
            "c = Consul(token=t)\n"
            "yield c.kv.get('x')\n"
            "apply(entries)\n"
            "```\n"
        )
        found = parse_signatures(snippet, client)
        self.assertEqual(
            [d.path for d in found],
            [
                "kv.get",
                "kv.delete",
                "txn.put",
                "kv.nope",
                "kv.put",
                "catalog.connect",
                "health.connect",
                "kv.delete",
                "agent.token.set_default",
                "agent.token.set_agent",
                "agent.token.set_nope",
            ],
        )
        report = mismatches(snippet, client)
        self.assertEqual(len(report), 6, report)
        joined = "\n".join(report)
        self.assertIn("recurse: documented default True, real default False", joined)
        self.assertIn("not in the code ['tokn']", joined)
        self.assertIn("token: documented as positional or keyword, is keyword-only", joined)
        self.assertIn("docs/api.md:8 [KV] kv.nope(key)", joined)
        self.assertIn("health.connect(service, wait=None, ...)", joined)
        self.assertNotIn("catalog.connect", joined)
        self.assertIn("- no such method on the client", joined)
        self.assertIn("set_nope(secret, token=None)\n    real: (no agent.token.set_nope)", joined)

    def test_fragment_without_marker_is_ignored(self) -> None:
        """A python block not marked ``<!-- not-run -->`` is not read for signatures."""
        snippet = "```python\nkv.get(nothing)\n```\n"
        self.assertEqual(parse_signatures(snippet, _client()), [])
