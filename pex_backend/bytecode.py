"""The backend's own bytecode, kept in the build cache: a frontend installs pex-backend into a new environment for
every build, without bytecode (pip's `--no-compile` under `python -m build`, uv's default), so each build would
compile the backend's modules again (and setuptools', and `packaging`'s, installed beside it so), over a third of
a no-change build. The hooks import them through
`BackendFinder`, which takes each module's compiled code from the cache, under a key of its source's bytes and of
the interpreter's bytecode format, and checks it (a sha256 of its bytes) before loading it; a miss compiles the
source, as Python would, and keeps the result. Nothing else of the backend is imported before the finder is in
place, so this module also says where the build cache is (`pex.cache` takes it from here).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

try:  # what Python's own loader calls on code read from a .pyc: the code's file names, made the module's path
    from _imp import _fix_co_filename as fix_file_names
except ImportError:  # an interpreter without it keeps to its own loader
    fix_file_names = None

# Bumped when what an entry of the build cache holds, or what its key covers, changes.
FORMAT = 2
KIND = "bytecode"
# What a hook process imports from the build environment, which the frontend installed there without bytecode: the
# backend's modules, those of the distributions it requires (`packaging`; `tomli` before Python 3.11), and
# setuptools' (with the distutils it provides, and what it vendors and imports while it builds a wheel), which the
# backend imports in both hook processes, as setuptools' own hooks would. Compiling setuptools' took most of the
# first hook process, and half of a no-change build_wheel hook (setuptools' commands, imported as it builds).
PACKAGES = (
    "pex_backend.",
    "packaging.",
    "tomli.",
    "setuptools.",
    "pkg_resources.",
    "_distutils_hack.",
    "distutils.",
    "jaraco.",
    "more_itertools.",
    "backports.",
    "wheel.",
)
# setuptools' `_distutils_hack` answers `import distutils` itself (with setuptools' own copy): left to it.
LEFT = ("distutils",)
# The words of a boolean setting or variable (`pexbin.no-cache`, `PEXBIN_TIMINGS`, `UV_NO_CONFIG`).
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off", "")
# What compiled code depends on besides its source: the bytecode format, and -O (`compile`'s optimize=-1).
FLAVOUR = f"{sys.implementation.cache_tag}\0{importlib.util.MAGIC_NUMBER.hex()}\0{sys.flags.optimize}\0".encode()


def default_cache_dir() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pex-backend"


def cache_root(config_settings: Optional[Mapping[str, Any]], environ: Mapping[str, str] = os.environ) -> Optional[Path]:
    """Where `settings.read` puts the build cache, worked out without importing it: None when the cache is off or
    a setting is not plainly understood (`settings.read` then says what is wrong with it)."""

    def raw(name: str, variable: str) -> object:
        if variable in environ:
            return environ[variable]
        value = (config_settings or {}).get(f"pexbin.{name}")
        return value[0] if isinstance(value, list) and len(value) == 1 else value  # a frontend's repeated setting

    off = raw("no-cache", "PEXBIN_NO_CACHE")
    if off is not None and not (isinstance(off, str) and off.strip().lower() in FALSE):
        return None
    where = raw("cache-dir", "PEXBIN_CACHE_DIR")
    if where is None:
        return default_cache_dir()
    if not isinstance(where, str) or not where.strip() or "\0" in where:
        return None
    try:
        return Path(where).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return None


class BytecodeStore:
    """Compiled modules by the sha256 of their source: a file each, the sha256 of the code's bytes then those bytes,
    written whole by rename."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.reused = 0
        self.compiled = 0

    @staticmethod
    def key(source: bytes) -> str:
        return hashlib.sha256(FLAVOUR + source).hexdigest()

    def read(self, key: str) -> Optional[types.CodeType]:
        path = self.directory / key
        try:
            data = path.read_bytes()
            if hashlib.sha256(data[32:]).digest() != data[:32]:
                return None
            code = marshal.loads(data[32:])
        except (OSError, EOFError, ValueError, TypeError):
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # used: kept by `pexbin cache prune --days`
        return code if isinstance(code, types.CodeType) else None

    def write(self, key: str, code: types.CodeType) -> None:
        payload = marshal.dumps(code)
        temporary = None
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.directory)
            with os.fdopen(fd, "wb") as file:
                file.write(hashlib.sha256(payload).digest() + payload)
            os.replace(temporary, self.directory / key)
        except OSError:
            if temporary:
                with contextlib.suppress(OSError):
                    os.remove(temporary)


class CachedSourceLoader(importlib.machinery.SourceFileLoader):
    """A module of the backend from its source file, its code from the store when the store has it."""

    def __init__(self, fullname: str, path: str, store: BytecodeStore) -> None:
        super().__init__(fullname, path)
        self.store = store

    def get_code(self, fullname: str) -> types.CodeType:
        source = self.get_data(self.path)
        key = self.store.key(source)
        code = self.store.read(key)
        if code is not None:
            fix_file_names(code, self.path)  # where this environment has the source, for tracebacks
            self.store.reused += 1
            return code
        code = self.source_to_code(source, self.path)
        self.store.write(key, code)
        self.store.compiled += 1
        return code


class BackendFinder:
    """On `sys.meta_path`: the modules of `packages` (the backend's, setuptools', those of what both require) found
    where Python would find them, loaded through the store."""

    def __init__(self, store: BytecodeStore, packages: Sequence[str] = PACKAGES) -> None:
        self.store = store
        self.packages = tuple(packages)

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target: object = None) -> Any:
        ours = fullname.startswith(self.packages) or f"{fullname}." in self.packages
        if not ours or fullname in LEFT:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader and spec.origin:
            spec.loader = CachedSourceLoader(fullname, spec.origin, self.store)
        return spec


def use_cached_bytecode(config_settings: Optional[Mapping[str, Any]]) -> Optional[BytecodeStore]:
    """Put the finder in place for this process (once), unless the build cache is off: its store, or None."""
    if fix_file_names is None or any(isinstance(finder, BackendFinder) for finder in sys.meta_path):
        return None
    root = cache_root(config_settings)
    if root is None:
        return None
    store = BytecodeStore(root / f"v{FORMAT}" / KIND)
    sys.meta_path.insert(0, BackendFinder(store))
    return store
