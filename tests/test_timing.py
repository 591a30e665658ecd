"""The timing estimate on hand-checkable netlists, the delay-based cut and the one latency figure."""
from __future__ import annotations

import shutil

import pytest

from codesign.latency import fifo_addr_w, latency_figure, met_clock, top_cycles, vivado_fmax_mhz
from codesign.rtl.timing import estimate, parse_library, pipeline_stage

needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="yosys is not installed")

ADDER = """
module radd(input clk, input [7:0] a, b, output reg [8:0] s);
  reg [7:0] ra, rb;
  always @(posedge clk) begin ra <= a; rb <= b; s <= ra + rb; end
endmodule
"""


def chain(n: int, width: int = 8) -> str:
    """Registered inputs, ``n`` chained adders (each adds one more input), registered sum."""
    regs = "\n".join(f"  reg [{width - 1}:0] r{i};" for i in range(n + 1))
    loads = " ".join(f"r{i} <= x[{i * width} +: {width}];" for i in range(n + 1))
    sums = "\n".join(f"  wire [{width + 7}:0] s{i} = {'r0' if i == 0 else f's{i - 1}'} + r{i + 1};"
                     for i in range(n))
    return f"""
module chain(input clk, input [{(n + 1) * width - 1}:0] x, output reg [{width + 7}:0] y);
{regs}
{sums}
  always @(posedge clk) begin {loads} y <= s{n - 1}; end
endmodule
"""


def _arcs_sum(t: dict, net_ns: float) -> float:
    """The path's delay rebuilt by hand from the library: cell arcs plus one net per routed pin."""
    lib = parse_library()
    total = 0
    for a in t["critical_path"]["arcs"]:
        ctype, arc = a["arc"].split(".", 1)
        if arc.startswith("clk->"):
            total += lib[ctype].clk_to_q[arc[5:].split("[")[0]]
        elif arc.endswith("setup"):
            total += lib[ctype].setup[arc.split()[0].split("[")[0]]
        else:
            pin_in, pin_out = arc.split("->")
            total += lib[ctype].comb[(pin_in, pin_out)]
            routed = ctype.startswith("LUT") or ctype == "INV" or pin_in.split("[")[0] in ("DI", "CYINIT")
            total += round(net_ns * 1000) if routed else 0
    return total / 1000


@needs_yosys
def test_registered_adder_is_the_sum_of_its_cells(tmp_path):
    src = tmp_path / "radd.v"
    src.write_text(ADDER)
    t = estimate([str(src)], "radd", "xc7", 100.0, tmp_path / "t", net_ns=0.5)
    lib = parse_library()
    p = t["critical_path"]
    # FF -> LUT2 -> CARRY4 x3 (9-bit sum) -> FF; each arc from yosys' cells_sim.v
    assert [a["arc"].split(".")[0] for a in p["arcs"]] == ["FDRE", "LUT2", "CARRY4", "CARRY4", "CARRY4", "FDRE"]
    assert p["lut_levels"] == 1 and p["carry4"] == 3
    expected_cells = (lib["FDRE"].clk_to_q["Q"] + lib["LUT2"].comb[("I0", "O")] + lib["CARRY4"].comb[("S[1]", "CO[3]")]
                      + lib["CARRY4"].comb[("CI", "CO[3]")] + lib["CARRY4"].comb[("CI", "O[0]")]) / 1000
    assert t["worst_ns"] == pytest.approx(expected_cells + 0.5)          # one routed net: the LUT input
    assert t["worst_ns"] == pytest.approx(_arcs_sum(t, 0.5))
    assert t["worst_ns_cells_only"] <= expected_cells + 1e-9
    assert t["fmax_mhz"] == pytest.approx(1000 / t["worst_ns"], rel=1e-3)
    assert t["meets"] and t["slack_ns"] == pytest.approx(10 - t["worst_ns"], abs=1e-3)
    assert "7-series" in t["cell_model"] and "0.5 ns/net" in t["label"]
    assert p["start"].startswith(("ra", "rb")) and p["end"].startswith("s")


@needs_yosys
def test_chain_of_adders_adds_up_and_grows(tmp_path):
    worst = []
    for n in (1, 3):
        src = tmp_path / f"chain{n}.v"
        src.write_text(chain(n))
        t = estimate([str(src)], "chain", "xc7", 100.0, tmp_path / f"t{n}", net_ns=0.5)
        p = t["critical_path"]
        assert t["worst_ns"] == pytest.approx(_arcs_sum(t, 0.5))      # cells + one net per routed pin
        assert p["lut_levels"] >= 1 and p["carry4"] >= 2
        assert t["worst_ns_cells_only"] <= t["worst_ns"] - 0.5 * p["lut_levels"] + 1e-9
        worst.append(t["worst_ns"])
    assert worst[1] > worst[0] + 0.5          # two more adders: at least one more routed LUT level


