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


# ------------------------------------------------- a model of your own through the whole flow

OWN_MODEL = "a model of your own: no training data"
OWN_MODEL_STEPS = ("data", "train", "vectors", "hls", "rtl", "sim", "bench", "bitstream", "host")


def _own_copy(design) -> Path:
    return design.path("train") / f"own_model{Path(design.cfg.model_file).suffix}"


def take_own_model(design) -> dict:
    """The ``train`` step of a model of your own: the file is checked and copied into ``train/``
    (so its content keys the later steps); nothing is trained."""
    import shutil
    from codesign.fixedpoint import SUPPORTED_LAYERS
    from codesign.flow import file_hash
    from codesign.models.modelfile import check_model_file
    src = Path(design.cfg.model_file)
    check_model_file(src, SUPPORTED_LAYERS)
    shutil.copyfile(src, _own_copy(design))
    return {"skipped": OWN_MODEL, "model_file": str(src), "model_hash": file_hash(src)}


def own_model_changed(design, result: dict | None = None) -> str | None:
    """Why a cached ``train`` result of a model of your own is stale (the file changed), or None."""
    from codesign.flow import file_hash
    if not design.cfg.model_file:
        return None
    src = Path(design.cfg.model_file)
    if not src.is_file():
        return f"the model file {src} is gone"
    copy = _own_copy(design)
    if not copy.is_file() or file_hash(copy) != file_hash(src):
        return f"the model file {src} changed"
    return None


def load_own_model(design):
    """The model of your own of a design (its copy in ``train/``; the step must be current)."""
    if not design.is_current("train") or not _own_copy(design).is_file():
        raise RuntimeError(f"the model of your own is not taken in yet: run "
                           f"'codesign flow --out {design.folder} --steps data,train' first")
    return load_model(_own_copy(design))


def own_vectors(fp: FixedPointModel, cfg, rng: np.random.Generator) -> list[tuple[dict, list[str]]]:
    """Requests of a model of your own: ``cfg.random`` random ones on the inputs' grids, corner
    cases, and your own (``cfg.inputs_file``: .npz, one array per input name) if given."""
    n = max(cfg.random, 1)
    random = random_inputs(fp, n, rng)
    corners, corner_kinds = corner_inputs(fp, random)
    parts = [(random, ["random"] * n), (corners, corner_kinds)]
    if cfg.inputs_file:
        z = np.load(cfg.inputs_file)
        missing = [op.name for op in fp.inputs if op.name not in z.files]
        if missing:
            raise ValueError(f"{cfg.inputs_file} lacks input(s) {', '.join(missing)} (keys: "
                             f"{', '.join(z.files)}); give one array per model input name")
        own = {op.name: z[op.name] for op in fp.inputs}
        for op in fp.inputs:     # checked here: ids in range, values on the grid
            codes = op.encode(own[op.name])
            if not op.ids and not np.array_equal(op.out.to_float(codes), np.asarray(own[op.name], np.float64)):
                raise ValueError(f"{cfg.inputs_file}: input '{op.name}' has values off the grid or outside "
                                 f"the range of its format {op.out.ap_type(False)}")
        parts.append((own, ["own"] * len(own[fp.inputs[0].name])))
    return parts


def own_model_config(path: Path, cfg: DesignConfig, n_vectors: int, inputs: Path | None) -> DesignConfig:
    """The design config of ``codesign flow --model``: ``cfg`` reading the model file."""
    from codesign.fixedpoint import SUPPORTED_LAYERS
    from codesign.models.modelfile import check_model_file
    if n_vectors < 1:
        raise ValueError(f"--vectors must be at least 1 (got {n_vectors})")
    check_model_file(Path(path), SUPPORTED_LAYERS)
    if inputs is not None and not Path(inputs).is_file():
        raise FileNotFoundError(f"--inputs {inputs}: no such file (an .npz with one array per input name)")
    update = {"model_file": str(Path(path).resolve()), "name": Path(path).stem}
    vectors = cfg.vectors.model_copy(update={"random": n_vectors,
                                             "inputs_file": str(Path(inputs).resolve()) if inputs else None})
    return cfg.model_copy(update={**update, "vectors": vectors}, deep=True)
