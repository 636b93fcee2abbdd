"""A setuptools file finder that puts the files `[tool.pexbin]` points at into the sdist."""

from __future__ import annotations

from pathlib import Path
from typing import List

from .errors import PexbinError
from .project import load_config


def find_files(dirname: str = "") -> List[str]:
    """Registered under `setuptools.file_finders`: platform files and lockfiles named by the table."""
    root = Path(dirname or ".")
    try:
        config = load_config(root)
    except PexbinError:
        return []  # the build itself reports a bad table, with its key
    if config is None:
        return []
    return [
        str(Path(dirname, path)) if dirname else path for path in config.referenced_files() if (root / path).is_file()
    ]
