"""The resource synthesis started beside a timing estimate gives what a synthesis of its own gives,
and is taken only for exactly the same sources."""
from __future__ import annotations

import shutil

import pytest

from codesign.boards import load_board
from codesign.rtl import synth
from codesign.rtl.timing import estimate

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")

ADDER = """
module radd(input clk, input [{w}:0] a, b, output reg [{w1}:0] s);
  reg [{w}:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end
endmodule
"""


@needs_yosys
def test_resources_alongside_timing_equal_a_run_of_their_own(tmp_path):
    board = load_board("pynq-z2")
    src = tmp_path / "radd.v"
    src.write_text(ADDER.format(w=15, w1=16))
    own = synth.synthesize([str(src)], "radd", board, tmp_path / "own")
    with synth.alongside_timing(tmp_path / "along"):
        estimate([str(src)], "radd", "xc7", 100.0, tmp_path / "t")
        assert (tmp_path / "along" / "run0" / "src").is_dir()      # started by the estimate
        src.write_text(ADDER.format(w=7, w1=8))                       # a rebuild: other sources
        assert synth._ALONGSIDE.take([str(src)], "radd", "xc7") is None
        other = synth.synthesize([str(src)], "radd", board, tmp_path / "other")
        src.write_text(ADDER.format(w=15, w1=16))                     # the estimated sources again
        along = synth.synthesize([str(src)], "radd", board, tmp_path / "res")
    assert synth._ALONGSIDE is None
    assert (tmp_path / "res" / "yosys.full.log").is_file() and (tmp_path / "res" / "synth.ys").is_file()
    for k in ("lut", "ff", "carry", "dsp"):
        assert along[k] == own[k], k
    assert along["ff"] > other["ff"] > 0


def test_synthesize_without_alongside_block_starts_nothing(tmp_path):
    synth.start_alongside(["/nonexistent.v"], "top", "xc7")      # outside the block: a no-op
    assert synth._ALONGSIDE is None


MULT = """
module rmul(input clk, input [63:0] a, b, output reg [127:0] p);
  reg [63:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; p <= ra * rb; end
endmodule
"""


@needs_yosys
def test_a_superseded_resource_run_goes_on_at_low_priority_until_another_is_taken(tmp_path):
    """A re-cut's estimate lowers the previous background synthesis to the lowest CPU priority (the
    2 cores go to the new estimate) without dropping it: the search may keep the earlier cut. Taking
    one run stops the others still going (no stale yosys runs)."""
    import os
    slow, small, third = tmp_path / "slow.v", tmp_path / "small.v", tmp_path / "third.v"
    slow.write_text(MULT)                       # a 64x64 multiplier: seconds of synth_xilinx
    small.write_text(ADDER.format(w=7, w1=8))
    third.write_text(MULT.replace("rmul", "rmul3"))
    with synth.alongside_timing(tmp_path / "along"):
        along = synth._ALONGSIDE

        def started(path, top):
            along.start([str(path)], top, "xc7")
            t, box = along.runs[synth._sources_key([str(path)], top, "xc7")]
            for _ in range(200):                # the thread has started yosys
                if "proc" in box:
                    break
                t.join(0.05)
            return t, box
        t0, box0 = started(slow, "rmul")
        started(small, "radd")
        running = box0["proc"].poll() is None
        if running:
            assert os.getpriority(os.PRIO_PROCESS, box0["proc"].pid) == 19
        t2, box2 = started(third, "rmul3")
        # the slow run started first and both get a core: it ends first (a few seconds)
        assert along.take([str(slow)], "rmul", "xc7")[0] == 0          # kept, and finished
        if box2["proc"].returncode != 0:                                 # stopped by the take
            assert not t2.is_alive() and synth._sources_key([str(third)], "rmul3", "xc7") not in along.runs
    assert running, "the 64x64 multiplier finished before the next estimate: the test proved nothing"
