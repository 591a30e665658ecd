"""A numba cache for da4ml's compiled solver that survives a fresh virtual environment.

da4ml's constant-matrix solver is numba code compiled on first use (``cache=True``): in a new
venv that costs 1.5-2 minutes of the ``rtl`` step (measured: the trace of the default design
took 128 s in a fresh clone's flow, ~15 s with the cache warm). numba keeps that cache in the
package's own ``__pycache__``, so every fresh clone (a new ``.venv``) compiles again.

``SharedCacheLocator`` keeps it in ``$CODESIGN_CACHE/numba`` (default ``~/.cache/codesign``),
keyed by the source file's path inside ``site-packages`` (not the venv's absolute path) and,
as numba does itself, validated by the sha256 of the source file's content, the function's
signature and the CPU: a changed da4ml or numba never reads a stale entry. ``enable()`` must
run before da4ml is imported (``codesign/rtl/__init__.py`` calls it).
"""
from __future__ import annotations

import os
from pathlib import Path

from numba.core import caching
from numba.core import config as numba_config

from codesign import NUMBA_LOCATORS

CACHE_ENV = "CODESIGN_CACHE"


def cache_root() -> Path:
    """Where the shared numba cache lives: ``$CODESIGN_CACHE/numba`` (default ``~/.cache/codesign``)."""
    return Path(os.environ.get(CACHE_ENV, Path.home() / ".cache" / "codesign")) / "numba"


def _package_relative(py_file: str) -> str | None:
    """``da4ml/cmvm`` for ``.../site-packages/da4ml/cmvm/api.py``; None outside an installed package."""
    parts = Path(os.path.abspath(py_file)).parent.parts
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            rel = parts[len(parts) - parts[::-1].index(marker):]
            return "/".join(rel) if rel else None
    return None


class SharedCacheLocator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):
    """numba cache locator for installed packages, shared by every venv of this user."""

    def __init__(self, py_func, py_file):
        self._py_file = py_file
        self._lineno = py_func.__code__.co_firstlineno
        rel = _package_relative(py_file)
        import numba
        # numba's own version in the path: its cache format is not promised across releases
        self._cache_path = str(cache_root() / f"numba-{numba.__version__}" / rel)

    def get_cache_path(self):
        return self._cache_path

    @classmethod
    def from_function(cls, py_func, py_file):
        if _package_relative(py_file) is None:
            return None
        return super().from_function(py_func, py_file)


LOCATORS = NUMBA_LOCATORS    # set in codesign/__init__.py, before anything imports numba


def enable() -> None:
    """Use ``SharedCacheLocator`` for the numba functions decorated from now on, unless the user
    chose locators (``NUMBA_CACHE_LOCATOR_CLASSES``, which ``codesign/__init__.py`` sets to
    ``LOCATORS`` when neither is set) or a cache folder (``NUMBA_CACHE_DIR``)."""
    chosen = os.environ.get("NUMBA_CACHE_LOCATOR_CLASSES")
    if os.environ.get("NUMBA_CACHE_DIR") or (chosen and chosen != LOCATORS):
        return
    numba_config.CACHE_LOCATOR_CLASSES = LOCATORS
