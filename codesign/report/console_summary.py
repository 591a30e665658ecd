"""The summary block printed at the end of ``codesign flow`` (and by ``codesign summary``).

Built from ``summary.json`` alone, so it also works on an existing folder: accuracy of the
variants and baselines with the paired intervals of ``hybrid_quant``, the bit-exactness verdict
of every level (the report's own table of checks), resources and their share of the part, the
latency figure (``codesign/latency.py``) against the best CPU runtime (the report's comparison
rows), step times and where the report is.
"""
from __future__ import annotations

from pathlib import Path

from codesign.metrics import interval_verdict

RULE = "=" * 78


def clock_verdict(timing: dict) -> str:
    """``meets 100 MHz with 12.5% margin``, ``meets 100 MHz, not the 12.5% margin`` or ``MISSES 100 MHz``."""
    clock, margin = f"{timing['clock_mhz']:g} MHz", f"{100 * timing.get('margin', 0):g}% margin"
    if timing.get("meets"):
        return f"meets {clock} with {margin}"
    if timing.get("slack_ns", -1) >= 0:
        return f"meets {clock}, not the {margin} (slack {timing['slack_ns']:+.2f} ns)"
    return f"MISSES {clock}"


def _num(value, fmt: str = ".4f") -> str:
    return "-" if not isinstance(value, (int, float)) else format(value, fmt)


def _accuracy(train: dict) -> list[str]:
    models = train.get("models") or {}
    baselines = train.get("baselines") or {}
    if not models:
        return ["accuracy: no train result"]
    width = max(len(n) for n in [*models, *baselines, "variant"]) + 2
    lines = [f"accuracy (test split; NDCG@10 and HR@10 against 99 sampled negatives)",
             f"  {'':<{width}}{'NDCG@10':>9}{'HR@10':>9}"]
    for name, m in models.items():
        lines.append(f"  {name:<{width}}{_num(m.get('ndcg10')):>9}{_num(m.get('hr10')):>9}")
    for name, m in baselines.items():
        if isinstance(m, dict):
            lines.append(f"  {name:<{width}}{_num(m.get('ndcg10')):>9}{_num(m.get('hr10')):>9}  (baseline)")
    paired = {name.replace("_minus_", " - "): d for name, d in (train.get("paired_ndcg10") or {}).items()}
    if paired:
        lines.append("  paired NDCG@10 difference, 95% interval (bootstrap over users):")
        pad = max(len(name) for name in paired) + 2
        for name, d in paired.items():
            lo, hi = (d.get("ci95") or [None, None])[:2]
            lines.append(f"    {name:<{pad}}{_num(d.get('mean'), '+.4f'):>8}  [{_num(lo, '+.4f')}, {_num(hi, '+.4f')}]"
                         f"  {interval_verdict(d)}".rstrip())
    return lines


def _bit_exactness(steps: dict) -> list[str]:
    from codesign.report.report import _checks
    rows = _checks(steps)
    lines = ["bit-exactness against the fixed-point reference (mismatches / samples)"]
    for r in rows:
        if r["verdict"] == "not run":
            detail = "not run"
        elif r.get("note"):
            detail = f"{r['verdict']}: {r['note']}"
        else:
            detail = f"{r['verdict']:<6} {r.get('mismatches')} / {r.get('samples'):,}" if isinstance(
                r.get("samples"), int) else r["verdict"]
        lines.append(f"  {r['what'][:44]:<44} {detail}"[:160])
    return lines


def _resources(steps: dict) -> list[str]:
    from codesign.report.comparison import resources
    rows = resources(steps)
    if not rows:
        rtl = steps.get("rtl") or {}
        why = (rtl.get("resources") or {}).get("skipped") or ("rtl step not run" if not rtl else "no estimate")
        return [f"resources: {why}"]
    cells = ", ".join(f"{r['resource'].upper()} {_count(r['used'])} ({100 * r['share']:.1f}%)" for r in rows)
    return [f"resources on {rows[0]['part']}: {cells}; {rows[0]['source']}"]


def _count(value) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}" if isinstance(value, (int, float)) else "-"


def _latency(summary: dict) -> list[str]:
    from codesign.latency import design_latency
    from codesign.report.comparison import comparison
    steps = summary["steps"]
    lat = summary.get("latency") or design_latency(steps)
    if not lat:
        return ["latency: no rtl result"]
    sim = steps.get("sim") or {}
    ii = sim.get("ii")
    lines = [f"latency: {lat['latency_cycles']} cycles = {lat['latency_ns']:.1f} ns at {lat['clock_mhz']:g} MHz "
             f"({lat['label']})" + (f", one request every {ii:g} cycle(s)" if ii else "")]
    timing = (steps.get("rtl") or {}).get("timing") or {}
    if "worst_ns" in timing:
        lines.append(f"  timing: worst path {timing['worst_ns']:.2f} ns, Fmax ~{timing['fmax_mhz']:.0f} MHz, "
                     f"{clock_verdict(timing)}; {timing.get('label', 'estimate')}")
    cpu = [r for r in comparison(steps) if r["kind"] == "CPU" and r["p50_us"] and not r["note"]]
    if cpu:
        best = min(cpu, key=lambda r: r["p50_us"])
        fpga_us = lat["latency_ns"] / 1000
        lines.append(f"  best CPU runtime at batch 1: {best['what']} p50 {best['p50_us']:.1f} us: the FPGA kernel "
                     f"alone is {best['p50_us'] / fpga_us:.0f}x lower (no host or DMA in it)")
    host = steps.get("host") or {}
    one = ((host.get("latency") or {}).get("1") or {}).get("per_request_us") if "stale" not in host else None
    if one:
        lines.append(f"  PYNQ driver per request at batch 1: p50 {one['p50']:.1f} us "
                     f"({host.get('latency_device', host.get('device'))})")
    return lines


def _times(steps: dict) -> list[str]:
    times = [(n, r["seconds"]) for n, r in steps.items() if isinstance(r, dict) and isinstance(r.get("seconds"), (int, float))]
    if not times:
        return []
    total = sum(t for _, t in times)
    return ["step times (last run of each): " + ", ".join(f"{n} {t:.0f} s" for n, t in times)
            + f"; total {total / 60:.1f} min"]


def format_summary(summary: dict, folder: Path) -> str:
    """The summary block of a ``summary.json`` (see the module doc) as text."""
    steps = summary.get("steps") or {}
    lines = [RULE, f"summary of design '{summary.get('design', '?')}' in {folder}", RULE]
    sections = [_accuracy(steps["train"]) if isinstance(steps.get("train"), dict) else ["accuracy: train not run"],
                _bit_exactness(steps), _resources(steps), _latency({**summary, "steps": steps}), _times(steps)]
    for section in sections:
        lines += [line for line in section]
    stale = [n for n, r in steps.items() if isinstance(r, dict) and "stale" in r]
    if stale:
        lines.append(f"stale results (not current, shown as stale): {', '.join(stale)}")
    report = Path(folder) / "report.html"
    lines.append(f"report: {report}" + ("" if report.is_file() else " (not written yet: codesign report)"))
    lines.append(f"logs: {folder}/<step>/<step>.log; results: {Path(folder) / 'summary.json'}")
    lines.append(RULE)
    return "\n".join(lines)
