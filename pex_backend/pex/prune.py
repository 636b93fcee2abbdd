"""What the build cache holds, and taking away the entries no build is using (`pexbin cache`, `pexbin cache prune`)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import List, Optional, Tuple

from pex_backend.bytecode import KIND as BYTECODE
from pex_backend.errors import BuildError

from .cache import FORMAT, KINDS, SCRATCH, open_cache
from .cache_files import age, locks_work, size_of


def usage(root: Path) -> List[Tuple[str, Optional[int], int]]:
    """(kind, entries, bytes) for each kind of entry, for the scratch area (entries: the directories of builds)
    and for each older format's directory (entries: None)."""
    base = root / f"v{FORMAT}"
    rows: List[Tuple[str, Optional[int], int]] = []
    for kind in (*KINDS, BYTECODE, SCRATCH):
        entries = list((base / kind).iterdir()) if (base / kind).is_dir() else []
        rows.append((kind, len(entries), sum(size_of(entry) for entry in entries)))
    others = sorted(p for p in root.glob("v*") if p.is_dir() and p.name != base.name) if root.is_dir() else []
    return rows + [(other.name, None, size_of(other)) for other in others]


def prune(root: Path, unused_for: Optional[float]) -> Tuple[int, int, int]:
    """Remove the entries not used for `unused_for` seconds (every entry, and older formats, for None) that no
    build is using, and what killed builds left: (entries removed, bytes freed, entries kept as in use)."""
    if root.is_dir() and not locks_work(root):
        raise BuildError(
            f"{root} is on a file system that takes no file locks, so the entries a running build is using cannot "
            "be told apart from the others: nothing was removed"
        )
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
                size = cache.take_away(entry)
                if size is None:
                    busy += 1
                else:
                    removed, freed = removed + 1, freed + size
        # The backend's bytecode: files that a build reading one while it goes only compiles again.
        for entry in sorted((cache.base / BYTECODE).iterdir()) if (cache.base / BYTECODE).is_dir() else []:
            if unused_for is None or age(entry) >= unused_for:
                with contextlib.suppress(OSError):
                    size = entry.lstat().st_size
                    entry.unlink()
                    freed += size  # not an entry: counted in bytes alone
        if unused_for is None:
            for other in root.glob("v*"):
                if other.is_dir() and other.name != cache.base.name:
                    freed += cache.take_away(other) or 0
    finally:
        cache.close()
    return removed, freed, busy
