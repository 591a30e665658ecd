"""``codesign deploy --out DIR``: everything a PYNQ board needs, in ``DIR/deploy/``.

The bundle: the ``.bit`` and ``.hwh`` of the ``bitstream`` step (or, without Vivado, its
generated ``.hwh`` and ``BITSTREAM.md`` saying how to build the ``.bit``), ``stream.json``
(the request/score layout, ``StreamLayout.to_dict()``), the driver package (``codesign/host/``
+ ``codesign/stream.py`` + a minimal ``codesign/__init__.py``: imports with numpy and pynq
alone), ``vectors.npz`` (``nodes``, ``tokens``, ``expected`` of the ``vectors`` step), the
ONNX and TFLite models of the ``bench`` step when it exported them (the notebook times them on
the board's ARM cores), ``03_on_board_latency.ipynb`` and ``manifest.json``. Written into a
temporary folder and swapped in with one rename.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from codesign.simdevice.backends import design_layout
from codesign.stream import StreamLayout, check_requests, pack_scores

PACKAGE = Path(__file__).resolve().parent
NOTEBOOK = PACKAGE.parent / "notebooks" / "03_on_board_latency.ipynb"
STEPS_READ = ("vectors", "rtl", "bitstream")   # the vectors, the stream layout, the .bit/.hwh
DRIVER_INIT = '"""The board-side part of codesign: the PYNQ driver (codesign.host) and the stream packing."""\n'


def _bitstream_files(folder: Path) -> tuple[Path | None, Path, dict]:
    """(.bit or None, .hwh, result) of the design's ``bitstream`` step; refuses when it has not run."""
    from codesign.bitstream.vivado import OVERLAY
    step = folder / "bitstream"
    result_path = step / "bitstream.json"
    if not result_path.is_file():
        raise FileNotFoundError(f"the bitstream step has not run in {folder} (no {result_path}): "
                                f"run 'codesign flow --out {folder} --steps bitstream' first")
    result = json.loads(result_path.read_text())
    if result.get("route") != "vivado":
        raise ValueError(f"the board {result.get('board')} is not a Zynq board with PYNQ (bitstream route "
                         f"{result.get('route')!r}): the deploy bundle is for PYNQ boards; see "
                         f"{result_path} for the card's build")
    hwh, bit = step / f"{OVERLAY}.hwh", step / f"{OVERLAY}.bit"
    if not hwh.is_file():
        raise FileNotFoundError(f"the bitstream step wrote no {hwh}: run "
                                f"'codesign flow --out {folder} --steps bitstream --force'")
    return (bit if bit.is_file() else None), hwh, result


def _vectors(folder: Path, layout: StreamLayout) -> dict[str, np.ndarray]:
    path = folder / "vectors" / "vectors.npz"
    if not path.is_file():
        raise FileNotFoundError(f"no reference vectors in {folder}: run 'codesign vectors --out {folder}' first")
    names = (*layout.names, "expected")
    with np.load(path) as z:
        missing = set(names) - set(z.files)
        if missing:
            raise ValueError(f"{path} lacks {', '.join(sorted(missing))} (the stream's inputs are "
                             f"{', '.join(layout.names)}): run 'codesign vectors --out {folder} --force'")
        vec = {k: z[k] for k in names}
    n = len(vec["expected"])
    try:     # the vectors hold the model's inputs by name; they must fit the stream's fields
        check_requests(layout, {k: vec[k] for k in layout.names})
    except (TypeError, ValueError) as err:
        raise ValueError(f"the vectors in {path} do not fit the stream layout ({err}): run the vectors and rtl "
                         f"steps again") from None
    vec["expected"] = np.asarray(vec["expected"], np.float64).reshape((n,) if layout.score_count == 1 else (n, -1))
    pack_scores(layout, vec["expected"])     # raises unless every score is on the stream's grid
    for f in layout.fields:
        vec[f.name] = vec[f.name].astype(np.int32 if f.kind == "id" else np.float64)
    return vec


