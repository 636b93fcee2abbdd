"""Run as a module: says where it runs from and exits with the number of its arguments."""

import sys

if __name__ == "__main__":
    print(f"tool as {__name__} of {__package__}: {' '.join(sys.argv[1:])}")
    sys.exit(len(sys.argv) - 1)