@needs_yosys
def test_too_slow_for_the_clock_is_reported(tmp_path):
    src = tmp_path / "chain.v"
    src.write_text(chain(6))
    t = estimate([str(src)], "chain", "xcup", 400.0, tmp_path / "t")
    assert not t["meets"] and t["slack_ns"] < 0 and t["fmax_mhz"] < 400
    assert "UltraScale+" in t["cell_model"]


@needs_yosys
def test_stream_adapter_meets_200_mhz_with_the_margin(tmp_path):
    """axis_pipe_adapter's control (credits, ready, FIFO flags) is registered: around a
    register-chain datapath, no path of the adapter is longer than a 200 MHz budget."""
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    top = tmp_path / "top.v"      # the bench's top with the default design's adapter size
    top.write_text((root / "tb" / "stream_wrapper" / "pipe_delay_top.v").read_text()
                   .replace("parameter LATENCY = 4", "parameter LATENCY = 20")
                   .replace("parameter FIFO_ADDR_W = 4", f"parameter FIFO_ADDR_W = {fifo_addr_w(20)}"))
    t = estimate([str(top), str(root / "kernels" / "rtl" / "axis_pipe_adapter.v")], "pipe_delay_top", "xcup",
                 200.0, tmp_path / "t")
    # the combinational credit loop (rd_ptr -> tvalid -> pop -> credits_used) was 3.78 ns here
    # (2 LUT levels) and 5.34 ns in the default top (4 LUT levels): the ZCU104 200 MHz limit
    assert t["meets"], (t["worst_ns"], t["critical_path"]["start"], t["critical_path"]["end"])
    assert t["critical_path"]["lut_levels"] <= 1 and t["worst_ns"] <= 3.0


def test_pipeline_stage_from_da4ml_register_names():
    assert pipeline_stage("top.core.stage3_inp[5]") == 3
    assert pipeline_stage("top.core.stage0_inp_copy1") is None
    assert pipeline_stage("top.adapter.credits_used") is None


def test_one_latency_figure():
    assert top_cycles(9) == 12                     # ROM read + (9 stages + 1: its input register) + FIFO
    assert top_cycles(9, beats=3) == 12 + 3        # + the gather: the other 2 beats + its register
    assert fifo_addr_w(5) == 4 and fifo_addr_w(14) == 5 and 2 ** fifo_addr_w(30) > 31
    nominal = latency_figure(12, 100.0)           # any cycle count: the figure is cycles at the met clock
    assert nominal["latency_ns"] == 120 and "no timing evidence" in nominal["label"]
    slow = latency_figure(12, 100.0, {"fmax_mhz": 80.0})
    assert slow["clock_mhz"] == 80 and slow["latency_ns"] == 150 and not slow["meets_target"]
    assert "before place & route" in slow["label"]
    fast = latency_figure(12, 100.0, {"fmax_mhz": 150.0})
    assert fast["clock_mhz"] == 100 and fast["meets_target"]
    # Vivado's post-route slack replaces the estimate: -2.5 ns at 10 ns -> 12.5 ns -> 80 MHz
    assert vivado_fmax_mhz(100.0, -2.5) == pytest.approx(80.0)
    clock, label = met_clock(100.0, {"fmax_mhz": 150.0}, {"wns_ns": -2.5})
    assert clock == pytest.approx(80.0) and "Vivado" in label
    assert met_clock(100.0, {"fmax_mhz": 50.0}, {"wns_ns": 0.4})[0] == 100.0


