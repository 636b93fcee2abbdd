"""`python -m pex_backend` (and `pexbin`): commands around the build."""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import signal
import sys
from pathlib import Path
from typing import List, NoReturn, Optional

from pex_backend.backend.compose.built import describe_size
from pex_backend.backend.config.settings import parse_tags, read
from pex_backend.bytecode import KIND as BYTECODE
from pex_backend.errors import BuildError, reports_errors
from pex_backend.pex.cache import FORMAT, SCRATCH, open_cache
from pex_backend.pex.prune import prune, usage
from pex_backend.pex.workers import run_pex3

from . import docs
from . import run as runner
from .listing import dependencies, dependencies_text, listing, peek
from .lock import lock
from .verify import verify
from .workspace import open_workspace

RUNS_PEX = ("inspect-platform", "lock", "dependencies", "run")
READER_GONE = 128 + signal.SIGPIPE
"""Our exit code when stdout's reader went away (`pexbin peek NAME | head`): 141, as a shell reports a tool that
SIGPIPE ended."""


class Parser(argparse.ArgumentParser):
    """Usage mistakes get one line naming the argument, as the build's errors name the key."""

    def error(self, message: str) -> NoReturn:
        print(f"pex-backend error: {self.prog}: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(2)


def inspect_platform(python: str, output: Path) -> None:
    """Write the complete-platform JSON of an interpreter, as `pex3 interpreter inspect --markers --tags`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    command = ["interpreter", "inspect", "--markers", "--tags", "--python", python, "-o", str(output)]
    run_pex3(command, f"inspecting {python}")
    print(f"wrote {output} for {python}")


def parser() -> Parser:
    main = Parser(prog="pexbin", description=__doc__)
    subcommands = main.add_subparsers(dest="command", required=True, parser_class=Parser)

    def command(name: str, help: str, project: bool = True) -> Parser:
        sub = subcommands.add_parser(name, help=help, description=help)
        if project:
            sub.add_argument("--project", type=Path, default=Path("."), help="the project root (default: .)")
        return sub

    listing_parser = command("list", "list every PEX the project builds: name, entry point, tags")
    documented = "only PEX files with a description, shown below"
    listing_parser.add_argument("--documented", action="store_true", help=documented)
    listing_parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAGS",
        help="only PEX files with (`tag`) or without (`-tag`) a tag; comma-separated or repeated, e.g. --tag=-legacy",
    )
    peek_parser = command("peek", "print one PEX's final fields as JSON, each with where its value came from")
    peek_parser.add_argument("name", metavar="NAME", help="the PEX's name, as `list` shows it")
    dependencies_parser = command("dependencies", "print what one PEX holds, resolved per target platform")
    dependencies_parser.add_argument("name", metavar="NAME", help="the PEX's name, as `list` shows it")
    dependencies_parser.add_argument("--json", action="store_true", help="print JSON")
    run = command("run", "build one PEX if needed and run it: pexbin run NAME -- ARGS")
    run.add_argument("name", metavar="NAME", help="the PEX's name, as `list` shows it")
    run.add_argument(
        "--restart",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rebuild and restart on every change of the project's sources (default: the binary's `restartable`)",
    )
    verify_parser = command(
        "verify",
        "rebuild a build's sdist with the cache off and compare the wheel and PEX files with its record",
        project=False,
    )
    verify_parser.add_argument("dist", metavar="DIST", type=Path, help="the directory the build wrote")
    verify_parser.add_argument(
        "--no-isolation",
        action="store_true",
        help="rebuild in this environment (its setuptools, pex, ...) instead of an isolated one pip installs",
    )
    docs_parser = command("docs", "print the [tool.pexbin] reference, or write it with the schema")
    docs_parser.add_argument(
        "--write",
        action="store_true",
        help="rewrite docs/reference.md and pex_backend/resources/pexbin.schema.json in --project, pex-backend's "
        "source checkout",
    )
    command("schema", "print the JSON schema of [tool.pexbin]", project=False)
    inspect = command("inspect-platform", "write the complete-platform JSON of an interpreter", project=False)
    inspect.add_argument("--python", default=sys.executable, help="the interpreter (path or name on PATH)")
    inspect.add_argument("-o", "--output", type=Path, required=True, help="the JSON file to write")
    lock_parser = command("lock", "create or update the lockfile of each resolve in `resolves`")
    lock_parser.add_argument("--check", action="store_true", help="only check; exit 1 when a lock is stale")
    cache = command("cache", "show the build cache: where it is, its size and entries per kind", project=False)
    where = "the build cache (default: PEXBIN_CACHE_DIR, else the user's cache directory)"
    cache.add_argument("--cache-dir", type=Path, help=where)
    prune_parser = cache.add_subparsers(dest="action", parser_class=Parser).add_parser(
        "prune", help="remove entries no build is using", description="remove entries no build is using"
    )
    which = prune_parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--days", type=days, metavar="N", help="entries not used for N days")
    which.add_argument("--all", action="store_true", help="every entry, and the directories of older formats")
    prune_parser.add_argument("--cache-dir", type=Path, default=argparse.SUPPRESS, help=where)
    return main


def days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise argparse.ArgumentTypeError(f"expected a number of days (0 or more), got {text!r}")
    return value


def cache_dir(given: Optional[Path]) -> Path:
    """The build cache builds use here (the one PEXBIN_NO_CACHE turns off, too)."""
    if given:
        return given.expanduser().resolve()
    found = read(None, {k: v for k, v in os.environ.items() if k != "PEXBIN_NO_CACHE"}).cache_dir
    assert found is not None
    return found


def cache_command(args: argparse.Namespace) -> None:
    root = cache_dir(args.cache_dir)

    def counted(count: int) -> str:
        return f"{count} {'entry' if count == 1 else 'entries'}"

    if args.action == "prune":
        removed, freed, busy = prune(root, None if args.all else args.days * 86400)
        unused = "" if args.all else f" unused for {args.days:g} day{'' if args.days == 1 else 's'}"
        kept = f"; kept {counted(busy)} in use by a running build" if busy else ""
        print(f"removed {counted(removed)}{unused} ({describe_size(freed)}) from {root}{kept}")
        return
    rows = usage(root)
    print(f"build cache: {root} (format v{FORMAT})")
    for kind, count, size in rows:
        label = "scratch" if kind == SCRATCH else kind if count is not None else f"{kind} (older format)"
        amount = "" if count is None else f"{count} modules" if kind == BYTECODE else counted(count)
        print(f"  {label:<20}{amount:<12}{describe_size(size):>9}")
    total = sum(count or 0 for kind, count, _ in rows if kind != BYTECODE)
    print(f"  {'total':<20}{counted(total):<12}{describe_size(sum(size for _, _, size in rows)):>9}")


def joined_tags(argv: List[str]) -> List[str]:
    """`--tag -slow` as `--tag=-slow`: argparse would take a value starting with `-` for an option."""
    joined: List[str] = []
    for item in argv:
        if joined and joined[-1] == "--tag" and item.startswith("-") and not item.startswith("--"):
            joined[-1] = f"--tag={item}"
        else:
            joined.append(item)
    return joined


@reports_errors
def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Everything after `--` is the program's, even what looks like our own options.
    program_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    args, unknown = parser().parse_known_args(joined_tags(argv[: argv.index("--")] if "--" in argv else argv))
    if unknown:
        hint = "; the program's arguments go after `--`" if args.command == "run" else ""
        parser().error(f"unrecognized arguments: {' '.join(unknown)}{hint}")
    if program_args and args.command != "run":
        parser().error(f"arguments after `--` are for `run` only, got {' '.join(program_args)}")
    if args.command in RUNS_PEX and importlib.util.find_spec("pex") is None:
        raise BuildError(f"`{args.command}` runs pex, which is not installed here: pip install 'pex-backend[cli]'")
    try:
        status = dispatch(args, program_args)
        sys.stdout.flush()  # a reader gone shows here, not in the interpreter's last flush
        return status
    except KeyboardInterrupt:
        return runner.INTERRUPTED
    except BrokenPipeError:
        # Quiet, as Unix tools are: what is left in stdout's buffer goes nowhere, without a second error.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return READER_GONE


def dispatch(args: argparse.Namespace, program_args: List[str]) -> int:
    if args.command == "docs":
        if args.write:
            for path in docs.write_all(args.project):
                print(f"wrote {path}")
        else:
            print(docs.render_reference(), end="")
    elif args.command == "schema":
        print(docs.schema_text(), end="")
    elif args.command == "inspect-platform":
        inspect_platform(args.python, args.output)
    elif args.command == "lock":
        return lock(args.project.resolve(), args.check)
    elif args.command == "run":
        return runner.run(args.project, args.name, program_args, args.restart, read(None))
    elif args.command == "cache":
        cache_command(args)
    elif args.command == "verify":
        return verify(args.dist, isolation=not args.no_isolation)
    else:
        with open_workspace(args.project, lockfiles=args.command == "dependencies") as workspace:
            if args.command == "list":
                tags = [tag for text in args.tag for tag in parse_tags(text)]
                for line in listing(workspace.binaries, tags, args.documented):
                    print(line)
            elif args.command == "peek":
                print(json.dumps(peek(workspace.binary(args.name)), indent=2))
            elif args.command == "dependencies":
                cache = open_cache(read(None).cache_dir)
                with contextlib.redirect_stdout(sys.stderr):  # pex's progress; stdout is the answer
                    found = dependencies(workspace, workspace.binary(args.name), cache)
                print(json.dumps(found, indent=2) if args.json else "\n".join(dependencies_text(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
