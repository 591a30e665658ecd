"""The bitstream step's generators for every board: tcl under tclsh with Vivado stubbed, the
.hwh through pynq's own parser, the Vitis project for XRT cards, the report parsers."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from codesign.bitstream.blockdesign import (ACCEL_INSTANCE, ACCEL_VLNV, DMA_INSTANCE, describe, split_part)
from codesign.bitstream.hwh import compare_hwh, hwh_part, hwh_summary, write_hwh
from codesign.stream import axis_ports
from codesign.bitstream.reports import parse_timing_summary, parse_utilization, timing_at_clock
from codesign.bitstream.vitis import KERNEL, parse_link_config, write_vitis_project
from codesign.bitstream.vivado import check_top, copy_sources, top_ports, write_project
from codesign.boards import available_boards, load_board, parse_board
from codesign.stream import StreamLayout

FIXTURES = Path(__file__).parent / "fixtures" / "bitstream"
STUBS = FIXTURES / "vivado_stubs.tcl"
LAYOUTS = {"default": StreamLayout.from_dict({"n_nodes": 6, "title_length": 8, "score_frac_bits": 10}),   # 256 bits
           "small": StreamLayout.from_dict({"n_nodes": 4, "title_length": 4, "score_frac_bits": 7})}     # 128 bits
PS_BOARDS = [b for b in available_boards() if load_board(b).interface.ps != "none"]
XRT_BOARDS = [b for b in available_boards() if load_board(b).interface.ps == "none"]

pytestmark = pytest.mark.skipif(shutil.which("tclsh") is None, reason="tclsh not installed (Debian package tcl)")


def fake_rtl(folder: Path, layout: StreamLayout) -> list[str]:
    """A stand-in for the rtl step's output: the top's header as build_rtl writes it, ROM files."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recommender.v").write_text(f"""`timescale 1ns / 1ps
module recommender (
{axis_ports(layout)}
);
    recommender_top #(
        .NODE_INIT("{folder}/node_rom.hex"),
        .TOK_INIT("{folder}/token_rom.hex")
    ) top (.clk(clk));
endmodule
""")
    (folder / "recommender_top.v").write_text("module recommender_top #(parameter NODE_INIT = \"\", "
                                              "parameter TOK_INIT = \"\") (input wire clk); endmodule\n")
    (folder / "node_rom.hex").write_text("0000\n0102\n")
    (folder / "token_rom.hex").write_text("00\n07\n")
    return [str(folder / "recommender.v"), str(folder / "recommender_top.v")]


def run_stubbed(script: Path, verilog: Path, module: str, vlnv: str, stub_dir: Path) -> subprocess.CompletedProcess:
    """Sources ``script`` under tclsh with every Vivado command stubbed; the packaged top's
    port widths are seeded from the Verilog it packages."""
    seeds = [f"set ::stub_dir {{{stub_dir}}}", "file mkdir $::stub_dir"]
    ports = top_ports(verilog.read_text(), module)
    for p in ports:
        left, right = (p.width - 1, 0) if p.width > 1 else ("", "")
        seeds += [f'set ::props(port:{p.name},SIZE_LEFT) "{left}"', f'set ::props(port:{p.name},SIZE_RIGHT) "{right}"']
    width = {p.name: p.width for p in ports}
    seeds.append(f"dict set ::ip_intf_props {vlnv} {{s_axis {{CONFIG.TDATA_NUM_BYTES {width['s_axis_tdata'] // 8}}} "
                 f"m_axis {{CONFIG.TDATA_NUM_BYTES {width['m_axis_tdata'] // 8}}}}}")
    stub_dir.mkdir(parents=True, exist_ok=True)
    wrapper = stub_dir / "run.tcl"
    wrapper.write_text(f"source {{{STUBS}}}\n" + "\n".join(seeds) +
                       f"\nset argv {{}}\nset argc 0\nsource {{{script}}}\n")
    return subprocess.run(["tclsh", str(wrapper)], capture_output=True, text=True, timeout=60)


def tcl_calls(stdout: str) -> list[str]:
    return [line[5:] for line in stdout.splitlines() if line.startswith("CALL ")]


@pytest.fixture(params=sorted(LAYOUTS))
def layout(request) -> StreamLayout:
    return LAYOUTS[request.param]