@needs_yosys
@pytest.mark.slow
def test_a_design_cut_too_deep_misses_and_is_recut_to_meet(tmp_path):
    """da4ml's 20 adder levels per stage miss 150 MHz by the estimate; the clock-driven cut
    meets it, with the fewest stages the search found, and the logic is unchanged."""
    from codesign.rtl.build import build_rtl
    from codesign.rtl.closure import build_for_clock, estimate_build
    from codesign.fixedpoint import FixedPointModel
    from codesign.rtl.trace import trace_checked
    from tests.random_models import random_model
    traced = trace_checked(FixedPointModel.from_keras(random_model(model={"interaction": True}, n_nodes=300,
                                                                   vocab=200, title_length=8)))
    deep = build_rtl(traced, tmp_path / "deep", 20, 1000 / 150)
    t_deep = estimate_build(deep, "xc7", 150.0, tmp_path / "deep" / "timing", 0.5, 0.125)
    assert not t_deep["meets"] and t_deep["critical_path"]["stage"] is not None
    logs = []
    build, timing, record = build_for_clock(traced, tmp_path / "cut", "xc7", 150.0, runs=4, log=logs.append)
    assert timing["meets"] and record["met"] and timing["worst_ns"] <= 1000 / 150 * 0.875
    assert build["core"]["stages"] > deep["core"]["stages"]
    assert build["latency_cycles"] == top_cycles(build["core"]["stages"])
    assert len([line for line in logs if "cut every" in line]) == len(record["runs"]) <= 4
    assert any("depth" in line for line in logs)         # the per-op depth breakdown
    # the fewest stages: every run that met had at least as many stages as the one kept, and once a
    # count missed, the search bisected down to the count above it (or ran out of runs)
    assert all(r["stages"] >= build["core"]["stages"] for r in record["runs"] if r["meets"])
    missed = [r["stages"] for r in record["runs"] if not r["meets"]]
    if missed and len(record["runs"]) < 4 and record["stopped"] == "fewest stages that meet":
        assert build["core"]["stages"] - max(missed) == 1 and record["fewest_stages_proven"]
    if record["stopped"].endswith("(one fewer not tried)"):   # the same count missed, then met corrected
        assert max(missed) == build["core"]["stages"] and not record["fewest_stages_proven"]
    assert record["stopped"]
    assert all(r["model_corrected"] for r in record["runs"][1:])    # each later cut: per-stage ratios


def test_per_stage_correction_moves_logic_out_of_a_slow_stage():
    """A stage measured 2x slower than modelled: its ops cost twice as much in the corrected
    model (clamped), the others are unchanged, and the corrected cut still computes the logic."""
    import numpy as np
    from da4ml.trace import FixedVariableArray, comb_trace

    from codesign.rtl.ops import HW
    from codesign.rtl.pipeline import DelayModel, corrected, cut, retimed, stage_count, stage_delays
    rng = np.random.default_rng(2)
    x = FixedVariableArray.from_kif(np.ones(12, int), np.full(12, 3), np.full(12, 4), HW)
    y = ((x @ rng.integers(-8, 8, (12, 12)).astype(float)).relu() @ rng.integers(-8, 8, (12, 3)).astype(float))
    comb = comb_trace(list(x._vars.ravel()), list(y._vars.ravel()))
    model = DelayModel()
    c = 6.0
    modelled = stage_delays(comb, c, model)
    slow = corrected(comb, c, model, {0: 5 * modelled[0], **{i: m for i, m in enumerate(modelled) if i}})
    r = retimed(comb, c, model)
    in_first = [i for i, op in enumerate(r.ops) if op.latency <= c]
    assert in_first and all(slow.factor(i) == 2.0 for i in in_first)          # clamped at 2
    assert all(abs(slow.factor(i) - 1.0) < 1e-6 for i in range(len(r.ops)) if i not in in_first)
    assert stage_delays(comb, c, slow)[0] <= c and stage_count(comb, c, slow) >= stage_count(comb, c, model)
    inputs = rng.integers(-128, 128, (100, 12)) / 16
    staged = inputs
    for stage in cut(comb, c, slow).solutions:
        staged = np.asarray(stage.predict(staged))
    assert np.array_equal(staged, np.asarray(comb.predict(inputs)))


