"""The ``recur`` command line (see :mod:`recur.cli.main`)."""

from recur.cli.main import main

__all__ = ["main"]
