"""How pex runs: its command line, in a few worker processes that each import pex once for many builds."""

from __future__ import annotations

import compileall
import importlib.util
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from pex_backend.errors import BuildError

from .cache import BuildCache, key_of

JOBS = max(1, os.cpu_count() or 1)
WORKER = Path(__file__).with_name("worker.py")


def pex_version() -> str:
    """The version of the pex this build runs (installed, or the build cache's copy)."""
    from pex.version import __version__

    return __version__


def copy_key(pex: str) -> str:
    return key_of("pex", pex, sys.version, sys.implementation.cache_tag)


def cached_pex(cache: BuildCache, pex: str) -> Optional[Path]:
    """The build cache's whole copy of pex `pex` for this interpreter, if it holds one."""
    return cache.checked("pex-copies", copy_key(pex), f"pex copy of pex {pex}")


def importable_pex(cache: Optional[BuildCache], wanted: str) -> None:
    """Make pex importable: the build environment's own, else (when `get_requires_for_build_wheel` found it there
    and asked for none) the build cache's copy of pex `wanted`."""
    if importlib.util.find_spec("pex") is not None:
        return
    found = cached_pex(cache, wanted) if cache else None
    if found is None:
        raise BuildError(
            f"pex {wanted} is not installed in the build environment, and the build cache no longer holds its copy "
            "(taken away since the build asked for its requirements): build again, and pex will be installed"
        )
    sys.path.insert(0, str(found))


def compiled_pex(cache: Optional[BuildCache]) -> Optional[Path]:
    """The running pex, copied once into the build cache with its bytecode.

    uv installs build requirements without bytecode, so every fresh build environment would compile pex's
    thousand modules again (over a second per worker); the copy is the same files, so pex builds the same PEX.
    Later builds that find it there do not install pex at all (`build.pex_requirement`).
    """
    if cache is None:
        return None
    import pex

    found = cached_pex(cache, pex_version())
    if found:
        return found
    fresh = cache.fresh()
    shutil.copytree(Path(pex.__file__).parent, fresh / "pex", ignore=shutil.ignore_patterns("__pycache__"))
    compileall.compile_dir(str(fresh / "pex"), quiet=2, workers=JOBS)
    return cache.publish(fresh, "pex-copies", copy_key(pex_version()), {"pex": pex_version(), "python": sys.version})


class Interpreter(NamedTuple):
    """The build interpreter as pex is told of it: `--python` and the only directory it may search."""

    python: str
    directory: str


def build_interpreter(cache: Optional[BuildCache]) -> Interpreter:
    """The build interpreter, through a link of its own in the build cache when there is one.

    Build environments are fresh virtual environments; pex would identify each new one (0.7 s, in every worker),
    where the link is identified once. The link points at the environment's base interpreter, which builds the
    same PEX files; and pex may search only the link's directory, so it adds no other interpreter as a target.
    """
    fallback = Interpreter(sys.executable, os.path.dirname(sys.executable))
    real = os.path.realpath(sys.executable)
    if cache is None or real == sys.executable:
        return fallback
    key, name = key_of(real), os.path.basename(real)
    directory = cache.checked("interpreters", key, f"interpreter link {name}")  # checks where the link points
    if directory is None:
        try:
            fresh = cache.fresh()
            os.symlink(real, fresh / name)
        except OSError:
            return fallback
        directory = cache.publish(fresh, "interpreters", key, {"python": real})
    return Interpreter(str(directory / name), str(directory))


def worker_command(cache: Optional[BuildCache], interpreter: Interpreter) -> List[str]:
    """How a worker starts: with the cache, the build interpreter's link running the compiled copy of pex, both
    known to pex from earlier builds (a fresh environment's own interpreter pex would identify again)."""
    pex_copy = compiled_pex(cache)
    if pex_copy is None:
        return [sys.executable, str(WORKER)]
    return [interpreter.python, str(WORKER), str(pex_copy)]


class PexWorkers:
    """Up to `size` long-lived `pex` processes; `run` takes an idle one (starting it if needed) for one build."""

    def __init__(self, command: Callable[[], Sequence[str]], size: int = JOBS) -> None:
        self.command = command
        """How a worker starts, asked when the first one does."""
        self.started_with: Optional[List[str]] = None
        self.size = size
        self.idle: queue.Queue[subprocess.Popen[str]] = queue.Queue()
        self.started: List[subprocess.Popen[str]] = []
        self.lock = threading.Lock()

    def __enter__(self) -> PexWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.started:
            if process.stdin:
                process.stdin.close()
        for process in self.started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def start(self) -> subprocess.Popen[str]:
        with self.lock:
            if self.started_with is None:
                self.started_with = list(self.command())
        process = subprocess.Popen(
            self.started_with,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        with self.lock:
            self.started.append(process)
        return process

    def take(self) -> subprocess.Popen[str]:
        try:
            return self.idle.get_nowait()
        except queue.Empty:
            with self.lock:
                room = len(self.started) < self.size
            return self.start() if room else self.idle.get()

    def run(self, args: Sequence[str], cwd: Path) -> Tuple[int, str]:
        """Run `pex ARGS` in `cwd`: its exit code and output."""
        process = self.take()
        assert process.stdin and process.stdout
        try:
            process.stdin.write(json.dumps({"args": list(args), "cwd": str(cwd)}) + "\n")
            process.stdin.flush()
            reply = process.stdout.readline()
        except OSError:
            reply = ""
        if not reply:
            with self.lock:
                self.started.remove(process)
            raise BuildError(f"the pex worker process stopped unexpectedly (exit code {process.poll()})")
        self.idle.put(process)
        result = json.loads(reply)
        return result["code"], result["output"]


def run_pex3(args: Sequence[str], what: str) -> None:
    """Run `pex3` (lock, interpreter inspect) for the commands around the build."""
    result = subprocess.run([sys.executable, "-m", "pex.cli", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"pex3 failed while {what}:\n{result.stderr.strip() or result.stdout.strip()}")
