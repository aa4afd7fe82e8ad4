"""Package faces that load their parts on first use (PEP 562).

A package's ``__init__`` names its public parts, but importing the package (or any light module inside it,
such as a config section or an exception) must not drag in cv2, av, onnxruntime or FastAPI: the CLI starts
in a fraction of a second only if nothing is imported before it is needed.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``exports`` maps a public name to the module (relative
    to the package, e.g. ``".pipeline"``) that defines it. A name is imported once, then cached on the package."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__
