"""The shared numba cache: compiled code of an installed package lands in $CODESIGN_CACHE/numba
(keyed by its path inside site-packages) and is reused from another venv's copy of the package."""
import os
import subprocess
import sys
from pathlib import Path

from codesign.rtl.numba_cache import _package_relative

REPO = Path(__file__).resolve().parents[1]
MODULE = "from numba import njit\n\n@njit(cache=True)\ndef inc(x):\n    return x + 1\n"


def test_package_relative():
    assert _package_relative("/v/lib/python3.11/site-packages/da4ml/cmvm/api.py") == "da4ml/cmvm"
    assert _package_relative("/usr/lib/python3/dist-packages/pkg/m.py") == "pkg"
    assert _package_relative("/home/me/project/m.py") is None


def _run(site: Path, cache: Path) -> list[int]:
    env = {**os.environ, "CODESIGN_CACHE": str(cache), "PYTHONPATH": f"{REPO}{os.pathsep}{site}"}
    env.pop("NUMBA_CACHE_DIR", None)
    env.pop("NUMBA_CACHE_LOCATOR_CLASSES", None)
    code = ("import codesign.rtl, pkgx.mod; assert pkgx.mod.inc(1) == 2; "
            "s = pkgx.mod.inc.stats; print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [int(v) for v in out.stdout.split()[-2:]]


def test_cache_shared_across_venvs(tmp_path):
    cache = tmp_path / "cache"
    for venv in ("a", "b"):
        pkg = tmp_path / venv / "lib" / "site-packages" / "pkgx"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "mod.py").write_text(MODULE)
    hits_a, _ = _run(tmp_path / "a" / "lib" / "site-packages", cache)
    assert list(cache.glob("numba/numba-*/pkgx/mod.inc-*.nbi")), "no index in the shared cache"
    assert not list((tmp_path / "a").rglob("__pycache__/*.nbi")), "cached in the package's own __pycache__"
    hits_b, _ = _run(tmp_path / "b" / "lib" / "site-packages", cache)     # another venv, same source
    assert hits_a == 0
    assert hits_b == 1, "no cache hit from the second venv"


def test_package_sets_the_same_locators():
    import codesign  # noqa: F401  (sets the variable before numba reads it)
    from codesign.rtl.numba_cache import LOCATORS
    if not os.environ.get("NUMBA_CACHE_DIR"):
        assert os.environ["NUMBA_CACHE_LOCATOR_CLASSES"] == LOCATORS
