"""`python -m pex_backend`: the `pexbin` commands."""

import sys

from pex_backend.commands.cli import main

if __name__ == "__main__":
    sys.exit(main())
