"""``report.html``: one self-contained page of a design folder's results, for people.

Written from ``summary.json`` (the same facts, for machines) every time the flow updates it,
and by ``codesign report``. Plots are embedded, so the page can be mailed or archived alone;
the sweep's table and Pareto plot appear when ``codesign sweep`` has run in the same folder.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import ChainableUndefined, Environment, PackageLoader, select_autoescape

from codesign.latency import design_latency

# bit-exactness rows: (step, what is compared with the fixed-point reference)
CHECKS = [("vectors", "quantized Keras model"), ("hls", "hls4ml C simulation"), ("sim", "RTL simulation (cocotb)"),
          ("host", "PYNQ driver")]


def _image(path: Path) -> str | None:
    """A PNG as a data URI, or None when the file does not exist."""
    if not path.is_file():
        return None
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _checks(steps: dict) -> list[dict]:
    rows = []
    for name, what in CHECKS:
        result = steps.get(name)
        if result is None:
            rows.append({"step": name, "what": what, "verdict": "not run"})
            continue
        stale = {"stale": result["stale"]} if "stale" in result else {}
        if name == "vectors":
            result = result.get("keras_vs_reference", {})
        if name == "sim" and "simulators" in result:
            for sim, r in result["simulators"].items():
                rows.append(_check_row(name, f"{what}, {sim}", {**r, **stale}))
            continue
        if name == "host" and "backends" in result:
            for backend, r in result["backends"].items():
                rows.append(_check_row(name, f"{what}, {r.get('device', backend)}", {**r, **stale}))
            continue
        rows.append(_check_row(name, what, {**result, **stale}))
    return rows


def _check_row(step: str, what: str, r: dict) -> dict:
    mismatches = r.get("mismatches")
    verdict = "skipped" if "skipped" in r else ("PASS" if mismatches == 0 else "FAIL")
    verdict = f"{verdict} (stale)" if "stale" in r else verdict
    return {"step": step, "what": what, "samples": r.get("samples"), "mismatches": mismatches,
            "first_mismatch": r.get("first_mismatch"), "verdict": verdict, "note": r.get("skipped")}


def _fmt(value, digits: int = 4):
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "-" if value is None or isinstance(value, ChainableUndefined) else value


def render(folder: Path, summary: dict) -> str:
    """The report page of the design folder ``folder`` as HTML text.

    Results of steps that are no longer current (``"stale"`` in summary.json) appear in the
    verdict table as stale and are listed, but the sections show current results only.
    """
    every = summary.get("steps", {})
    steps = {k: v for k, v in every.items() if isinstance(v, dict) and "stale" not in v}
    stale = {k: v["stale"] for k, v in every.items() if isinstance(v, dict) and "stale" in v}
    sweep_path = folder / "sweep" / "sweep.json"
    sweep = json.loads(sweep_path.read_text()) if sweep_path.is_file() else None
    # a field missing from a result (an older codesign's, a stale step's) renders empty, never fails
    env = Environment(loader=PackageLoader("codesign.report", "."), autoescape=select_autoescape(["html", "j2"]),
                      undefined=ChainableUndefined)
    env.filters["fmt"] = _fmt
    template = env.get_template("report.html.j2")
    from codesign.report.comparison import comparison, latency_plot, resource_plot, resources
    compared, used = comparison(steps), resources(steps)
    return template.render(
        comparison=compared, comparison_plot=latency_plot(compared), resources=used,
        resource_plot=resource_plot(used),
        design=summary.get("design", folder.name), config=summary.get("config", {}), steps=steps,
        checks=_checks(every), stale=stale, sweep=sweep, latency=summary.get("latency") or design_latency(steps),
        curves=_image(folder / "train" / "curves.png"), pareto=_image(folder / "sweep" / "pareto.png"),
        latency_plot=_image(folder / "sweep" / "latency.png"),
        written=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def write_report(folder: Path, summary: dict) -> Path:
    """Writes ``<folder>/report.html`` (atomically) and returns its path."""
    from codesign.flow import write_text   # a unique temporary name: two writers never collide
    path = Path(folder) / "report.html"
    write_text(path, render(Path(folder), summary))
    return path
