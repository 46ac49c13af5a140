"""
Packaging as a new user meets it: the README's two Quick start commands, in
either order, leave ``twistd consul-fake`` and ``twistd consul-watch`` working
from any directory, and every ``twistd`` example of the README and docs/
then runs with that installed ``twistd`` (tests/test_docs_examples.py with
TXCONSUL_DOCS_TWISTD).

These build virtualenvs and install from the package index, so they run only
when TXCONSUL_PACKAGING_TEST=1 (as CI sets it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from twisted.trial.unittest import SkipTest, SynchronousTestCase

REPO = Path(__file__).resolve().parent.parent

#: What a clean clone does not have: copying it would hide packaging bugs.
_NOT_IN_A_CLONE = shutil.ignore_patterns(
    ".git",
    ".venv",
    ".tox",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "_trial_temp*",
    "dropin.cache",
    ".hypothesis",
    ".mypy_cache",
    ".ruff_cache",
    "apidocs",
)


def require_packaging_tests() -> None:
    """Skip unless TXCONSUL_PACKAGING_TEST=1."""
    if os.environ.get("TXCONSUL_PACKAGING_TEST") != "1":
        raise SkipTest("set TXCONSUL_PACKAGING_TEST=1 to run the packaging tests")


def quick_start_commands(readme: str) -> list[str]:
    """The ``sh`` blocks of the README's Quick start section, in order."""
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def clean_clone(into: Path) -> Path:
    """A copy of this checkout as a fresh clone would have it."""
    target = into / "txconsul"
    shutil.copytree(REPO, target, ignore=_NOT_IN_A_CLONE)
    return target


def run_sh(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``command`` with ``sh -c`` as a user would; output captured."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        ["sh", "-c", command], cwd=str(cwd), env=env, capture_output=True, text=True, timeout=900
    )


class QuickStartCommandsTests(SynchronousTestCase):
    """The README's install commands, run for real in a copy of the checkout."""

    def setUp(self) -> None:
        require_packaging_tests()
        readme = (REPO / "README.md").read_text(encoding="utf-8")
        self.commands = quick_start_commands(readme)

    def shortened(self, command: str) -> str:
        """
        ``command`` with the whole test suite replaced by one small module: the
        suite cannot run itself from inside itself, and the point here is that
        the command installs and starts trial.
        """
        self.assertTrue(command.endswith("twisted.trial tests"), command)
        return command + ".test_duration"

    def run_in_order(self, order: list[int]) -> None:
        """Run the Quick start commands in ``order``, then the plugins from elsewhere."""
        root = Path(self.mktemp()).resolve()
        root.mkdir(parents=True)
        clone = clean_clone(root)
        for i in order:
            command = self.commands[i]
            if "twisted.trial" in command:
                command = self.shortened(command)
            done = run_sh(command, clone)
            self.assertEqual(done.returncode, 0, f"{command}\n{done.stdout}\n{done.stderr}")
        elsewhere = root / "elsewhere"
        elsewhere.mkdir()
        twistd = str(clone / ".venv" / "bin" / "twistd")
        for plugin in ("consul-fake", "consul-watch"):
            done = subprocess.run(
                [twistd, plugin, "--help"], cwd=str(elsewhere), capture_output=True, text=True, timeout=120
            )
            self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
            self.assertIn(f"Usage: twistd [options] {plugin}", done.stdout)
        # Then every twistd example of the README and docs/, with this twistd.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["TXCONSUL_DOCS_TWISTD"] = twistd
        python = str(clone / ".venv" / "bin" / "python")
        done = subprocess.run(
            [
                python,
                "-m",
                "twisted.trial",
                "--temp-directory",
                str(elsewhere / "_trial"),
                "tests.test_docs_examples",
            ],
            cwd=str(clone),
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        self.assertEqual(done.returncode, 0, done.stdout[-5000:] + done.stderr[-3000:])

    def test_tour_then_tests(self) -> None:
        """The README's order (tour, then tests) leaves both plugins working from any directory."""
        self.run_in_order([0, 1])

    def test_tests_then_tour(self) -> None:
        """The other order (tests, then tour) leaves both plugins working from any directory."""
        self.run_in_order([1, 0])


class QuickStartParsingTests(SynchronousTestCase):
    """How the README's commands are found (runs always)."""

    def test_finds_the_sh_blocks(self) -> None:
        """Only the sh blocks of the Quick start section count, in order."""
        readme = (
            "# x\n## Quick start\ntext\n```sh\none\n```\n```python\nno\n```\n"
            "```sh\ntwo\n```\n## Later\n```sh\nthree\n```\n"
        )
        self.assertEqual(quick_start_commands(readme), ["one", "two"])

    def test_this_readme(self) -> None:
        """This README's Quick start has the tour and the test command."""
        commands = quick_start_commands((REPO / "README.md").read_text(encoding="utf-8"))
        self.assertEqual(
            [("txconsul.demo" in c, "twisted.trial tests" in c) for c in commands],
            [(True, False), (False, True)],
        )


if sys.platform == "win32":  # pragma: no cover
    QuickStartCommandsTests.skip = "POSIX shells only"
