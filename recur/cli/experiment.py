"""``recur experiment NAME``: rerun one of the BPTT experiments, or ``all`` of them.

    recur experiment exploding --quick --out /tmp/experiments   # a smoke run, seconds
    recur experiment all                                          # 10-20 minutes, 2 cores

Each experiment trains with fixed seeds and writes NAME.md (the claim, a table and a verdict),
NAME.png and NAME.json to --out, and refreshes its README.md index. The same as
``python -m recur.experiments``.
"""

from recur.experiments.__main__ import add_arguments, run

__all__ = ["add_arguments", "run"]
