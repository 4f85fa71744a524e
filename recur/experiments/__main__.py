"""``python -m recur.experiments NAME|all [--out DIR] [--quick]``."""

from __future__ import annotations

import argparse
import time

from recur.experiments import DEFAULT_OUT, EXPERIMENTS, run_experiment


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m recur.experiments", description=__doc__)
    parser.add_argument("name", choices=[*EXPERIMENTS, "all"])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (%(default)s)")
    parser.add_argument("--quick", action="store_true", help="tiny smoke-test sizes")
    args = parser.parse_args(argv)
    for name in EXPERIMENTS if args.name == "all" else [args.name]:
        start = time.perf_counter()
        report = run_experiment(name, args.out, quick=args.quick)
        seconds = time.perf_counter() - start
        print(f"{name}: {report.outcome} ({seconds:.0f} s) — {report.verdict}", flush=True)


if __name__ == "__main__":
    main()
