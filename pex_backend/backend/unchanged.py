"""Whether a build's sources are those the project's last successful build left: a guess, for speed alone.

A build whose wheel comes out as before reuses every PEX and runs no pex. When the files setuptools listed in the
project's `*.egg-info/SOURCES.txt` (with their directories) have the sizes, times and inodes they had once the last
build's wheel was built, the build starts no pex worker beside setuptools, leaves pex's copy unchecked until pex is
imported (`workers.CopyOnImport`) and hashes the PEX files in the output directory while setuptools builds the wheel
(`cache_files.DigestsAhead`). A wrong guess costs time, never bytes: a build
that does need pex starts its worker then. Without a `SOURCES.txt` (another backend), no guess; nor in a directory
new to the cache (an unpacked sdist).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Optional, Set, Tuple

from pex_backend.pex.cache import BuildCache, key_of

LISTINGS = ("*.egg-info/SOURCES.txt", "*/*.egg-info/SOURCES.txt")  # a flat layout's, a `src` layout's


Seen = Tuple[str, str]
"""Where setuptools listed the sources (`src/name.egg-info/SOURCES.txt`, say), and a digest of them."""


def sources_seen(project_root: Path) -> Optional[Seen]:
    """The project's sources as they are now, or None when setuptools has listed none."""
    listings = [path for pattern in LISTINGS for path in sorted(project_root.glob(pattern))]
    if not listings:
        return None
    digest = hashlib.sha256()
    names: Set[str] = set()
    try:
        for listing in listings:
            text = listing.read_text(encoding="utf-8", errors="replace")
            digest.update(f"{listing.relative_to(project_root)}\0{text}\0".encode())
            names.update(line.strip() for line in text.splitlines() if line.strip())
    except OSError:
        return None
    # A file added beside the listed ones (a new module, a data file, a `setup.cfg`) changes its directory's time
    # (`pyproject.toml` and `setup.py` are listed: the project's root is among them). The `*.egg-info`
    # directories are setuptools' output, written again by each hook (`get_requires_for_build_wheel` too).
    directories = {str(parent) for name in names for parent in Path(name).parents}
    outputs = {listing.parent.relative_to(project_root) for listing in listings}
    for name in sorted(names | directories):
        if any(Path(name) == output or output in Path(name).parents for output in outputs):
            continue
        try:
            stat = os.stat(project_root / name)
            digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{stat.st_ino}\n".encode())
        except OSError:
            digest.update(f"{name}\0absent\n".encode())
    return "\n".join(str(listing.relative_to(project_root)) for listing in listings), digest.hexdigest()


def where(cache: BuildCache, seen: Seen) -> Path:
    # One file per project name, not per directory: builds from unpacked sdists (a new directory each) replace it.
    return cache.base / "sources-seen" / f"{key_of(seen[0])}.json"


def as_last_built(cache: Optional[BuildCache], project_root: Path, seen: Optional[Seen]) -> bool:
    """Whether `seen` is what the last successful build of this project's directory with this cache recorded."""
    if cache is None or seen is None:
        return False
    try:
        kept = json.loads(where(cache, seen).read_text())
        return kept["project"] == str(project_root.resolve()) and kept["sources"] == seen[1]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def remember(cache: Optional[BuildCache], project_root: Path, seen: Optional[Seen]) -> None:
    """Record `seen`, the sources as a successful build's wheel left them (its build rewrites `*.egg-info`)."""
    if cache is None or seen is None:
        return
    known = where(cache, seen)
    with contextlib.suppress(OSError):
        known.parent.mkdir(parents=True, exist_ok=True)
        written = cache.fresh() / known.name  # in the build's scratch area, which goes with it (or a later build)
        written.write_text(json.dumps({"project": str(project_root.resolve()), "sources": seen[1]}))
        os.replace(written, known)  # whole or not there, for builds reading it at once