@pytest.mark.parametrize("board_name", PS_BOARDS)
def test_vivado_tcl_and_hwh_match_the_design(tmp_path, board_name, layout):
    board = load_board(board_name)
    bd = describe(board, layout)
    sources = fake_rtl(tmp_path / "rtl", layout)
    out = tmp_path / "bitstream"
    files = write_project(bd, sources, out)
    tcl = Path(files["tcl"]).read_text()

    # the copied top names its ROM files relative to the folder, and they are there
    top = (out / "ip" / "src" / "recommender.v").read_text()
    assert '"node_rom.mem"' in top and '"token_rom.mem"' in top and str(tmp_path) not in top
    assert (out / "ip" / "src" / "node_rom.mem").read_text() == "0000\n0102\n"

    # the whole script runs under tclsh with Vivado stubbed (its own checks included)
    run = run_stubbed(Path(files["tcl"]), out / "ip" / "src" / "recommender.v", "recommender", ACCEL_VLNV,
                      tmp_path / "stub")
    assert run.returncode == 0, run.stderr + run.stdout[-2000:]
    log = tcl_calls(run.stdout)
    hwh = write_hwh(bd, out / "recommender.hwh")     # after the stubs' placeholder outputs
    projects = [c for c in log if c.startswith("create_project")]
    assert len(projects) == 2 and all(f"-part {board.part}" in c for c in projects)
    cells = {name: vlnv for vlnv, name in re.findall(r"create_bd_cell -type ip -vlnv (\S+) (\S+)", run.stdout)}
    assert cells == bd.instances()
    ps_cell = bd.ps.instance
    clock_key = "PCW_FPGA0_PERIPHERAL_FREQMHZ" if board.interface.ps == "ps7" else "PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ"
    assert re.search(rf"CONFIG\.{clock_key} \{{?{board.clock_mhz:g}\}}?", tcl)
    assert f"set part {board.part}" in tcl and f"set board_part {board.board_part}" in tcl
    # data path ends on the board's HP port, streams connect DMA and accelerator
    hp = bd.ps.slave(board.interface.host_port)
    assert any(c.endswith(f"{ps_cell}/{hp}") and "axi_smc_data/M00_AXI" in c
               for c in log if c.startswith("connect_bd_intf_net"))
    assert f"connect_bd_intf_net {DMA_INSTANCE}/M_AXIS_MM2S {ACCEL_INSTANCE}/s_axis" in log
    assert f"connect_bd_intf_net {ACCEL_INSTANCE}/m_axis {DMA_INSTANCE}/S_AXIS_S2MM" in log
    # DMA widths: set in the tcl, equal to the stream layout
    for key, bits in (("c_m_axis_mm2s_tdata_width", layout.stream_bits),
                      ("c_m_axi_mm2s_data_width", layout.stream_bits),
                      ("c_s_axis_s2mm_tdata_width", 32), ("c_include_sg", 0)):
        assert re.search(rf"CONFIG\.{key} \{{{bits}\}}", tcl), key
    # address map: what the tcl assigns is what the description says
    assigned = re.findall(r"assign_bd_address -target_address_space \S+ (\S+) -offset (0x[0-9A-F]+) -range (0x[0-9A-F]+)",
                          "\n".join(log))
    want = [(f"0x{s['base']:08X}", f"0x{s['range']:X}") for s in bd.address_map()]
    assert [(o, r) for _, o, r in assigned] == want
    assert assigned[0][0] == f"{DMA_INSTANCE}/S_AXI_LITE/Reg"
    # ports of the top: in the tcl's check list and in the Verilog, same names and widths
    listed = re.search(r"set top_ports \{(.*)\}", tcl).group(1)
    assert re.findall(r"\{(\S+) ([IO]) (\d+)\}", listed) == [(p.name, p.direction, str(p.width))
                                                            for p in top_ports(top)]
    assert ACCEL_VLNV in tcl and ACCEL_VLNV in hwh.read_text()

    # the .hwh, read by pynq's own parser
    from pynqmetadata.frontends import Metadata
    from pynqmetadata.views.runtime import RuntimeMetadataParser
    md = RuntimeMetadataParser(Metadata(input=str(hwh)))
    dma = md.ip_dict[DMA_INSTANCE]
    assert dma["type"] == "xilinx.com:ip:axi_dma:7.1"
    assert dma["phys_addr"] == bd.dma_base and dma["addr_range"] == 0x10000
    params = dma["parameters"]
    assert params["c_include_mm2s"] == params["c_include_s2mm"] == "1" and params["c_include_sg"] == "0"
    assert int(params["c_m_axi_mm2s_data_width"]) == int(params["c_m_axis_mm2s_tdata_width"]) == layout.stream_bits
    assert int(params["c_s_axis_s2mm_tdata_width"]) == 32
    assert dma["interrupts"] == {}
    assert md.clock_dict[0]["enable"] == 1
    assert (md.clock_dict[0]["divisor0"], md.clock_dict[0]["divisor1"]) == (bd.clock.divisor0, bd.clock.divisor1)
    assert hwh_part(hwh) == split_part(board.part)
    # pynq 3.0.1's own copy of the parser (what EmbeddedDevice.get_bitfile_metadata uses) agrees
    from pynq.metadata.runtime_metadata_parser import RuntimeMetadataParser as PynqParser
    pynq_dma = PynqParser(Metadata(input=str(hwh))).ip_dict[DMA_INSTANCE]
    assert pynq_dma["phys_addr"] == bd.dma_base and pynq_dma["parameters"]["c_include_s2mm"] == "1"
    # the accelerator and the DMA masters in the XML: VLNV, port widths, HP port
    root = ET.parse(hwh).getroot()
    accel = root.find(f".//MODULE[@INSTANCE='{ACCEL_INSTANCE}']")
    assert accel.get("VLNV") == ACCEL_VLNV
    widths = {p.get("NAME"): int(p.get("LEFT", 0)) + 1 for p in accel.iter("PORT")}
    assert widths == {p.name: p.width for p in top_ports(top)}
    ranges = root.findall(f".//MODULE[@INSTANCE='{DMA_INSTANCE}']/MEMORYMAP/MEMRANGE")
    assert {r.get("MASTERBUSINTERFACE") for r in ranges} == {"M_AXI_MM2S", "M_AXI_S2MM"}
    assert all(r.get("SLAVEBUSINTERFACE") == hp and r.get("INSTANCE") == ps_cell for r in ranges)
    assert int(ranges[0].get("HIGHVALUE"), 16) + 1 == bd.ddr_window


