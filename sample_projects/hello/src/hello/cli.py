import sys

import cowsay


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    cowsay.cow(f"hello, {name}")
    return 0
