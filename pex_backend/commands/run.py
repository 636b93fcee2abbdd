"""`run NAME -- ARGS`: build one PEX (an unchanged one comes from the build cache) and run it, passing its exit
code through; when restarting, watch the project's sources, rebuild on a change and restart the program."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator, Optional, Sequence, Tuple

from pex_backend.backend.compose.session import compose
from pex_backend.backend.config.settings import BuildSettings
from pex_backend.backend.plan import BinarySpec
from pex_backend.errors import PexbinError
from pex_backend.pex.cache import open_cache

from .workspace import open_workspace, project_root

POLL = 0.25
"""Seconds between two looks at the project's sources."""
GRACE = 5.0
"""Seconds a program gets to stop after each signal (SIGINT, then SIGTERM, then SIGKILL)."""
IGNORED_DIRECTORIES = ("build", "dist", "__pycache__", "node_modules")
INTERRUPTED = 128 + signal.SIGINT
Sources = Dict[str, Tuple[int, int]]
"""Each watched file of the project with its modification time and size."""


def note(message: str) -> None:
    """Our own lines go to stderr: stdout is the program's."""
    print(f"pex-backend: {message}", file=sys.stderr, flush=True)


def watched(directory: str, name: str) -> bool:
    if name.startswith(".") or name in IGNORED_DIRECTORIES or name.endswith(".egg-info"):
        return False
    return not os.path.exists(os.path.join(directory, name, "pyvenv.cfg"))


def snapshot(root: Path) -> Sources:
    """Each source file of the project with its modification time and size; build outputs, hidden and virtual
    environment directories and bytecode are left out."""
    found = {}
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(name for name in subdirectories if watched(directory, name))
        for name in files:
            if name.startswith(".") or name.endswith((".pyc", ".pex")):
                continue
            path = os.path.join(directory, name)
            with contextlib.suppress(OSError):
                stat = os.stat(path)
                found[os.path.relpath(path, root)] = (stat.st_mtime_ns, stat.st_size)
    return found


def first_change(before: Sources, after: Sources) -> str:
    return next(path for path in sorted({*before, *after}) if before.get(path) != after.get(path))


def exit_status(code: int) -> int:
    """A program's exit code as a shell reports it (128 + N when signal N ended it)."""
    return 128 - code if code < 0 else code


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: we stop as after Ctrl-C, and exit as a shell reports a process SIGTERM ended."""


def stopped_status(stopped: KeyboardInterrupt) -> int:
    """Our exit code when a signal stopped us: 128 + its number, as a shell reports it (130 after Ctrl-C, 143
    after SIGTERM), whatever the program we stopped exited with."""
    return 128 + (signal.SIGTERM if isinstance(stopped, Terminated) else signal.SIGINT)


@contextlib.contextmanager
def interrupted_by_sigterm() -> Iterator[None]:
    """SIGTERM stops us as Ctrl-C does, so that the program is stopped too and nothing is left behind."""

    def interrupt(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_binary(root: Path, name: str, output_dir: Path, settings: BuildSettings) -> Tuple[Path, BinarySpec]:
    """Build the one PEX named `name` into `output_dir`, as the project's build would build it."""
    with open_workspace(root) as workspace, contextlib.redirect_stdout(sys.stderr):
        binary = workspace.binary(name)
        cache = open_cache(settings.cache_dir)
        built = compose([binary], workspace.wheel, workspace.config.table, workspace.root, output_dir, cache)
    return built[0].path, binary


def start(pex: Path, binary: BinarySpec, args: Sequence[str]) -> subprocess.Popen:
    """Run the PEX with this Python. Unless it inherits the environment's `sys.path`, pex would re-execute itself
    with a virtual environment's base interpreter (a second start of over a second), so it starts with that."""
    inherits = binary.options.inherit_path in ("fallback", "prefer")
    python = sys.executable if inherits else os.path.realpath(sys.executable)
    return subprocess.Popen([python, str(pex), *args])


def stop(program: subprocess.Popen, interrupted: bool = False) -> int:
    """Stop the program: SIGINT, then SIGTERM, then SIGKILL, each after a grace period. After a Ctrl-C it first
    gets a moment to stop on its own, having had the terminal's SIGINT already."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        if interrupted:
            with contextlib.suppress(subprocess.TimeoutExpired):
                program.wait(1.0)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if program.poll() is not None:
                break
            program.send_signal(signum)
            with contextlib.suppress(subprocess.TimeoutExpired):
                program.wait(GRACE)
        return program.wait()
    finally:
        signal.signal(signal.SIGINT, previous)


def run_once(pex: Path, binary: BinarySpec, args: Sequence[str]) -> int:
    program = start(pex, binary, args)
    try:
        return exit_status(program.wait())
    except KeyboardInterrupt:
        stop(program, interrupted=True)
        raise


def run_restarting(
    root: Path,
    built: Tuple[Path, BinarySpec],
    seen: Sources,
    args: Sequence[str],
    settings: BuildSettings,
    workdir: Path,
) -> int:
    """Run the program `built` (into `workdir/1`) from the sources `seen`; after each change, the next build."""
    name = built[1].name
    generation = 1
    program: Optional[subprocess.Popen] = start(*built, args)
    note(f"running {name}; it restarts when a source of the project changes (Ctrl-C stops it)")
    try:
        while True:
            time.sleep(POLL)
            if program and program.poll() is not None:
                note(f"{name} exited with code {exit_status(program.returncode)}; it runs again after a change")
                program = None
            now = snapshot(root)
            if now == seen:
                continue
            note(f"{first_change(seen, now)} changed; rebuilding {name}")
            seen = now
            try:
                built = build_binary(root, name, workdir / str(generation + 1), settings)
            except PexbinError as exc:
                note(f"error: {exc}")
                note(f"{name} {'keeps running the previous build' if program else 'waits'} until the next change")
                continue
            if program:
                stop(program)
            shutil.rmtree(workdir / str(generation), ignore_errors=True)
            generation += 1
            program = start(*built, args)
            note(f"restarted {name}")
    except KeyboardInterrupt:
        if program:
            stop(program, interrupted=True)
        note(f"stopped {name}")
        raise


def run(path: Path, name: str, args: Sequence[str], restart: Optional[bool], settings: BuildSettings) -> int:
    """Run the PEX `name` with `args`: once (its exit code is ours), or restarting as `restart` (or, when that
    is None, the binary's `restartable` field) says. Stopped by Ctrl-C or SIGTERM, it stops the program and exits
    with 130 or 143."""
    workdir = Path(tempfile.mkdtemp(prefix="pexbin-run-"))
    try:
        with interrupted_by_sigterm():
            root = project_root(path)
            seen = snapshot(root)
            pex, binary = build_binary(root, name, workdir / "1", settings)
            if binary.options.restartable if restart is None else restart:
                return run_restarting(root, (pex, binary), seen, args, settings, workdir)
            return run_once(pex, binary, args)
    except KeyboardInterrupt as stopped:
        return stopped_status(stopped)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
