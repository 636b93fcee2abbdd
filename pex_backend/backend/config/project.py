"""Reading the project: its pyproject.toml, and the `[tool.pexbin]` table in it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Optional

from pex_backend.errors import ConfigError

from .load import load
from .table import PexbinConfig

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def read_toml(path: Path) -> Dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(path.name, f"is not UTF-8 text, as TOML must be ({exc})") from None
    except OSError as exc:
        raise ConfigError(path.name, f"cannot be read ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path.name, f"is not valid TOML: {exc}") from None


def read_pyproject(project_root: Path) -> Dict[str, Any]:
    path = project_root / "pyproject.toml"
    return read_toml(path) if path.is_file() else {}


def load_config(project_root: Path) -> Optional[PexbinConfig]:
    """The validated `[tool.pexbin]` table of the project, or None when it has none."""
    return load(read_pyproject(project_root))
