"""Detector backends by name. A backend is one module in ``backends/`` named for it (``yolox_nano.py``) that
decorates its detector class with ``@register(MODEL)``; nothing else needs editing to add one. Names are
listed from the folder without importing anything, so the config can check them cheaply."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from clearwatch.analytics.detectors.models import ModelError, ModelSpec, locate_model

if TYPE_CHECKING:
    from clearwatch.analytics.detectors.base import Detector

    Loader = Callable[[Path, int, int], Detector]

BACKENDS = "clearwatch.analytics.detectors.backends"
L = TypeVar("L", bound="Loader")


@dataclass(frozen=True)
class Backend:
    name: str
    model: ModelSpec
    load: Loader  # (verified model path, input size, threads) → detector


_registered: dict[str, Backend] = {}


def register(model: ModelSpec) -> Callable[[L], L]:
    """Class (or factory) decorator for a backend module: its name is the module's name."""

    def add(load: L) -> L:
        name = load.__module__.rsplit(".", 1)[-1]
        _registered[name] = Backend(name, model, load)
        return load

    return add


def available() -> list[str]:
    """Backend names, from the modules in ``backends/`` (nothing is imported)."""
    spec = importlib.util.find_spec(BACKENDS)
    paths = list(spec.submodule_search_locations or []) if spec else []
    return sorted(m.name for m in pkgutil.iter_modules(paths) if not m.name.startswith("_"))


def backend(name: str) -> Backend:
    if name not in available():
        raise ModelError(f"unknown detector {name!r}: use one of {', '.join(available())}")
    importlib.import_module(f"{BACKENDS}.{name}")
    if name not in _registered:
        raise ModelError(f"detector module {name!r} does not register a backend (decorate it with @register)")
    return _registered[name]


def create_detector(name: str, path: Path | None = None, sha256: str | None = None, input_size: int = 416,
                    threads: int = 1) -> Detector:
    """Build a detector; raises ModelError (with where to put the file) when its model is unavailable."""
    b = backend(name)
    return b.load(locate_model(b.model, path, sha256), input_size, threads)