def test_stubbed_tcl_catches_a_misspelled_command_and_a_wrong_width(tmp_path):
    board, layout = load_board("pynq-z2"), LAYOUTS["default"]
    bd = describe(board, layout)
    files = write_project(bd, fake_rtl(tmp_path / "rtl", layout), tmp_path / "bs")
    tcl = Path(files["tcl"])
    good = tcl.read_text()
    verilog = tmp_path / "bs" / "ip" / "src" / "recommender.v"
    tcl.write_text(good.replace("create_bd_cell -type ip -vlnv xilinx.com:ip:axi_dma", "create_bd_cel -type ip -vlnv "
                                "xilinx.com:ip:axi_dma", 1))
    run = run_stubbed(tcl, verilog, "recommender", ACCEL_VLNV, tmp_path / "s1")
    assert run.returncode != 0 and "create_bd_cel" in run.stderr
    tcl.write_text(good.replace("CONFIG.c_m_axis_mm2s_tdata_width {256}", "CONFIG.c_m_axis_mm2s_tdata_width {128}"))
    run = run_stubbed(tcl, verilog, "recommender", ACCEL_VLNV, tmp_path / "s2")
    assert run.returncode != 0 and "c_m_axis_mm2s_tdata_width" in run.stderr
    tcl.write_text(good.replace("assign_bd_address -target_address_space", "assign_bd_address -targetaddress_space", 1))
    run = run_stubbed(tcl, verilog, "recommender", ACCEL_VLNV, tmp_path / "s3")
    assert run.returncode != 0 and "unknown option" in run.stderr


def test_stale_rtl_and_bad_inputs_are_refused(tmp_path):
    board = load_board("pynq-z2")
    bd = describe(board, LAYOUTS["default"])
    sources = fake_rtl(tmp_path / "rtl", LAYOUTS["small"])          # a 128-bit top, the design says 256
    with pytest.raises(ValueError, match="re-run the rtl step"):
        check_top(bd, Path(sources[0]).read_text())
    (tmp_path / "rtl" / "node_rom.hex").unlink()
    with pytest.raises(FileNotFoundError, match="node_rom.hex"):
        copy_sources(sources, tmp_path / "copy")
    with pytest.raises(ValueError, match="no PS"):
        describe(load_board(XRT_BOARDS[0]), LAYOUTS["default"])
    narrow = parse_board({**board.model_dump(), "interface": {**board.interface.model_dump(), "max_stream_bits": 128}})
    with pytest.raises(ValueError, match="max_stream_bits 128"):
        describe(narrow, LAYOUTS["default"])