def _driver(dest: Path) -> list[str]:
    """Copies the board-side package to ``dest/codesign``; returns the files written."""
    host = PACKAGE / "host"
    if not (host / "__init__.py").is_file():
        raise FileNotFoundError(f"the driver package {host} is missing from this installation")
    pkg = dest / "codesign"
    shutil.copytree(host, pkg / "host", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(PACKAGE / "stream.py", pkg / "stream.py")
    (pkg / "__init__.py").write_text(DRIVER_INIT)
    return sorted(str(p.relative_to(dest)) for p in pkg.rglob("*") if p.is_file())


def bitstream_note(folder: Path, result: dict, hwh: Path) -> str:
    """BITSTREAM.md: how to build the .bit that this bundle lacks."""
    command = result.get("command")
    reason = (result.get("vivado") or {}).get("skipped", "no .bit was built")
    lines = [f"# No bitstream in this bundle\n", f"The bitstream step did not build a .bit: {reason}\n",
             f"`{hwh.name}` is the hardware description generated from the same block design (same "
             f"instance names, address map and DMA parameters as a Vivado build).\n",
             "On a workstation with Vivado, build the bitstream with the bitstream step's project:\n"]
    if command:
        lines.append(f"```\n{command}\n```\n")
    lines.append(f"then run `codesign deploy --out {folder}` again (or copy the `.bit` and the `.hwh` "
                 f"Vivado exported, with the same name, into this folder).\n")
    return "\n".join(lines)


def _check_current(folder: Path):
    """Refuses when a step the bundle reads has not run, or is stale for the folder's design.yaml."""
    from codesign.config import load_config
    from codesign.flow import Design, load_steps
    if not (folder / "design.yaml").is_file():
        raise FileNotFoundError(f"{folder} is not a design folder (no design.yaml): run 'codesign flow --out {folder}'")
    load_steps()
    design = Design(folder, load_config(folder / "design.yaml"))
    for step in STEPS_READ:
        if not design.is_current(step):
            state = "has not run" if not (design.path(step) / f"{step}.json").is_file() else "is out of date"
            raise RuntimeError(f"the {step} step {state} in {folder}: run "
                               f"'codesign flow --out {folder} --steps {step}' first")
    return design


def deploy(folder: Path) -> dict:
    """Writes ``folder/deploy/`` (see the module docstring); returns its manifest."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"no design folder {folder}: run 'codesign flow --out {folder}' first")
    # every input is checked before anything is written
    design = _check_current(folder)
    layout = design_layout(folder)
    vectors = _vectors(folder, layout)
    bit, hwh, result = _bitstream_files(folder)
    if not NOTEBOOK.is_file():
        raise FileNotFoundError(f"the notebook {NOTEBOOK} is missing from this installation")
    onnx = sorted((folder / "bench").glob("*.onnx"))
    tflite = sorted((folder / "bench").glob("*.tflite"))

    final, tmp = folder / "deploy", folder / "deploy.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    files = _driver(tmp)
    (tmp / "stream.json").write_text(json.dumps(layout.to_dict(), indent=2))
    np.savez_compressed(tmp / "vectors.npz", **vectors)
    shutil.copy2(NOTEBOOK, tmp / NOTEBOOK.name)
    stem = bit.stem if bit is not None else hwh.stem
    shutil.copy2(hwh, tmp / f"{stem}.hwh")
    if bit is not None:
        shutil.copy2(bit, tmp / f"{stem}.bit")
    else:
        (tmp / "BITSTREAM.md").write_text(bitstream_note(folder, result, hwh))
    for model in onnx + tflite:
        shutil.copy2(model, tmp / model.name)
    files += ["stream.json", "vectors.npz", NOTEBOOK.name, f"{stem}.hwh"]
    files += [f"{stem}.bit"] if bit is not None else ["BITSTREAM.md"]
    files += [m.name for m in onnx + tflite]
    manifest = {"design": design.cfg.name, "board": result.get("board"), "bitfile": f"{stem}.bit",
                "bit_built": bit is not None, "hwh": f"{stem}.hwh", "vectors": int(len(vectors["expected"])),
                "onnx": [m.name for m in onnx],
                "tflite": [m.name for m in tflite], "stream": layout.to_dict(), "files": sorted(files + ["manifest.json"])}
    if bit is None:
        manifest["skipped"] = "no .bit: Vivado did not run (see BITSTREAM.md for the command)"
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if final.exists():
        old = folder / "deploy.old"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(final)
    return manifest
