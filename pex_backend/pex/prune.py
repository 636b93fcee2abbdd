"""What the build cache holds, and taking away the entries no build is using (`pexbin cache`, `pexbin cache prune`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import List, Optional, Tuple

from .cache import FORMAT, KINDS, MANIFEST, SCRATCH, BuildCache, open_cache
from .cache_files import age, lock, size_of


def usage(root: Path) -> List[Tuple[str, Optional[int], int]]:
    """(kind, entries, bytes) for each kind of entry, for the scratch area (entries: the directories of builds)
    and for each older format's directory (entries: None)."""
    base = root / f"v{FORMAT}"
    rows: List[Tuple[str, Optional[int], int]] = []
    for kind in (*KINDS, SCRATCH):
        entries = list((base / kind).iterdir()) if (base / kind).is_dir() else []
        rows.append((kind, len(entries), sum(size_of(entry) for entry in entries)))
    others = sorted(p for p in root.glob("v*") if p.is_dir() and p.name != base.name) if root.is_dir() else []
    return rows + [(other.name, None, size_of(other)) for other in others]


def prune(root: Path, unused_for: Optional[float]) -> Tuple[int, int, int]:
    """Remove the entries not used for `unused_for` seconds (every entry, and older formats, for None) that no
    build is using, and what killed builds left: (entries removed, bytes freed, entries kept as in use)."""
    cache = open_cache(root)
    if cache is None:
        return 0, 0, 0
    removed = freed = busy = 0
    try:
        for kind in KINDS:
            folder = cache.base / kind
            for entry in sorted(folder.iterdir()) if folder.is_dir() else []:
                if unused_for is not None and age(entry) < unused_for:
                    continue
                size = take_away(cache, entry)
                if size is None:
                    busy += 1
                else:
                    removed, freed = removed + 1, freed + size
        if unused_for is None:
            for other in root.glob("v*"):
                if other.is_dir() and other.name != cache.base.name:
                    freed += take_away(cache, other) or 0
    finally:
        cache.close()
    return removed, freed, busy


def take_away(cache: BuildCache, entry: Path) -> Optional[int]:
    """Remove an entry no build holds, renaming it aside under its exclusive lock first; its size, or None when a
    build is using it."""
    try:
        fd: Optional[int] = os.open(entry / MANIFEST, os.O_RDWR)
    except OSError:
        fd = None  # a damaged entry, or an older format's directory
    try:
        if fd is not None and lock(fd, exclusive=True, wait=False) is False:
            return None
        size = size_of(entry)
        aside = cache.fresh() / "pruned"
        try:
            os.rename(entry, aside)
        except OSError:
            return 0
    finally:
        if fd is not None:
            os.close(fd)
    shutil.rmtree(aside, ignore_errors=True)
    return size
