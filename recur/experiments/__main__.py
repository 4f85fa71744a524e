"""``python -m recur.experiments NAME|all [--out DIR] [--quick]`` (also ``recur experiment``)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from recur.experiments import DEFAULT_OUT, EXPERIMENTS, run_experiment


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "name",
        metavar="NAME",
        choices=[*EXPERIMENTS, "all"],
        help="an experiment (listed below) or all of them",
    )
    parser.add_argument(
        "--out", metavar="DIR", default=str(DEFAULT_OUT), help="output folder (%(default)s)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test sizes (seconds)")
    width = max(map(len, EXPERIMENTS))
    titles = {name: sys.modules[fn.__module__].TITLE for name, fn in EXPERIMENTS.items()}
    parser.epilog = "experiments:\n" + "\n".join(
        f"  {name:<{width}}  {title}" for name, title in titles.items()
    )


def run(args: argparse.Namespace) -> int:
    """Run the experiment(s) of ``args``; one line per experiment on stdout."""
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {out} exists and is not a directory")
    for name in EXPERIMENTS if args.name == "all" else [args.name]:
        start = time.perf_counter()
        report = run_experiment(name, out, quick=args.quick)
        seconds = time.perf_counter() - start
        print(f"{name}: {report.outcome} ({seconds:.0f} s) — {report.verdict}", flush=True)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recur.experiments",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
