"""C synthesis (and co-simulation) with the vendor HLS tool when it is on PATH, and the
parser of its ``<top>_csynth.xml`` report (layout of Vivado HLS / Vitis HLS:
``profile/ReportVersion/Version``, ``UserAssignments/{Part,TopModelName,TargetClockPeriod}``,
``PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod``,
``PerformanceEstimates/SummaryOfOverallLatency/{Best-caseLatency,Worst-caseLatency,
Interval-min,Interval-max}``, ``AreaEstimates/{Resources,AvailableResources}/{BRAM_18K,
DSP48E|DSP,FF,LUT,URAM}``).

Results are checked against JSON baselines kept per tool and version
(``<baselines>/<tool>-<version>.json``), the way hls4ml keeps its synthesis baselines.
"""
from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

TOOLS = ("vitis_hls", "vivado_hls")
TOOL_OF_BACKEND = {"Vitis": "vitis_hls", "Vivado": "vivado_hls", "VivadoAccelerator": "vivado_hls"}
RESOURCES = {"BRAM_18K": "bram_18k", "DSP48E": "dsp", "DSP": "dsp", "FF": "ff", "LUT": "lut", "URAM": "uram"}
BASELINES = Path(__file__).parent / "baselines"


def vendor_tool(backend: str | None = None) -> str | None:
    """The HLS tool ``backend`` builds with, if it is on PATH (any of them for ``None``)."""
    wanted = [TOOL_OF_BACKEND[backend]] if backend else list(TOOLS)
    return next((t for t in wanted if shutil.which(t)), None)


def _text(root, path: str, cast=str):
    node = root.find(path)
    if node is None or node.text is None:
        return None
    text = node.text.strip()
    try:
        return cast(text)
    except ValueError:
        return text


def _resources(node) -> dict:
    return {} if node is None else {RESOURCES.get(c.tag, c.tag.lower()): int(c.text) for c in node if c.text}


def parse_csynth_xml(path: str | Path) -> dict:
    """Latency (cycles), II, resources and clock of a ``*_csynth.xml`` report."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no synthesis report at {path}")
    root = ET.parse(path).getroot()
    perf = "PerformanceEstimates/SummaryOfOverallLatency/"
    if root.find("PerformanceEstimates") is None:
        raise ValueError(f"{path} is not a csynth report (no PerformanceEstimates)")
    return {
        "tool_version": _text(root, "ReportVersion/Version"),
        "part": _text(root, "UserAssignments/Part"),
        "top": _text(root, "UserAssignments/TopModelName"),
        "target_clock_ns": _text(root, "UserAssignments/TargetClockPeriod", float),
        "estimated_clock_ns": _text(root, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod", float),
        "latency_min": _text(root, perf + "Best-caseLatency", int),
        "latency_max": _text(root, perf + "Worst-caseLatency", int),
        "ii_min": _text(root, perf + "Interval-min", int),
        "ii_max": _text(root, perf + "Interval-max", int),
        "resources": _resources(root.find("AreaEstimates/Resources")),
        "available": _resources(root.find("AreaEstimates/AvailableResources")),
    }


def find_report(project: Path, top: str = "myproject") -> Path:
    found = sorted(Path(project).glob(f"*_prj/solution*/syn/report/{top}_csynth.xml"))
    if not found:
        raise FileNotFoundError(f"C synthesis wrote no {top}_csynth.xml under {project}")
    return found[0]


def check_baseline(report: dict, tool: str, design: str, baselines: Path = BASELINES,
                   tolerance: float = 0.1) -> dict:
    """Compares ``report`` with ``<baselines>/<tool>-<version>.json`` [design]: latency and
    II must match exactly, resources within ``tolerance`` (relative)."""
    path = Path(baselines) / f"{tool}-{report.get('tool_version')}.json"
    if not path.is_file():
        return {"status": "no baseline", "file": str(path)}
    reference = json.loads(path.read_text()).get(design)
    if reference is None:
        return {"status": "no baseline", "file": str(path)}
    changes = []
    for key in ("latency_min", "latency_max", "ii_min", "ii_max"):
        if reference.get(key) != report.get(key):
            changes.append(f"{key}: {reference.get(key)} -> {report.get(key)}")
    for key, old in reference.get("resources", {}).items():
        new = report["resources"].get(key, 0)
        if abs(new - old) > tolerance * max(old, 1):
            changes.append(f"{key}: {old} -> {new}")
    return {"status": "match" if not changes else "changed", "file": str(path), "changes": changes}


def run_synthesis(hls_model, backend: str = "Vitis", cosim: bool = False) -> dict:
    """Runs csynth (and cosim) through hls4ml's build; ``skipped`` when the tool is not on PATH."""
    tool = vendor_tool(backend)
    if tool is None:
        wanted = TOOL_OF_BACKEND[backend]
        return {"skipped": f"{wanted} (the {backend} backend's tool) is not on PATH; run "
                           f"'{wanted} -f build_prj.tcl' in the project on a machine that has it"}
    hls_model.build(csim=False, synth=True, cosim=cosim, export=False)
    report = parse_csynth_xml(find_report(Path(hls_model.config.get_output_dir())))
    return {"tool": tool, **report}
