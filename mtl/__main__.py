"""``python -m mtl``: the command line (see :mod:`mtl.cli`).

Output piped into a reader that stops early (``python -m mtl datasets | head -1``) ends
quietly: no ``BrokenPipeError`` traceback, as the Python docs recommend (exit code 1).
"""

import os
import sys

from mtl.cli import main


def _run() -> int:
    try:
        code = main()
        sys.stdout.flush()  # a closed pipe shows up here, inside the try
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at devnull so that flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return code


sys.exit(_run())
