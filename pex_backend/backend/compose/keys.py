"""What a resolve depends on, as its cache key sees it: pex's arguments with paths replaced by what they are, and pip's
configuration."""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import zlib
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from pex_backend.backend.config.table import TableOptions
from pex_backend.backend.plan import ResolveGroup
from pex_backend.bytecode import TRUE
from pex_backend.pex.cache import backend_digest
from pex_backend.pex.cache_files import file_digest
from pex_backend.pex.workers import Interpreter, pex_version

# What pip puts in the environment of each build it runs, a new directory every time: its build tracker
# (`PIP_REQ_TRACKER` before pip 22.1). Bookkeeping of that run, not a setting: pex's pip reads neither.
PIP_PER_RUN = ("PIP_BUILD_TRACKER", "PIP_REQ_TRACKER")


def stable(arg: str, interpreter: Optional[Interpreter] = None) -> str:
    """A pex argument as the cache key sees it: paths that differ from build to build replaced by what they are."""
    if interpreter and arg == interpreter.python:
        return f"{os.path.realpath(sys.executable)} {sys.version} {sysconfig.get_platform()}"
    if interpreter and arg == interpreter.directory:
        return "<the build interpreter's directory>"
    path = Path(arg)
    if path.is_absolute() and path.is_file():
        return file_digest(path)
    if path.is_absolute() and path.is_dir():
        # A directory of wheels (find-links): each file's name and digest. Not its mtime, which a fresh checkout or
        # a wheelhouse made again changes: a cache restored in CI would never be reused.
        entries = sorted(os.scandir(path), key=lambda entry: entry.name)
        files = [e for e in entries if e.is_file()]
        return " ".join(f"{e.name}:{listed_file_digest(e.path, e.stat().st_size, e.stat().st_mtime_ns)}" for e in files)
    return arg


@functools.cache
def listed_file_digest(path: str, size: int, mtime_ns: int) -> str:
    """A find-links file's digest, read once per build however many keys name its directory (pip's and uv's)."""
    return file_digest(Path(path))


def pip_configuration_files() -> List[Path]:
    """The configuration files pip reads (existing or not), in pip's order: `PIP_CONFIG_FILE` (`os.devnull`: no
    file at all), global, user (not when `PIP_CONFIG_FILE` exists), site.

    As `Configuration.iter_config_files` lists them (pip/_internal/configuration.py and utils/appdirs.py, the same
    in pex's vendored pip 20.3.4 and in pip 26; https://pip.pypa.io/en/stable/topics/configuration/#location),
    taking both where they differ (macOS' user directory). Not asked of pip at build time: pex's vendored copy does
    not import on Python 3.12+, and a build environment may have no pip of its own; a test asks both pips.
    """
    config_file = os.environ.get("PIP_CONFIG_FILE")
    if config_file == os.devnull:
        return []
    home, name = Path.home(), "pip.ini" if sys.platform == "win32" else "pip.conf"
    if sys.platform == "win32":
        global_dirs = [Path(os.environ.get("ALLUSERSPROFILE") or "C:/ProgramData") / "pip"]
        user_dirs = [home / "pip", Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / "pip"]
    elif sys.platform == "darwin":
        global_dirs = [Path("/Library/Application Support/pip")]
        user_dirs = [home / ".pip", home / "Library" / "Application Support" / "pip", home / ".config" / "pip"]
    else:
        xdg_dirs = (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
        global_dirs = [Path(d).expanduser() / "pip" for d in xdg_dirs] + [Path("/etc")]
        user_dirs = [home / ".pip", Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "pip"]
    files = [Path(config_file)] if config_file else []
    files += [d / name for d in global_dirs]
    if not (config_file and os.path.exists(config_file)):
        files += [d / name for d in user_dirs]
    # The site file of the interpreter pip runs with: the base interpreter (pex's vendored pip) or a virtual
    # environment (this build's, or the one pex makes for a newer pip, which nobody configures).
    return files + [Path(prefix) / name for prefix in dict.fromkeys((sys.prefix, sys.base_prefix))]


def pip_configuration() -> Dict[str, str]:
    """What `--use-pip-config` lets into a resolve: pip's environment variables and its configuration files."""
    found = {k: v for k, v in os.environ.items() if k.startswith("PIP_") and k not in PIP_PER_RUN}
    for link in os.environ.get("PIP_FIND_LINKS", "").split():
        found[f"PIP_FIND_LINKS {link}"] = stable(link)
    for path in pip_configuration_files():
        if path.is_file():
            found[str(path)] = file_digest(path)
    return found


def resolve_inputs(
    group: ResolveGroup, requirements: Sequence[str], table: TableOptions, args: Sequence[str], interpreter: Interpreter
) -> Dict:
    """Everything the group's resolve depends on; its cache key is made of these."""
    return {
        "requirements": list(requirements),
        "args": [stable(arg, interpreter) for arg in args],
        "pip": pip_configuration() if table.index_urls is None else {},
        "ignore_errors": group.ignore_errors,
        "include_requirements": group.include_requirements,
        "pex": pex_version(),
        "backend": backend_digest(),
        # pex runs under the build interpreter whatever the targets: its zipfile and zlib write every PEX.
        "python": [sys.version, sys.implementation.cache_tag, zlib.ZLIB_RUNTIME_VERSION],
    }


# uv's variables that change where it keeps things or how it talks, not what it resolves.
UV_NOT_RESOLVING = ("UV_CACHE_DIR", "UV_NO_PROGRESS", "UV_LINK_MODE", "UV_PYTHON_INSTALL_DIR", "UV_TOOL_DIR")


def uv_configuration(project_root: Path) -> Dict[str, str]:
    """What uv reads besides its command line: `UV_*` variables and, unless `UV_NO_CONFIG`, its configuration files
    (`UV_CONFIG_FILE`, else the system's and the user's `uv.toml`, and the project's: the nearest `uv.toml`, or
    `pyproject.toml` with a `[tool.uv]` table, from the project root up, where uv runs)."""
    # `UV_INTERNAL__*`: what uv tells the backend it runs (the project's directory, uv's own interpreter), no setting.
    found = {
        k: v
        for k, v in os.environ.items()
        if k.startswith("UV_") and k not in UV_NOT_RESOLVING and not k.startswith("UV_INTERNAL__")
    }
    for link in os.environ.get("UV_FIND_LINKS", "").replace(",", " ").split():
        found[f"UV_FIND_LINKS {link}"] = stable(link)
    if os.environ.get("UV_NO_CONFIG", "").lower() in TRUE:
        return found
    config_file = os.environ.get("UV_CONFIG_FILE")
    xdg_dirs = (os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(os.pathsep)
    user = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    files = [Path(d, "uv", "uv.toml") for d in xdg_dirs] + [Path("/etc/uv/uv.toml"), user / "uv" / "uv.toml"]
    for directory in [] if config_file else [project_root.resolve(), *project_root.resolve().parents]:
        pyproject = directory / "pyproject.toml"
        if (directory / "uv.toml").is_file() or (pyproject.is_file() and b"[tool.uv" in pyproject.read_bytes()):
            files.append(directory / "uv.toml" if (directory / "uv.toml").is_file() else pyproject)
            break
    for path in [Path(config_file)] if config_file else files:
        if path.is_file():
            found[str(path)] = file_digest(path)
    return found
