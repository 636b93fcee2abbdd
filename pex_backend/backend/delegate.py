"""The backend `delegate-backend` names, loaded as PEP 517 frontends load one, with PEP 517's answers for the
optional hooks it may lack, and the check that its sdist carries the files the table points at."""

from __future__ import annotations

import contextlib
import importlib
import json
import shutil
import sys
import tarfile
import tempfile
import types
import zipfile
from pathlib import Path
from typing import Any, Iterator, List, Optional

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from setuptools import build_meta as setuptools_backend

from pex_backend.backend.config.project import read_pyproject
from pex_backend.backend.config.table import TABLE, PexbinConfig
from pex_backend.errors import BuildError, ConfigError

from .inputs import referenced_paths

KEY = f"{TABLE}.delegate-backend"
SETUPTOOLS = "setuptools.build_meta"
REQUIRED_HOOKS = ("build_wheel", "build_sdist")
# Inside the .dist-info that `prepare_metadata` takes from a wheel of the backend's: that wheel and the settings
# it was built with, for `build_wheel` to reuse. PEP 517 lets a backend keep files there for the wheel's build, and
# frontends pass the directory back to `build_wheel` as it was.
KEPT_WHEEL = "pexbin-wheel"
KEPT_SETTINGS = "config-settings.json"
# How each known backend is told to put a file into its sdist, by the backend's top-level module.
SDIST_INCLUDE = {
    "hatchling": "hatchling leaves out files the VCS ignores: stop ignoring it, or list it in "
    "[tool.hatch.build.targets.sdist] include",
    "flit_core": "list it in [tool.flit.sdist] include",
    "pdm": "list it in [tool.pdm.build] includes",
    "poetry": "list it in [tool.poetry] include",
    "uv_build": "list it in [tool.uv.build-backend] source-include",
}


def backend_name(config: Optional[PexbinConfig]) -> Optional[str]:
    """The delegate's `module[:object]`, or None for setuptools (the key unset, or naming setuptools)."""
    name = config.table.delegate_backend if config else None
    return None if name in (None, SETUPTOOLS) else name


def wheel_step(config: Optional[PexbinConfig]) -> str:
    """The wheel's step in `PEXBIN_TIMINGS=1` output, named after the backend that builds it."""
    name = backend_name(config)
    return f"{name}'s wheel" if name else "setuptools' wheel"


def load_backend(project_root: Path, config: Optional[PexbinConfig]) -> Any:
    """The delegate's hook object (setuptools' backend without one); a ConfigError naming the key when there is
    no usable backend by that name."""
    name = backend_name(config)
    if name is None:
        return setuptools_backend
    module_name, _, attributes = name.partition(":")
    if module_name.split(".")[0] == __name__.split(".")[0]:
        raise ConfigError(KEY, f"{name!r} is pex-backend itself; name the backend that builds the wheel and sdist")
    build_system = read_pyproject(project_root).get("build-system", {})
    # Frontends put them on the path for our backend; the commands (and in-tree delegates under frontends that
    # only look there for the backend they load) need them too.
    for entry in reversed(build_system.get("backend-path", [])):
        path = str((project_root / entry).resolve())
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        backend = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(KEY, not_importable(name, exc, build_system.get("requires", []))) from None
    for attribute in filter(None, attributes.split(".")):
        try:
            backend = getattr(backend, attribute)
        except AttributeError:
            raise ConfigError(KEY, f"{name!r}: module {module_name!r} has no attribute {attribute!r}") from None
    lacking = [hook for hook in REQUIRED_HOOKS if not callable(getattr(backend, hook, None))]
    if lacking:
        raise ConfigError(KEY, f"{name!r} is not a PEP 517 backend: it has no {' or '.join(lacking)} hook")
    return backend


def not_importable(name: str, exc: ImportError, requires: List[str]) -> str:
    """Why the delegate cannot be imported, and whether `build-system.requires` lists what provides it."""
    module_name = name.partition(":")[0]
    parts = module_name.split(".")
    # A distribution is named after its top-level module, or after a dotted prefix (`poetry.core`, `pdm.backend`).
    candidates = {canonicalize_name(".".join(parts[:n])) for n in range(1, len(parts) + 1)}
    listed = [text for text in requires if requirement_name(text) in candidates]
    why = f"cannot import {module_name!r} ({exc})"
    if listed:
        return f"{why}, though build-system.requires lists {', '.join(listed)}; is it installed where the build runs?"
    return f"{why}; it is not in build-system.requires, and must be: add the distribution that provides it there"


def requirement_name(text: object) -> Optional[str]:
    try:
        return canonicalize_name(Requirement(str(text)).name)
    except InvalidRequirement:
        return None


def offers(backend: Any, hook: str) -> bool:
    return callable(getattr(backend, hook, None))


def requires(backend: Any, hook: str, config_settings: Optional[dict]) -> List[str]:
    """A `get_requires_for_build_*` hook's answer; PEP 517's `[]` when the backend lacks it, or when it is
    setuptools' and `setuptools_asks_for_nothing` here."""
    if backend is setuptools_backend and setuptools_asks_for_nothing(Path.cwd()):
        return []
    return list(getattr(backend, hook)(config_settings)) if offers(backend, hook) else []


