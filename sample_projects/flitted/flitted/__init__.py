"""A sample project built by flit_core through pex-backend's `delegate-backend`."""

import sys

__version__ = "1.0"


def main() -> int:
    print(f"flitted {__version__}: {' '.join(sys.argv[1:])}")
    return 0
