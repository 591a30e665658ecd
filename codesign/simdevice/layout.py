"""The stream layout of a design folder and the checks every simulated-device backend shares."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from codesign.stream import StreamLayout


def design_layout(folder: Path) -> StreamLayout:
    """The request/score stream layout of the design in ``folder``.

    The ``rtl`` step's ``build.json`` holds the layout the hardware implements; without it,
    the layout follows from the frozen vectors (input shapes) and the reference's output
    format (``vectors/vectors.json``), which give the same layout.
    """
    folder = Path(folder)
    build = folder / "rtl" / "build.json"
    if build.is_file():
        return StreamLayout.from_dict(json.loads(build.read_text())["stream"])
    vectors, result = folder / "vectors" / "vectors.npz", folder / "vectors" / "vectors.json"
    if not (vectors.is_file() and result.is_file()):
        raise FileNotFoundError(f"{folder} has no stream layout (neither rtl/build.json nor the vectors): "
                                f"run 'codesign vectors --out {folder}' first")
    with np.load(vectors) as z:
        if "adjacency" in z.files:
            raise ValueError(f"the design in {folder} takes an adjacency input, which the request stream "
                             f"does not carry: use model.adjacency: static")
        n_nodes, title_length = z["nodes"].shape[1], z["tokens"].shape[1]
    fmt = json.loads(result.read_text())["output_format"]
    return StreamLayout(int(n_nodes), int(title_length), int(fmt["width"]) - int(fmt["integer"]))


def request_beats(layout: StreamLayout, data: np.ndarray) -> np.ndarray:
    """``data`` as (n, request_bytes) uint8 request beats; a clear error for any other shape or dtype."""
    data = np.asarray(data)
    if data.dtype != np.uint8:
        raise ValueError(f"request beats must be uint8 bytes, got {data.dtype}: pack requests with "
                         f"codesign.stream.pack_requests")
    if data.size % layout.request_bytes or data.ndim not in (1, 2) or (
            data.ndim == 2 and data.shape[1] != layout.request_bytes):
        raise ValueError(f"request beats must be n x {layout.request_bytes} bytes (one {layout.request_bits}-bit "
                         f"beat per request), got shape {data.shape}")
    return np.ascontiguousarray(data).reshape(-1, layout.request_bytes)
