"""``python -m mtl``: the command line (see :mod:`mtl.cli`)."""

import sys

from mtl.cli import main

sys.exit(main())
