"""boards/*.yaml: the strict schema, the consistency rules, and `codesign boards`."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from codesign.boards import BOARDS_DIR, available_boards, format_boards, load_board, parse_board

REQUIRED = {"pynq-z2", "zcu104", "kv260", "ultra96-v2", "zcu102"}


def tree(name: str) -> dict:
    return yaml.safe_load((BOARDS_DIR / f"{name}.yaml").read_text())


def test_every_board_loads_and_the_required_ones_exist():
    names = available_boards()
    assert REQUIRED <= set(names)
    assert any(load_board(n).interface.ps == "none" and n.startswith("alveo-") for n in names)
    for name in names:
        b = load_board(name)
        assert b.name == name and b.resources.lut < b.resources.ff
        assert b.vivado_version and b.clock_ns == pytest.approx(1000 / b.clock_mhz)
    assert load_board("kv260").part == "xck26-sfvc784-2LV-c"
    assert load_board("ultra96-v2").part == "xczu3eg-sbva484-1-i"
    assert load_board("zcu102").part == "xczu9eg-ffvb1156-2-e"
    assert {load_board(n).interface.ps for n in REQUIRED} == {"ps7", "ps8"}


def test_hls4ml_board_names_and_parts_agree_with_hls4ml():
    spec = importlib.util.find_spec("hls4ml")
    supported = json.loads((Path(spec.origin).parent / "backends" / "vivado_accelerator" /
                            "supported_boards.json").read_text())
    for name in available_boards():
        b = load_board(name)
        if b.hls4ml_board is not None:
            assert supported[b.hls4ml_board]["part"] == b.part, name


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(overlay="recipe"), "unknown key 'overlay'"),
    (lambda t: t["interface"].update(hp_port="HP0"), "unknown key 'interface.hp_port'"),
    (lambda t: t.update(clock_mhz="100"), "bad value for 'clock_mhz'"),
    (lambda t: t["resources"].update(lut=53200.0), "bad value for 'resources.lut'"),
    (lambda t: t["memory"].update(type="SRAM"), "bad value for 'memory.type'"),
    (lambda t: t["interface"].update(host_port="HPC0"), "host_port of a ps7 must be one of HP0"),
    (lambda t: t["interface"].update(max_stream_bits=384), "power of two"),
    (lambda t: t["interface"].update(ps="ps8"), "family must be xcup"),
    (lambda t: t["interface"].update(ps="none"), "needs 'dma: xrt'"),
    (lambda t: t.update(board_part=None), "needs 'board_part'"),
    (lambda t: t["memory"].update(bank="HBM[0]"), "memory.bank is set for XRT cards"),
    (lambda t: t.update(pynq_image="PYNQ 2.7"), "bad value for 'pynq_image'"),
])
def test_bad_board_files_name_the_problem(change, message):
    t = tree("pynq-z2")
    change(t)
    with pytest.raises(ValueError, match="board file x.yaml is invalid") as err:
        parse_board(t, "x.yaml")
    assert message in str(err.value)


def test_unknown_board_and_misnamed_file(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="available: .*kv260"):
        load_board("pynq-z3")
    import codesign.boards as boards
    monkeypatch.setattr(boards, "BOARDS_DIR", tmp_path)
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(tree("pynq-z2")))
    with pytest.raises(ValueError, match="names itself 'pynq-z2'"):
        boards.load_board("mine")
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        boards.load_board("list")


def test_boards_table_lists_every_board(capsys):
    from codesign.cli import main
    assert main(["boards"]) == 0
    text = capsys.readouterr().out
    head, *rows = text.strip().splitlines()
    for col in ("part", "LUT", "FF", "DSP", "BRAM36", "clock MHz", "PS", "DMA port"):
        assert col in head
    assert len(rows) == len(available_boards())
    z2 = next(r for r in rows if r.startswith("pynq-z2"))
    assert "xc7z020clg400-1" in z2 and "53,200" in z2 and "PS7 HP0" in z2
    assert "XRT HBM[0]" in format_boards([load_board("alveo-u50")]).splitlines()[1]
