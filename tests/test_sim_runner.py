"""The simulators' output goes to log files; a failure shows the log's last lines and its path."""
import shutil

import pytest

from codesign.sim.runner import TB_DIR, build_bench

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus: apt-get install -y iverilog")


def test_a_broken_source_names_its_log(tmp_path):
    bad = tmp_path / "broken.v"
    bad.write_text("module broken(input wire clk);\n  this is not verilog;\nendmodule\n")
    with pytest.raises(RuntimeError, match="icarus could not build broken") as err:
        build_bench("icarus", [str(bad)], "broken", tmp_path / "sim", TB_DIR / "top")
    log = tmp_path / "sim" / "icarus" / "build.log"
    assert f"full log: {log}" in str(err.value) and "syntax error" in log.read_text()
    assert "syntax error" in str(err.value)      # the tail is on the console


def test_a_good_build_keeps_the_console_quiet(tmp_path, capfd):
    good = tmp_path / "good.v"
    good.write_text("module good(input wire clk, output reg q);\n  always @(posedge clk) q <= ~q;\nendmodule\n")
    bench = build_bench("icarus", [str(good)], "good", tmp_path / "sim", TB_DIR / "top")
    out = capfd.readouterr()
    assert "iverilog" not in out.out + out.err
    assert (bench.build_dir / "build.log").is_file()
