"""
Build txconsul's API reference from its docstrings with pydoctor (Twisted's
own documentation tool), warnings as errors.

    python docs/build_apidocs.py [--output DIR]

Writes HTML to ``apidocs/`` (git-ignored) and exits non-zero on any
warning: an unresolvable cross-reference, a docstring that is not valid
reStructuredText...

Links to Twisted resolve through an intersphinx inventory that pydoctor
makes from the installed Twisted (kept in ``.cache/``, remade when the
Twisted version changes), and links to Python's built-ins through a small
inventory written here, so the build needs no network; pages link to
docs.twisted.org and docs.python.org for those versions.

Docstrings use Sphinx's ``:class:`~pkg.Name``` shorthand; pydoctor takes the
``~`` literally, so this script teaches its linker to drop it (and to show
only the last name, as Sphinx does).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"


def patch_tilde() -> None:
    """Make pydoctor resolve ``~a.b.C`` as ``a.b.C`` labelled ``C``."""
    from pydoctor import linker

    original = linker._EpydocLinker.link_xref

    def link_xref(self: Any, target: str, label: Any, lineno: int) -> Any:
        if target.startswith("~"):
            if label == target:
                label = target.rsplit(".", 1)[-1]
            target = target[1:]
        return original(self, target, label, lineno)

    linker._EpydocLinker.link_xref = link_xref  # type: ignore[method-assign]


def twisted_inventory() -> str:
    """``PATH::URL`` of an intersphinx inventory of the installed Twisted."""
    import twisted

    version = twisted.__version__
    out = CACHE / f"twisted-{version}"
    inventory = out / "objects.inv"
    if not inventory.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pydoctor",
                "--make-intersphinx",
                "--project-name=Twisted",
                f"--project-version={version}",
                f"--html-output={out}",
                "-q",
                "-q",
                os.path.dirname(twisted.__file__),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return f"{inventory}::https://docs.twisted.org/en/twisted-{version}/api"


def python_inventory() -> str:
    """
    ``PATH::URL`` of a small intersphinx inventory of Python's built-in
    names (exceptions, functions, types), written here so that ``ValueError``
    in a docstring links to docs.python.org without fetching its inventory.
    """
    import builtins
    import zlib

    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    out = CACHE / f"python-{version}"
    inventory = out / "objects.inv"
    if not inventory.exists():
        lines = []
        for name in sorted(dir(builtins)):
            if name.startswith("_"):
                continue
            value = getattr(builtins, name)
            if isinstance(value, type) and issubclass(value, BaseException):
                lines.append(f"{name} py:exception 1 library/exceptions.html#$ -")
            elif isinstance(value, type):
                lines.append(f"{name} py:class 1 library/functions.html#$ -")
            elif callable(value):
                lines.append(f"{name} py:function 1 library/functions.html#$ -")
        header = (
            f"# Sphinx inventory version 2\n# Project: Python\n# Version: {version}\n"
            "# The remainder of this file is compressed using zlib.\n"
        )
        out.mkdir(parents=True, exist_ok=True)
        inventory.write_bytes(header.encode() + zlib.compress("\n".join(lines).encode() + b"\n"))
    return f"{inventory}::https://docs.python.org/{version}"


def main(argv: list[str]) -> int:
    """Build the reference; the exit status is pydoctor's (non-zero on warnings)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(ROOT / "apidocs"))
    args = parser.parse_args(argv)
    patch_tilde()
    from pydoctor.driver import main as pydoctor

    import txconsul

    return pydoctor(
        [
            "--project-name=txconsul",
            f"--project-version={txconsul.__version__}",
            f"--project-base-dir={ROOT}",
            "--docformat=restructuredtext",
            f"--intersphinx-file={python_inventory()}",
            f"--intersphinx-file={twisted_inventory()}",
            f"--html-output={args.output}",
            "--warnings-as-errors",
            "-q",
            str(ROOT / "txconsul"),
        ]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
