"""Flow step ``vectors``: frozen reference requests and their exact fixed-point outputs.

``<folder>/vectors/vectors.npz`` holds the model inputs (``nodes``, ``tokens`` [,
``adjacency`` on its grid]), ``expected`` (the reference outputs, float64, exact) and
``kind`` (``test`` for real requests, else the corner case or ``random``);
``vectors.json`` (the step result) holds the counts and how the quantized Keras model
compares with the reference; ``formats.json`` every layer's fixed-point formats (for the
HLS and RTL levels). Every lower level (C simulation, RTL simulation, board) is checked
against the vectors.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from codesign.console import say
from codesign.fixedpoint import FixedPointModel
from codesign.flow import Design, register_step, write_json
from codesign.vectors.make import concat, corner_inputs, keras_vs_reference, random_inputs

VARIANT = "hybrid_quant"


def test_requests(design: Design, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` requests of the test split (each user's held-out item and its sampled negatives)."""
    from codesign.data.step import load_data
    data = load_data(design)
    items = np.concatenate([data.test[:, 1:2], data.negatives["test"]], axis=1)
    users = np.repeat(data.test[:, 0], items.shape[1])
    order = np.random.default_rng(seed).permutation(len(users))[:n]
    return data.inputs(users[order], items.ravel()[order], dynamic=design.cfg.model.adjacency == "dynamic")


def on_grid(fp: FixedPointModel, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inputs as the hardware receives them: ids as int32, grid inputs quantized onto their grid."""
    out = {}
    for op in fp.inputs:
        value = inputs[op.name]
        out[op.name] = value.astype(np.int32) if op.ids else op.out.to_float(op.encode(value)).astype(np.float32)
    return out


def freeze(fp: FixedPointModel, parts: list[tuple[dict[str, np.ndarray], list[str]]], path: Path) -> dict:
    """Writes inputs, reference outputs and kinds of ``parts`` to ``path`` (npz)."""
    inputs = on_grid(fp, concat([p for p, _ in parts]))
    kinds = np.array([k for _, ks in parts for k in ks])
    expected = fp.predict(inputs)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **inputs, expected=expected, kind=kinds)
    names, counts = np.unique(kinds, return_counts=True)
    return {"samples": int(len(kinds)), "kinds": dict(zip(names.tolist(), counts.tolist()))}


def load_vectors(path: Path) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(inputs, expected, kind) of a vectors file."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no reference vectors at {path}: run the 'vectors' step first")
    z = np.load(path)
    inputs = {k: z[k] for k in z.files if k not in ("expected", "kind")}
    return inputs, z["expected"], z["kind"]


@register_step("vectors", sections=("vectors", "precision"), after=("train",))
def vectors_step(design: Design) -> dict:
    from codesign.train.step import load_trained
    cfg = design.cfg.vectors
    model = load_trained(design, VARIANT)
    fp = FixedPointModel.from_keras(model, design.cfg.precision)
    rng = np.random.default_rng(cfg.seed)
    if design.cfg.model_file:      # a model of your own: no test split; random (+ your own) requests
        from codesign.hls.byom import own_vectors
        parts = own_vectors(fp, cfg, rng)
    else:
        real = test_requests(design, cfg.real, cfg.seed)
        corners, corner_kinds = corner_inputs(fp, real)
        parts = [(real, ["test"] * len(real["nodes"])), (corners, corner_kinds)]
        if cfg.random:
            parts.append((random_inputs(fp, cfg.random, rng), ["random"] * cfg.random))
    path = design.path("vectors") / "vectors.npz"
    result = freeze(fp, parts, path)
    inputs, _, _ = load_vectors(path)
    result["keras_vs_reference"] = keras_vs_reference(model, fp, inputs)
    result.update({"model": VARIANT, "file": str(path), "output_format": fp.output_format.to_dict()})
    write_json(design.path("vectors") / "formats.json",
               {"output": fp.output, "output_format": fp.output_format.to_dict(), "layers": fp.describe()})
    kv = result["keras_vs_reference"]
    say(f"{result['samples']} vectors; quantized Keras vs reference: {kv['mismatches']} mismatches, "
        f"max |diff| {kv['max_abs_diff']:g}")
    return result