@pytest.mark.parametrize("board_name", XRT_BOARDS)
def test_vitis_project_matches_the_design(tmp_path, board_name, layout):
    board = load_board(board_name)
    copy_sources(fake_rtl(tmp_path / "rtl", layout), tmp_path / "bs" / "ip" / "src")
    project = write_vitis_project(board, layout, tmp_path / "bs" / "vitis")
    files = {k: Path(v) for k, v in project["files"].items()}
    run = run_stubbed(files["tcl"], files["kernel"], KERNEL, "codesign.local:codesign:recommender_krnl:1.0",
                      tmp_path / "stub")
    assert run.returncode == 0, run.stderr + run.stdout[-2000:]
    log = tcl_calls(run.stdout)
    assert any(c.startswith("create_project") and f"-part {board.part}" in c for c in log)
    assert any(c.startswith("package_xo") and f"-kernel_name {KERNEL}" in c and "ap_ctrl_none" in c for c in log)
    ports = {p.name: p.width for p in top_ports(files["kernel"].read_text(), KERNEL)}
    assert ports["s_axis_tdata"] == layout.stream_bits and ports["m_axis_tdata"] == 32
    assert "ap_clk" in ports and "ap_rst_n" in ports
    cfg = parse_link_config(files["link_cfg"].read_text())
    names = {v.split(":")[0]: v.split(":")[2] for v in cfg["connectivity.nk"]}
    assert names == {"mm2s": "mm2s_1", "s2mm": "s2mm_1", KERNEL: "recommender_1"}
    assert cfg["connectivity.stream_connect"] == ["mm2s_1.out:recommender_1.s_axis", "recommender_1.m_axis:s2mm_1.in"]
    assert cfg["connectivity.sp"] == [f"mm2s_1.mem:{board.memory.bank}", f"s2mm_1.mem:{board.memory.bank}"]
    assert cfg["clock.freqHz"] == [f"{int(board.clock_mhz * 1e6)}:recommender_1.ap_clk"]
    assert f"#define BEAT_BITS {layout.stream_bits}" in files["mm2s"].read_text()
    assert "#define BEAT_BITS 32" in files["s2mm"].read_text()
    build = files["build"].read_text()
    assert board.interface.platform in build and "--config link.cfg" in build
    assert "no .hwh" in project["summary"]["note"]


def test_vivado_report_parsers_on_fixtures():
    util = parse_utilization((FIXTURES / "utilization_xc7.rpt").read_text(), load_board("pynq-z2"))
    assert util["lut"] == {"used": 17311, "available": 53200} and util["bram36"]["used"] == 6.5
    assert util["share_of_board"]["lut"] == pytest.approx(17311 / 53200, abs=1e-4) and "warning" not in util
    up = parse_utilization((FIXTURES / "utilization_xcup.rpt").read_text(), load_board("kv260"))
    assert up["ff"] == {"used": 9100, "available": 234240} and up["dsp"]["available"] == 1248
    other = parse_utilization((FIXTURES / "utilization_xcup.rpt").read_text(), load_board("pynq-z2"))
    assert "another part" in other["warning"]
    timing = parse_timing_summary((FIXTURES / "timing_summary.rpt").read_text())
    assert timing["wns_ns"] == 1.742 and timing["whs_ns"] == 0.021 and timing["met"]
    assert timing["clocks"] == {"clk_fpga_0": {"period_ns": 10.0, "mhz": 100.0}}
    at = timing_at_clock(timing, 100)
    assert at["clock"] == "clk_fpga_0" and at["fmax_mhz"] == pytest.approx(1000 / (10 - 1.742), abs=0.01)
    with pytest.raises(ValueError, match="report_utilization"):
        parse_utilization("| Site Type | Used | Available |\n| Slice LUTs | 1 | 2 |\n")
    with pytest.raises(ValueError, match="report_timing_summary"):
        parse_timing_summary("nothing here")


def _fake_build(design_folder: Path, layout: StreamLayout) -> None:
    rtl = design_folder / "rtl"
    sources = fake_rtl(rtl, layout)
    (rtl / "build.json").write_text(json.dumps({"toplevel": "recommender", "sources": sources, "libdirs": [],
                                                "stream": layout.to_dict()}))


