"""The ``recur`` command: ``train``, ``generate``, ``evaluate`` and ``predict`` subcommands.

Bad input of any kind ends with one line on stderr, ``recur <command>: error: <what>``, and exit
status 2, before anything is written.
"""

from __future__ import annotations

import argparse
import sys

from recur.cli import diagnose, evaluate, experiment, generate, predict, train
from recur.train.trainer import TrainingDiverged

COMMANDS = {
    "train": (train, "train a model (default: char LSTM language model on Python's help)"),
    "generate": (generate, "stream text from a trained language model"),
    "evaluate": (evaluate, "a trained run's metrics on held-out data or a file, as JSON"),
    "predict": (predict, "a trained run's outputs for each item of a file (JSONL/CSV)"),
    "diagnose": (diagnose, "gradient flow and Jacobian spectra of a trained run, as PNGs"),
    "experiment": (experiment, "rerun a BPTT experiment of docs/experiments (or all)"),
}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump), like every other error of the command."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="recur", description="Recurrent networks: train, generate, evaluate.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        sub = commands.add_parser(
            name,
            help=summary,
            description=module.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(sub)
        sub.set_defaults(handler=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]); returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help (0) or a usage error (2), already printed
        return int(exit.code or 0)
    try:
        return args.handler(args)
    except ValueError as error:  # bad input: data, configuration, run directory, checkpoint
        return fail(args.command, error, 2)
    except TrainingDiverged as error:
        return fail(args.command, error, 1)
    except BrokenPipeError:  # e.g. `recur generate RUN | head`
        sys.stderr.close()
        return 0


def fail(command: str, error: Exception, status: int) -> int:
    message = " ".join(str(error).strip().splitlines())  # one line, whatever its origin
    print(f"recur {command}: error: {message}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
