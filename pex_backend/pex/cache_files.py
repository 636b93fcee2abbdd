"""Files and locks for the build cache and a build's staging: digests, sizes, advisory locks, and directories a
running process claims, told apart from what killed builds left."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; leftovers are then told apart by their age alone
    fcntl = None  # type: ignore[assignment]


# A scratch directory no live process holds: being made (for at most a moment) until this old, else a leftover.
UNCLAIMED_SECONDS = 60
# Where locks are not available, a claimed scratch directory is taken for a leftover at this age.
UNLOCKABLE_SECONDS = 24 * 3600
# File times move in clock ticks: a file written this recently may be written again with the same times.
RACY_NS = 2 * 10**9
# The sha256 of each file named, one a line ("-" for one it cannot read).
HASH_FILES = (
    "import hashlib, sys\n"
    "for path in sys.argv[1:]:\n"
    "    digest = hashlib.sha256()\n"
    "    try:\n"
    "        with open(path, 'rb') as file:\n"
    "            for block in iter(lambda: file.read(1 << 20), b''):\n"
    "                digest.update(block)\n"
    "        print(digest.hexdigest())\n"
    "    except OSError:\n"
    "        print('-')\n"
)


def file_digest(path: Path, copy_to: Optional[Path] = None) -> str:
    """The file's sha256; with `copy_to`, also a copy of exactly the bytes hashed."""
    digest = hashlib.sha256()
    with contextlib.ExitStack() as stack:
        file = stack.enter_context(path.open("rb"))
        copy = stack.enter_context(copy_to.open("xb")) if copy_to else None
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
            if copy:
                copy.write(block)
    if copy_to:
        shutil.copystat(path, copy_to)
    return digest.hexdigest()


def identity(path: Path) -> Optional[Tuple[int, ...]]:
    """What changes when a file's bytes may have: replaced, written, truncated (its inode, size and times); None
    when there is no such file."""
    try:
        found = os.lstat(path)
    except OSError:
        return None
    return (found.st_dev, found.st_ino, found.st_mode, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


class DigestsAhead:
    """The sha256s of files a build will likely check, taken by a process of their own (a thread waits for it)
    while the build does something else (the PEX files in the output directory, while setuptools builds the wheel),
    each given only while the file's identity is the one it had before it was hashed (a write meanwhile changes its
    times); other files are hashed then."""

    def __init__(self) -> None:
        self.taken: Dict[str, Future] = {}

    def start(self, paths: Iterable[Path]) -> None:
        wanted = {str(path): Future() for path in paths}
        self.taken.update(wanted)
        threading.Thread(target=self.take, args=(wanted,), name="pexbin-digests", daemon=True).start()

    @staticmethod
    def take(wanted: Dict[str, Future]) -> None:
        before = {path: identity(Path(path)) for path in wanted}
        # Written in the last seconds, a second write could keep its times (git's "racily clean"): not taken.
        now = time.time_ns()
        hashed = [path for path, found in before.items() if found is not None and now - found[4] >= RACY_NS]
        # In a process of their own: a thread of this one would wait for the GIL, which the build holds, at every
        # block it reads and hashes (0.2 s for 20 PEX files of 3.7 MB while setuptools builds, against 0.06 s).
        try:
            if not hashed:
                raise OSError("nothing to hash")
            result = subprocess.run(
                [sys.executable, "-I", "-S", "-c", HASH_FILES, *hashed], capture_output=True, text=True, check=True
            )
            digests = dict(zip(hashed, result.stdout.split()))
        except (OSError, subprocess.SubprocessError):
            digests = {}
        for path, future in wanted.items():
            found = digests.get(path)
            future.set_result((before[path], found) if found and len(found) == 64 else None)

    def of(self, path: Path) -> str:
        future = self.taken.get(str(path))
        taken = future.result() if future else None
        if taken and identity(path) == taken[0]:
            return taken[1]
        return file_digest(path)


def size_of(path: Path) -> int:
    """The bytes of a file, or of every file below a directory (links not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    return sum(os.lstat(os.path.join(root, name)).st_size for root, _, names in os.walk(path) for name in names)


def age(path: Path) -> float:
    try:
        return time.time() - path.lstat().st_mtime
    except OSError:
        return 0.0


def lock(fd: int, exclusive: bool, wait: bool = True) -> Optional[bool]:
    """Lock an open file: True when locked, False when another process holds it, None when locks are unavailable."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError:  # ENOLCK (NFS without lockd), EOPNOTSUPP, ENOSYS: a file system that takes no locks
        return None
    return True


def locks_work(directory: Path) -> bool:
    """Whether the file system of `directory` takes advisory locks."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        return lock(fd, exclusive=False, wait=False) is not None
    finally:
        os.close(fd)


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def claim_directory(parent: Path, prefix: str) -> Tuple[Path, int]:
    """A new directory in `parent` and the descriptor of its lock, which this process holds until it ends: a later
    build tells a killed build's leftover (its lock free) from a running build's by trying to take it."""
    fresh = Path(tempfile.mkdtemp(prefix=f"{prefix}new-", dir=parent))
    fd = os.open(fresh / "lock", os.O_RDWR | os.O_CREAT, 0o644)
    lock(fd, exclusive=True)
    claimed = parent / f"{prefix}{os.getpid()}-{fresh.name[len(prefix) + 4 :]}"
    os.rename(fresh, claimed)  # a leftover's name only once its lock is held
    return claimed, fd


def is_leftover(path: Path, prefix: str) -> bool:
    """Whether a directory made by `claim_directory` (or by an older backend) belongs to no running process."""
    if path.name.startswith(f"{prefix}new-"):
        return age(path) > UNCLAIMED_SECONDS
    try:
        fd = os.open(path / "lock", os.O_RDWR)
    except OSError:
        return age(path) > UNCLAIMED_SECONDS
    try:
        free = lock(fd, exclusive=True, wait=False)
    finally:
        os.close(fd)
    return free if free is not None else age(path) > UNLOCKABLE_SECONDS


def remove_leftovers(parent: Path, prefix: str) -> None:
    """Remove what killed builds left in `parent` under names starting with `prefix`."""
    with contextlib.suppress(OSError):
        for name in os.listdir(parent):
            if name.startswith(prefix) and is_leftover(parent / name, prefix):
                remove(parent / name)
