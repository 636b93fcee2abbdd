"""pex-backend: setuptools' wheel and sdist (or those of the backend `delegate-backend` names), plus one PEX
executable per entry point.

The PEP 517 and PEP 660 hooks (`pex_backend.backend.hooks`), imported when a frontend first calls one, through the
build cache's bytecode of this backend (`pex_backend.bytecode`). The editable hooks exist only when the delegate
has them.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any, Dict, List, Optional

from pex_backend.version import __version__ as __version__

ConfigSettings = Optional[Dict[str, Any]]


def _hooks(config_settings: ConfigSettings) -> ModuleType:
    from pex_backend.bytecode import use_cached_bytecode

    started = time.perf_counter()
    store = use_cached_bytecode(config_settings)
    from pex_backend.backend import hooks
    from pex_backend.timings import report

    if store is not None:
        report(
            f"importing the backend ({store.reused} modules from the build cache, {store.compiled} compiled)", started
        )
    return hooks


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    return _hooks(config_settings).get_requires_for_build_wheel(config_settings)


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    return _hooks(config_settings).get_requires_for_build_sdist(config_settings)


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return _hooks(config_settings).prepare_metadata_for_build_wheel(metadata_directory, config_settings)


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    return _hooks(config_settings).build_sdist(sdist_directory, config_settings)


def build_wheel(
    wheel_directory: str, config_settings: ConfigSettings = None, metadata_directory: Optional[str] = None
) -> str:
    return _hooks(config_settings).build_wheel(wheel_directory, config_settings, metadata_directory)


def __getattr__(name: str) -> Any:
    """A PEP 660 hook, when the backend building the project has it (PEP 562)."""
    if name.endswith("_editable"):
        return _hooks(None).editable_hook(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
