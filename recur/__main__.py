"""``python -m recur`` (and ``torchrun ... -m recur``) runs the ``recur`` command."""

import sys

from recur.cli.main import main

if __name__ == "__main__":
    sys.exit(main())
