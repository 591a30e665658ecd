"""Bring your own model: ``codesign hls --model FILE --out DIR``.

A saved Keras model (``.h5`` or ``.keras``) of supported layers is loaded with every custom
object resolved by the package (QKeras, Spektral, codesign's), checked against random vectors
on its inputs' grids plus corner cases, and converted like a flow design. ``DIR/summary.json``
gets ``steps.vectors`` and ``steps.hls`` as the flow writes them.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign.config import DesignConfig
from codesign.fixedpoint import FixedPointModel
from codesign.flow import write_json
from codesign.hls.csim import CsimMismatch
from codesign.hls.step import hls_flow, settings_for
from codesign.vectors.make import corner_inputs, random_inputs
from codesign.vectors.step import freeze, load_vectors

def load_model(path: Path):
    """A saved Keras model of supported layers (``fixedpoint.SUPPORTED_LAYERS``): its stored
    config is checked first, so a ``Lambda`` or an unknown class is refused before any code runs."""
    from codesign.fixedpoint import SUPPORTED_LAYERS
    from codesign.models.modelfile import load_model_file
    return load_model_file(Path(path), SUPPORTED_LAYERS)


def check_byom(path: Path, out: Path, n_vectors: int) -> None:
    """Every check of ``codesign hls --model`` before anything is written or loaded."""
    from codesign.fixedpoint import SUPPORTED_LAYERS
    from codesign.models.modelfile import check_model_file
    if n_vectors < 1:
        raise ValueError(f"--vectors must be at least 1 (got {n_vectors})")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder: give a folder path")
    if (out / "design.yaml").is_file():
        raise ValueError(f"{out} holds a design (its design.yaml); a model of your own gets its own folder: "
                         f"'codesign hls --model {path} --out {out.parent / Path(path).stem}'")
    check_model_file(Path(path), SUPPORTED_LAYERS)


def run_byom(path: Path, out: Path, cfg: DesignConfig, n_vectors: int = 1000, seed: int = 0) -> dict:
    """Vectors + HLS C simulation (+ synthesis) of the model in ``path``; returns the summary."""
    check_byom(path, out, n_vectors)
    model = load_model(path)
    fp = FixedPointModel.from_keras(model, cfg.precision)
    rng = np.random.default_rng(seed)
    random = random_inputs(fp, n_vectors, rng)
    corners, corner_kinds = corner_inputs(fp, random)
    vectors_file = Path(out) / "vectors" / "vectors.npz"
    vectors = freeze(fp, [(random, ["random"] * n_vectors), (corners, corner_kinds)], vectors_file)
    vectors["file"] = str(vectors_file)
    write_json(vectors_file.with_name("vectors.json"), vectors)
    write_json(vectors_file.with_name("formats.json"),
               {"output": fp.output, "output_format": fp.output_format.to_dict(), "layers": fp.describe()})
    inputs, expected, kinds = load_vectors(vectors_file)
    summary = {"design": model.name, "model": str(path), "config": {"board": cfg.board, "hls": cfg.hls.model_dump()},
               "steps": {"vectors": vectors}}
    folder = Path(out) / "hls"
    try:
        result = hls_flow(model, fp, inputs, expected, folder, settings_for(cfg.hls, cfg.board), kinds,
                          synth=cfg.hls.synth, cosim=cfg.hls.cosim, design_name=model.name)
    except CsimMismatch:
        summary["steps"]["hls"] = json.loads((folder / "csim.json").read_text())
        write_json(Path(out) / "summary.json", summary)
        raise
    write_json(folder / "hls.json", result)
    summary["steps"]["hls"] = result
    write_json(Path(out) / "summary.json", summary)
    return summary
