"""``python -m durabletask_testing COMMAND``: see :mod:`durabletask_testing.cli`."""

import sys

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
