"""``codesign`` command line: one subcommand per flow step, plus ``flow`` and ``eval``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import codesign.console  # noqa: F401  (sets TF_CPP_MIN_LOG_LEVEL before TensorFlow loads)
from codesign.config import ConfigError, load_config

DEFAULT_OUT = Path("build/default")


def _design(args):
    """The design of ``--out`` (its ``design.yaml``; ``--config`` creates a folder) and the steps
    ``--reconfigure`` clears. Validates only: nothing is written."""
    from codesign.flow import open_design
    command = f"codesign {args.command}" + (f" --steps {args.steps}" if getattr(args, "steps", None) else "")
    return open_design(Path(args.out), args.config, getattr(args, "reconfigure", False), command)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=str(DEFAULT_OUT), help="design folder (default: %(default)s)")
    p.add_argument("--config", default=None, help="design config YAML for a new folder (default: the embedded "
                   "default design); an existing folder's design is its design.yaml")
    p.add_argument("--reconfigure", action="store_true",
                   help="replace an existing folder's design with --config, clearing the steps the change touches")
    p.add_argument("--force", action="store_true", help="re-run even if the cached result is current")


def cmd_flow(args) -> int:
    from codesign.flow import check_steps, locked, prepare_folder, run_flow
    if args.model:
        return _flow_own_model(args)
    steps = check_steps(None if args.steps is None else [s.strip() for s in args.steps.split(",") if s.strip()])
    design, clear = _design(args)
    with locked(design.folder):
        prepare_folder(design, clear)
        summary = run_flow(design, steps, force=args.force)
    from codesign.report.console_summary import format_summary
    print(format_summary(summary, Path(args.out)))     # the one summary block, last
    return 0


def cmd_summary(args) -> int:
    from codesign.flow import read_summary
    from codesign.report.console_summary import format_summary
    summary, why = read_summary(Path(args.out))
    if why:
        raise FileNotFoundError(f"{why}: run 'codesign flow --out {args.out}' first")
    print(format_summary(summary, Path(args.out)))
    return 0


def _flow_own_model(args) -> int:
    """``codesign flow --model FILE``: vectors, hls, rtl and sim of a model of your own."""
    from codesign.flow import Design, load_steps, open_design, run_flow
    from codesign.hls.byom import OWN_MODEL_STEPS, own_model_config
    if args.steps:
        raise ValueError("--steps does not go with --model: a model of your own runs "
                         f"{', '.join(OWN_MODEL_STEPS)} (data, train, bench recorded as skipped)")
    cfg = own_model_config(Path(args.model), load_config(args.config), args.vectors,
                           Path(args.inputs) if args.inputs else None)
    out = Path(args.out)
    if (out / "design.yaml").is_file():
        design, _ = open_design(out)
        if design.cfg.model_file != cfg.model_file:
            raise ValueError(f"{out} holds the design of {design.cfg.model_file or 'the built-in model'}; "
                             f"give a model of your own its own folder: --out {out.parent / Path(args.model).stem}")
        design = Design(out, cfg)
    else:
        design = Design(out, cfg)
    load_steps()
    summary = run_flow(design, list(OWN_MODEL_STEPS), force=args.force)
    steps = summary["steps"]
    print(f"summary: {out / 'summary.json'}")
    sim, hls = steps.get("sim") or {}, steps.get("hls") or {}
    print(f"C simulation: {hls.get('mismatches')} mismatches; RTL simulation: {sim.get('mismatches')} "
          f"mismatches ({sim.get('samples')} requests)")
    return 0 if hls.get("mismatches") == 0 and sim.get("passed") else 1


def cmd_step(args) -> int:
    from codesign.flow import check_steps, check_upstream, locked, prepare_folder, run_step, update_summary
    check_steps([args.command])
    design, clear = _design(args)
    if not clear:
        check_upstream(design, args.command)    # before anything is written
    with locked(design.folder):
        prepare_folder(design, clear)
        run_step(design, args.command, force=args.force)
        update_summary(design)
    return 0


def cmd_hls(args) -> int:
    from codesign.boards import available_boards
    from codesign.flow import Design, check_steps, check_upstream, locked, prepare_folder, run_step, update_summary
    if args.board and args.board not in available_boards():
        raise ValueError(f"unknown board '{args.board}' (--board); available: {', '.join(available_boards())}")
    if args.model:
        from codesign.hls.byom import check_byom, run_byom
        cfg = load_config(args.config)
        if args.board:
            cfg.board = args.board
        check_byom(Path(args.model), Path(args.out), args.vectors)
        with locked(Path(args.out)):
            summary = run_byom(Path(args.model), Path(args.out), cfg, n_vectors=args.vectors)
        print(f"summary: {Path(args.out) / 'summary.json'}")
        return 0 if summary["steps"]["hls"]["mismatches"] == 0 else 1
    check_steps(["hls"])
    design, clear = _design(args)
    if not clear:
        check_upstream(design, "hls")           # before anything is written
    with locked(design.folder):
        prepare_folder(design, clear)
        if args.board and args.board != design.cfg.board:
            # another board: its own project in hls-<board>/, never over the design's
            other = Design(design.folder, design.cfg.model_copy(update={"board": args.board}, deep=True),
                           rename={"hls": f"hls-{args.board}"})
            result = run_step(other, "hls", force=args.force)
            update_summary(design, extra={f"hls-{args.board}": result})
            print(f"hls for board {args.board}: {other.path('hls')} (the design's own board is {design.cfg.board})")
            return 0
        run_step(design, "hls", force=args.force)
        update_summary(design)
    return 0


def format_models(models: dict) -> str:
    """The train metrics as a plain-text table."""
    cols = ["ndcg10", "hr10", "ndcg10_full", "params", "train_seconds"]
    width = max([14, *(len(name) + 2 for name in models)])
    lines = [f"{'variant':<{width}}" + "".join(f"{c:>15}" for c in cols)]
    for name, m in models.items():
        cells = "".join(f"{m[c]:>15.4f}" if isinstance(m.get(c), float) else f"{m.get(c, '-'):>15}" for c in cols)
        lines.append(f"{name:<{width}}{cells}")
    return "\n".join(lines)


def cmd_eval(args) -> int:
    from codesign.flow import read_summary
    path = Path(args.out) / "summary.json"
    if not path.is_file():
        print(f"error: {path} not found: run 'codesign flow --out {args.out}' first", file=sys.stderr)
        return 2
    summary, why = read_summary(Path(args.out))
    if why:
        print(f"error: {why}: rebuild it with 'codesign report --out {args.out}'", file=sys.stderr)
        return 2
    steps = summary.get("steps", {})
    if not isinstance(steps.get("train"), dict) or not isinstance(steps["train"].get("models"), dict):
        print(f"error: {path} has no train results: run 'codesign flow --out {args.out} --steps data,train'", file=sys.stderr)
        return 2
    baselines = {f"{k} (baseline)": v for k, v in steps["train"].get("baselines", {}).items()}
    print(format_models({**steps["train"]["models"], **baselines}))
    print(format_paired(steps["train"].get("paired_ndcg10", {})))
    return 0


def format_paired(paired: dict) -> str:
    """Paired per-user NDCG@10 differences with their 95% bootstrap intervals."""
    lines = [f"{'paired NDCG@10 difference':<40}{'mean':>10}{'95% interval':>22}"]
    for name, d in paired.items():
        lo, hi = d["ci95"]
        lines.append(f"{name.replace('_minus_', ' - '):<40}{d['mean']:>+10.4f}{f'{lo:+.4f} .. {hi:+.4f}':>22}")
    return "\n".join(lines)


def cmd_sweep(args) -> int:
    from codesign.flow import locked
    from codesign.sweep.runner import format_table, run_sweep
    design, _ = _design(args)     # an existing folder's design is its design.yaml
    with locked(design.folder):
        result = run_sweep(design.folder, design.cfg, scheduler=args.scheduler, workers=args.workers)
    print(format_table(result))
    print(f"sweep: {Path(args.out) / 'sweep' / 'sweep.json'}, plot: {Path(args.out) / 'sweep' / 'pareto.png'}")
    if (Path(args.out) / "summary.json").is_file():
        cmd_report(args)
    return 1 if result["errors"] else 0


def cmd_report(args) -> int:
    from codesign.flow import load_steps, locked, open_design, read_summary, update_summary
    from codesign.report.report import write_report
    out = Path(args.out)
    if (out / "design.yaml").is_file():     # a design folder: the summary is rebuilt from its steps
        load_steps()
        design, _ = open_design(out)
        update_summary(design)
    else:                                    # e.g. a 'codesign hls --model' folder: its summary as it is
        summary, why = read_summary(out)
        if why:
            raise FileNotFoundError(f"{why}: run 'codesign flow --out {args.out}' first")
        with locked(out):
            write_report(out, summary)
    print(f"report: {out / 'report.html'}")
    return 0


def cmd_boards(args) -> int:
    from codesign.boards import available_boards, format_boards, load_board
    print(format_boards([load_board(name) for name in available_boards()]))
    return 0


def cmd_deploy(args) -> int:
    from codesign.deploy import deploy
    manifest = deploy(Path(args.out))
    print(f"deploy: {Path(args.out) / 'deploy'} ({len(manifest['files'])} files; copy it to the board)")
    if manifest.get("skipped"):
        print(f"  {manifest['skipped']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codesign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("flow", help="run the flow's steps on a design")
    _common(p)
    p.add_argument("--steps", default=None, help="comma-separated steps (default: the whole flow)")
    p.add_argument("--model", default=None, help="bring your own model (a saved .h5/.keras of supported layers): "
                   "runs vectors, hls, rtl and sim on it")
    p.add_argument("--vectors", type=int, default=1000,
                   help="with --model: random requests on the inputs' grids (default: %(default)s)")
    p.add_argument("--inputs", default=None, help="with --model: your own requests, an .npz with one array per "
                   "input name")
    p.set_defaults(func=cmd_flow)
    for name, text in (("data", "prepare MovieLens-100K"), ("train", "train every model variant"),
                       ("vectors", "freeze reference vectors and their fixed-point outputs"),
                       ("rtl", "Verilog of the trained model (da4ml core + AXI-Stream top), yosys estimate"),
                       ("sim", "cocotb simulation of the RTL top over the frozen vectors"),
                       ("bitstream", "Vivado project (block design tcl + matching .hwh) or Vitis kernel project; "
                                     "runs Vivado when on PATH"),
                       ("bench", "CPU/GPU baselines of the trained model (TF, XLA, ONNX Runtime, TFLite int8)"),
                       ("experiments", "training comparisons after the hardware steps: distilled text tower "
                                       "vs from scratch, LoRA vs full fine-tuning")):
        p = sub.add_parser(name, help=text)
        _common(p)
        p.set_defaults(func=cmd_step)
    p = sub.add_parser("host", help="the PYNQ driver on a board, or on the simulated PYNQ device per backend: "
                                    "bit-exactness against the vectors, latency (host/latency.json)")
    _common(p)
    p.set_defaults(func=cmd_step)
    p = sub.add_parser("hls", help="hls4ml project + bit-exact C simulation (+ synthesis if the tool is on PATH)")
    _common(p)
    p.add_argument("--board", default=None, help="target board (default: the design's)")
    p.add_argument("--model", default=None, help="bring your own model: a saved .h5/.keras of supported layers")
    p.add_argument("--vectors", type=int, default=1000,
                   help="with --model: random test vectors on the inputs' grids (default: %(default)s)")
    p.set_defaults(func=cmd_hls)
    p = sub.add_parser("sweep", help="grid over bit widths and layer sizes: NDCG@10, resources, latency")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="design folder (default: %(default)s)")
    p.add_argument("--config", default=None, help="design config YAML; its 'sweep' section is the grid")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (default: local processes)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: sweep.workers)")
    p.set_defaults(func=cmd_sweep)
    p = sub.add_parser("report", help="write report.html (tables and plots) from the folder's summary.json")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="design folder (default: %(default)s)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("boards", help="list the boards of boards/ (part, resources, clock, PS, DMA port)")
    p.set_defaults(func=cmd_boards)
    p = sub.add_parser("deploy", help="DIR/deploy/: bitstream, .hwh, driver, vectors and notebook for a PYNQ board")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="design folder (default: %(default)s)")
    p.set_defaults(func=cmd_deploy)
    p = sub.add_parser("summary", help="print the summary block of a design folder (accuracy, bit-exactness, "
                                       "resources, latency, step times) from its summary.json")
    p.add_argument("--out", default=str(DEFAULT_OUT), help="design folder (default: %(default)s)")
    p.set_defaults(func=cmd_summary)
    p = sub.add_parser("eval", help="print the trained models' metrics")
    p.add_argument("--out", default=str(DEFAULT_OUT))
    p.set_defaults(func=cmd_eval)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, RuntimeError, OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted; the folder keeps its last complete results (run the command again)",
              file=sys.stderr)
        return 130
    except Exception:   # a bug, not bad input: the traceback is for the report
        import traceback
        traceback.print_exc()
        print("error: an unexpected internal error (traceback above); please report it with the command "
              f"you ran: codesign {' '.join(argv if argv is not None else sys.argv[1:])}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
