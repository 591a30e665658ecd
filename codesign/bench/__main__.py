"""``python -m codesign.bench --out DESIGN_FOLDER``: time the trained models, print the table,
write ``bench/baselines.json``. Options override the folder's ``bench`` config section."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from codesign.config import ConfigError, load_config


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codesign.bench", description=__doc__)
    parser.add_argument("--out", required=True, help="design folder with a current train step")
    parser.add_argument("--config", default=None, help="design config YAML (default: the folder's design.yaml)")
    parser.add_argument("--batch-sizes", type=_ints, default=None, help="e.g. 1,8,64,256,1024")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (0: all cores)")
    parser.add_argument("--runtimes", default=None,
                        help="comma-separated: tf_eager,tf_function,tf_xla,onnxruntime,tflite_int8")
    args = parser.parse_args(argv)
    try:
        folder = Path(args.out)
        config = Path(args.config) if args.config else folder / "design.yaml"
        if not config.is_file():
            raise ConfigError(f"{config} does not exist: give --config, or run the flow in {folder} first")
        cfg = load_config(config)
        overrides = {"batch_sizes": args.batch_sizes, "repeats": args.repeats, "warmup": args.warmup,
                     "threads": args.threads,
                     "runtimes": args.runtimes.split(",") if args.runtimes else None}
        bench = cfg.bench.model_dump()
        bench.update({k: v for k, v in overrides.items() if v is not None})
        from codesign.config import parse_config
        cfg = parse_config({**cfg.model_dump(), "bench": bench})
        from codesign.bench.run import format_table, run_bench
        from codesign.flow import Design, load_steps
        load_steps()
        result = run_bench(Design(folder, cfg))
    except (ConfigError, RuntimeError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(format_table(result))
    print(f"written: {folder / 'bench' / 'baselines.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
