"""pex-backend: setuptools' wheel and sdist, plus one PEX executable per entry point.

The PEP 517 and PEP 660 hooks of `setuptools.build_meta`, each delegating to it; `build_wheel` also writes the
PEX files that `[tool.pexbin]` declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from setuptools import build_meta as _setuptools

from . import build as _build
from . import settings as _settings
from .errors import reports_errors as _reports_errors
from .project import load_config as _load_config

__version__ = "0.1.0"

ConfigSettings = Optional[Dict[str, Any]]


@_reports_errors
def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    requires = _setuptools.get_requires_for_build_wheel(_settings.foreign_settings(config_settings))
    config = _load_config(Path.cwd())
    settings = _settings.read(config_settings)
    if config is not None and not settings.skip:
        requires += _build.pex_requirement(config, settings.cache_dir)
    return requires


@_reports_errors
def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    return _setuptools.get_requires_for_build_sdist(_settings.foreign_settings(config_settings))


@_reports_errors
def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> List[str]:
    return _setuptools.get_requires_for_build_editable(_settings.foreign_settings(config_settings))


@_reports_errors
def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return _setuptools.prepare_metadata_for_build_wheel(metadata_directory, _settings.foreign_settings(config_settings))


@_reports_errors
def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return _setuptools.prepare_metadata_for_build_editable(
        metadata_directory, _settings.foreign_settings(config_settings)
    )


@_reports_errors
def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    _load_config(Path.cwd())  # a bad table fails here, not later in the wheel built from this sdist
    return _setuptools.build_sdist(sdist_directory, _settings.foreign_settings(config_settings))


@_reports_errors
def build_editable(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None
) -> str:
    return _setuptools.build_editable(wheel_directory, _settings.foreign_settings(config_settings), metadata_directory)


@_reports_errors
def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None
) -> str:
    settings = _settings.read(config_settings)
    config = _load_config(Path.cwd())
    skip = _build.reason_to_skip(config, settings, Path(wheel_directory), config_settings)
    if config is not None and skip:
        print(f"pex-backend: no PEX files: {skip}", flush=True)

    def setuptools_wheel(directory: str) -> str:
        return _setuptools.build_wheel(directory, _settings.foreign_settings(config_settings), metadata_directory)

    if skip or config is None:
        return setuptools_wheel(wheel_directory)
    return _build.build_wheel_and_pex_files(setuptools_wheel, config, settings, Path(wheel_directory), Path.cwd())
