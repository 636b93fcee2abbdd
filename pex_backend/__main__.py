"""`python -m pex_backend` (and `pexbin`): commands around the build."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import List, Optional

from . import docs
from .errors import BuildError, reports_errors
from .lock import lock
from .pexrun import run_pex3


def inspect_platform(python: str, output: Path) -> None:
    """Write the complete-platform JSON of an interpreter, as `pex3 interpreter inspect --markers --tags`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = ["interpreter", "inspect", "--markers", "--tags", "--python", python, "-o", str(output)]
    run_pex3(command, f"inspecting {python}")
    print(f"wrote {output} for {python}")


@reports_errors
def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="pexbin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    docs_parser = commands.add_parser("docs", help="print the [tool.pexbin] reference, or write it with the schema")
    docs_parser.add_argument("--write", action="store_true", help="rewrite docs/reference.md, the schema, README keys")
    commands.add_parser("schema", help="print the JSON schema of [tool.pexbin]")
    inspect = commands.add_parser("inspect-platform", help="write the complete-platform JSON of an interpreter")
    inspect.add_argument("--python", default=sys.executable, help="the interpreter (path or name on PATH)")
    inspect.add_argument("-o", "--output", type=Path, required=True, help="the JSON file to write")
    lock_parser = commands.add_parser("lock", help="create or update the lockfile of each resolve in `resolves`")
    lock_parser.add_argument("--check", action="store_true", help="only check; exit 1 when a lock is stale")
    lock_parser.add_argument("--project", type=Path, default=Path("."), help="the project root (default: .)")
    args = parser.parse_args(argv)
    if args.command in ("inspect-platform", "lock") and importlib.util.find_spec("pex") is None:
        raise BuildError(f"`{args.command}` runs pex, which is not installed here: pip install 'pex-backend[cli]'")

    if args.command == "docs":
        if args.write:
            for path in docs.write_all():
                print(f"wrote {path}")
        else:
            print(docs.render_reference(), end="")
    elif args.command == "schema":
        print(docs.schema_text(), end="")
    elif args.command == "inspect-platform":
        inspect_platform(args.python, args.output)
    elif args.command == "lock":
        return lock(args.project.resolve(), args.check)
    return 0


if __name__ == "__main__":
    sys.exit(main())
