"""Prints what the PEX it runs in was built with: its mode, its path, its environment."""

import importlib.util
import os
import sys


def main() -> int:
    print("prefix:", sys.prefix)
    print("cowsay:", "yes" if importlib.util.find_spec("cowsay") else "no")
    print("extra_module:", "yes" if importlib.util.find_spec("extra_module") else "no")
    print("PEX_ROOT:", "kept" if "PEX_ROOT" in os.environ else "stripped")
    return int(os.environ.get("PROBE_EXIT", "0"))


def bare() -> int:
    return main()


if __name__ == "__main__":
    sys.exit(main())
