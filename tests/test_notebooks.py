"""The notebooks run top to bottom against a real design folder."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["explore_design.ipynb", "01_train_and_quantize.ipynb"])
def test_notebook_runs_on_a_design(name, tiny_design, monkeypatch):
    monkeypatch.setenv("CODESIGN_DESIGN", str(tiny_design.folder))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "hybrid_quant" in text and "design tiny" in text
    assert any(o.get("output_type") == "display_data" for c in nb.cells for o in c.get("outputs", []))


def test_build_and_verify_notebook(tiny_design, tmp_path, monkeypatch):
    """02 on a copy of the trained tiny design, with a short vector set and Icarus only."""
    import shutil

    import yaml

    from codesign.config import parse_config
    from tests.conftest import TINY
    folder = tmp_path / "tiny"
    shutil.copytree(tiny_design.folder, folder, ignore=shutil.ignore_patterns(".lock"))
    fast = {**TINY, "vectors": {"real": 1500, "random": 300},
            "rtl": {"simulators": ["icarus"], "icarus_vectors": 200, "synth": False}}
    (folder / "design.yaml").write_text(yaml.safe_dump(parse_config(fast).model_dump(), sort_keys=False))
    monkeypatch.setenv("CODESIGN_DESIGN", str(folder))
    nb = nbformat.read(NOTEBOOKS / "02_build_and_verify.ipynb", as_version=4)
    NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "hls4ml C-sim" in text and "RTL, icarus" in text and "FAIL" not in text
    assert text.count("PASS") == 3 and "one LSB off: {'index': 7" in text
