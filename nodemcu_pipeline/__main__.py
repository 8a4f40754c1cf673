"""``python -m nodemcu_pipeline``: the same as the ``nodemcu-pipeline`` console script."""

import os
import sys

# `python -m` puts the current directory first on sys.path, so an invoke.py (or yaml.py, serial.py)
# there would be imported in place of the library: the console script never runs Python from the
# directory it runs in. This package is already imported, so it stays found.
if sys.path and os.path.abspath(sys.path[0] or os.curdir) == os.getcwd():
    del sys.path[0]

from nodemcu_pipeline.program import main  # noqa: E402 - after the path is made safe

main()
