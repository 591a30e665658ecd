"""The notebooks run top to bottom against a real design folder."""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", ["explore_design.ipynb"])
def test_notebook_runs_on_a_design(name, tiny_design, monkeypatch):
    monkeypatch.setenv("CODESIGN_DESIGN", str(tiny_design.folder))
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "hybrid_quant" in text and "design tiny" in text
    assert any(o.get("output_type") == "display_data" for c in nb.cells for o in c.get("outputs", []))
