"""Backend ``csim`` of the simulated PYNQ device: the ``hls`` step's compiled C simulation.

The ``hls`` step compiles the hls4ml project into ``hls/project/firmware/<project>-<stamp>.so``
(the library its C-simulation check ran). This backend loads that library with ctypes (no
hls4ml, no TensorFlow) and calls its bridge ``<project>_double`` per request, the way
hls4ml's ``predict`` does: the inputs are the fields unpacked from the request beats (by
input name, or all of them flattened in order for a single packed input), as doubles; the
scores are converted back to a score word (they must lie on the stream's grid).
"""
from __future__ import annotations

import ctypes
import json
import re
from pathlib import Path

import numpy as np
import numpy.ctypeslib as npc

from codesign.simdevice.backends import BackendUnavailable, design_layout, request_rows
from codesign.stream import StreamLayout, pack_scores, unpack_requests

PACKED_INPUT = "request"    # codesign.hls.convert.PACKED_INPUT (VivadoAccelerator: one packed input)


def _shell_var(script: str, name: str) -> str | None:
    m = re.search(rf"^{name}=(\S+)$", script, re.M)
    return m.group(1).strip("\"'") if m else None


def find_library(project: Path) -> tuple[Path, str]:
    """(compiled C-simulation library, project name) of an hls4ml project folder."""
    script = project / "build_lib.sh"
    if not script.is_file():
        raise BackendUnavailable(f"no hls4ml project in {project}: run 'codesign hls --out {project.parents[1]}' first")
    text = script.read_text()
    name, stamp = _shell_var(text, "PROJECT"), _shell_var(text, "LIB_STAMP")
    lib = project / "firmware" / f"{name}-{stamp}.so"
    if not name or not stamp or not lib.is_file():
        raise BackendUnavailable(f"the C simulation of {project} is not compiled ({lib} is missing): "
                                f"run 'codesign hls --out {project.parents[1]} --force'")
    return lib, name


def _product(text: str) -> int:
    """``"4*3"`` -> 12."""
    return int(np.prod([int(t) for t in text.split("*")]))


def bridge_ports(project: Path, name: str) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(inputs, outputs) of the bridge function ``<name>_double``: (argument name, size), in order."""
    text = (project / f"{name}_bridge.cpp").read_text()
    m = re.search(rf"void {name}_double\(([^)]*)\)\s*\{{(.*?)\n\}}", text, re.S)
    if not m:
        raise RuntimeError(f"no function {name}_double in {project / (name + '_bridge.cpp')}: "
                           f"not an hls4ml 1.3 project; run 'codesign hls --out {project.parents[1]} --force'")
    args = re.findall(r"double\s*\*\s*(\w+)", m.group(1))
    size = r"(\d+(?:\s*\*\s*\d+)*)"     # a size or a product of sizes (e.g. 4*3 for a rank-2 input)
    sizes_in = {a: _product(n) for n, a in re.findall(rf"convert_data<double,\s*\w+,\s*{size}>\((\w+),", m.group(2))}
    sizes_out = {a: _product(n) for n, a in
                 re.findall(rf"convert_data<\w+,\s*double,\s*{size}>\(\w+,\s*(\w+)\)", m.group(2))}
    inputs = [(a, sizes_in[a]) for a in args if a in sizes_in]
    outputs = [(a, sizes_out[a]) for a in args if a in sizes_out]
    if len(inputs) + len(outputs) != len(args):
        raise RuntimeError(f"cannot read the sizes of {name}_double's arguments {args} in {project}")
    return inputs, outputs


class CsimBackend:
    """The compiled hls4ml C simulation of a design folder as the accelerator behind the DMA."""

    name = "csim"

    def __init__(self, design_folder: Path, layout: StreamLayout | None = None):
        folder = Path(design_folder)
        result = folder / "hls" / "hls.json"
        project = Path(json.loads(result.read_text())["project"]) if result.is_file() else folder / "hls" / "project"
        if not project.is_dir():
            raise BackendUnavailable(f"no hls4ml project in {folder}: run 'codesign hls --out {folder}' first")
        self.library, project_name = find_library(project)
        self.layout = layout or _layout(folder)
        self.inputs, outputs = bridge_ports(project, project_name)
        if len(outputs) != 1 or outputs[0][1] != self.layout.score_count:
            raise ValueError(f"{project} has outputs {outputs}; the score stream carries "
                             f"{self.layout.score_count} score(s) per request")
        fields = [(f.name, f.count) for f in self.layout.fields]
        expected = ([(PACKED_INPUT, sum(c for _, c in fields))] if [n for n, _ in self.inputs] == [PACKED_INPUT]
                    else fields)
        if sorted(self.inputs) != sorted(expected):
            raise ValueError(f"the C simulation's inputs {self.inputs} are not the request stream's fields "
                             f"({', '.join(f'{n}: {c}' for n, c in fields)})")
        self._lib = ctypes.cdll.LoadLibrary(str(self.library))
        self._top = getattr(self._lib, f"{project_name}_double")
        self._top.restype = None
        self._top.argtypes = [npc.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")] * (len(self.inputs) + 1)

    def scores(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """C-simulation scores (float64, exact), (n, score_count), of unpacked requests by input name."""
        n = len(next(iter(inputs.values())))
        columns = {f.name: np.asarray(inputs[f.name], np.float64).reshape(n, -1) for f in self.layout.fields}
        columns[PACKED_INPUT] = np.concatenate([columns[f.name] for f in self.layout.fields], axis=1)
        rows = [np.ascontiguousarray(columns[name]) for name, _ in self.inputs]
        out = np.zeros((n, self.layout.score_count), np.float64)
        for i in range(n):
            self._top(*(r[i] for r in rows), out[i])
        return out

    def process(self, request_bytes: np.ndarray) -> np.ndarray:
        """Score beats (flat uint8, n x score bytes) of n request beats."""
        rows = request_rows(self.layout, request_bytes)
        if not len(rows):
            return np.zeros(0, np.uint8)
        return pack_scores(self.layout, self.scores(unpack_requests(self.layout, rows))).reshape(-1)


def _layout(folder: Path) -> StreamLayout:
    """The design's stream layout: the RTL build's, else the reference model's (as the reference backend)."""
    if (folder / "rtl" / "build.json").is_file():
        return design_layout(folder)
    from codesign.simdevice.backends import ReferenceBackend
    return ReferenceBackend.from_design(folder).layout


def make_csim_backend(design_folder: Path) -> CsimBackend:
    """The ``csim`` backend of a design folder (``BackendUnavailable`` until the hls step ran)."""
    return CsimBackend(Path(design_folder))
