import sys


def main() -> int:
    print(f"cli main of {__name__}: {' '.join(sys.argv[1:])}")
    return 0