def test_delay_cut_keeps_every_stage_within_the_cutoff():
    """da4ml logic (a constant matmul and relus) cut by modelled ns: no stage's modelled logic
    exceeds the cutoff, a shorter cutoff never gives fewer stages, and the function is kept."""
    import numpy as np
    from da4ml.trace import FixedVariableArray, comb_trace

    from codesign.rtl.pipeline import DelayModel, cut, max_op_delay, retimed, stage_count
    from codesign.rtl.ops import HW
    rng = np.random.default_rng(0)
    x = FixedVariableArray.from_kif(np.ones(16, int), np.full(16, 3), np.full(16, 4), HW)
    h = (x @ rng.integers(-8, 8, (16, 16)).astype(float)).relu()
    y = h @ rng.integers(-8, 8, (16, 4)).astype(float)
    comb = comb_trace(list(x._vars.ravel()), list(y._vars.ravel()))
    model = DelayModel()
    shortest = max_op_delay(comb, model)
    counts = [stage_count(comb, c, model) for c in (shortest, 2 * shortest, 4 * shortest, 100.0)]
    assert counts == sorted(counts, reverse=True) and counts[-1] == 1 and counts[0] > 2
    c = 2 * shortest
    r = retimed(comb, c, model)
    from codesign.rtl.pipeline import op_delay
    for op in r.ops:      # an op's logic lies within one stage window of c ns
        start = op.latency - op_delay(op, model)
        assert int((start + 1e-6) // c) == int((op.latency - 1e-6) // c) or op_delay(op, model) == 0
    pipe = cut(comb, c, model)
    assert len(pipe.solutions) == stage_count(comb, c, model)
    inputs = rng.integers(-128, 128, (200, 16)) / 16
    staged = inputs
    for stage in pipe.solutions:          # the stages in a row compute what the whole logic does
        staged = np.asarray(stage.predict(staged))
    assert np.array_equal(staged, np.asarray(comb.predict(inputs)))
    with pytest.raises(ValueError, match="shorter than one operation"):
        retimed(comb, shortest / 2, model)


def test_cutoff_for_a_stage_count_is_the_shortest_giving_it():
    """The bisection's cut for a stage count: that many stages (or fewer), and any shorter cutoff
    gives more: of the cuts with that count, the one with the shortest stages."""
    import numpy as np
    from da4ml.trace import FixedVariableArray, comb_trace

    from codesign.rtl.closure import cutoff_for_stages
    from codesign.rtl.ops import HW
    from codesign.rtl.pipeline import DelayModel, max_op_delay, stage_count
    rng = np.random.default_rng(1)
    x = FixedVariableArray.from_kif(np.ones(12, int), np.full(12, 3), np.full(12, 4), HW)
    y = ((x @ rng.integers(-8, 8, (12, 12)).astype(float)).relu() @ rng.integers(-8, 8, (12, 3)).astype(float))
    comb = comb_trace(list(x._vars.ravel()), list(y._vars.ravel()))
    model = DelayModel()
    lo, hi = max_op_delay(comb, model), 100.0
    most = stage_count(comb, lo, model)
    for stages in range(2, most + 1):
        c = cutoff_for_stages(comb, stages, model, lo, hi)
        assert stage_count(comb, c, model) <= stages
        assert c - 1e-3 <= lo or stage_count(comb, c - 1e-3, model) > stages
    with pytest.raises(ValueError, match="more than"):
        cutoff_for_stages(comb, 1, model, lo, lo)


def test_depth_breakdown_follows_the_op_graph():
    """Per op: its modelled arrival, what it adds to its latest input; the model's output op
    arrives where the whole core's logic ends."""
    from codesign.fixedpoint import FixedPointModel
    from codesign.rtl.pipeline import DelayModel, _sources, depth_breakdown, op_delay
    from codesign.rtl.trace import trace
    from tests.random_models import random_model
    traced = trace(FixedPointModel.from_keras(random_model(model={"interaction": True}, seed=2)))
    model = DelayModel()
    rows = {r["op"]: r for r in depth_breakdown(traced, model)}
    arr = []
    for o in traced.comb.ops:
        arr.append(max((arr[i] for i in _sources(o)), default=0.0) + op_delay(o, model))
    assert rows[traced.fp.output]["arrival_ns"] == pytest.approx(max(arr[i] for i in traced.comb.out_idxs), abs=1e-3)
    for op in traced.fp.ops:
        if op.name in rows:
            r = rows[op.name]
            assert r["adds_ns"] >= -1e-9 and r["arrival_ns"] >= max((rows[i]["arrival_ns"] for i in op.inputs
                                                                     if i in rows), default=0.0) - 1e-9
    assert any(r["kind"] == "quant" and r["adds_ns"] > 0 for r in rows.values())


def test_auto_clock_is_the_lowest_predicted_latency():
    """``rtl.clock_mhz: auto`` picks, among the candidate clocks, the cut of least predicted ns."""
    import numpy as np
    from da4ml.trace import FixedVariableArray, comb_trace

    from codesign.config import RtlConfig
    from codesign.rtl.closure import CALIBRATION, choose_clock, predicted
    from codesign.rtl.pipeline import DelayModel
    from codesign.rtl.ops import HW
    rng = np.random.default_rng(1)
    x = FixedVariableArray.from_kif(np.ones(16, int), np.full(16, 3), np.full(16, 4), HW)
    y = ((x @ rng.integers(-8, 8, (16, 16)).astype(float)).relu() @ rng.integers(-8, 8, (16, 4)).astype(float))
    comb = comb_trace(list(x._vars.ravel()), list(y._vars.ravel()))
    clock, record = choose_clock(comb, 50, 250)
    table = record["candidates"]
    assert {r["clock_mhz"] for r in table} >= {50.0, 100.0, 250.0} and record["chosen"]["clock_mhz"] == clock
    assert record["chosen"]["latency_ns"] == min(r["latency_ns"] for r in table)
    model = DelayModel(scale=CALIBRATION)
    stages, ns = predicted(comb, clock, model, 0.125)
    assert stages == record["chosen"]["stages"] and ns == pytest.approx(record["chosen"]["latency_ns"], abs=0.01)
    assert ns == pytest.approx(top_cycles(stages) * 1000 / clock)
    assert RtlConfig(clock_mhz="auto").clock_mhz == "auto"
    with pytest.raises(ValueError):
        RtlConfig(clock_mhz="fast")


@needs_yosys
def test_worst_path_per_stage_of_a_cut_core(tmp_path):
    """The estimate reports the worst path into every stage's output registers; the worst of them
    is the design's, and each stage's logic is near the model's (calibrated) stage delay."""
    import numpy as np
    from da4ml.trace import FixedVariableArray, comb_trace

    from codesign.rtl.build import write_core
    from codesign.rtl.closure import CALIBRATION
    from codesign.rtl.pipeline import DelayModel, cut, stage_delays
    from codesign.rtl.ops import HW
    rng = np.random.default_rng(0)
    x = FixedVariableArray.from_kif(np.ones(16, int), np.full(16, 3), np.full(16, 4), HW)
    y = (x @ rng.integers(-8, 8, (16, 16)).astype(float)).relu() @ rng.integers(-8, 8, (16, 4)).astype(float)
    comb = comb_trace(list(x._vars.ravel()), list(y._vars.ravel()))
    model = DelayModel(scale=CALIBRATION)
    core = write_core(comb, "tcore", tmp_path / "core", cut(comb, 5.0, model), 10.0)
    lib = [str(p) for p in (tmp_path / "core" / "src" / "static").glob("*.v") if p.name != "lookup_table.v"]
    t = estimate(core["sources"] + lib, "tcore", "xc7", 100.0, tmp_path / "t")
    per_stage = t["stage_worst_ns"]
    assert list(per_stage) == [str(i) for i in range(core["stages"])]
    assert max(per_stage.values()) == pytest.approx(t["worst_ns"])
    for modelled, estimated in zip(stage_delays(comb, 5.0, model), per_stage.values()):
        assert 0.5 * modelled < estimated - 0.303 < 1.5 * modelled


def test_when_no_cut_meets_the_search_keeps_the_nearest_with_fewer_stages(tmp_path, monkeypatch):
    """Three runs miss the budget: the kept RTL is the run whose worst path is nearest it, the one
    with fewer stages on a tie (not simply the last run, which added a stage for nothing)."""
    import codesign.rtl.closure as closure
    from codesign.fixedpoint import FixedPointModel
    from codesign.rtl.trace import trace_checked
    from tests.random_models import random_model
    traced = trace_checked(FixedPointModel.from_keras(random_model(model={"interaction": True}, n_nodes=300,
                                                                   vocab=200, title_length=8)))
    worst = iter([9.0, 9.4, 9.0])       # ns at a 10 ns clock, 8.75 ns budget: every run misses

    def scripted(build, family, clock_mhz, workdir, net_ns, margin):
        return {"worst_ns": next(worst), "meets": False, "critical_path": {"stage": 0}, "stage_worst_ns": {}}
    monkeypatch.setattr(closure, "estimate_build", scripted)
    build, timing, record = closure.build_for_clock(traced, tmp_path / "cut", "xc7", 100.0, runs=3,
                                                    log=lambda *_: None)
    runs = record["runs"]
    assert [r["worst_ns"] for r in runs] == [9.0, 9.4, 9.0] and not record["met"]
    assert runs[2]["stages"] > runs[0]["stages"]            # the search added stages
    assert build["core"]["stages"] == runs[0]["stages"] and timing["worst_ns"] == 9.0
    assert record["cutoff_ns"] == runs[0]["cutoff_ns"]
    assert build["latency_cycles"] == top_cycles(runs[0]["stages"])
