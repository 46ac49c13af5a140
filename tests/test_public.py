"""
The public surface: what ``txconsul`` exports, and a docstring on every
public name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

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
            {"ACLDisabled", "ACLPermissionDenied", "BadRequest", "Check", "ClientError", "Consul",
             "ConsulConnectionError", "ConsulException", "NotFound", "QueryMeta", "Timeout",
             "TxnFailed", "__version__"},
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
