"""A setuptools file finder that puts the files `[tool.pexbin]` points at into the sdist."""

from __future__ import annotations

from pathlib import Path
from typing import List

from pex_backend.backend.config.project import load_config
from pex_backend.errors import PexbinError

from .inputs import check_paths


def find_files(dirname: str = "") -> List[str]:
    """Registered under `setuptools.file_finders`: platform files and lockfiles named by the table."""
    root = Path(dirname or ".")
    try:
        config = load_config(root)
        if config is not None:
            check_paths(config, root)
    except PexbinError:
        return []  # the build itself reports a bad table or a path out of the project, with its key
    if config is None:
        return []
    return [
        str(Path(dirname, path)) if dirname else path for path in config.referenced_files() if (root / path).is_file()
    ]