def setuptools_asks_for_nothing(project_root: Path) -> bool:
    """Whether setuptools' `get_requires_for_build_*` hooks answer `[]` for this project without being asked.

    They run the project's setup script (`egg_info`, about 0.4 s of CPU before a build can start) to collect its
    `setup_requires`, which only `setup.py` and `setup.cfg` can declare (`[tool.setuptools]` has no such key), and
    add nothing else from setuptools 70.1 on (`wheel` before; pex-backend requires 70.1). So a project with neither
    file gets `[]`, what setuptools would have said."""
    return not any((project_root / name).exists() for name in ("setup.py", "setup.cfg"))


PEX_COMMAND = "pex.distutils.commands.bdist_pex"


@contextlib.contextmanager
def pex_command_unloaded() -> Iterator[None]:
    """While the backend builds: setuptools imports every `distutils.commands` entry point only to list the options
    `[tool.distutils]` may set, and pex's (`bdist_pex`: pex is installed when the build has no copy of it) imports
    all of pex, uncompiled in a fresh build environment (a second of CPU, while pex's worker compiles it too). A
    stand-in with no options takes its place: only a `[tool.distutils.bdist_pex]` option (a warning) or a `setup.py`
    importing pex's command itself would notice."""
    if PEX_COMMAND in sys.modules:
        yield
        return
    stand_in = types.ModuleType(PEX_COMMAND)
    stand_in.bdist_pex = type("bdist_pex", (), {"user_options": []})  # type: ignore[attr-defined]
    sys.modules[PEX_COMMAND] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(PEX_COMMAND) is stand_in:
            del sys.modules[PEX_COMMAND]


def prepare_metadata(backend: Any, metadata_directory: str, config_settings: Optional[dict]) -> str:
    """The `.dist-info` the backend's `prepare_metadata_for_build_wheel` writes; without that hook, the one in the
    wheel it builds (alone), as pyproject_hooks does for frontends, with that wheel kept inside for `build_wheel`."""
    if offers(backend, "prepare_metadata_for_build_wheel"):
        with pex_command_unloaded():
            return backend.prepare_metadata_for_build_wheel(metadata_directory, config_settings)
    with tempfile.TemporaryDirectory(prefix="pexbin-metadata-") as directory:
        with pex_command_unloaded():
            basename = backend.build_wheel(directory, config_settings)
        with zipfile.ZipFile(Path(directory, basename)) as wheel:
            names = wheel.namelist()
            dist_infos = {n.split("/")[0] for n in names if "/" in n and n.split("/")[0].endswith(".dist-info")}
            if len(dist_infos) != 1:
                raise BuildError(f"the wheel {basename} has {len(dist_infos)} .dist-info directories, not one")
            (dist_info,) = dist_infos
            wheel.extractall(metadata_directory, [n for n in names if n.startswith(f"{dist_info}/")])
        kept = Path(metadata_directory, dist_info, KEPT_WHEEL)
        kept.mkdir()
        shutil.move(str(Path(directory, basename)), kept / basename)
        (kept / KEPT_SETTINGS).write_text(settings_text(config_settings))
    return dist_info


def settings_text(config_settings: Optional[dict]) -> str:
    return json.dumps(config_settings or {}, sort_keys=True, default=str)


def kept_wheel(metadata_directory: Optional[str], config_settings: Optional[dict]) -> Optional[Path]:
    """The wheel `prepare_metadata` built for the metadata in `metadata_directory`, if built with these settings."""
    if metadata_directory is None:
        return None
    kept = Path(metadata_directory, KEPT_WHEEL)
    try:
        same = (kept / KEPT_SETTINGS).read_text() == settings_text(config_settings)
    except OSError:
        return None
    wheels = list(kept.glob("*.whl"))
    return wheels[0] if same and len(wheels) == 1 else None


def build_wheel(
    backend: Any, wheel_directory: str, config_settings: Optional[dict], metadata_directory: Optional[str]
) -> str:
    """The backend's wheel. A backend without `prepare_metadata_for_build_wheel` never wrote the metadata
    directory a frontend passes back: it gets none, and the wheel `prepare_metadata` kept there is reused instead
    of built twice (under pip, which asks for the metadata first)."""
    if offers(backend, "prepare_metadata_for_build_wheel"):
        with pex_command_unloaded():
            return backend.build_wheel(wheel_directory, config_settings, metadata_directory)
    kept = kept_wheel(metadata_directory, config_settings)
    if kept is None:
        with pex_command_unloaded():
            return backend.build_wheel(wheel_directory, config_settings, None)
    shutil.copy2(kept, wheel_directory)
    return kept.name


def sdist_members(sdist: Path) -> List[str]:
    """The files of an sdist, relative to its top directory."""
    with tarfile.open(sdist) as archive:
        names = [member.name for member in archive.getmembers() if member.isfile()]
    return [name.split("/", 1)[1] for name in names if "/" in name]


def check_sdist(config: PexbinConfig, project_root: Path, sdist: Path) -> None:
    """The delegate's sdist carries every file the table points at, so that a wheel built from it finds them; a
    ConfigError naming the key of the first one missing (a file missing from the project is the wheel's error)."""
    carried = set(sdist_members(sdist))
    name = backend_name(config) or SETUPTOOLS
    for path, key in referenced_paths(config):
        if (project_root / path).is_file() and Path(path).as_posix() not in carried:
            how = SDIST_INCLUDE.get(name.split(".")[0], "include it through that backend's own sdist configuration")
            raise ConfigError(key, f"{path!r} is not in the sdist {sdist.name} that {name} built; {how}")
