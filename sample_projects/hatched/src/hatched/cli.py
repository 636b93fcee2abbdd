import sys

import cowsay


def main() -> int:
    name = sys.argv[1] if len(sys.argv) > 1 else "world"
    cowsay.cow(f"hatched, {name}")
    return 0


def report() -> int:
    print(f"report: cowsay {cowsay.__version__} on Python {sys.version_info[0]}.{sys.version_info[1]}")
    return 0
