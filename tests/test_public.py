"""
The public surface: what ``txconsul`` exports, and a docstring on every
public name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

import txconsul


def _modules() -> list:
    mods = [txconsul]
    for info in pkgutil.walk_packages(txconsul.__path__, "txconsul."):
        if info.name.endswith("__main__"):
            continue
        mods.append(importlib.import_module(info.name))
    return mods


class PublicSurfaceTests(SynchronousTestCase):
    """Exports and docstrings."""

    def test_exports(self) -> None:
        """txconsul exports the client, Check, the errors, QueryMeta and TxnFailed."""
        self.assertEqual(
            set(txconsul.__all__),
            {
                "ACLDisabled",
                "ACLPermissionDenied",
                "BadRequest",
                "Check",
                "ClientError",
                "Consul",
                "ConsulConnectionError",
                "ConsulException",
                "NotFound",
                "QueryMeta",
                "Timeout",
                "TxnFailed",
                "__version__",
                "ConsulProtocolError",
                "HeadersTooLarge",
                "ResponseTooLarge",
                "TLSMismatch",
                "TooManyInterimResponses",
                "UndecodableResponse",
            },
        )
        for name in txconsul.__all__:
            self.assertTrue(hasattr(txconsul, name), name)

    def test_error_hierarchy(self) -> None:
        """Every exception txconsul exports derives from ConsulException."""
        for name in txconsul.__all__:
            obj = getattr(txconsul, name)
            if isinstance(obj, type) and issubclass(obj, Exception):
                self.assertTrue(issubclass(obj, txconsul.ConsulException), name)

    def test_docstrings(self) -> None:
        """Every public module, class, function and method of txconsul has a docstring."""
        missing = []
        for mod in _modules():
            if not (mod.__doc__ or "").strip():
                missing.append(mod.__name__)
            for name, obj in vars(mod).items():
                if name.startswith("_") or getattr(obj, "__module__", None) != mod.__name__:
                    continue
                if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                    continue
                if not (obj.__doc__ or "").strip():
                    missing.append(f"{mod.__name__}.{name}")
                if inspect.isclass(obj):
                    for attr_name, member in vars(obj).items():
                        if attr_name.startswith("_"):
                            continue
                        func = member.fget if isinstance(member, property) else member
                        if isinstance(func, (staticmethod, classmethod)):
                            func = func.__func__
                        if inspect.isfunction(func) and not (func.__doc__ or "").strip():
                            missing.append(f"{mod.__name__}.{name}.{attr_name}")
        self.assertEqual(missing, [])


class TestCaseNameTests(SynchronousTestCase):
    """The ``test-case-name`` header of every module names real test modules."""

    def test_headers_name_real_modules(self) -> None:
        """Each name in a module's test-case-name header is a module under tests/."""
        root = Path(txconsul.__file__).resolve().parent
        tests_dir = Path(__file__).resolve().parent
        missing = []
        seen = 0
        for path in sorted(root.parent.glob("txconsul/**/*.py")) + sorted(
            root.parent.glob("twisted/plugins/*.py")
        ):
            head = path.read_text(encoding="utf-8").splitlines()[:2]
            for line in head:
                match = re.search(r"test-case-name:\s*(.+?)\s*-\*-", line)
                if not match:
                    continue
                seen += 1
                for name in match.group(1).split(","):
                    name = name.strip()
                    module = name.split(".")
                    target = tests_dir.joinpath(*module[1:]).with_suffix(".py")
                    if module[0] != "tests" or not target.is_file():
                        missing.append(f"{path.relative_to(root.parent)}: {name}")
        self.assertGreater(seen, 20)
        self.assertEqual(missing, [])
