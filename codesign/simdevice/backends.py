"""What sits behind the simulated PYNQ device's AXI DMA: models of the accelerator.

The simulated device (``codesign.simdevice.device``) hands a backend the bytes its MM2S
channel read from memory and writes the bytes the backend returns through its S2MM channel.
A backend therefore sees exactly the AXI-Stream traffic of the real top: request beats in,
score beats out, both as laid out by ``codesign.stream``.

    class Backend(Protocol):
        name: str
        def process(self, request_bytes: np.ndarray) -> np.ndarray: ...

``process`` takes uint8 ``n × layout.request_bytes`` (flat or 2-D; a request may span several
beats) and returns uint8 ``n × layout.score_bytes`` (flat). ``make_backend(kind, design_folder)`` builds one from a
design folder; kinds:

- ``reference``: the fixed-point reference (``codesign.fixedpoint.FixedPointModel``) of the
  design's ``rtl.variant`` model, i.e. the outputs every level is checked against;
- ``csim``: the design's compiled hls4ml C simulation (``codesign.simdevice.csim``);
- ``rtl``: the design's RTL top under cocotb + Verilator (``codesign.simdevice.rtl``).

The last two are provided by their own modules (registered in ``BACKENDS`` below); a backend
whose inputs are missing raises ``BackendUnavailable`` naming the command that makes them.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from codesign.stream import Field, StreamLayout, pack_scores, unpack_requests


class BackendUnavailable(RuntimeError):
    """A backend's inputs (trained model, compiled C simulation, RTL build) are missing."""


@runtime_checkable
class Backend(Protocol):
    """A model of the accelerator: request beats in, score beats out."""

    name: str

    def process(self, request_bytes: np.ndarray) -> np.ndarray:
        """uint8 request beats (n × request_bytes) -> uint8 score beats (n × score bytes)."""
        ...


def request_rows(layout: StreamLayout, request_bytes: np.ndarray) -> np.ndarray:
    """``request_bytes`` as (n, layout.request_bytes) uint8; a clear error on a partial request."""
    if np.asarray(request_bytes).dtype != np.uint8:
        raise ValueError(f"request beats must be uint8 bytes (codesign.stream.pack_requests), got "
                         f"{np.asarray(request_bytes).dtype}")
    data = np.ascontiguousarray(request_bytes, dtype=np.uint8).reshape(-1)
    if data.size % layout.request_bytes:
        raise ValueError(f"{data.size} request bytes are not a whole number of {layout.request_bytes}-byte "
                         f"requests")
    return data.reshape(-1, layout.request_bytes)


def design_of(design_folder: Path):
    """The ``Design`` of a design folder (its ``design.yaml``)."""
    from codesign.config import load_config
    from codesign.flow import Design
    folder = Path(design_folder)
    cfg_path = folder / "design.yaml"
    if not cfg_path.is_file():
        raise BackendUnavailable(f"{folder} is not a design folder (no design.yaml): "
                                 f"run 'codesign flow --out {folder}' first")
    return Design(folder, load_config(cfg_path))


def design_layout(design_folder: Path, fp=None) -> StreamLayout:
    """The stream layout of a design: the RTL build's (``rtl/build.json``) when the rtl step
    ran, else derived from the fixed-point reference ``fp`` (``codesign.rtl.top.layout_of``)."""
    build = Path(design_folder) / "rtl" / "build.json"
    if build.is_file():
        data = json.loads(build.read_text())
        layout = StreamLayout.from_dict(data["stream"])
        params = data.get("params", {})
        if "fields" not in data["stream"] and "NODE_DEPTH" in params:   # old build: ROM depths in params only
            fields = [Field(f.name, f.shape, f.kind, f.bits, f.container, rows=f.rows if f.rows is not None else
                            params.get({"nodes": "NODE_DEPTH", "tokens": "TOK_DEPTH"}[f.name]))
                      for f in layout.fields]
            layout = StreamLayout.of(fields, layout.score_frac_bits, layout.score_count)
        return layout
    if fp is None:
        raise BackendUnavailable(f"no stream layout for {design_folder}: run the rtl step "
                                 f"('codesign flow --out {design_folder} --steps rtl')")
    from codesign.rtl.top import layout_of
    return layout_of(fp)


class ReferenceBackend:
    """The fixed-point reference behind the DMA: exact scores, computed in numpy."""

    name = "reference"

    def __init__(self, fp, layout: StreamLayout):
        self.fp = fp
        self.layout = layout
        if fp.output_format.frac > layout.score_frac_bits:
            raise ValueError(f"the model's scores have {fp.output_format.frac} fractional bits, the stream "
                             f"{layout.score_frac_bits}: they would not fit the score word exactly")

    @classmethod
    def from_design(cls, design_folder: Path) -> "ReferenceBackend":
        """The reference of the design's ``rtl.variant`` model (the ``train`` step must be current)."""
        from codesign.fixedpoint import FixedPointModel
        from codesign.train.step import load_trained
        design = design_of(design_folder)
        try:
            model = load_trained(design, design.cfg.rtl.variant)
        except RuntimeError as err:
            raise BackendUnavailable(str(err)) from None
        fp = FixedPointModel.from_keras(model, design.cfg.precision)
        return cls(fp, design_layout(design_folder, fp))

    def process(self, request_bytes: np.ndarray) -> np.ndarray:
        rows = request_rows(self.layout, request_bytes)
        if not len(rows):
            return np.zeros(0, np.uint8)
        scores = self.fp.predict(unpack_requests(self.layout, rows))
        return pack_scores(self.layout, np.asarray(scores, np.float64).reshape(len(rows), -1)).reshape(-1)


# kind -> "module:callable" building a Backend from a design folder (imported on use, so the
# reference works without the C-simulation or RTL modules and their tools)
BACKENDS: dict[str, str] = {
    "reference": "codesign.simdevice.backends:ReferenceBackend.from_design",
    "csim": "codesign.simdevice.csim:make_csim_backend",
    "rtl": "codesign.simdevice.rtl:make_rtl_backend",
}


def _resolve(target: str) -> Callable[[Path], Backend]:
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def make_backend(kind: str, design_folder: Path) -> Backend:
    """The backend ``kind`` (``reference``, ``csim``, ``rtl``) of the design in ``design_folder``.

    Raises ``ValueError`` for an unknown kind and ``BackendUnavailable`` when its inputs are
    missing (the message names the command that produces them).
    """
    if kind not in BACKENDS:
        raise ValueError(f"unknown simulated-device backend {kind!r}; available: {', '.join(BACKENDS)}")
    try:
        build = _resolve(BACKENDS[kind])
    except (ImportError, AttributeError) as err:
        raise BackendUnavailable(f"backend {kind!r} is not available in this checkout: {err}") from None
    try:
        backend = build(Path(design_folder))
    except FileNotFoundError as err:      # e.g. no compiled C simulation, no RTL build
        raise BackendUnavailable(str(err)) from None
    if not isinstance(backend, Backend):
        raise TypeError(f"backend {kind!r} does not implement Backend (name, process)")
    return backend