@pytest.mark.parametrize("board_name", ["pynq-z2", "zcu104", "alveo-u50"])
def test_step_writes_the_project_and_skips_vivado(tmp_path, board_name, monkeypatch):
    from codesign.bitstream.step import bitstream_step
    from codesign.config import parse_config
    from codesign.flow import Design
    monkeypatch.setenv("PATH", "/usr/bin:/bin")           # no vivado here, and none smuggled in
    cfg = parse_config({"board": board_name, "bitstream": {"hls4ml": False}})
    design = Design(tmp_path / "d", cfg)
    _fake_build(design.folder, LAYOUTS["default"])
    result = bitstream_step(design)
    out = design.path("bitstream")
    assert result["board"] == board_name and result["part"] == load_board(board_name).part
    assert "vivado is not on PATH" in result["vivado"]["skipped"] or "v++" in result["vivado"]["skipped"]
    assert result["command"] in result["vivado"]["skipped"]
    assert result["hls4ml"] == {"skipped": "bitstream.hls4ml is false"}
    assert not (tmp_path / "d" / "bitstream.tmp").exists()
    for path in result["files"].values():
        for p in ([path] if isinstance(path, str) else path):
            assert Path(p).is_file() and str(out) in p
    if result["route"] == "vivado":
        assert result["block_design"]["dma"]["base"] in ("0x40400000", "0xA0000000")
        assert Path(result["files"]["hwh"]).name == "recommender.hwh"
        if board_name == "zcu104":   # 200 MHz is not an integer division of the 1500 MHz IOPLL
            assert "187.5" in result["clock_warning"]
    else:
        assert result["hwh"]["skipped"] and result["vitis"]["platform"] == load_board(board_name).interface.platform


def test_step_takes_the_rtl_steps_clock(tmp_path, monkeypatch):
    """The PL clock of the block design is the rtl step's clock (rtl.json clock_mhz), not the
    board's default: the tcl, the .hwh divisors and the result say 125 MHz on a 100 MHz board."""
    import re
    from codesign.bitstream.step import bitstream_step
    from codesign.config import parse_config
    from codesign.flow import Design
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    design = Design(tmp_path / "d", parse_config({"board": "pynq-z2", "bitstream": {"hls4ml": False}}))
    _fake_build(design.folder, LAYOUTS["default"])
    (design.path("rtl") / "rtl.json").write_text(json.dumps({"clock_mhz": 125.0, "target_clock_mhz": 125.0}))
    result = bitstream_step(design)
    assert load_board("pynq-z2").clock_mhz == 100.0
    assert result["clock_mhz"] == 125.0 and "100 MHz" in result["clock_source"]
    assert result["block_design"]["clock"]["requested_mhz"] == 125.0
    tcl = "".join(Path(p).read_text() for p in result["files"].values() if isinstance(p, str) and p.endswith(".tcl"))
    assert re.search(r"CONFIG\.PCW_FPGA0_PERIPHERAL_FREQMHZ \{?125\}?", tcl)


def test_step_refuses_a_missing_rtl_build(tmp_path):
    from codesign.bitstream.step import bitstream_step
    from codesign.config import parse_config
    from codesign.flow import Design
    with pytest.raises(FileNotFoundError, match="--steps rtl"):
        bitstream_step(Design(tmp_path, parse_config({})))


@pytest.mark.slow
def test_bitstream_step_on_the_tiny_design(tiny_design):
    """rtl (without yosys) then bitstream on the trained tiny design, hls4ml project included."""
    from codesign.flow import Design, run_flow
    cfg = tiny_design.cfg.model_copy(deep=True)
    cfg.rtl.synth = False
    design = Design(tiny_design.folder, cfg)
    summary = run_flow(design, ["rtl", "bitstream"], log=lambda *_: None)
    result = summary["steps"]["bitstream"]
    stream = summary["steps"]["rtl"]["stream"]
    assert result["block_design"]["streams"]["mm2s_bits"] == stream["stream_bits"]
    assert json.loads((design.path("bitstream") / "bitstream.json").read_text())["board"] == "pynq-z2"
    src = design.path("bitstream") / "ip" / "src"
    roms = sorted(src.glob("*_rom.mem"))       # one per embedding the generated top reads (<op>_rom.mem)
    assert (src / "recommender.v").is_file() and len(roms) == 2 and all(p.stat().st_size > 0 for p in roms)
    assert any(p.name.startswith("recommender_core") for p in src.glob("*.v"))
    hls = result["hls4ml"]
    assert "skipped" not in hls and "design.tcl" in hls["files"] and "build_prj.tcl" in hls["files"]
    bd = describe(load_board("pynq-z2"), StreamLayout.from_dict(stream))
    copy = design.folder / "stub_check" / "bitstream"      # the stubs write placeholder outputs: not here
    shutil.rmtree(copy.parent, ignore_errors=True)
    shutil.copytree(design.path("bitstream"), copy, ignore=shutil.ignore_patterns("hls4ml"))
    run = run_stubbed(copy / "build.tcl", copy / "ip" / "src" / "recommender.v", "recommender", ACCEL_VLNV,
                      copy.parent / "stub")
    assert run.returncode == 0, run.stderr
    assert f"0x{bd.dma_base:08X}" in "\n".join(tcl_calls(run.stdout))


