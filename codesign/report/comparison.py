"""One comparison of every way the design's model ran: FPGA, driver, CPU, GPU, the paper.

Built from ``summary.json``'s steps only (it measures nothing itself), printed at the end of
``codesign flow`` and shown in ``report.html`` (table, log-scale latency plot, resource bars
against the board's part). One row per way of running one request:

- ``FPGA kernel``: the RTL top's latency in cycles (``sim``, else ``rtl``) at the board clock,
  throughput one request per II cycles; no host, no DMA;
- ``driver``: the PYNQ driver (``host``) on the board, or on the simulated device (there its
  DMA time is a model computing on this CPU: the row says so);
- ``CPU``/``GPU``: each runtime and precision of ``bench``, batch 1 and the largest batch;
- ``paper``: the seed paper's quoted figure, labelled as reported, not measured.
"""
from __future__ import annotations

import base64
import io


def _row(kind: str, what: str, p50, p99, rps, batch, note: str = "", measured: bool = True) -> dict:
    return {"kind": kind, "what": what, "p50_us": p50, "p99_us": p99, "throughput_rps": rps,
            "throughput_batch": batch, "note": note, "measured": measured}


def _fpga(steps: dict) -> list[dict]:
    sim, rtl = steps.get("sim") or {}, steps.get("rtl") or {}
    cycles = sim.get("latency_cycles") or rtl.get("latency_cycles")
    mhz = sim.get("clock_mhz") or rtl.get("clock_mhz")
    if not cycles or not mhz:
        return []
    ii = sim.get("ii")
    us = cycles / mhz
    source = f"RTL simulation ({sim.get('simulator')})" if sim.get("latency_cycles") else "rtl step (not simulated)"
    return [_row("FPGA kernel", f"{cycles} cycles at {mhz:g} MHz, II {f'{ii:g}' if ii else '?'}", us, us,
                 mhz * 1e6 / ii if ii else None, None,
                 f"{source}; AXI-Stream top alone, no host or DMA")]


def _driver(steps: dict) -> list[dict]:
    host = steps.get("host") or {}
    latency = host.get("latency")
    if not latency:
        return [_row("driver", "PYNQ driver", None, None, None, None, host.get("skipped", "host step not run"),
                     measured=False)] if host else []
    one = latency.get("1") or latency[min(latency, key=int)]
    big_batch = max(latency, key=int)
    device = host.get("latency_device", host.get("device"))
    note = ("driver on a board" if str(device).startswith("board:") else
            "simulated device: DMA time is a model on this CPU; the driver's host cost is real")
    return [_row("driver", f"PYNQ driver, {device}", one["per_request_us"]["p50"], one["per_request_us"]["p99"],
                 latency[big_batch]["throughput_rps"], int(big_batch), note)]


def _bench(steps: dict) -> list[dict]:
    bench = steps.get("bench") or {}
    rows = []
    by_key: dict[tuple, list[dict]] = {}
    for r in bench.get("table", []):
        by_key.setdefault((r["device"], r["runtime"], r["precision"]), []).append(r)
    for (device, runtime, precision), runs in by_key.items():
        small = min(runs, key=lambda r: r["batch"])
        large = max(runs, key=lambda r: r["batch"])
        note = "" if all(r["within_tolerance"] for r in runs) else "beyond its accuracy tolerance"
        rows.append(_row(device.upper(), f"{runtime} {precision}", small["p50_us_per_request"],
                         small["p99_us_per_request"], large["throughput_rps"], large["batch"], note))
    for device, run in (bench.get("runs") or {}).items():
        if isinstance(run, dict) and "skipped" in run:
            rows.append(_row(device.upper(), "every runtime", None, None, None, None, run["skipped"], measured=False))
    paper = bench.get("paper")
    if paper:
        lo, hi = paper["latency_ms"]
        rows.append(_row("paper", f"{lo}-{hi} ms per request", lo * 1e3, hi * 1e3, None, None, paper["label"],
                         measured=False))
    return rows


def comparison(steps: dict) -> list[dict]:
    """Rows of the comparison (see module docstring) from a summary's ``steps``."""
    return _fpga(steps) + _driver(steps) + _bench(steps)


def _num(value, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:,.3g}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def format_comparison(rows: list[dict]) -> str:
    """The comparison as a text table (batch-1 latency per request, throughput at the largest batch)."""
    if not rows:
        return "comparison: nothing measured yet (run the sim, host or bench steps)"
    lines = [f"{'':12s} {'what':44s} {'p50 us':>9s} {'p99 us':>9s} {'req/s':>11s} {'@batch':>6s}  note"]
    for r in rows:
        lines.append(f"{r['kind']:12s} {r['what'][:44]:44s} {_num(r['p50_us']):>9s} {_num(r['p99_us']):>9s} "
                     f"{_num(r['throughput_rps']):>11s} {r['throughput_batch'] or '-':>6}  {r['note']}")
    return "\n".join(lines)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def latency_plot(rows: list[dict]) -> str | None:
    """Log-scale bar plot of batch-1 latency per request (p50, p99 as error bar), as a data URI."""
    rows = [r for r in rows if r["p50_us"]]
    if not rows:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
    y = range(len(rows))
    colors = {"FPGA kernel": "tab:green", "driver": "tab:olive", "CPU": "tab:blue", "GPU": "tab:purple",
              "paper": "tab:gray"}
    ax.barh(list(y), [r["p50_us"] for r in rows], color=[colors.get(r["kind"], "tab:blue") for r in rows],
            xerr=[[0] * len(rows), [max(0.0, (r["p99_us"] or r["p50_us"]) - r["p50_us"]) for r in rows]],
            hatch=None)
    ax.set_yticks(list(y), [f"{r['kind']}: {r['what'][:40]}" for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency per request at batch 1, µs (bar p50, whisker p99; paper: reported range)")
    return _png(fig)


def resources(steps: dict) -> list[dict]:
    """Used/available/share per resource of the accelerator on the board's part: Vivado's
    utilization when the bitstream was built, else yosys' estimate from the rtl step."""
    vivado = (steps.get("bitstream") or {}).get("vivado") or {}
    util = vivado.get("utilization") if isinstance(vivado, dict) else None
    res = (steps.get("rtl") or {}).get("resources") or {}
    part = res.get("part") or (steps.get("bitstream") or {}).get("part")
    if isinstance(util, dict) and util.get("share_of_board"):
        return [{"resource": k, "used": util[k]["used"], "share": v, "source": "Vivado utilization", "part": part}
                for k, v in util["share_of_board"].items()]
    if res.get("share"):
        return [{"resource": k, "used": res.get(f"{k}_equivalent", res.get(k)), "share": v,
                 "source": "yosys estimate (rtl step)", "part": part} for k, v in res["share"].items()]
    return []


def resource_plot(rows: list[dict]) -> str | None:
    """Horizontal bars: share of the part's LUT/FF/DSP/BRAM the accelerator uses, as a data URI."""
    if not rows:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(rows) + 1))
    shares = [100 * r["share"] for r in rows]
    ax.barh([r["resource"] for r in rows], shares, color=["tab:red" if s > 100 else "tab:green" for s in shares])
    ax.axvline(100, color="black", lw=1)
    ax.set_xlabel(f"% of {rows[0]['part']} ({rows[0]['source']})")
    ax.invert_yaxis()
    return _png(fig)
