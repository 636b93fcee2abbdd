"""How pex runs: its command line, in a few worker processes that each import pex once for many builds."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import threading
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import List, Optional, Sequence

from pex_backend.errors import BuildError
from pex_backend.timings import step

from .cache import MANIFEST, BuildCache, key_of
from .pool import JOBS, Interpreter

WORKER = Path(__file__).with_name("worker.py")


def pex_version() -> str:
    """The version of the pex this build runs (installed, or the build cache's copy)."""
    pending = copy_on_import()
    if pending:
        return pending.version  # the copy's key says it, unread
    from pex.version import __version__

    return __version__


def copy_key(pex: str) -> str:
    # Its bytecode is checked by the entry's manifest, not against the sources' mtimes, which a restored cache
    # changes (Python would compile again, and write into the entry).
    return key_of("pex", pex, sys.version, sys.implementation.cache_tag, "unchecked-hash bytecode")


def cached_pex(cache: BuildCache, pex: str) -> Optional[Path]:
    """The build cache's whole copy of pex `pex` for this interpreter, if it holds one."""
    return cache.checked("pex-copies", copy_key(pex), f"pex copy of pex {pex}")


def importable_pex(cache: Optional[BuildCache], wanted: str, lazily: bool = False) -> bool:
    """Make pex importable: the build environment's own, else (when `get_requires_for_build_wheel` found it there
    and asked for none) the build cache's copy of pex `wanted`. `lazily`, for a build expected to run no pex: the
    copy is checked when pex is first imported (`CopyOnImport`); True when it is left so."""
    if importlib.util.find_spec("pex") is not None:
        return False  # and its first worker makes the copy, were there none
    if lazily and cache:
        copy = cache.path("pex-copies", copy_key(wanted))
        held = cache.hold(copy / MANIFEST)  # kept from `prune` meanwhile
        if held is not None:
            with contextlib.suppress(OSError):
                os.utime(copy)  # used now, for `prune --days`, as `checked` would say
            sys.meta_path.append(CopyOnImport(cache, wanted, held))
            return True
    sys.path.insert(0, str(checked_copy(cache, wanted)))
    return False


def checked_copy(cache: Optional[BuildCache], wanted: str) -> Path:
    found = cached_pex(cache, wanted) if cache else None
    if found is None:
        raise BuildError(
            f"pex {wanted} is not installed in the build environment, and the build cache no longer holds its copy "
            "(taken away since the build asked for its requirements): build again, and pex will be installed"
        )
    return found


class CopyOnImport(importlib.abc.MetaPathFinder):
    """The build cache's copy of pex, checked against its manifest and put on `sys.path` when pex is first imported
    (or its first worker starts): a build that reuses every PEX reads none of it. Its version is the copy's key."""

    def __init__(self, cache: BuildCache, version: str, held: int) -> None:
        self.cache, self.version, self.held = cache, version, held
        self.lock = threading.Lock()
        self.found: Optional[Path] = None

    def find_spec(self, name: str, path: object = None, target: object = None) -> Optional[ModuleSpec]:
        if name != "pex":
            return None
        return importlib.machinery.PathFinder.find_spec(name, [str(self.checked())])

    def checked(self) -> Path:
        """The copy, checked once (a damaged one is the error `importable_pex` gives), and on `sys.path` from then
        on; this finder leaves `sys.meta_path` only then, so that a thread asking meanwhile waits for it."""
        with self.lock:
            if self.found is None:
                with contextlib.suppress(ValueError):
                    self.cache.let_go(self.held)  # `checked` holds it again, or drops it if damaged
                self.found = checked_copy(self.cache, self.version)
                sys.path.insert(0, str(self.found))
                with contextlib.suppress(ValueError):
                    sys.meta_path.remove(self)  # from the loop calling it, which ends with its answer
            return self.found

    def forget(self) -> None:
        with self.lock:
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(self)
            if self.found is None:
                with contextlib.suppress(ValueError):
                    self.cache.let_go(self.held)


def forget_copy_on_import() -> None:
    """At a build's end: a copy still unread leaves `sys.meta_path` with its cache (closed next), so that a later
    build in this process decides afresh."""
    pending = copy_on_import()
    if pending:
        pending.forget()


def copy_on_import() -> Optional[CopyOnImport]:
    """The copy of pex a build expecting to run none has left unchecked until pex is imported, if any."""
    return next((finder for finder in sys.meta_path if isinstance(finder, CopyOnImport)), None)


def build_interpreter(cache: Optional[BuildCache]) -> Interpreter:
    """The build interpreter, through a link of its own in the build cache when there is one.

    Build environments are fresh virtual environments; pex would identify each new one (0.7 s, in every worker),
    where the link is identified once. The link points at the environment's base interpreter, which builds the
    same PEX files; and pex may search only the link's directory, so it adds no other interpreter as a target.
    """
    answers = str(cache.base / "answers") if cache else None
    fallback = Interpreter(sys.executable, os.path.dirname(sys.executable), answers)
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
    return Interpreter(str(directory / name), str(directory), answers)


# pex runs its vendored pip and setuptools in environments of their own under PEX_ROOT, never in a worker: left
# uncompiled, they are half of pex's modules and of the time compiling it.
NOT_COMPILED = re.compile(r"[/\\]vendor[/\\]_vendored[/\\](pip|setuptools)[/\\]")
COPY_AND_COMPILE = (
    "import compileall, os, re, shutil, sys\n"
    "from py_compile import PycInvalidationMode\n"
    "os.nice(10)  # behind the build's own work, on the cores it leaves idle\n"
    "shutil.copytree(sys.argv[4], sys.argv[1], ignore=shutil.ignore_patterns('__pycache__'))\n"
    "sys.exit(not compileall.compile_dir(sys.argv[1], quiet=2, workers=int(sys.argv[2]), rx=re.compile(sys.argv[3]),\n"
    "    invalidation_mode=PycInvalidationMode.UNCHECKED_HASH))\n"
)


def copy_pex(cache: BuildCache, source: Path) -> None:
    """Copy the running pex (the directory `source`) into the build cache with its bytecode, for later builds.

    uv installs build requirements without bytecode, so every fresh build environment would compile pex's modules
    again (over a second per worker); the copy is the same files, so pex builds the same PEX. Later builds that
    find it there do not install pex at all (`build.pex_requirement`).
    """
    fresh = cache.fresh()
    # Copied by the process that compiles, too: 1,400 files copied by a thread of the build's own process took the
    # GIL from the build at every file (a cold build without that: 0.94-0.96 times the wall, farm-bench -n 10, 14).
    copying = [sys.executable, "-c", COPY_AND_COMPILE, str(fresh / "pex"), str(JOBS), NOT_COMPILED.pattern, str(source)]
    if subprocess.run(copying, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
        cache.publish(fresh, "pex-copies", copy_key(pex_version()), {"pex": pex_version(), "python": sys.version})


class WorkerCommand:
    """How a worker starts, worked out when the first one does: the build interpreter's link (known to pex from
    earlier builds, where a fresh environment's own interpreter pex would identify again) running the build cache's
    compiled copy of pex. Without a copy there yet, the build environment's own pex runs, and the copy is made
    meanwhile (`copying`, joined by `finish`), so that a cold build does not wait for it."""

    def __init__(self, cache: Optional[BuildCache], interpreter: Interpreter, scratch: Path) -> None:
        self.cache = cache
        self.interpreter = interpreter
        self.scratch = scratch
        """Where the link to the build environment's pex goes: the session's work directory."""
        self.copying: Optional[threading.Thread] = None

    def __call__(self) -> List[str]:
        if self.cache is None:
            return [sys.executable, str(WORKER)]
        pending = copy_on_import()
        found = pending.checked() if pending else cached_pex(self.cache, pex_version())
        if found:
            return [self.interpreter.python, str(WORKER), str(found), "copy"]
        import pex

        source = Path(pex.__file__).parent
        if not (source / "version.py").is_file():
            # Imported from a zip (a PEX, an egg): there is no directory of files to copy, so workers import it so.
            notice = f"pex-backend: notice: running pex from {source}, not a compiled copy: it is not a directory"
            print(notice, flush=True)
            return [sys.executable, str(WORKER)]
        self.copying = threading.Thread(target=self.copy, args=(source,), name="pexbin-pex-copy", daemon=True)
        self.copying.start()
        # A directory holding pex alone (a link to it), so that nothing else of the environment shadows what the
        # build interpreter imports.
        alone = Path(tempfile.mkdtemp(prefix="pex-", dir=self.scratch))
        os.symlink(source, alone / "pex")
        return [self.interpreter.python, str(WORKER), str(alone)]

    def copy(self, source: Path) -> None:
        assert self.cache
        with contextlib.suppress(OSError), step("copying pex into the build cache"):
            copy_pex(self.cache, source)  # else a later build installs pex and copies it again

    def finish(self) -> None:
        if self.copying:
            self.copying.join()


def run_pex3(args: Sequence[str], what: str) -> None:
    """Run `pex3` (lock, interpreter inspect) for the commands around the build."""
    result = subprocess.run([sys.executable, "-m", "pex.cli", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"pex3 failed while {what}:\n{result.stderr.strip() or result.stdout.strip()}")