def test_hwh_summary_and_comparison(tmp_path):
    layout = LAYOUTS["default"]
    a = write_hwh(describe(load_board("pynq-z2"), layout), tmp_path / "a.hwh")
    b = write_hwh(describe(load_board("kv260"), layout), tmp_path / "b.hwh")
    assert compare_hwh(a, a) == []
    diffs = compare_hwh(a, b)
    assert any(d.startswith("part") for d in diffs) and any(d.startswith("dma_base") for d in diffs)
    assert any("processing_system7_0" in d for d in diffs)
    root = ET.parse(a)
    modules = root.getroot().find("MODULES")
    modules.remove(modules.find(f"MODULE[@INSTANCE='{DMA_INSTANCE}']"))
    root.write(tmp_path / "nodma.hwh")
    with pytest.raises(ValueError, match="no axi_dma_0"):
        hwh_summary(tmp_path / "nodma.hwh")


def test_kv260_tcl_names_its_carrier_and_hls4ml_skips_unsupported_boards(tmp_path):
    from codesign.bitstream.step import hls4ml_project
    from codesign.config import parse_config
    from codesign.flow import Design
    board = load_board("kv260")
    files = write_project(describe(board, LAYOUTS["default"]), fake_rtl(tmp_path / "rtl", LAYOUTS["default"]),
                          tmp_path / "bs")
    assert f"set_property board_connections {{{board.board_connections}}}" in Path(files["tcl"]).read_text()
    design = Design(tmp_path / "d", parse_config({"board": "kv260"}))
    result = hls4ml_project(design, board, tmp_path / "hls4ml")
    assert "does not support kv260" in result["skipped"] and not (tmp_path / "hls4ml").exists()


def _stand_in_vivado(bin_dir: Path, body: str) -> None:
    """A ``vivado`` stand-in (Vivado is not installed here) to test our handling of a run:
    the deadline, a failed run, and parsing what a finished run leaves behind."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    exe = bin_dir / "vivado"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(0o755)


def test_vivado_run_has_a_deadline_and_its_reports_are_parsed(tmp_path, monkeypatch):
    from codesign.bitstream.step import vivado_result
    from codesign.config import BitstreamConfig
    board = load_board("pynq-z2")
    bd = describe(board, LAYOUTS["default"])
    out = tmp_path / "bs"
    write_project(bd, fake_rtl(tmp_path / "rtl", LAYOUTS["default"]), out)
    write_hwh(bd, out / "recommender.hwh")
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    _stand_in_vivado(bin_dir, "sleep 30\n")
    import time
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="did not finish within 1 s"):
        vivado_result(out, board, "cmd", BitstreamConfig(vivado_timeout_s=1))
    assert time.perf_counter() - start < 10
    _stand_in_vivado(bin_dir, "echo 'ERROR: [Common 17-69] Command failed'; exit 1\n")
    with pytest.raises(RuntimeError, match="(?s)exited with 1.*Command failed"):
        vivado_result(out, board, "cmd", BitstreamConfig())
    _stand_in_vivado(bin_dir, f"""mkdir -p reports
cp {FIXTURES}/utilization_xc7.rpt reports/utilization.rpt
cp {FIXTURES}/timing_summary.rpt reports/timing_summary.rpt
echo bit > recommender.bit; echo xsa > recommender.xsa
""")                                  # leaves the generated .hwh in place, as a matching export would be
    result = vivado_result(out, board, "cmd", BitstreamConfig())
    assert result["hwh_matches_description"] and result["wns_ns"] == 1.742 and result["clock"] == "clk_fpga_0"
    assert result["utilization"]["lut"]["used"] == 17311 and Path(result["bit"]).is_file()
    assert vivado_result(out, board, "cmd", BitstreamConfig(vivado=False))["skipped"].startswith("bitstream.vivado is false")
