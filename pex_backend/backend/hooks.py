"""The PEP 517 and PEP 660 hooks behind the package's face (`pex_backend`), each delegating to `setuptools.build_meta`
or to the backend `delegate-backend` names; `build_wheel` also writes the PEX files that `[tool.pexbin]` declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from pex_backend.errors import PexbinError, reports_errors

from . import build, delegate
from .config import settings
from .config.project import load_config

ConfigSettings = Optional[Dict[str, Any]]


def delegate_backend() -> Any:
    return delegate.load_backend(Path.cwd(), load_config(Path.cwd()))


@reports_errors
def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    config = load_config(Path.cwd())
    backend = delegate.load_backend(Path.cwd(), config)
    requires = delegate.requires(backend, "get_requires_for_build_wheel", settings.foreign_settings(config_settings))
    chosen = settings.read(config_settings)
    if config is not None and build.reason_to_skip(config, chosen, None, config_settings) is None:
        requires += build.pex_requirement(config, chosen.cache_dir)
    return requires


@reports_errors
def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    return delegate.requires(
        delegate_backend(), "get_requires_for_build_sdist", settings.foreign_settings(config_settings)
    )


@reports_errors
def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return delegate.prepare_metadata(delegate_backend(), metadata_directory, settings.foreign_settings(config_settings))


@reports_errors
def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    config = load_config(Path.cwd())  # a bad table fails here, not later in the wheel built from this sdist
    backend = delegate.load_backend(Path.cwd(), config)
    basename = backend.build_sdist(sdist_directory, settings.foreign_settings(config_settings))
    if config is not None and delegate.backend_name(config):  # setuptools carries them through our file finder
        delegate.check_sdist(config, Path.cwd(), Path(sdist_directory, basename))
    return basename


@reports_errors
def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None
) -> str:
    chosen = settings.read(config_settings)
    config = load_config(Path.cwd())
    backend = delegate.load_backend(Path.cwd(), config)
    skip = build.reason_to_skip(config, chosen, Path(wheel_directory), config_settings)
    if config is not None and skip:
        print(f"pex-backend: no PEX files: {skip}", flush=True)

    def backend_wheel(directory: str) -> str:
        foreign = settings.foreign_settings(config_settings)
        return delegate.build_wheel(backend, directory, foreign, metadata_directory)

    if skip or config is None:
        return backend_wheel(wheel_directory)
    return build.build_wheel_and_pex_files(backend_wheel, config, chosen, Path(wheel_directory), Path.cwd())


class EditableHooks:
    """The PEP 660 hooks, offered by the module (below) only when the backend building the project has them."""

    @staticmethod
    @reports_errors
    def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> List[str]:
        return delegate_backend().get_requires_for_build_editable(settings.foreign_settings(config_settings))

    @staticmethod
    @reports_errors
    def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
        return delegate_backend().prepare_metadata_for_build_editable(
            metadata_directory, settings.foreign_settings(config_settings)
        )

    @staticmethod
    @reports_errors
    def build_editable(
        wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None
    ) -> str:
        return delegate_backend().build_editable(
            wheel_directory, settings.foreign_settings(config_settings), metadata_directory
        )


def editable_hook(name: str) -> Any:
    """A PEP 660 hook, when the backend building the project has it: a frontend that finds none says the project
    cannot be installed editable, as it would of the delegate alone."""
    if name in vars(EditableHooks) and not name.startswith("_"):
        try:
            offered = delegate.offers(delegate_backend(), name)
        except PexbinError:
            offered = True  # the hook itself reports the mistake, in one line
        if offered:
            return getattr(EditableHooks, name)
    raise AttributeError(f"module 'pex_backend' has no attribute {name!r}")
