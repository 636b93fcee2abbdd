"""The build cache: resolved requirements and built PEX files, each under a key of everything it depends on.

Entries are directories that never change once published: a build fills a fresh directory and renames it into
place, so two builds running at once never see a half-written entry (the first to finish wins, the other's copy
is dropped).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

# Bumped when what an entry holds, or what its key covers, changes.
FORMAT = 1


def default_cache_dir() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "pex-backend"


def key_of(*inputs: Any) -> str:
    """A key for JSON-able inputs; equal inputs give equal keys in every process and on every machine."""
    text = json.dumps([FORMAT, *inputs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


def backend_digest() -> str:
    """This backend's own code, so that a changed backend never reuses what an older one built."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class BuildCache:
    root: Path

    def entry(self, kind: str, key: str) -> Optional[Path]:
        """The published entry for `key`, if any."""
        path = self.root / f"v{FORMAT}" / kind / key
        if not path.is_dir():
            return None
        os.utime(path)  # when it was last used, for whoever prunes the cache by age
        return path

    def fresh(self) -> Path:
        """An empty directory on the cache's file system, to fill and then `publish`."""
        scratch = self.root / f"v{FORMAT}" / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(dir=scratch))

    def publish(self, filled: Path, kind: str, key: str, inputs: Any) -> Path:
        """Make a filled directory the entry for `key`; if another build published it first, keep theirs."""
        (filled / "inputs.json").write_text(json.dumps(inputs, indent=2, sort_keys=True) + "\n")
        destination = self.root / f"v{FORMAT}" / kind / key
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(filled, destination)
        except OSError:
            if not destination.is_dir():
                raise
            shutil.rmtree(filled, ignore_errors=True)
        return destination


def open_cache(root: Optional[Path]) -> Optional[BuildCache]:
    """The cache at `root`, or None (with a notice) when it is turned off or cannot be written."""
    if root is None:
        return None
    try:
        (root / f"v{FORMAT}").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"pex-backend: not caching builds, {root} cannot be written ({exc.strerror})", flush=True)
        return None
    return BuildCache(root)
