"""
Every code block of README.md and docs/*.md runs, as a user would run it.

How blocks are treated (the rules are also in docs/index.md, "Examples are
tested"):

- A ```python block runs in a fresh interpreter, in a scratch directory,
  with ``CONSUL_HTTP_ADDR`` pointing at a ``twistd consul-fake`` process
  started for that page (ACLs off).  It must exit 0 within a minute.  A block
  that defines a ``TestCase`` is run with trial instead, and its tests must
  pass.
- A block whose first line is ``# NAME.py`` is a module other blocks import:
  it is written to ``NAME.py`` in the scratch directory (before any block of
  the page runs) and not run by itself.
- A block preceded by ``<!-- not-run -->`` (on the line before its opening
  fence) is a fragment (a signature list, a few lines that need a client in
  scope...): it is not run.  A runnable block that does not compile as a
  program is reported with a pointer to the marker.
- In ```sh blocks, each ``twistd`` command runs against the page's
  consul-fake: ``consul-fake`` on a free port instead of the one written (a
  unix socket moves into the scratch directory) must start listening;
  ``consul-watch`` must start and keep running, or exit 0.  Both must stop
  cleanly on SIGTERM.  ``--config watches.json`` reads the page's ```json
  block that has a "watches" list (or docs/watches.md's), its HTTP handler
  URLs pointed at loopback.  The Quick start's install commands are
  run by tests/test_cli_packaging.py, which then runs this module again with
  the installed ``twistd`` (TXCONSUL_DOCS_TWISTD).

These tests start real processes on loopback (that is what is documented);
every wait is bounded.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Optional

import attr
from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))

#: The marker of a fragment, on the line before its opening fence.
NOT_RUN = "<!-- not-run -->"

#: TXCONSUL_DOCS_TWISTD names an installed ``twistd`` to run the documented
#: commands with, instead of this checkout's (tests/test_cli_packaging.py
#: sets it after the Quick start's commands): then nothing adds the checkout
#: to the processes' path, and the plugins must come from the install.
INSTALLED_TWISTD = os.environ.get("TXCONSUL_DOCS_TWISTD")
TWISTD = (
    [INSTALLED_TWISTD]
    if INSTALLED_TWISTD
    else [sys.executable, "-c", "from twisted.scripts.twistd import run; run()"]
)
TRIAL = [sys.executable, "-c", "from twisted.scripts.trial import run; run()"]

#: Seconds a python block may take.
BLOCK_TIMEOUT = 90

_FENCE = re.compile(r"^```([\w-]*)\s*$")
_MODULE = re.compile(r"^#\s*([A-Za-z_][A-Za-z0-9_]*)\.py\s*$")


@attr.s(auto_attribs=True, frozen=True)
class Block:
    """One fenced code block of a page."""

    path: Path
    line: int  #: line number of the opening fence
    lang: str
    code: str
    run: bool  #: False when marked <!-- not-run -->

    @property
    def where(self) -> str:
        """``page:line``, for failure messages."""
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def module(self) -> Optional[str]:
        """``NAME`` when the block starts with a ``# NAME.py`` line."""
        first = self.code.split("\n", 1)[0]
        m = _MODULE.match(first)
        return m.group(1) if m else None


