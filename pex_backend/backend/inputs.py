"""The files and strings the table points at, checked before any work starts.

The model checks each value's type; this checks what a value means on this machine: file entry points,
complete-platform files and lockfiles are files inside the project root (after following symlinks) that parse,
and interpreter constraints are ones pex understands.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator, Mapping, Tuple

from pex_backend.backend.config.project import read_toml
from pex_backend.backend.config.table import TABLE, PexbinConfig, TableOptions, local_science
from pex_backend.errors import ConfigError

from . import constraints
from .entry_points import is_path


def inside_project(project_root: Path, path: str, key: str) -> Path:
    """`path` (relative to the project root) resolved; a ConfigError naming `key` when it leads out of the root."""
    if Path(path).is_absolute() or Path(path).anchor:
        raise ConfigError(key, f"{path!r} must be a path inside the project root, relative to it")
    if "\0" in path:
        raise ConfigError(key, f"{path!r} holds a NUL byte, which no path can")
    try:
        resolved = (project_root / path).resolve()
        inside = resolved.is_relative_to(project_root.resolve())
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, an unencodable name
        raise ConfigError(key, f"{path!r} is not a usable path ({exc})") from None
    if not inside:
        raise ConfigError(key, f"{path!r} must be a path inside the project root; it leads to {resolved}")
    return resolved


def field_places(config: PexbinConfig) -> Iterator[Tuple[str, Mapping[str, Any]]]:
    """Each table that sets binary fields, with its key path."""
    yield TABLE, config.defaults
    for override in config.overrides:
        yield f'{TABLE}.overrides."{override.key}"', override.values
    for binary in config.binaries:
        yield f"{TABLE}.binaries.{binary.name}", binary.values


def file_entry_points(config: PexbinConfig) -> Iterator[Tuple[str, str]]:
    """The project files that entry points name, with the key of each."""
    for index, written in enumerate(config.table.entry_points or ()):
        if is_path(written):
            yield written.split(":", 1)[0], f"{TABLE}.entry-points[{index}]"
    for binary in config.binaries:
        if binary.entry_point and is_path(binary.entry_point):
            yield binary.entry_point.split(":", 1)[0], f"{TABLE}.binaries.{binary.name}.entry-point"
        if binary.executable:
            yield binary.executable, f"{TABLE}.binaries.{binary.name}.executable"


def science_binaries(config: PexbinConfig) -> Iterator[Tuple[str, str]]:
    """The `scie-science-binary` values that are project files (not URLs), with the key of each."""
    for where, values in field_places(config):
        science = local_science(values)
        if science:
            yield science, f"{where}.scie-science-binary"


def complete_platform_file(project_root: Path, path: str, key: str) -> Path:
    file = inside_project(project_root, path, key)
    if not file.is_file():
        raise ConfigError(key, f"{path!r}: no such file in the project root")
    try:
        content = json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(key, f"{path!r} is not JSON ({exc})") from None
    except OSError as exc:
        raise ConfigError(key, f"{path!r} cannot be read ({exc.strerror or exc})") from None
    if not isinstance(content, dict) or not {"marker_environment", "compatible_tags"} <= set(content):
        raise ConfigError(
            key,
            f"{path!r} is not a complete-platform file: expected `marker_environment` and `compatible_tags`, "
            "as `python -m pex_backend inspect-platform` writes them",
        )
    return file


def lockfile(table: TableOptions, resolve: str, project_root: Path) -> Path:
    """The lockfile of `resolve`: a PEP 751 `pylock*.toml` (TOML), or else a pex lock (JSON)."""
    key, path = f"{TABLE}.resolves.{resolve}", table.resolves[resolve]
    file = inside_project(project_root, path, key)
    if not file.is_file() and file.name == "uv.lock":
        raise ConfigError(key, uv_lock_missing(project_root, path))
    if not file.is_file():
        raise ConfigError(
            key, f"{path!r}: no such file in the project root; create it with `python -m pex_backend lock`"
        )
    if file.suffix == ".toml" or file.name == "uv.lock":
        try:
            read_toml(file)
        except ConfigError as exc:
            raise ConfigError(key, f"{path!r} {exc.message}") from None
        return file
    try:
        json.loads(file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(key, f"{path!r} is not a pex lock, which is JSON ({exc})") from None
    except OSError as exc:
        raise ConfigError(key, f"{path!r} cannot be read ({exc.strerror or exc})") from None
    return file


def uv_lock_missing(project_root: Path, path: str) -> str:
    """Why a uv.lock the table names is not there: not made yet, or a workspace's, at its root outside the project
    (which the sdist cannot carry)."""
    for parent in project_root.resolve().parents:
        if (parent / "uv.lock").is_file():
            return (
                f"{path!r}: no such file in the project root; the uv.lock of the workspace at {parent} is outside "
                "the project, where the sdist cannot carry it: drop this resolve (uv then resolves the requirements "
                "itself), or lock the project on its own with `uv lock`"
            )
    return f"{path!r}: no such file in the project root; create it with `uv lock`"


def referenced_paths(config: PexbinConfig) -> Iterator[Tuple[str, str]]:
    """The files of `config.referenced_files()` (those the sdist must carry), each with the key naming it."""
    for where, values in field_places(config):
        for index, path in enumerate(values.get("complete-platforms", ())):
            yield path, f"{where}.complete-platforms[{index}]"
    yield from science_binaries(config)
    for binary in config.binaries:
        if binary.executable:
            yield binary.executable, f"{TABLE}.binaries.{binary.name}.executable"
    for resolve, path in config.table.resolves.items():
        yield path, f"{TABLE}.resolves.{resolve}"


def check_paths(config: PexbinConfig, project_root: Path) -> None:
    """Every path the table names stays inside the project root (what `lock` needs, before any file exists)."""
    for path, key in [*file_entry_points(config), *referenced_paths(config)]:
        inside_project(project_root, path, key)


def check_interpreter_constraints(config: PexbinConfig) -> None:
    for where, values in field_places(config):
        for index, constraint in enumerate(values.get("interpreter-constraints", ())):
            why = constraints.problem(constraint)
            if why is not None:
                raise ConfigError(
                    f"{where}.interpreter-constraints[{index}]",
                    f"{constraint!r} is not an interpreter constraint pex understands ({why})",
                )


def check_inputs(config: PexbinConfig, project_root: Path, lockfiles: bool = True) -> None:
    """Everything the table points at, before the wheel is built: a ConfigError naming the first bad key. Without
    `lockfiles`, the lockfiles are only checked to be paths inside the project (they may not exist yet)."""
    check_paths(config, project_root)
    for path, key in file_entry_points(config):
        if not (project_root / path).is_file():
            raise ConfigError(key, f"{path!r}: no such file in the project root")
    for path, key in science_binaries(config):
        if not os.access(project_root / path, os.X_OK) or not (project_root / path).is_file():
            raise ConfigError(key, f"{path!r}: no executable file of that name in the project root")
    for where, values in field_places(config):
        for index, path in enumerate(values.get("complete-platforms", ())):
            complete_platform_file(project_root, path, f"{where}.complete-platforms[{index}]")
    for resolve in config.table.resolves:
        if lockfiles:
            lockfile(config.table, resolve, project_root)
    if constraints.pex_available():  # always in a build; `pexbin list` and `peek` run without pex
        check_interpreter_constraints(config)
