"""pex-backend: setuptools' wheel and sdist (or those of the backend `delegate-backend` names), plus one PEX
executable per entry point.

The PEP 517 and PEP 660 hooks, each delegating to `setuptools.build_meta` or to the delegate; `build_wheel` also
writes the PEX files that `[tool.pexbin]` declares. The editable hooks exist only when the delegate has them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from pex_backend.backend import build as _build
from pex_backend.backend import delegate as _delegate
from pex_backend.backend.config import settings as _settings
from pex_backend.backend.config.project import load_config as _load_config
from pex_backend.errors import PexbinError as _PexbinError
from pex_backend.errors import reports_errors as _reports_errors
from pex_backend.version import __version__ as __version__

ConfigSettings = Optional[Dict[str, Any]]


def _backend() -> Any:
    return _delegate.load_backend(Path.cwd(), _load_config(Path.cwd()))


@_reports_errors
def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    config = _load_config(Path.cwd())
    backend = _delegate.load_backend(Path.cwd(), config)
    requires = _delegate.requires(backend, "get_requires_for_build_wheel", _settings.foreign_settings(config_settings))
    settings = _settings.read(config_settings)
    if config is not None and _build.reason_to_skip(config, settings, None, config_settings) is None:
        requires += _build.pex_requirement(config, settings.cache_dir)
    return requires


@_reports_errors
def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    return _delegate.requires(_backend(), "get_requires_for_build_sdist", _settings.foreign_settings(config_settings))


@_reports_errors
def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return _delegate.prepare_metadata(_backend(), metadata_directory, _settings.foreign_settings(config_settings))


@_reports_errors
def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    config = _load_config(Path.cwd())  # a bad table fails here, not later in the wheel built from this sdist
    backend = _delegate.load_backend(Path.cwd(), config)
    basename = backend.build_sdist(sdist_directory, _settings.foreign_settings(config_settings))
    if config is not None and _delegate.backend_name(config):  # setuptools carries them through our file finder
        _delegate.check_sdist(config, Path.cwd(), Path(sdist_directory, basename))
    return basename


@_reports_errors
def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None
) -> str:
    settings = _settings.read(config_settings)
    config = _load_config(Path.cwd())
    backend = _delegate.load_backend(Path.cwd(), config)
    skip = _build.reason_to_skip(config, settings, Path(wheel_directory), config_settings)
    if config is not None and skip:
        print(f"pex-backend: no PEX files: {skip}", flush=True)

    def backend_wheel(directory: str) -> str:
        foreign = _settings.foreign_settings(config_settings)
        return _delegate.build_wheel(backend, directory, foreign, metadata_directory)

    if skip or config is None:
        return backend_wheel(wheel_directory)
    return _build.build_wheel_and_pex_files(backend_wheel, config, settings, Path(wheel_directory), Path.cwd())


class _EditableHooks:
    """The PEP 660 hooks, offered by the module (below) only when the backend building the project has them."""

    @staticmethod
    @_reports_errors
    def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> List[str]:
        return _backend().get_requires_for_build_editable(_settings.foreign_settings(config_settings))

    @staticmethod
    @_reports_errors
    def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
        return _backend().prepare_metadata_for_build_editable(
            metadata_directory, _settings.foreign_settings(config_settings)
        )

    @staticmethod
    @_reports_errors
    def build_editable(
        wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None
    ) -> str:
        return _backend().build_editable(
            wheel_directory, _settings.foreign_settings(config_settings), metadata_directory
        )


def __getattr__(name: str) -> Any:
    """A PEP 660 hook, when the backend has it: a frontend that finds none says the project cannot be installed
    editable, as it would of the delegate alone (PEP 562)."""
    if name in vars(_EditableHooks) and not name.startswith("_"):
        try:
            offered = _delegate.offers(_backend(), name)
        except _PexbinError:
            offered = True  # the hook itself reports the mistake, in one line
        if offered:
            return getattr(_EditableHooks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
