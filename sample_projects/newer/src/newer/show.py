"""What a PEX built with the newer fields sees when it runs: its arguments, environment and interpreter flags."""

import json
import os
import sys


def facts(name: str) -> dict:
    import cowsay

    site = [p for p in sys.path if p.endswith("site-packages")]
    cowsay_file = cowsay.__file__
    return {
        "name": name,
        "argv": sys.argv[1:],
        "greeting": os.environ.get("NEWER_GREETING"),
        "empty": os.environ.get("NEWER_EMPTY"),
        "isolated": bool(sys.flags.no_user_site and sys.flags.ignore_environment),
        "optimized": sys.flags.optimize,
        "cowsay_symlinked": os.path.islink(os.path.dirname(cowsay_file)) or os.path.islink(cowsay_file),
        "site_packages": bool(site),
    }


def greet() -> None:
    print(json.dumps(facts("greet")))


def wave() -> None:
    print(json.dumps(facts("wave")))


def report() -> None:
    print(json.dumps(facts("report")))
