"""``python -m aiosocketio run MODULE:ATTRIBUTE ...``: the ``aiosocketio`` command (see :mod:`aiosocketio.cli`)."""

import sys

from aiosocketio.cli import main

if __name__ == "__main__":
    sys.exit(main())