def parse_blocks(path: Path, text: Optional[str] = None) -> list[Block]:
    """The fenced blocks of a Markdown page, in order."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).split("\n")
    blocks = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        start, lang = i, m.group(1)
        before = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        body = []
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        i += 1
        blocks.append(Block(path, start + 1, lang, "\n".join(body) + "\n", before != NOT_RUN))
    return blocks


def as_signatures(code: str) -> str:
    """
    A block of call signatures (``kv.get(key, index=None, *, meta=False)``)
    as ``def`` statements, which may have ``*`` and defaults.
    """
    out = []
    depth = 0
    for line in code.splitlines():
        if depth == 0:
            line = re.sub(r"^([A-Za-z_][\w.]*)\(", "def _signature(", line)
        depth += line.count("(") - line.count(")")
        if depth == 0 and line.startswith(("def _signature(", " ")) and line.rstrip().endswith(")"):
            line += ": pass"
        out.append(line)
    return "\n".join(out) + "\n"


def as_session(code: str) -> str:
    """The code of an interactive session (``>>>`` and ``...`` lines), without the output."""
    lines = [line[4:] for line in code.splitlines() if line.startswith((">>> ", "... "))]
    return "\n".join(lines) + "\n"


def compiles(code: str) -> Optional[str]:
    """
    None when ``code`` compiles: as a module, as the body of a function
    (``yield``, ``await``), as call signatures or as an interactive session;
    otherwise the first error.
    """
    error = ""
    candidates = [
        code,
        "def _fragment():\n" + textwrap.indent(code, "    "),
        "async def _fragment():\n" + textwrap.indent(code, "    "),
        as_signatures(code),
    ]
    if code.lstrip().startswith(">>> "):
        session = as_session(code)
        candidates += [session, "async def _fragment():\n" + textwrap.indent(session, "    ")]
    for candidate in candidates:
        try:
            compile(candidate, "<block>", "exec")
            return None
        except SyntaxError as e:
            error = error or f"{e.msg} (line {e.lineno})"
    return error


def _compiles_as_module(code: str) -> bool:
    try:
        compile(code, "<block>", "exec")
        return True
    except SyntaxError:
        return False


def defines_tests(code: str) -> bool:
    """Whether ``code`` defines a class deriving from a ``*TestCase``."""
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if name.endswith("TestCase"):
                    return True
    return False


def twistd_commands(code: str) -> list[list[str]]:
    """The ``twistd`` commands of a shell block, as argument lists."""
    joined = code.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[-1] == "&":
            words = words[:-1]
        if words and words[0] == "twistd":
            commands.append(words[1:])
    return commands


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(
    proc: subprocess.Popen, port: Optional[int] = None, unix: Optional[str] = None, timeout: float = 30.0
) -> bool:
    """Whether ``proc`` accepts connections (TCP ``port`` or ``unix`` socket) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if unix is not None:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(0.2)
                    s.connect(unix)
            else:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def stop(proc: subprocess.Popen) -> Optional[int]:
    """SIGTERM, then the exit status (None if it had to be killed)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
            return None
    return proc.returncode


class ParsingTests(SynchronousTestCase):
    """How blocks are found and classified (no processes)."""

    def test_marker_and_fences(self) -> None:
        """A block after <!-- not-run --> is a fragment; others run; languages are kept."""
        text = (
            "x\n<!-- not-run -->\n\n```python\na(\n```\n\n```sh\ntwistd -n consul-fake &\n```\n"
            "```python\n# helper.py\nX = 1\n```\n"
        )
        a, b, c = parse_blocks(ROOT / "README.md", text)
        self.assertEqual((a.lang, a.run, a.line), ("python", False, 4))
        self.assertEqual((b.lang, b.run), ("sh", True))
        self.assertEqual((c.module, a.module), ("helper", None))

    def test_compiles_tells_fragments_from_errors(self) -> None:
        """compiles() accepts fragment forms (function bodies, signatures, sessions), not syntax errors."""
        self.assertIsNone(compiles("index, data = yield c.kv.get('k')\n"))
        self.assertIsNone(compiles("x = await c.kv.get('k')\n"))
        self.assertIsNone(compiles("kv.get(key, index=None,\n       *, meta=False)\nkv.put(k)\n"))
        self.assertIsNone(compiles(">>> c.kv.get('k', wait='11m')\nValueError: ...\n"))
        self.assertIsNotNone(compiles("def (:\n"))

    def test_twistd_commands(self) -> None:
        """twistd lines are found, with continuations, comments and a trailing & removed."""
        code = (
            "twistd -n --pidfile= consul-fake --listen tcp:1 \\\n    --node-name a &\n"
            "CONSUL_HTTP_ADDR=x python app.py\ntwistd -n consul-fake   # the default\n"
        )
        self.assertEqual(
            twistd_commands(code),
            [
                ["-n", "--pidfile=", "consul-fake", "--listen", "tcp:1", "--node-name", "a"],
                ["-n", "consul-fake"],
            ],
        )

    def test_defines_tests(self) -> None:
        """A block defining a *TestCase subclass is run by trial."""
        self.assertTrue(defines_tests("from x import y\nclass T(unittest.SynchronousTestCase): pass\n"))
        self.assertFalse(defines_tests("class T(object): pass\n"))


class PageCase(SynchronousTestCase):
    """Runs one page's blocks; subclasses name the page."""

    page = ""

    def setUp(self) -> None:
        if not self.page:
            return
        self.path = ROOT / self.page
        self.blocks = parse_blocks(self.path)
        self.dir = Path(self.mktemp()).resolve()
        self.dir.mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CONSUL_")}
        path = [str(self.dir)] if INSTALLED_TWISTD else [str(self.dir), str(ROOT)]
        self.env["PYTHONPATH"] = os.pathsep.join(path)
        self.fake_port: Optional[int] = None

    def start_fake(self) -> int:
        """The page's consul-fake process (started once)."""
        if self.fake_port is None:
            port = free_port()
            proc = self.spawn(
                [
                    "-n",
                    "--pidfile=",
                    "--logfile=fake.log",
                    "consul-fake",
                    "--listen",
                    f"tcp:{port}:interface=127.0.0.1",
                ]
            )
            self.addCleanup(stop, proc)
            if not wait_listening(proc, port):
                self.fail(f"consul-fake did not start for {self.page}")
            self.fake_port = port
            self.env["CONSUL_HTTP_ADDR"] = f"127.0.0.1:{port}"
        return self.fake_port

    def spawn(self, args: list[str], env: Optional[dict[str, str]] = None) -> subprocess.Popen:
        """Start ``twistd ARGS`` in the scratch directory; killed at cleanup."""
        proc = subprocess.Popen(
            TWISTD + args,
            cwd=str(self.dir),
            env=env or self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )

        def kill() -> None:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)

        self.addCleanup(kill)
        return proc

    def test_blocks(self) -> None:
        """Every runnable block of the page runs; every fragment compiles."""
        if not self.page:
            return
        failures: list[str] = []
        for block in self.blocks:
            if block.lang == "python" and block.module:
                (self.dir / f"{block.module}.py").write_text(block.code, encoding="utf-8")
        for block in self.blocks:
            problem = self.check(block)
            if problem:
                failures.append(f"{block.where} ({block.lang}): {problem}")
        if failures:
            self.fail("\n\n".join(failures))

    def check(self, block: Block) -> Optional[str]:
        """Run or compile one block; a description of what went wrong, or None."""
        if block.lang == "python":
            if not block.run:
                # A fragment may be pseudo-code (signature lists, "a / b"
                # alternatives, "..."): it is documentation, not checked.
                return None
            if block.module:
                return None
            error = compiles(block.code)
            if error is None and not _compiles_as_module(block.code):
                return f"not a program (it needs a function around it): mark it {NOT_RUN} if it is a fragment"
            if error is not None:
                return f"does not compile: {error}"
            return self.run_python(block)
        if block.lang == "sh" and block.run:
            for argv in twistd_commands(block.code):
                problem = self.run_twistd(block, argv)
                if problem:
                    return problem
        return None

    def run_python(self, block: Block) -> Optional[str]:
        """Run a python block in a fresh interpreter (trial for a block of tests)."""
        self.start_fake()
        name = f"docblock_{block.line}"
        (self.dir / f"{name}.py").write_text(block.code, encoding="utf-8")
        if defines_tests(block.code):
            # Not "-m twisted.trial": Twisted 22.10's __main__ needs pkg_resources.
            argv = [*TRIAL, "--temp-directory", f"_trial_{name}", name]
        else:
            argv = [sys.executable, f"{name}.py"]
        try:
            done = subprocess.run(
                argv,
                cwd=str(self.dir),
                env=self.env,
                capture_output=True,
                text=True,
                timeout=BLOCK_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return f"did not finish within {BLOCK_TIMEOUT}s"
        if done.returncode != 0:
            return f"exit status {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return None

    def run_twistd(self, block: Block, argv: list[str]) -> Optional[str]:
        """Run one documented twistd command against the page's fake; stop it."""
        argv = list(argv)
        if "consul-fake" in argv:
            return self.run_fake_command(argv)
        if "consul-watch" in argv:
            return self.run_watch_command(block, argv)
        return None

    def run_fake_command(self, argv: list[str]) -> Optional[str]:
        """A documented consul-fake command, on a free port (or a scratch unix socket)."""
        at = argv.index("consul-fake")
        rest = argv[at + 1 :]
        unix = None
        port = free_port()
        listen = f"tcp:{port}:interface=127.0.0.1"
        for flag in ("--listen", "-l"):
            if flag in rest:
                i = rest.index(flag)
                if rest[i + 1].startswith("unix:"):
                    # A short path: AF_UNIX paths are limited to about 100 bytes.
                    short = tempfile.mkdtemp(prefix="txc-")
                    self.addCleanup(shutil.rmtree, short, True)
                    unix = os.path.join(short, "fake.sock")
                    listen = f"unix:{unix}"
                rest[i + 1] = listen
                break
        else:
            rest = ["--listen", listen] + rest
        options = [a for a in argv[:at] if not a.startswith("--pidfile")]
        proc = self.spawn(options + ["--pidfile=", "consul-fake"] + rest)
        if not wait_listening(proc, port, unix):
            out, err = proc.communicate(timeout=10) if proc.poll() is not None else ("", "")
            return f"twistd {' '.join(argv)}: did not listen\n{out}\n{err}"
        code = stop(proc)
        if code not in (0, -signal.SIGTERM):
            return f"twistd {' '.join(argv)}: exit status {code} on SIGTERM"
        return None

    def run_watch_command(self, block: Block, argv: list[str]) -> Optional[str]:
        """A documented consul-watch command against the page's fake."""
        self.start_fake()
        if "--config" in argv:
            name = argv[argv.index("--config") + 1]
            doc = self.watches_json()
            if doc is None:
                return f"--config {name}: no json block with a 'watches' list"
            (self.dir / name).write_text(doc, encoding="utf-8")
        options = [a for a in argv if not a.startswith("--pidfile")]
        at = options.index("consul-watch")
        proc = self.spawn(options[:at] + ["--pidfile="] + options[at:])
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        code = proc.poll()
        if code is None:
            code = stop(proc)
            if code not in (0, -signal.SIGTERM):
                return f"twistd {' '.join(argv)}: exit status {code} on SIGTERM"
            return None
        if code != 0:
            out, err = proc.communicate(timeout=10)
            return f"twistd {' '.join(argv)}: exit status {code}\n{out[-2000:]}\n{err[-2000:]}"
        return None

    def watches_json(self) -> Optional[str]:
        """
        The ```json block with a "watches" list (for ``--config``) of the page,
        else of docs/watches.md, which documents the format.  HTTP handler
        URLs are pointed at a closed loopback port: examples name hosts that
        must not be contacted from a test.
        """
        for blocks in (self.blocks, parse_blocks(ROOT / "docs" / "watches.md")):
            for block in blocks:
                if block.lang != "json":
                    continue
                try:
                    doc = json.loads(block.code)
                except ValueError:
                    continue
                if isinstance(doc, dict) and isinstance(doc.get("watches"), list):
                    for watch in doc["watches"]:
                        cfg = watch.get("http_handler_config") if isinstance(watch, dict) else None
                        if isinstance(cfg, dict) and "path" in cfg:
                            cfg["path"] = f"http://127.0.0.1:{free_port()}/hook"
                    return json.dumps(doc)
        return None


def _page_case(page: Path) -> type:
    name = "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", page.stem)) + "Tests"
    doc = f"The code blocks of {page.relative_to(ROOT)}."
    return type(name, (PageCase,), {"page": str(page.relative_to(ROOT)), "__doc__": doc})


for _page in PAGES:
    _case = _page_case(_page)
    globals()[_case.__name__] = _case
del _page, _case
