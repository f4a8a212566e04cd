"""``python -m workers [options]`` is ``chatshop worker [options]`` (no console script needed)."""
from __future__ import annotations

import sys

from webapp.cli import main

if __name__ == "__main__":
    main(args=["worker", *sys.argv[1:]], prog_name="chatshop")
